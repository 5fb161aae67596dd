//! Running commands inside a root tree: `systemd-nspawn --register=no --keep-unit` (works
//! without systemd as PID 1), or bubblewrap when nspawn is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::on_path;
use crate::error::{BuildError, Result};

/// Mount point of the project folder inside the container.
pub const HOST_MOUNT: &str = "/mnt/host";

/// The program used to enter a root tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `systemd-nspawn` from systemd-container.
    Nspawn,
    /// `bwrap` from bubblewrap.
    Bubblewrap,
}

impl Runtime {
    /// nspawn when installed, else bubblewrap. In a user namespace (a build as an ordinary
    /// user) only bubblewrap works: nspawn wants the real root.
    pub fn detect() -> Result<Self> {
        if crate::userns::entered() {
            return if on_path("bwrap") {
                Ok(Runtime::Bubblewrap)
            } else {
                Err(BuildError::NoContainerRuntime)
            };
        }
        if on_path("systemd-nspawn") {
            Ok(Runtime::Nspawn)
        } else if on_path("bwrap") {
            Ok(Runtime::Bubblewrap)
        } else {
            Err(BuildError::NoContainerRuntime)
        }
    }

    /// Debian package providing the runtime (for error messages).
    pub fn package(self) -> &'static str {
        match self {
            Runtime::Nspawn => "systemd-container",
            Runtime::Bubblewrap => "bubblewrap",
        }
    }
}

/// A bind mount into the container.
#[derive(Debug, Clone)]
pub struct Bind {
    /// Host path.
    pub source: PathBuf,
    /// Path inside the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// A root tree plus the binds and environment every command in it gets.
#[derive(Debug, Clone)]
pub struct Container {
    runtime: Runtime,
    root: PathBuf,
    binds: Vec<Bind>,
    env: Vec<(String, String)>,
}

impl Container {
    /// A container on `root` using `runtime`.
    pub fn new(runtime: Runtime, root: &Path) -> Self {
        Self {
            runtime,
            root: root.to_path_buf(),
            binds: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Adds a bind mount.
    pub fn bind(mut self, source: &Path, target: &str, read_only: bool) -> Self {
        self.binds.push(Bind {
            source: source.to_path_buf(),
            target: target.to_string(),
            read_only,
        });
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The runtime in use.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// A command running `argv` inside the container. `interactive` keeps the terminal
    /// attached (for shells); otherwise output is piped.
    pub fn command<S: AsRef<str>>(&self, argv: &[S], interactive: bool) -> Command {
        match self.runtime {
            Runtime::Nspawn => {
                let mut cmd = Command::new("systemd-nspawn");
                cmd.args(["--register=no", "--keep-unit", "-q", "--as-pid2"]);
                cmd.arg(if interactive {
                    "--console=interactive"
                } else {
                    "--console=pipe"
                });
                cmd.arg("--suppress-sync=true");
                cmd.arg("-D").arg(&self.root);
                for bind in &self.binds {
                    let flag = if bind.read_only {
                        "--bind-ro="
                    } else {
                        "--bind="
                    };
                    let mut arg = std::ffi::OsString::from(flag);
                    arg.push(&bind.source);
                    arg.push(":");
                    arg.push(&bind.target);
                    cmd.arg(arg);
                }
                for (key, value) in &self.env {
                    cmd.arg(format!("--setenv={key}={value}"));
                }
                cmd.arg("--");
                cmd.args(argv.iter().map(AsRef::as_ref));
                cmd
            }
            Runtime::Bubblewrap => {
                let mut cmd = Command::new("bwrap");
                cmd.arg("--bind").arg(&self.root).arg("/");
                cmd.args([
                    "--dev",
                    "/dev",
                    "--proc",
                    "/proc",
                    "--ro-bind",
                    "/sys",
                    "/sys",
                ]);
                cmd.args([
                    "--tmpfs",
                    "/run",
                    "--unshare-pid",
                    "--unshare-ipc",
                    "--unshare-uts",
                ]);
                cmd.args(["--die-with-parent", "--chdir", "/"]);
                if Path::new("/etc/resolv.conf").exists() {
                    cmd.args(["--ro-bind", "/etc/resolv.conf", "/run/host-resolv.conf"]);
                }
                for bind in &self.binds {
                    cmd.arg(if bind.read_only {
                        "--ro-bind"
                    } else {
                        "--bind"
                    });
                    cmd.arg(&bind.source).arg(&bind.target);
                }
                cmd.env_clear();
                cmd.env(
                    "PATH",
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                );
                cmd.env("HOME", "/root");
                if let Ok(term) = std::env::var("TERM") {
                    cmd.env("TERM", term);
                }
                for (key, value) in &self.env {
                    cmd.env(key, value);
                }
                cmd.arg("--");
                cmd.args(argv.iter().map(AsRef::as_ref));
                cmd
            }
        }
    }

    /// `sh -c script` inside the container.
    pub fn shell(&self, script: &str) -> Command {
        self.command(&["/bin/sh", "-c", script], false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: &Command) -> Vec<String> {
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn nspawn_command_has_the_flags_that_work_without_systemd_as_pid1() {
        let c = Container::new(Runtime::Nspawn, Path::new("/w/lower"))
            .bind(Path::new("/proj"), HOST_MOUNT, false)
            .env("ARTIFACT", "demo");
        let cmd = c.command(&["true"], false);
        assert_eq!(cmd.get_program(), "systemd-nspawn");
        let a = args(&cmd);
        for expected in [
            "--register=no",
            "--keep-unit",
            "-q",
            "-D",
            "/w/lower",
            "--bind=/proj:/mnt/host",
            "--setenv=ARTIFACT=demo",
            "--console=pipe",
        ] {
            assert!(
                a.iter().any(|x| x == expected),
                "missing {expected} in {a:?}"
            );
        }
        assert_eq!(a.last().map(String::as_str), Some("true"));
    }

    #[test]
    fn bubblewrap_command_binds_root_and_sets_env() {
        let c = Container::new(Runtime::Bubblewrap, Path::new("/w/lower")).env("VARIANT", "v");
        let cmd = c.command(&["true"], false);
        let a = args(&cmd);
        assert_eq!(&a[..3], ["--bind", "/w/lower", "/"]);
        assert!(cmd
            .get_envs()
            .any(|(k, v)| k == "VARIANT" && v.map(|v| v == "v").unwrap_or(false)));
    }
}
