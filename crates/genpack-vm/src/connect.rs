//! How to reach a running VM from this machine: the SSH command, links to the web pages it
//! serves on forwarded host ports, and how to log in on its console. One computation, so
//! `genpack vm run` prints the same facts the studio's Run step shows.
//!
//! What the appliance offers comes from its definition ([`Guest`]): the network services it
//! declares in `ports` (a VM on the user-mode network forwards a free host port to each) and
//! the accounts it makes. How to log in comes from the system.ini the VM was started with:
//! `ssh_pubkey` and `autologin`.

use std::path::{Path, PathBuf};

use genpack_def::{Definition, Project, Protocol as ServiceProtocol, ServicePort, WebScheme};
use genpack_ini::{key_lines, parse_bool, parse_ssh_public_key, Document, SshPublicKey};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::network::{Forward, Network, Protocol, ANY_FREE_PORT};
use crate::runtime::{RuntimeDir, VmState};
use crate::spec::VmSpec;
use crate::VmError;

/// The port SSH listens on inside an appliance.
pub const SSH_PORT: u16 = 22;

/// What the booted appliance offers, read from the definition of the project it was built
/// from: its network services and its login accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    /// The network services the definition declares (`ports`).
    #[serde(default)]
    pub services: Vec<ServicePort>,
    /// The login accounts the definition makes, in file order.
    #[serde(default)]
    pub accounts: Vec<Account>,
}

/// A login account the image has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// The account logs in without a password (`empty_password` in the definition).
    pub empty_password: bool,
}

impl Guest {
    /// The services and accounts of a definition.
    pub fn from_definition(definition: &Definition) -> Guest {
        Guest {
            services: definition.ports.clone(),
            accounts: definition
                .users
                .iter()
                .map(|user| Account {
                    name: user.name.clone(),
                    empty_password: user.empty_password,
                })
                .collect(),
        }
    }

    /// The services and accounts of the project in `dir`; nothing when it has no readable
    /// definition (the VM then forwards SSH only).
    pub fn of_project(dir: &Path) -> Guest {
        match Project::load(dir) {
            Ok(project) => Guest::from_definition(&project.definition),
            Err(_) => Guest::default(),
        }
    }

    /// The services and accounts of the project an image belongs to: the nearest folder with
    /// a definition among the image's own (a tree), its folder and the three above it (a
    /// build writes images into the project folder and its tree into `work/<arch>/upper`);
    /// nothing for an image elsewhere.
    pub fn for_image(image: &Path) -> Guest {
        let has_definition =
            |dir: &Path| dir.join("genpack.json5").is_file() || dir.join("genpack.json").is_file();
        let start = if image.is_dir() {
            Some(image)
        } else {
            image.parent()
        };
        match start.and_then(|dir| dir.ancestors().take(4).find(|d| has_definition(d))) {
            Some(dir) => Guest::of_project(dir),
            None => Guest::default(),
        }
    }
}

/// `spec` with a forward from a free loopback port to every declared service that no
/// forward reaches yet (user-mode network only).
pub(crate) fn with_service_forwards(spec: &VmSpec) -> VmSpec {
    let mut spec = spec.clone();
    if let Network::User { forwards } = &mut spec.network {
        for service in &spec.guest.services {
            let protocol = match service.protocol {
                ServiceProtocol::Tcp => Protocol::Tcp,
                ServiceProtocol::Udp => Protocol::Udp,
            };
            let reached = forwards
                .iter()
                .any(|f| f.protocol == protocol && f.guest_port == service.port);
            if !reached {
                forwards.push(Forward {
                    protocol,
                    host_addr: std::net::Ipv4Addr::LOCALHOST,
                    host_port: ANY_FREE_PORT,
                    guest_port: service.port,
                });
            }
        }
    }
    spec
}

/// How to reach a running VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ConnectInfo {
    /// Logging in over SSH, when a host port reaches the guest's port 22.
    pub ssh: Option<SshAccess>,
    /// The web pages the appliance serves, on their forwarded host ports.
    pub web: Vec<WebLink>,
    /// Every forwarded port with what answers there.
    pub forwards: Vec<ForwardedPort>,
    /// Logging in on the screen or the serial console.
    pub console: ConsoleLogin,
}

/// The SSH command and what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SshAccess {
    /// The command to paste into a terminal, e.g. `ssh -p 2222 admin@127.0.0.1`.
    pub command: String,
    /// The account it logs in as.
    pub user: String,
    /// The host address (loopback unless the forward says otherwise).
    pub host: String,
    /// The host port forwarded to the guest's port 22.
    pub port: u16,
    /// The public keys system.ini lets in, shortened for display (`ssh-ed25519 …you@laptop`).
    pub keys: Vec<String>,
    /// The private key of this machine that matches one of them, passed with `-i`.
    pub identity: Option<PathBuf>,
    /// Whether logging in can work: false when system.ini lets no key in (no account of an
    /// appliance has a password).
    pub ready: bool,
    /// One sentence on what to do, for people.
    pub advice: String,
}

