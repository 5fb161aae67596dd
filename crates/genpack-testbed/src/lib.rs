//! For tests only: what a desktop gives an ordinary user, started by the test itself.
//!
//! - [`Services`]: a system D-Bus (`dbus-daemon` with a system-bus configuration in a temporary
//!   folder), `polkitd` and `udisksd`, the real daemons from Debian's `dbus-daemon`, `polkitd`
//!   and `udisks2` packages. Processes that should talk to them get
//!   `DBUS_SYSTEM_BUS_ADDRESS` ([`Services::address`]).
//! - polkit rules written by the test ([`Services::allow`]): `polkitd` runs in its own mount
//!   namespace where the folder of rules is bind-mounted over `/etc/polkit-1/rules.d`, so a
//!   rule never reaches the machine's own polkit.
//! - [`User`]: an unprivileged user (uid != 0, its own group only), created for the test and
//!   removed afterwards, with a home folder of its own.
//!
//! One stand-in: `udisksd` only takes block devices that udev has initialised, and these
//! machines run no udevd (starting one would touch every other process's devices). So
//! `udisksd` runs in its own mount namespace with a private `/run`, where the test marks every
//! block device present as initialised (an empty udev database entry, `I:` line only). Without
//! udevd there are no hotplug events either: after attaching a loop device, call
//! [`Services::restart_udisks`] so `udisksd` sees it.
//!
//! Everything is stopped (and the user removed) on drop. Needs root.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The polkit action udisksd checks before `Block.OpenDevice` on a device it calls a system
/// device (`HintSystem`: every loop device, every internal disk).
pub const OPEN_DEVICE_SYSTEM: &str = "org.freedesktop.udisks2.open-device-system";
/// The polkit action udisksd checks before `Block.OpenDevice` on a removable or USB drive.
pub const OPEN_DEVICE: &str = "org.freedesktop.udisks2.open-device";

const POLKITD: &str = "/usr/lib/polkit-1/polkitd";
const UDISKSD: &str = "/usr/libexec/udisks2/udisksd";
const POLKIT_RULES: &str = "/etc/polkit-1/rules.d";

/// A setup step failed; the message says which and shows the daemon's log.
pub type Result<T> = std::result::Result<T, String>;

/// Which daemons to start beside the bus.
#[derive(Debug, Clone, Copy)]
pub struct Daemons {
    pub polkitd: bool,
    pub udisksd: bool,
}

impl Default for Daemons {
    fn default() -> Self {
        Daemons {
            polkitd: true,
            udisksd: true,
        }
    }
}

/// A system D-Bus with polkitd and udisksd on it; all stopped on drop.
pub struct Services {
    dir: tempfile::TempDir,
    rules: PathBuf,
    address: String,
    bus: Child,
    polkitd: Option<Child>,
    udisksd: Option<Child>,
}

