//! Which entries of the lower go into the upper.
//!
//! The lower is walked once. An entry a package installed is taken when one of its owners is
//! in the runtime closure. An entry no package owns (written by a maintainer script:
//! `/etc/passwd`, alternatives, `modules.dep`, `ld.so.cache`, enabled-unit symlinks...) is
//! taken when its nearest owned ancestor directory belongs to the closure, so state created
//! for build-time-only packages stays out. Package manager state, caches, logs and
//! host-specific files never go in; documentation, headers and static libraries only with
//! `devel`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::base::PackageDb;
use crate::closure::Closure;
use crate::error::{BuildError, Result};

/// Directories whose content no image needs (only what a closure package owns is kept).
const VOLATILE: [&str; 9] = [
    "proc",
    "sys",
    "run",
    "tmp",
    "var/tmp",
    "var/cache",
    "var/log",
    "var/lib/apt",
    "var/lock",
];

/// Never copied (`/etc/hostname` is written for the image).
const NEVER: [&str; 3] = ["var/lib/dpkg", "etc/hostname", "mnt/host"];

/// Copied only when a package made them symlinks (systemd-resolved's stub); a regular file
/// there is the build host's copy.
const HOST_COPIES: [&str; 1] = ["etc/resolv.conf"];

/// Left out unless the definition sets `devel`.
const DEVEL_ONLY: [&str; 5] = [
    "usr/share/man",
    "usr/share/doc",
    "usr/share/gtk-doc",
    "usr/share/info",
    "usr/include",
];

/// The entries to copy, in walk order (parents before children).
#[derive(Debug, Default)]
pub struct Selection {
    /// Relative paths.
    pub entries: Vec<PathBuf>,
    /// Total size of the regular files among them.
    pub bytes: u64,
}

/// Ownership of one normalised path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Closure,
    Other,
}

/// Walks `lower` and selects what goes into the upper.
pub fn select(
    lower: &Path,
    db: &dyn PackageDb,
    closure: &Closure,
    devel: bool,
) -> Result<Selection> {
    let mut owners: HashMap<PathBuf, Owner> = HashMap::new();
    let mut resolver = ParentResolver::new(lower);
    for name in db.installed() {
        let in_closure = closure.packages.contains(&name);
        for file in db.files(&name)? {
            let rel = resolver.normalise(&file);
            let entry = owners.entry(rel).or_insert(Owner::Other);
            if in_closure {
                *entry = Owner::Closure;
            }
        }
    }
    let mut selection = Selection::default();
    walk(lower, Path::new(""), true, &owners, devel, &mut selection)?;
    Ok(selection)
}

fn excluded(rel: &Path, is_dir: bool, is_symlink: bool, devel: bool) -> bool {
    if NEVER.iter().any(|p| rel == Path::new(p)) {
        return true;
    }
    if !is_symlink && HOST_COPIES.iter().any(|p| rel == Path::new(p)) {
        return true;
    }
    if devel {
        return false;
    }
    if DEVEL_ONLY.iter().any(|p| rel == Path::new(p)) {
        return true;
    }
    if !is_dir && rel.extension().map(|e| e == "a").unwrap_or(false) {
        return true;
    }
    let text = rel.to_string_lossy();
    text.starts_with("usr/lib/python") && text.split('/').nth(3) == Some("test")
}

