//! Guest networking: user-mode with host port forwards, or a bridge / tap device (root only).

use std::net::{Ipv4Addr, TcpListener};
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
    /// User-mode network forwarding a free loopback port (2222 upwards) to the guest's SSH port.
    pub fn user_with_ssh() -> Self {
        let forwards = free_loopback_port(2222..2300)
            .map(|port| {
                vec![Forward {
                    protocol: Protocol::Tcp,
                    host_addr: Ipv4Addr::LOCALHOST,
                    host_port: port,
                    guest_port: 22,
                }]
            })
            .unwrap_or_default();
        Network::User { forwards }
    }
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

/// A host port forwarded to a guest port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The host address QEMU listens on (loopback unless asked otherwise).
    pub host_addr: Ipv4Addr,
    /// The host port.
    pub host_port: u16,
    /// The guest port.
    pub guest_port: u16,
}

impl Forward {
    /// QEMU's `hostfwd=` value.
    pub(crate) fn to_qemu(&self) -> String {
        let proto = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        format!(
            "{proto}:{}:{}-:{}",
            self.host_addr, self.host_port, self.guest_port
        )
    }
}

impl FromStr for Forward {
    type Err = VmError;

    /// Parses `[tcp:|udp:][HOSTADDR:]HOSTPORT:GUESTPORT` (also QEMU's `HOSTPORT-:GUESTPORT`).
    /// The host address defaults to 127.0.0.1.
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
            host_port: host.parse().map_err(|_| bad())?,
            guest_port: guest.parse().map_err(|_| bad())?,
        })
    }
}

/// The first port of `range` nobody listens on at 127.0.0.1.
fn free_loopback_port(range: std::ops::Range<u16>) -> Option<u16> {
    range
        .into_iter()
        .find(|&port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok())
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
    fn default_network_forwards_ssh_from_loopback() {
        let Network::User { forwards } = Network::user_with_ssh() else {
            panic!("not user mode")
        };
        assert_eq!(forwards.len(), 1);
        assert_eq!(forwards[0].guest_port, 22);
        assert_eq!(forwards[0].host_addr, Ipv4Addr::LOCALHOST);
    }
}