/// A web page of the appliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct WebLink {
    /// What the page is ("Web site").
    pub name: String,
    /// `http://127.0.0.1:<host port>/<path>`.
    pub url: String,
    /// The port inside the appliance.
    pub guest_port: u16,
}

/// One forwarded port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ForwardedPort {
    /// What answers there, when the definition names it.
    pub name: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The host address.
    pub host: String,
    /// The port on this machine.
    pub host_port: u16,
    /// The port inside the appliance.
    pub guest_port: u16,
}

/// How to log in on the screen or the serial console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ConsoleLogin {
    /// system.ini turns on automatic login (as root).
    pub autologin: bool,
    /// The account to type at the `login:` prompt, when one logs in without a password.
    pub user: Option<String>,
    /// One sentence for people.
    pub advice: String,
}

impl ConnectInfo {
    /// The facts as lines for a terminal, each starting with what it is.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(ssh) = &self.ssh {
            lines.push(format!("SSH:      {}", ssh.command));
            if !ssh.ready || ssh.identity.is_none() {
                lines.push(format!("          {}", ssh.advice));
            }
        }
        for link in &self.web {
            lines.push(format!("Web:      {} ({})", link.url, link.name));
        }
        for forward in &self.forwards {
            let is_ssh = forward.guest_port == SSH_PORT && forward.protocol == "tcp";
            let is_web = self.web.iter().any(|w| w.guest_port == forward.guest_port);
            if is_ssh || is_web {
                continue;
            }
            lines.push(format!(
                "Port:     {}:{} ({}) reaches port {} in the VM{}",
                forward.host,
                forward.host_port,
                forward.protocol,
                forward.guest_port,
                forward
                    .name
                    .as_ref()
                    .map(|name| format!(": {name}"))
                    .unwrap_or_default()
            ));
        }
        lines.push(format!("Console:  {}", self.console.advice));
        lines
    }
}

/// How to reach the running VM `name`.
pub fn connect(name: &str) -> Result<ConnectInfo> {
    let runtime = RuntimeDir::for_name(name)?;
    if runtime.live_pid().is_none() {
        return Err(VmError::NotRunning { name: name.into() });
    }
    let state = runtime
        .read_state()?
        .ok_or_else(|| VmError::NotRunning { name: name.into() })?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    Ok(connect_info(&state, home.as_deref()))
}

/// How to reach the VM that `state` describes; `home` is searched for the private key that
/// matches a key of system.ini (`~/.ssh/*.pub`).
pub fn connect_info(state: &VmState, home: Option<&Path>) -> ConnectInfo {
    let ini = state
        .system_ini
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .map(|text| Document::parse_lenient(&text));
    let setting = |key: &str| {
        ini.as_ref()
            .and_then(|doc| doc.get(genpack_ini::DEFAULT_SECTION, key))
    };
    let keys: Vec<SshPublicKey> = setting("ssh_pubkey")
        .map(|value| {
            key_lines(&value)
                .filter_map(|(_, line)| parse_ssh_public_key(line).ok())
                .collect()
        })
        .unwrap_or_default();
    let autologin = setting("autologin").and_then(|v| parse_bool(&v)) == Some(true);
    let service_name = |protocol: Protocol, port: u16| {
        state
            .guest
            .services
            .iter()
            .find(|s| s.port == port && same_protocol(s.protocol, protocol))
            .map(|s| s.name.clone())
    };

    let forwards: Vec<ForwardedPort> = state
        .forwards
        .iter()
        .map(|f| ForwardedPort {
            name: service_name(f.protocol, f.guest_port).or_else(|| {
                (f.guest_port == SSH_PORT && f.protocol == Protocol::Tcp).then(|| "SSH".into())
            }),
            protocol: protocol_name(f.protocol).into(),
            host: host_text(f),
            host_port: f.host_port,
            guest_port: f.guest_port,
        })
        .collect();

    let web = state
        .guest
        .services
        .iter()
        .filter_map(|service| {
            let scheme = match service.web? {
                WebScheme::Http => "http",
                WebScheme::Https => "https",
            };
            let forward = state
                .forwards
                .iter()
                .find(|f| f.protocol == Protocol::Tcp && f.guest_port == service.port)?;
            Some(WebLink {
                name: service.name.clone(),
                url: format!(
                    "{scheme}://{}:{}{}",
                    host_text(forward),
                    forward.host_port,
                    service.path.as_deref().unwrap_or("/")
                ),
                guest_port: service.port,
            })
        })
        .collect();

    let ssh = state
        .forwards
        .iter()
        .find(|f| f.protocol == Protocol::Tcp && f.guest_port == SSH_PORT)
        .map(|forward| ssh_access(forward, state, &keys, home));

    ConnectInfo {
        ssh,
        web,
        forwards,
        console: console_login(state, autologin, !keys.is_empty()),
    }
}