impl Services {
    /// Starts the bus and the daemons asked for, each ready (its name owned on the bus) when
    /// this returns.
    pub fn start(daemons: Daemons) -> Result<Services> {
        let dir = tempfile::Builder::new()
            .prefix("genpack-testbed-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
        // The socket must be reachable by the unprivileged user.
        set_mode(dir.path(), 0o755)?;
        let rules = dir.path().join("polkit-rules");
        fs::create_dir(&rules).map_err(|e| format!("cannot create {}: {e}", rules.display()))?;
        set_mode(&rules, 0o755)?;
        let socket = dir.path().join("system_bus_socket");
        let config = dir.path().join("system-bus.conf");
        fs::write(&config, bus_config(&socket))
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(log_file(dir.path(), "dbus-daemon")?)
            .spawn()
            .map_err(|e| format!("cannot start dbus-daemon (apt-get install dbus-daemon): {e}"))?;
        let mut line = String::new();
        if let Some(out) = bus.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let address = line.trim().to_string();
        if address.is_empty() {
            let _ = bus.kill();
            let _ = bus.wait();
            return Err(format!(
                "dbus-daemon did not start: {}",
                read_log(dir.path(), "dbus-daemon")
            ));
        }
        let mut services = Services {
            dir,
            rules,
            address,
            bus,
            polkitd: None,
            udisksd: None,
        };
        if daemons.polkitd {
            services.start_polkitd()?;
        }
        if daemons.udisksd {
            services.start_udisksd()?;
        }
        Ok(services)
    }

    /// The bus address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The folder of the bus socket and the daemons' logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a polkit rule (JavaScript) as `<name>.rules` and restarts polkitd, so the rule
    /// is in force when this returns.
    pub fn allow(&mut self, name: &str, rule: &str) -> Result<()> {
        let file = self.rules.join(format!("{name}.rules"));
        fs::write(&file, rule).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        set_mode(&file, 0o644)?;
        self.restart_polkitd()
    }

    /// Removes the rule `name` and restarts polkitd.
    pub fn revoke(&mut self, name: &str) -> Result<()> {
        let file = self.rules.join(format!("{name}.rules"));
        let _ = fs::remove_file(&file);
        self.restart_polkitd()
    }

    /// Stops udisksd (a machine where UDisks2 is not running).
    pub fn stop_udisks(&mut self) {
        stop(&mut self.udisksd);
    }

    /// Starts udisksd afresh, so it sees block devices attached since it started.
    pub fn restart_udisks(&mut self) -> Result<()> {
        stop(&mut self.udisksd);
        self.start_udisksd()
    }

    fn restart_polkitd(&mut self) -> Result<()> {
        if self.polkitd.is_some() {
            stop(&mut self.polkitd);
            self.start_polkitd()?;
        }
        Ok(())
    }

    fn start_polkitd(&mut self) -> Result<()> {
        if !Path::new(POLKITD).exists() {
            return Err(format!("{POLKITD} is missing: apt-get install polkitd"));
        }
        // Its own mount namespace: the test's rules stand in for /etc/polkit-1/rules.d
        // there, and nowhere else.
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg("mount --bind \"$1\" \"$2\" && exec \"$3\" --no-debug")
            .arg("sh")
            .arg(&self.rules)
            .arg(POLKIT_RULES)
            .arg(POLKITD)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdout(log_file(self.dir.path(), "polkitd")?)
            .stderr(log_file(self.dir.path(), "polkitd")?)
            .spawn()
            .map_err(|e| format!("cannot start polkitd: {e}"))?;
        self.polkitd = Some(child);
        self.wait_for_name("org.freedesktop.PolicyKit1", "polkitd")
    }

    fn start_udisksd(&mut self) -> Result<()> {
        if !Path::new(UDISKSD).exists() {
            return Err(format!("{UDISKSD} is missing: apt-get install udisks2"));
        }
        // A private /run where every block device present is marked as initialised by udev
        // (see the crate docs: no udevd runs here).
        let script = r#"mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/udev/data &&
for d in /sys/class/block/*; do echo "I:1" > "/run/udev/data/b$(cat "$d/dev")"; done &&
exec "$1""#;
        let child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                script,
            ])
            .arg("sh")
            .arg(UDISKSD)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdout(log_file(self.dir.path(), "udisksd")?)
            .stderr(log_file(self.dir.path(), "udisksd")?)
            .spawn()
            .map_err(|e| format!("cannot start udisksd: {e}"))?;
        self.udisksd = Some(child);
        self.wait_for_name("org.freedesktop.UDisks2", "udisksd")
    }

    /// Waits until `name` is owned on the bus (the daemon is ready), or its process ended.
    fn wait_for_name(&mut self, name: &str, log: &str) -> Result<()> {
        let connection = zbus::blocking::connection::Builder::address(self.address.as_str())
            .and_then(|b| b.build())
            .map_err(|e| format!("cannot connect to the test bus: {e}"))?;
        let started = Instant::now();
        loop {
            let owned: bool = connection
                .call_method(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    Some("org.freedesktop.DBus"),
                    "NameHasOwner",
                    &(name,),
                )
                .and_then(|reply| reply.body().deserialize())
                .map_err(|e| format!("cannot ask the test bus about {name}: {e}"))?;
            if owned {
                return Ok(());
            }
            let child = match log {
                "polkitd" => self.polkitd.as_mut(),
                _ => self.udisksd.as_mut(),
            };
            let ended = child.is_none_or(|c| c.try_wait().ok().flatten().is_some());
            // A readiness wait for a daemon, not a measurement: a minute covers a loaded machine.
            if ended || started.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "{log} did not take {name} on the test bus: {}",
                    read_log(self.dir.path(), log)
                ));
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's log so far (for assertion messages).
    pub fn log(&self, daemon: &str) -> String {
        read_log(self.dir.path(), daemon)
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        stop(&mut self.udisksd);
        stop(&mut self.polkitd);
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// A polkit rule that lets `user` do `action` on block devices named `device` (e.g.
/// `/dev/loop3`), or on every device starting with `device` without its trailing `*`
/// (`/dev/loop*`), and nothing else.
pub fn rule_allowing(user: &str, action: &str, device: &str) -> String {
    let test = match device.strip_suffix('*') {
        Some(prefix) => format!("String(action.lookup(\"device\")).indexOf({prefix:?}) == 0"),
        None => format!("action.lookup(\"device\") == {device:?}"),
    };
    format!(
        "// Written by a test: {user} may {action} on {device}.\n\
         polkit.addRule(function (action, subject) {{\n  \
           if (action.id == {action:?} && subject.user == {user:?} && {test}) {{\n    \
             return polkit.Result.YES;\n  \
           }}\n\
         }});\n"
    )
}

/// An unprivileged user created for a test (`useradd`), removed on drop (`userdel`).
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    home: tempfile::TempDir,
}

impl User {
    /// Creates a user named `<prefix><pid><n>` with its own group and a home folder.
    pub fn create(prefix: &str) -> Result<User> {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let mut name = format!(
            "{prefix}{}{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        name.truncate(31);
        retry_locked("useradd", |command| {
            command.args([
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--user-group",
                &name,
            ])
        })?;
        let id = |flag: &str| -> Result<u32> {
            let out = Command::new("id")
                .args([flag, &name])
                .output()
                .map_err(|e| format!("cannot run id: {e}"))?;
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .map_err(|_| format!("id {flag} {name} failed"))
        };
        let (uid, gid) = match (id("-u"), id("-g")) {
            (Ok(uid), Ok(gid)) => (uid, gid),
            (Err(e), _) | (_, Err(e)) => {
                let _ = retry_locked("userdel", |c| c.arg(&name));
                return Err(e);
            }
        };
        let home = tempfile::Builder::new()
            .prefix(&format!("{name}-home-"))
            .tempdir()
            .map_err(|e| format!("cannot create a home folder: {e}"))?;
        chown(home.path(), uid, gid)?;
        Ok(User {
            name,
            uid,
            gid,
            home,
        })
    }

    /// The user's home folder (owned by the user, removed on drop).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `program` run as this user: its uid and group (no supplementary groups), its home,
    /// and no XDG folders of the caller.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .uid(self.uid)
            .gid(self.gid)
            .env("HOME", self.home.path())
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_STATE_HOME");
        command
    }

    /// Gives `path` to this user (chown).
    pub fn give(&self, path: &Path) -> Result<()> {
        chown(path, self.uid, self.gid)
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // The home folder goes with the TempDir; the account here.
        let _ = retry_locked("userdel", |c| c.arg(&self.name));
    }
}

/// Runs useradd or userdel, again while another test holds the passwd lock.
fn retry_locked(program: &str, args: impl Fn(&mut Command) -> &mut Command) -> Result<()> {
    let mut last = String::new();
    for _ in 0..100 {
        let mut command = Command::new(program);
        args(&mut command);
        let out = command
            .output()
            .map_err(|e| format!("cannot run {program} (apt-get install passwd): {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        if !last.contains("lock") {
            break;
        }
        sleep(Duration::from_millis(100));
    }
    Err(format!("{program} failed: {last}"))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| format!("cannot chown {}: {e}", path.display()))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))
}

fn log_file(dir: &Path, daemon: &str) -> Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{daemon}.log")))
        .map_err(|e| format!("cannot open the {daemon} log: {e}"))
}

fn read_log(dir: &Path, daemon: &str) -> String {
    fs::read_to_string(dir.join(format!("{daemon}.log"))).unwrap_or_default()
}

fn stop(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        // SAFETY: kill has no memory preconditions; the pid is our own child, not yet reaped.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let started = Instant::now();
        while child.try_wait().ok().flatten().is_none() {
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            sleep(Duration::from_millis(20));
        }
    }
}

/// A system bus: the usual system-bus policy (method calls only where a service's own
/// policy file in /usr/share/dbus-1/system.d allows them), listening in the test's folder.
fn bus_config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>/etc/dbus-1/system.d</includedir>
</busconfig>
"#,
        socket.display()
    )
}
