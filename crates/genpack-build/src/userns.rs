//! Building as an ordinary user: the build runs in a user namespace (with its own mount
//! namespace) where the user is root and the user's subordinate ids (`/etc/subuid`,
//! `/etc/subgid`) stand for every other id. Inside, overlayfs mounts, mmdebstrap, the container
//! (bubblewrap) and mksquashfs run as they do for the real root, and a file owned by root,
//! `systemd-journal` or a definition's user keeps that owner in the image. Outside, those files
//! belong to the user (for root) or to ids of the user's subordinate range (for the others), so
//! only a process inside such a namespace can remove them: `genpack clean` and every rebuild
//! enter it too.
//!
//! The namespace is entered the way `unshare --map-auto --map-root-user` and
//! `mmdebstrap --mode=unshare` do it: the process unshares its user and mount namespaces, and a
//! helper that stayed outside writes the id maps with the setuid programs `newuidmap` and
//! `newgidmap` (Debian's `uidmap` package), which check the ranges against the subordinate id
//! files. unshare(2) refuses a user namespace to a process with more than one thread, so
//! [`enter`] runs first thing in a command, before any thread starts; a long-lived, threaded
//! program runs its builds in a child process that enters the namespace itself.
//!
//! Root does not enter anything: a build as root runs exactly as without this module.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The fewest subordinate ids a build needs: the system's ids up to `nobody` (65534) must all
/// exist in the namespace.
pub const MIN_RANGE: u32 = 65536;

/// A block of ids from `/etc/subuid` or `/etc/subgid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// The first id outside the namespace.
    pub start: u32,
    /// How many ids.
    pub count: u32,
}

/// The id maps of the namespace: 0 is the user, 1..=count the subordinate range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMaps {
    /// The user's name.
    pub user: String,
    /// The user's id (root inside).
    pub uid: u32,
    /// The user's group id (root's group inside).
    pub gid: u32,
    /// Subordinate user ids (1 and up inside).
    pub uids: IdRange,
    /// Subordinate group ids (1 and up inside).
    pub gids: IdRange,
    /// `newuidmap`.
    pub newuidmap: PathBuf,
    /// `newgidmap`.
    pub newgidmap: PathBuf,
}

/// Why a build cannot run in a user namespace, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// The subordinate id file has no range for the user.
    #[error("{} has no range of subordinate ids for the user {user}, which a build as an ordinary user needs: as root, run `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}` (any free range of 65536 ids), or build as root", file.display())]
    NoRange {
        /// `/etc/subuid` or `/etc/subgid`.
        file: PathBuf,
        /// The user's name.
        user: String,
    },
    /// The user's range is too small for the ids of a Debian or Gentoo system.
    #[error("{} gives the user {user} only {count} subordinate ids; a build needs at least {MIN_RANGE} (the system's ids up to nobody): as root, give a larger range with `usermod --add-subuids`/`--add-subgids`", file.display())]
    RangeTooSmall {
        /// `/etc/subuid` or `/etc/subgid`.
        file: PathBuf,
        /// The user's name.
        user: String,
        /// The largest range the file gives.
        count: u32,
    },
    /// `newuidmap` or `newgidmap` is not installed or not allowed to map ids.
    #[error("{program}: {problem}; a build as an ordinary user needs it to map the subordinate ids: install Debian's uidmap package (`apt-get install uidmap`)")]
    MapProgram {
        /// `newuidmap` or `newgidmap`.
        program: &'static str,
        /// `not found on PATH`, `is not setuid root`.
        problem: String,
    },
    /// A kernel setting turns unprivileged user namespaces off.
    #[error("user namespaces are turned off for ordinary users ({setting} = {value}): as root, run `sysctl -w {setting}={wanted}` (and put it in /etc/sysctl.d/ to keep it), or build as root")]
    Disabled {
        /// The sysctl name.
        setting: &'static str,
        /// Its value.
        value: String,
        /// The value that allows them.
        wanted: &'static str,
    },
    /// AppArmor gives user namespaces of unconfined programs no privileges.
    #[error("AppArmor keeps programs from using user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1), so mounting in the namespace was refused ({source}): allow it for genpack with an AppArmor profile that has the `userns,` rule, or as root run `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`")]
    AppArmor {
        /// The refused operation's error.
        #[source]
        source: std::io::Error,
    },
    /// The process already runs more than one thread.
    #[error("cannot enter a user namespace from a process that runs {threads} threads; the build has to run in a process of its own")]
    Threaded {
        /// How many threads.
        threads: usize,
    },
    /// A system call failed.
    #[error("{action}: {source}")]
    System {
        /// What was being done.
        action: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `newuidmap` or `newgidmap` refused the maps.
    #[error("mapping the subordinate ids failed: {message} (check the user's lines in /etc/subuid and /etc/subgid)")]
    Mapping {
        /// What the programs said.
        message: String,
    },
}

impl NamespaceError {
    fn system(action: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| NamespaceError::System { action, source }
    }
}

/// Result alias of this module.
pub type Result<T, E = NamespaceError> = std::result::Result<T, E>;