fn ssh_access(
    forward: &Forward,
    state: &VmState,
    keys: &[SshPublicKey],
    home: Option<&Path>,
) -> SshAccess {
    // The keys of system.ini are added for root and every normal account: log in as the
    // account the appliance makes, else as root.
    let user = state
        .guest
        .accounts
        .first()
        .map_or_else(|| "root".to_string(), |a| a.name.clone());
    let host = host_text(forward);
    let identity = home.and_then(|home| matching_identity(home, keys));
    let mut command = format!("ssh -p {}", forward.host_port);
    if let Some(identity) = &identity {
        command.push_str(&format!(" -i {}", shell_word(&identity.to_string_lossy())));
    }
    command.push_str(&format!(" {user}@{host}"));
    let advice = if keys.is_empty() {
        "No SSH key is set: paste your public key (~/.ssh/id_ed25519.pub) into Configure → SSH public keys (ssh_pubkey in system.ini), then start the VM again.".to_string()
    } else if identity.is_some() {
        "Logs in with your key from system.ini.".to_string()
    } else {
        format!(
            "Logs in with the private key of {} from system.ini (not found in ~/.ssh: add `-i <file>`).",
            if keys.len() == 1 { "the key" } else { "a key" }
        )
    };
    SshAccess {
        command,
        user,
        host,
        port: forward.host_port,
        keys: keys.iter().map(short_key).collect(),
        identity,
        ready: !keys.is_empty(),
        advice,
    }
}

fn console_login(state: &VmState, autologin: bool, has_keys: bool) -> ConsoleLogin {
    if autologin {
        return ConsoleLogin {
            autologin,
            user: None,
            advice: "Logs in as root by itself (“Log in automatically” is on in Configure).".into(),
        };
    }
    if let Some(open) = state.guest.accounts.iter().find(|a| a.empty_password) {
        return ConsoleLogin {
            autologin,
            user: Some(open.name.clone()),
            advice: format!(
                "Type {} at the login prompt: the account has no password.",
                open.name
            ),
        };
    }
    let accounts: Vec<&str> = std::iter::once("root")
        .chain(state.guest.accounts.iter().map(|a| a.name.as_str()))
        .collect();
    let ssh = if has_keys {
        ", or use SSH with your key"
    } else {
        ""
    };
    ConsoleLogin {
        autologin,
        user: None,
        advice: format!(
            "No account has a password ({}): turn on “Log in automatically” in Configure and start the VM again{ssh}.",
            accounts.join(", ")
        ),
    }
}

fn same_protocol(service: ServiceProtocol, forward: Protocol) -> bool {
    matches!(
        (service, forward),
        (ServiceProtocol::Tcp, Protocol::Tcp) | (ServiceProtocol::Udp, Protocol::Udp)
    )
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// The address to connect to: a forward listening on every address is reached on loopback.
fn host_text(forward: &Forward) -> String {
    if forward.host_addr.is_unspecified() {
        "127.0.0.1".into()
    } else {
        forward.host_addr.to_string()
    }
}

/// `ssh-ed25519 …last12 comment`: enough to recognise a key.
fn short_key(key: &SshPublicKey) -> String {
    let body = &key.base64;
    let tail = &body[body.len().saturating_sub(12)..];
    let comment = if key.comment.is_empty() {
        String::new()
    } else {
        format!(" {}", key.comment)
    };
    format!("{} …{tail}{comment}", key.key_type)
}

/// The private key under `home/.ssh` whose `.pub` file is one of `keys`.
fn matching_identity(home: &Path, keys: &[SshPublicKey]) -> Option<PathBuf> {
    let dir = home.join(".ssh");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "pub"))
        .collect();
    entries.sort();
    entries.into_iter().find_map(|public| {
        let text = std::fs::read_to_string(&public).ok()?;
        let key = parse_ssh_public_key(text.trim()).ok()?;
        if !keys.iter().any(|k| k.same_key(&key)) {
            return None;
        }
        let private = public.with_extension("");
        private.is_file().then_some(private)
    })
}

