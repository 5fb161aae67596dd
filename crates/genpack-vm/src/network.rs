//! Guest networking: user-mode with host port forwards, or a bridge / tap device (root only).

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::VmError;

/// The guest's network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Network {
    /// No network device.
    None,
    /// QEMU's user-mode network (NAT, no privileges) with host port forwards.
    User {
        /// Host ports forwarded into the guest.
        forwards: Vec<Forward>,
    },
    /// A tap device attached to a host bridge through qemu-bridge-helper (root only).
    Bridge {
        /// The host bridge, e.g. `br0`.
        bridge: String,
    },
    /// An existing tap device (root only).
    Tap {
        /// The tap interface name.
        ifname: String,
    },
}

impl Network {
    /// User-mode network forwarding a free loopback port (the first free one from
    /// [`FIRST_FREE_PORT`], chosen when the VM starts) to the guest's SSH port.
    pub fn user_with_ssh() -> Self {
        Network::User {
            forwards: vec![Forward {
                protocol: Protocol::Tcp,
                host_addr: Ipv4Addr::LOCALHOST,
                host_port: ANY_FREE_PORT,
                guest_port: 22,
            }],
        }
    }
}

/// A forward's host port meaning "the first free port from [`FIRST_FREE_PORT`] up, chosen when
/// the VM starts" (written `auto` or `0`).
pub const ANY_FREE_PORT: u16 = 0;
/// Where the search for a free host port starts.
pub const FIRST_FREE_PORT: u16 = 2222;
/// How many ports the search tries.
const FREE_PORT_RANGE: u16 = 1000;
/// How many times a start is retried when another program takes a chosen port first.
pub(crate) const PORT_RETRIES: usize = 16;

/// Gives every forward asking for [`ANY_FREE_PORT`] the first port from [`FIRST_FREE_PORT`] up
/// that nothing listens on now, that no other forward of the list uses and that is not in
/// `taken` (ports another program took during an earlier attempt).
pub(crate) fn choose_free_ports(
    forwards: &[Forward],
    taken: &[u16],
) -> Result<Vec<Forward>, VmError> {
    let mut used: Vec<(Protocol, u16)> = forwards
        .iter()
        .filter(|f| f.host_port != ANY_FREE_PORT)
        .map(|f| (f.protocol, f.host_port))
        .collect();
    let mut chosen = Vec::with_capacity(forwards.len());
    for forward in forwards {
        let mut forward = forward.clone();
        if forward.host_port == ANY_FREE_PORT {
            let free = (FIRST_FREE_PORT..FIRST_FREE_PORT.saturating_add(FREE_PORT_RANGE))
                .filter(|port| !taken.contains(port) && !used.contains(&(forward.protocol, *port)))
                .find(|&port| forward.protocol.can_bind(forward.host_addr, port))
                .ok_or_else(|| {
                    VmError::InvalidSpec(format!(
                        "no free {} port on {} between {FIRST_FREE_PORT} and {}",
                        forward.protocol.name(),
                        forward.host_addr,
                        FIRST_FREE_PORT.saturating_add(FREE_PORT_RANGE - 1)
                    ))
                })?;
            forward.host_port = free;
            used.push((forward.protocol, free));
        }
        chosen.push(forward);
    }
    Ok(chosen)
}

/// When QEMU's log says it could not listen on a host port that was chosen as free (so another
/// program took it in the meantime), that port.
pub(crate) fn port_lost_to_another_program(
    qemu_log: &str,
    requested: &[Forward],
    chosen: &[Forward],
) -> Option<u16> {
    const FAILED: &str = "Could not set up host forwarding rule '";
    let start = qemu_log.find(FAILED)? + FAILED.len();
    let rule = qemu_log[start..].split('\'').next()?;
    requested
        .iter()
        .zip(chosen)
        .find(|(asked, got)| asked.host_port == ANY_FREE_PORT && got.to_qemu() == rule)
        .map(|(_, got)| got.host_port)
}

/// Transport protocol of a forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }

    /// Whether nothing uses `port` on `addr` right now.
    fn can_bind(self, addr: Ipv4Addr, port: u16) -> bool {
        match self {
            Protocol::Tcp => TcpListener::bind((addr, port)).is_ok(),
            Protocol::Udp => UdpSocket::bind((addr, port)).is_ok(),
        }
    }
}

/// A host port forwarded to a guest port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The host address QEMU listens on (loopback unless asked otherwise).
    pub host_addr: Ipv4Addr,
    /// The host port; [`ANY_FREE_PORT`] until the VM starts when any free port will do.
    pub host_port: u16,
    /// The guest port.
    pub guest_port: u16,
}

impl Forward {
    /// QEMU's `hostfwd=` value.
    pub(crate) fn to_qemu(&self) -> String {
        format!(
            "{}:{}:{}-:{}",
            self.protocol.name(),
            self.host_addr,
            self.host_port,
            self.guest_port
        )
    }
}

