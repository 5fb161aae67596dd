//! Paths inside another root (a lower layer, an image tree) as that root sees them.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// How many symbolic links are followed before giving up (as the kernel's ELOOP limit).
const MAX_LINKS: usize = 40;

/// Resolves `path` inside `root` through symbolic links the way a process chrooted to `root`
/// would: absolute link targets start again at `root`, `..` never leaves it. `path` may be
/// written absolute (`/usr/lib`) or relative (`usr/lib`); the result is absolute inside the
/// root (`/usr/lib64`). Components that do not exist are kept as written; after
/// [`MAX_LINKS`] links the rest is kept as written too.
pub fn resolve_in_root(root: &Path, path: &Path) -> PathBuf {
    let mut pending: VecDeque<OsString> = parts(path).collect();
    let mut resolved = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&name);
        let on_disk = root.join(candidate.strip_prefix("/").unwrap_or(&candidate));
        match fs::read_link(&on_disk) {
            Ok(target) if links < MAX_LINKS => {
                links += 1;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                let target_parts: Vec<OsString> = parts(&target).collect();
                for part in target_parts.into_iter().rev() {
                    pending.push_front(part);
                }
            }
            _ => resolved = candidate,
        }
    }
    resolved
}

/// The named components of `path`, with `..` kept and `.` and `/` dropped.
fn parts(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn follows_usr_merge_links_inside_the_root_only() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("usr/lib/modules")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/usr/lib", r.join("lib64")).unwrap();
        symlink("../../..", r.join("usr/lib/up")).unwrap();
        assert_eq!(
            resolve_in_root(r, Path::new("/lib/modules")),
            Path::new("/usr/lib/modules")
        );
        assert_eq!(
            resolve_in_root(r, Path::new("lib64/x")),
            Path::new("/usr/lib/x")
        );
        // `..` past the root stays at the root.
        assert_eq!(
            resolve_in_root(r, Path::new("/usr/lib/up/etc")),
            Path::new("/etc")
        );
    }

    #[test]
    fn a_link_loop_ends() {
        let root = tempfile::tempdir().unwrap();
        symlink("b", root.path().join("a")).unwrap();
        symlink("a", root.path().join("b")).unwrap();
        let resolved = resolve_in_root(root.path(), Path::new("/a/file"));
        assert!(resolved.ends_with("file"));
    }
}