fn walk(
    lower: &Path,
    dir: &Path,
    inherit: bool,
    owners: &HashMap<PathBuf, Owner>,
    devel: bool,
    out: &mut Selection,
) -> Result<()> {
    let abs = lower.join(dir);
    let mut entries: Vec<_> = fs::read_dir(&abs)
        .map_err(BuildError::io("reading directory", &abs))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let rel = dir.join(entry.file_name());
        let meta =
            fs::symlink_metadata(entry.path()).map_err(BuildError::io("reading", entry.path()))?;
        let is_dir = meta.is_dir();
        if excluded(&rel, is_dir, meta.file_type().is_symlink(), devel) {
            continue;
        }
        let take = match owners.get(&rel) {
            Some(Owner::Closure) => true,
            Some(Owner::Other) => false,
            None => inherit,
        };
        if !take {
            continue;
        }
        out.entries.push(rel.clone());
        if meta.is_file() {
            out.bytes += meta.len();
        }
        if is_dir {
            let volatile = VOLATILE.iter().any(|p| rel == Path::new(p));
            let child_inherit = match owners.get(&rel) {
                Some(Owner::Closure) | None => !volatile,
                Some(Owner::Other) => false,
            };
            walk(lower, &rel, child_inherit, owners, devel, out)?;
        }
    }
    Ok(())
}

/// Turns package file paths into real paths inside the root by resolving symlinked parent
/// directories (`/bin/bash` is `/usr/bin/bash` on a merged-/usr system). The last component
/// is kept as is.
struct ParentResolver<'a> {
    root: &'a Path,
    cache: HashMap<PathBuf, PathBuf>,
}

impl<'a> ParentResolver<'a> {
    fn new(root: &'a Path) -> Self {
        Self {
            root,
            cache: HashMap::new(),
        }
    }

    /// Relative, normalised form of an absolute package path.
    fn normalise(&mut self, path: &Path) -> PathBuf {
        let rel = path.strip_prefix("/").unwrap_or(path);
        match (rel.parent(), rel.file_name()) {
            (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
                let resolved = self.resolve_dir(parent);
                resolved.join(name)
            }
            _ => rel.to_path_buf(),
        }
    }

    fn resolve_dir(&mut self, dir: &Path) -> PathBuf {
        if let Some(hit) = self.cache.get(dir) {
            return hit.clone();
        }
        let resolved = resolve_in_root(self.root, dir);
        self.cache.insert(dir.to_path_buf(), resolved.clone());
        resolved
    }
}

/// `rel` inside `root` with every symbolic link resolved as the root sees it
/// ([`genpack_util::resolve_in_root`]), relative again.
pub(crate) fn resolve_in_root(root: &Path, rel: &Path) -> PathBuf {
    let inside = genpack_util::resolve_in_root(root, rel);
    inside.strip_prefix("/").unwrap_or(&inside).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn merged_usr_paths_resolve() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("usr/bin")).unwrap();
        fs::create_dir_all(root.path().join("usr/lib/x")).unwrap();
        symlink("usr/bin", root.path().join("bin")).unwrap();
        symlink("/usr/lib", root.path().join("lib")).unwrap();
        assert_eq!(
            resolve_in_root(root.path(), Path::new("bin")),
            PathBuf::from("usr/bin")
        );
        assert_eq!(
            resolve_in_root(root.path(), Path::new("lib/x")),
            PathBuf::from("usr/lib/x")
        );
        let mut r = ParentResolver::new(root.path());
        assert_eq!(
            r.normalise(Path::new("/bin/bash")),
            PathBuf::from("usr/bin/bash")
        );
        assert_eq!(r.normalise(Path::new("/bin")), PathBuf::from("bin"));
    }

    #[test]
    fn exclusions_follow_devel() {
        let doc = Path::new("usr/share/doc");
        assert!(excluded(doc, true, false, false));
        assert!(!excluded(doc, true, false, true));
        let static_lib = Path::new("usr/lib/x86_64-linux-gnu/libc.a");
        assert!(excluded(static_lib, false, false, false));
        assert!(excluded(
            Path::new("usr/lib/python3.11/test"),
            true,
            false,
            false
        ));
        assert!(!excluded(
            Path::new("usr/lib/python3.11/json"),
            true,
            false,
            false
        ));
        assert!(excluded(Path::new("var/lib/dpkg"), true, false, true));
        assert!(excluded(Path::new("etc/resolv.conf"), false, false, false));
        assert!(!excluded(Path::new("etc/resolv.conf"), false, true, false));
    }
}