impl FromStr for Forward {
    type Err = VmError;

    /// Parses `[tcp:|udp:][HOSTADDR:]HOSTPORT:GUESTPORT` (also QEMU's `HOSTPORT-:GUESTPORT`).
    /// The host address defaults to 127.0.0.1; a host port `auto` (or `0`) is the first free
    /// port from 2222 up, chosen when the VM starts.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            VmError::InvalidSpec(format!(
                "port forward {text:?}: expected [tcp:|udp:][ADDRESS:]HOSTPORT:GUESTPORT, e.g. 2222:22"
            ))
        };
        let (protocol, rest) = if let Some(r) = text.strip_prefix("tcp:") {
            (Protocol::Tcp, r)
        } else if let Some(r) = text.strip_prefix("udp:") {
            (Protocol::Udp, r)
        } else {
            (Protocol::Tcp, text)
        };
        let rest = rest.replace("-:", ":");
        let parts: Vec<&str> = rest.split(':').collect();
        let (addr, host, guest) = match parts.as_slice() {
            [host, guest] => (Ipv4Addr::LOCALHOST, *host, *guest),
            ["", host, guest] => (Ipv4Addr::LOCALHOST, *host, *guest),
            [addr, host, guest] => (addr.parse().map_err(|_| bad())?, *host, *guest),
            _ => return Err(bad()),
        };
        Ok(Forward {
            protocol,
            host_addr: addr,
            host_port: match host {
                "auto" => ANY_FREE_PORT,
                port => port.parse().map_err(|_| bad())?,
            },
            guest_port: guest.parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_parse_in_short_and_qemu_forms() {
        let f: Forward = "2222:22".parse().unwrap();
        assert_eq!(f.to_qemu(), "tcp:127.0.0.1:2222-:22");
        let f: Forward = "udp:0.0.0.0:5353:53".parse().unwrap();
        assert_eq!(f.to_qemu(), "udp:0.0.0.0:5353-:53");
        let f: Forward = "tcp::8080-:80".parse().unwrap();
        assert_eq!(f.to_qemu(), "tcp:127.0.0.1:8080-:80");
        assert!("22".parse::<Forward>().is_err());
        assert!("x:1:2".parse::<Forward>().is_err());
        assert!("70000:22".parse::<Forward>().is_err());
    }

    #[test]
    fn default_network_forwards_a_free_loopback_port_to_ssh() {
        let Network::User { forwards } = Network::user_with_ssh() else {
            panic!("not user mode")
        };
        assert_eq!(forwards.len(), 1);
        assert_eq!(forwards[0].guest_port, 22);
        assert_eq!(forwards[0].host_addr, Ipv4Addr::LOCALHOST);
        assert_eq!(forwards[0].host_port, ANY_FREE_PORT);
        assert_eq!(
            "auto:80".parse::<Forward>().unwrap().host_port,
            ANY_FREE_PORT
        );
    }

    #[test]
    fn free_ports_skip_busy_taken_and_already_chosen_ports() {
        let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let busy_port = busy.local_addr().unwrap().port();
        let asked: Vec<Forward> = ["auto:22", "auto:80", "udp:auto:53"]
            .iter()
            .map(|f| f.parse().unwrap())
            .collect();
        let taken = [FIRST_FREE_PORT];
        let chosen = choose_free_ports(&asked, &taken).unwrap();
        let ports: Vec<u16> = chosen.iter().map(|f| f.host_port).collect();
        assert!(
            ports.iter().all(|&p| p > FIRST_FREE_PORT && p != busy_port),
            "{ports:?}"
        );
        assert_ne!(ports[0], ports[1]);
        // A fixed port stays as it is.
        let fixed: Forward = "8080:80".parse().unwrap();
        assert_eq!(
            choose_free_ports(std::slice::from_ref(&fixed), &[]).unwrap(),
            vec![fixed]
        );
    }

    #[test]
    fn a_chosen_port_lost_to_another_program_is_recognised_in_the_log() {
        let asked: Vec<Forward> = vec!["auto:22".parse().unwrap(), "8080:80".parse().unwrap()];
        let chosen: Vec<Forward> = vec!["2222:22".parse().unwrap(), "8080:80".parse().unwrap()];
        let log = "qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22: \
                   Could not set up host forwarding rule 'tcp:127.0.0.1:2222-:22'\n";
        assert_eq!(
            port_lost_to_another_program(log, &asked, &chosen),
            Some(2222)
        );
        // A port the user fixed is not silently replaced.
        let log = "Could not set up host forwarding rule 'tcp:127.0.0.1:8080-:80'";
        assert_eq!(port_lost_to_another_program(log, &asked, &chosen), None);
        assert_eq!(
            port_lost_to_another_program("other failure", &asked, &chosen),
            None
        );
    }
}