/// Running with the real root's privileges: nothing to enter.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// This process runs in a user namespace other than the initial one (its uid map is not the
/// identity over all ids): inside the namespace of [`enter`], or in a container.
pub fn inside() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// Runs as an ordinary user in the namespace of [`enter`]: root inside, not outside.
pub fn entered() -> bool {
    inside() && std::env::var_os(ENTERED_VAR).is_some()
}

/// Set in the environment of a process that entered the namespace (and so its children).
const ENTERED_VAR: &str = "GENPACK_USER_NAMESPACE";

/// The ranges of `name` (or its numeric `uid`) in a subordinate id file's text. Several lines
/// for one user are several ranges.
pub fn ranges_in(text: &str, name: &str, uid: u32) -> Vec<IdRange> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let mut fields = line.split(':');
            let owner = fields.next()?;
            let start = fields.next()?.trim().parse().ok()?;
            let count = fields.next()?.trim().parse().ok()?;
            (owner == name || owner == uid).then_some(IdRange { start, count })
        })
        .collect()
}

/// The user's largest subordinate range in `file`, when it is large enough.
fn range_of(file: &Path, name: &str, uid: u32) -> Result<IdRange> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(NamespaceError::System {
                action: "reading the subordinate id file",
                source,
            })
        }
    };
    let best = ranges_in(&text, name, uid)
        .into_iter()
        .max_by_key(|range| range.count);
    match best {
        None => Err(NamespaceError::NoRange {
            file: file.to_path_buf(),
            user: name.to_string(),
        }),
        Some(range) if range.count < MIN_RANGE => Err(NamespaceError::RangeTooSmall {
            file: file.to_path_buf(),
            user: name.to_string(),
            count: range.count,
        }),
        Some(range) => Ok(range),
    }
}