/// `text` quoted for a POSIX shell when it needs quoting.
fn shell_word(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-~+=:,@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Accel;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOjDn7UWcxlM/farOxT8EoVtGHZM5/Udqi2sfWGZY09V you@laptop";

    fn state(forwards: &[&str], guest: Guest, system_ini: Option<PathBuf>) -> VmState {
        VmState {
            name: "web-x86_64".into(),
            image: "web-x86_64.squashfs".into(),
            memory_mib: 2048,
            cpus: 1,
            accel: Accel::Tcg,
            started_at: 0,
            forwards: forwards.iter().map(|f| f.parse().unwrap()).collect(),
            pid: 1,
            data_disk: None,
            vsock_cid: None,
            vnc_socket: None,
            input: None,
            clipboard: false,
            qmp_socket: "qmp.sock".into(),
            console_socket: "console.sock".into(),
            console_log: "console.log".into(),
            system_ini,
            guest,
        }
    }

    fn web_guest() -> Guest {
        let definition = genpack_def::parse_definition(
            r#"{ base: "debian:bookworm", packages: ["nginx"], users: ["admin"],
                 ports: [{ port: 80, name: "Web site", web: "http" }, { port: 22, name: "SSH" },
                         { port: 53, protocol: "udp", name: "DNS" }] }"#,
            Path::new("genpack.json5"),
        )
        .definition
        .unwrap();
        Guest::from_definition(&definition)
    }

    #[test]
    fn declared_services_get_a_free_port_and_ssh_is_not_forwarded_twice() {
        let mut spec = VmSpec::new("web-x86_64", crate::Boot::Tree { tree: "/t".into() });
        spec.guest = web_guest();
        let Network::User { forwards } = with_service_forwards(&spec).network else {
            panic!("user network")
        };
        let ports: Vec<(Protocol, u16, u16)> = forwards
            .iter()
            .map(|f| (f.protocol, f.host_port, f.guest_port))
            .collect();
        assert_eq!(
            ports,
            vec![
                (Protocol::Tcp, ANY_FREE_PORT, 22),
                (Protocol::Tcp, ANY_FREE_PORT, 80),
                (Protocol::Udp, ANY_FREE_PORT, 53),
            ]
        );
    }

    #[test]
    fn connect_lines_name_the_ssh_command_the_web_page_and_the_console_login() {
        let dir = tempfile::tempdir().unwrap();
        let ini = dir.path().join("system.ini");
        std::fs::write(&ini, format!("hostname = web\nssh_pubkey = {KEY}\n")).unwrap();
        let state = state(
            &["2222:22", "2223:80", "udp:2224:53"],
            web_guest(),
            Some(ini.clone()),
        );
        let info = connect_info(&state, None);
        let ssh = info.ssh.clone().unwrap();
        assert_eq!(ssh.command, "ssh -p 2222 admin@127.0.0.1");
        assert!(ssh.ready);
        assert_eq!(ssh.keys.len(), 1);
        assert!(ssh.keys[0].ends_with("you@laptop"), "{:?}", ssh.keys);
        assert_eq!(info.web.len(), 1);
        assert_eq!(info.web[0].url, "http://127.0.0.1:2223/");
        assert!(!info.console.autologin);
        assert!(info.console.advice.contains("Log in automatically"));
        let lines = info.lines().join("\n");
        assert!(
            lines.contains("SSH:      ssh -p 2222 admin@127.0.0.1"),
            "{lines}"
        );
        assert!(
            lines.contains("Web:      http://127.0.0.1:2223/ (Web site)"),
            "{lines}"
        );
        assert!(
            lines.contains("127.0.0.1:2224 (udp) reaches port 53 in the VM: DNS"),
            "{lines}"
        );

        // The matching private key of this machine is passed with -i.
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_ed25519.pub"), format!("{KEY}\n")).unwrap();
        std::fs::write(home.join(".ssh/id_ed25519"), "private").unwrap();
        let info = connect_info(&state, Some(&home));
        let expected = format!(
            "ssh -p 2222 -i {} admin@127.0.0.1",
            home.join(".ssh/id_ed25519").display()
        );
        assert_eq!(info.ssh.unwrap().command, expected);

        // Automatic login in system.ini.
        std::fs::write(&ini, "autologin = yes\n").unwrap();
        let info = connect_info(&state, None);
        assert!(info.console.autologin);
        assert!(info.console.advice.contains("as root by itself"));
        let ssh = info.ssh.unwrap();
        assert!(!ssh.ready);
        assert!(ssh.advice.contains("No SSH key is set"), "{}", ssh.advice);
    }

    #[test]
    fn without_a_definition_root_and_the_forwards_are_shown() {
        let mut guest = Guest::default();
        guest.accounts.push(Account {
            name: "kiosk".into(),
            empty_password: true,
        });
        let info = connect_info(&state(&["0.0.0.0:2222:22"], guest, None), None);
        assert_eq!(info.ssh.unwrap().command, "ssh -p 2222 kiosk@127.0.0.1");
        assert!(info.web.is_empty());
        assert_eq!(info.console.user.as_deref(), Some("kiosk"));
        let info = connect_info(&state(&[], Guest::default(), None), None);
        assert!(info.ssh.is_none());
        assert!(
            info.console.advice.contains("(root)"),
            "{}",
            info.console.advice
        );
    }
}