/// The name of user `uid` from the user database (NSS, so LDAP users count too).
pub fn user_name(uid: u32) -> Option<String> {
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid out-parameter; getpwuid_r writes into `buffer`.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; the buffer outlives the use of `entry`.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buffer`, NUL-terminated by getpwuid_r.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// `program` on PATH, setuid root (or with file capabilities), as the uidmap package installs it.
pub fn map_program(program: &'static str) -> Result<PathBuf> {
    let path = genpack_util::find_program(program).ok_or(NamespaceError::MapProgram {
        program,
        problem: "not found on PATH".into(),
    })?;
    let meta = path
        .metadata()
        .map_err(|error| NamespaceError::MapProgram {
            program,
            problem: error.to_string(),
        })?;
    let setuid_root = meta.uid() == 0 && meta.permissions().mode() & 0o4000 != 0;
    let has_caps = xattr::get(&path, "security.capability")
        .ok()
        .flatten()
        .is_some();
    if !setuid_root && !has_caps {
        return Err(NamespaceError::MapProgram {
            program,
            problem: format!(
                "{} is neither setuid root nor given capabilities",
                path.display()
            ),
        });
    }
    Ok(path)
}

/// Reads a sysctl under /proc/sys (`None` when this kernel has no such setting).
fn sysctl(setting: &str) -> Option<String> {
    let path = Path::new("/proc/sys").join(setting.replace('.', "/"));
    std::fs::read_to_string(path)
        .ok()
        .map(|v| v.trim().to_string())
}

/// The kernel settings that turn unprivileged user namespaces off.
pub fn kernel_allows() -> Result<()> {
    if let Some(value) = sysctl("user.max_user_namespaces").filter(|v| v == "0") {
        return Err(NamespaceError::Disabled {
            setting: "user.max_user_namespaces",
            value,
            wanted: "15000",
        });
    }
    // Debian kernels before 6.x and some others carry this switch.
    if let Some(value) = sysctl("kernel.unprivileged_userns_clone").filter(|v| v == "0") {
        return Err(NamespaceError::Disabled {
            setting: "kernel.unprivileged_userns_clone",
            value,
            wanted: "1",
        });
    }
    Ok(())
}

/// AppArmor restricts user namespaces of unconfined programs (Ubuntu 24.04 and later).
pub fn apparmor_restricts() -> bool {
    sysctl("kernel.apparmor_restrict_unprivileged_userns").is_some_and(|v| v == "1")
}

/// Everything [`enter`] needs, checked: the user's ranges, the map programs and the kernel's
/// settings. The first problem found is the error.
pub fn id_maps() -> Result<IdMaps> {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let user = user_name(uid).unwrap_or_else(|| uid.to_string());
    let uids = range_of(Path::new("/etc/subuid"), &user, uid)?;
    let gids = range_of(Path::new("/etc/subgid"), &user, uid)?;
    let newuidmap = map_program("newuidmap")?;
    let newgidmap = map_program("newgidmap")?;
    kernel_allows()?;
    Ok(IdMaps {
        user,
        uid,
        gid,
        uids,
        gids,
        newuidmap,
        newgidmap,
    })
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| dir.count())
        .unwrap_or(1)
}

/// Makes this process root of a new user namespace mapped onto the user's subordinate ids,
/// with a mount namespace of its own (mounts made in it go away with the process). Does
/// nothing as root or when already entered. Call it before any thread starts.
pub fn enter() -> Result<()> {
    if is_root() || entered() {
        return Ok(());
    }
    let maps = id_maps()?;
    let threads = thread_count();
    if threads > 1 {
        return Err(NamespaceError::Threaded { threads });
    }
    // The helper stays in the current namespace: newuidmap must run outside the new one.
    // It waits for a line on its stdin, sent once this process has unshared.
    const SCRIPT: &str = r#"read -r go && [ "$go" = go ] || exit 1
"$2" "$1" 0 "$4" 1 1 "$5" "$6" && exec "$3" "$1" 0 "$7" 1 1 "$8" "$9""#;
    let pid = std::process::id().to_string();
    let mut helper = Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("genpack-map-ids")
        .arg(&pid)
        .arg(&maps.newuidmap)
        .arg(&maps.newgidmap)
        .arg(maps.uid.to_string())
        .arg(maps.uids.start.to_string())
        .arg((maps.uids.count).to_string())
        .arg(maps.gid.to_string())
        .arg(maps.gids.start.to_string())
        .arg((maps.gids.count).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NamespaceError::system("starting /bin/sh to run newuidmap"))?;
    // SAFETY: unshare with constant flags; the process is single-threaded (checked above).
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        let source = std::io::Error::last_os_error();
        drop(helper.stdin.take());
        let _ = helper.wait();
        return Err(match source.raw_os_error() {
            Some(libc::ENOSPC) => NamespaceError::Disabled {
                setting: "user.max_user_namespaces",
                value: sysctl("user.max_user_namespaces").unwrap_or_default(),
                wanted: "15000",
            },
            _ => NamespaceError::System {
                action: "creating a user namespace (unshare)",
                source,
            },
        });
    }
    let signalled = helper
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(b"go\n"))
        .transpose()
        .map_err(NamespaceError::system("starting newuidmap"))?;
    debug_assert!(signalled.is_some());
    let mut stderr = String::new();
    if let Some(mut pipe) = helper.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = helper
        .wait()
        .map_err(NamespaceError::system("waiting for newuidmap"))?;
    if !status.success() {
        return Err(NamespaceError::Mapping {
            message: if stderr.trim().is_empty() {
                format!("newuidmap/newgidmap {status}")
            } else {
                stderr.trim().to_string()
            },
        });
    }
    // Now the user is root here: drop the supplementary groups (they show as nobody's group
    // inside) and take the namespace's root ids.
    // SAFETY: plain system calls with valid arguments.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(NamespaceError::System {
                action: "dropping supplementary groups in the user namespace",
                source: std::io::Error::last_os_error(),
            });
        }
        if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
            return Err(NamespaceError::System {
                action: "becoming root in the user namespace",
                source: std::io::Error::last_os_error(),
            });
        }
    }
    // Mounts made here must not reach the namespace this process came from.
    let root = c"/";
    // SAFETY: valid NUL-terminated path; null source, type and data are allowed for MS_PRIVATE.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let source = std::io::Error::last_os_error();
        return Err(if apparmor_restricts() {
            NamespaceError::AppArmor { source }
        } else {
            NamespaceError::System {
                action: "making the mounts of the user namespace private",
                source,
            }
        });
    }
    // Single-threaded (checked above), so changing the environment races with nothing.
    std::env::set_var(ENTERED_VAR, &maps.user);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_the_name_or_the_uid_and_skip_comments() {
        let text = "# comment\nalice:100000:65536\nbob:165536:65536\n1001:300000:1000\n\nalice:400000:10\n";
        assert_eq!(
            ranges_in(text, "alice", 1000),
            vec![
                IdRange {
                    start: 100000,
                    count: 65536
                },
                IdRange {
                    start: 400000,
                    count: 10
                }
            ]
        );
        assert_eq!(
            ranges_in(text, "carol", 1001),
            vec![IdRange {
                start: 300000,
                count: 1000
            }]
        );
        assert!(ranges_in(text, "dave", 1002).is_empty());
    }

    #[test]
    fn a_missing_or_small_range_says_how_to_add_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("subuid");
        std::fs::write(&file, "alice:100000:65536\nbob:200000:1000\n").unwrap();
        let none = range_of(&file, "carol", 1234).unwrap_err();
        assert!(matches!(none, NamespaceError::NoRange { .. }));
        assert!(none.to_string().contains("usermod --add-subuids"), "{none}");
        assert!(none.to_string().contains("carol"), "{none}");
        let small = range_of(&file, "bob", 1235).unwrap_err();
        assert!(
            small.to_string().contains("only 1000 subordinate ids"),
            "{small}"
        );
        assert_eq!(
            range_of(&file, "alice", 1000).unwrap(),
            IdRange {
                start: 100000,
                count: 65536
            }
        );
        let absent = range_of(&dir.path().join("none"), "alice", 1000).unwrap_err();
        assert!(matches!(absent, NamespaceError::NoRange { .. }));
    }

    #[test]
    fn root_enters_nothing() {
        if is_root() {
            enter().unwrap();
            assert!(!entered());
        }
    }
}
