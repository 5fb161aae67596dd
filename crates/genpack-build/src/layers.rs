//! Stage layers and the image tree assembled from them.
//!
//! Each stage of the image tree writes into its own layer: an overlayfs upper directory
//! stacked on the layers of the stages before it (and, for stages that run commands, on the
//! lower). A write to a file of an earlier layer copies the file up into the stage's own layer
//! first, so no stage can change an earlier layer: that is what lets an unchanged stage be
//! kept while a later one reruns.
//!
//! The image tree (`work/<arch>/upper`) is then assembled from the layers, bottom first, with
//! overlayfs' rules (a whiteout removes what the layers below had at its path, an opaque
//! directory hides their content), as directories of its own and hard links to the layers'
//! files. Nothing writes into the image tree, and the layers are only written through
//! overlayfs, so a hard link is never written through. Assembling costs a link per entry; no
//! file content is copied. Build leftovers ([`EXCLUDES`]) are left out here, so the image
//! tree is exactly the image.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use filetime::FileTime;

use crate::error::{BuildError, Result};
use crate::fsutil::remove_any;

/// Paths (relative to the root) that never go into the image: `*` stands for one path
/// component.
pub const EXCLUDES: [&str; 4] = ["build", "build.d", "var/log/*.log", "var/tmp/*"];

/// overlayfs marks directories that hide the layers below with this attribute (value `y`).
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";
/// The same in a user namespace, where overlayfs keeps its attributes in `user.` (the
/// `userxattr` mount option, see [`crate::overlay`]).
const USER_OPAQUE_XATTR: &str = "user.overlay.opaque";
const USER_OVERLAY_XATTR_PREFIX: &str = "user.overlay.";

/// An attribute of overlayfs' own bookkeeping (in either namespace).
fn is_overlay_xattr(name: &str) -> bool {
    name.starts_with(OVERLAY_XATTR_PREFIX) || name.starts_with(USER_OVERLAY_XATTR_PREFIX)
}

/// Whether `rel` matches one of [`EXCLUDES`].
pub fn excluded(rel: &Path) -> bool {
    let parts: Vec<&str> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(p) => p.to_str(),
            _ => None,
        })
        .collect();
    EXCLUDES.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split('/').collect();
        pattern.len() == parts.len()
            && pattern
                .iter()
                .zip(&parts)
                .all(|(p, part)| glob_match(p, part))
    })
}

/// `*` matches any run of characters, everything else itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, suffix)) => {
            text.len() >= prefix.len() + suffix.len()
                && text.starts_with(prefix)
                && text.ends_with(suffix)
        }
    }
}

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    [OPAQUE_XATTR, USER_OPAQUE_XATTR]
        .iter()
        .any(|name| matches!(xattr::get(dir, name), Ok(Some(value)) if value == b"y"))
}

/// Makes a layer that overlayfs just wrote fit for stacking and linking: overlayfs'
/// bookkeeping attributes (`trusted.overlay.origin`, `impure`...) are removed, except the
/// opaque mark of directories; whiteouts stay, they are the layer's deletions. Returns the
/// number of whiteouts.
pub fn seal_layer(layer: &Path) -> Result<usize> {
    let mut whiteouts = 0;
    let mut stack = vec![layer.to_path_buf()];
    while let Some(dir) = stack.pop() {
        strip_overlay_xattrs(&dir, true)?;
        let entries = fs::read_dir(&dir).map_err(BuildError::io("reading directory", &dir))?;
        for entry in entries {
            let entry = entry.map_err(BuildError::io("reading directory", &dir))?;
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).map_err(BuildError::io("reading", &path))?;
            if is_whiteout(&meta) {
                whiteouts += 1;
            } else if meta.is_dir() {
                stack.push(path);
            } else if !meta.file_type().is_symlink() {
                strip_overlay_xattrs(&path, false)?;
            }
        }
    }
    Ok(whiteouts)
}

fn strip_overlay_xattrs(path: &Path, keep_opaque: bool) -> Result<()> {
    let Ok(names) = xattr::list(path) else {
        return Ok(());
    };
    for name in names {
        let text = name.to_string_lossy();
        let opaque = text == OPAQUE_XATTR || text == USER_OPAQUE_XATTR;
        if is_overlay_xattr(&text) && !(keep_opaque && opaque) {
            xattr::remove(path, &name)
                .map_err(BuildError::io("removing overlay xattr of", path))?;
        }
    }
    Ok(())
}

/// What [`assemble`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssembleStats {
    /// Hard links made to layer entries.
    pub linked: u64,
    /// Directories made.
    pub directories: u64,
    /// Entries removed by whiteouts and opaque directories of higher layers.
    pub removed: u64,
}

/// Assembles `layers` (bottom first) into the new directory `target` (which must not exist),
/// leaving out [`EXCLUDES`].
pub fn assemble(layers: &[PathBuf], target: &Path) -> Result<AssembleStats> {
    fs::create_dir(target).map_err(BuildError::io("creating", target))?;
    let mut assembler = Assembler {
        stats: AssembleStats::default(),
        dir_times: BTreeMap::new(),
    };
    for layer in layers {
        if layer.is_dir() {
            assembler.merge_dir(layer, target, Path::new(""))?;
        }
    }
    // Deepest first, after every entry is in place.
    for (dir, (atime, mtime)) in assembler.dir_times.iter().rev() {
        let path = target.join(dir);
        filetime::set_symlink_file_times(&path, *atime, *mtime)
            .map_err(BuildError::io("setting times of", &path))?;
    }
    Ok(assembler.stats)
}

struct Assembler {
    stats: AssembleStats,
    /// Directory times to set at the end: the highest layer's win.
    dir_times: BTreeMap<PathBuf, (FileTime, FileTime)>,
}

impl Assembler {
    /// Merges the directory `src` of a layer into `dst` (which exists).
    fn merge_dir(&mut self, src: &Path, dst: &Path, rel: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(src).map_err(BuildError::io("reading", src))?;
        if !rel.as_os_str().is_empty() && is_opaque(src) {
            self.clear(dst)?;
        }
        copy_dir_metadata(src, dst, &meta)?;
        self.dir_times.insert(
            rel.to_path_buf(),
            (
                FileTime::from_last_access_time(&meta),
                FileTime::from_last_modification_time(&meta),
            ),
        );
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(BuildError::io("reading directory", src))?
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(BuildError::io("reading directory", src))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let child_rel = rel.join(&name);
            if excluded(&child_rel) {
                continue;
            }
            let from = entry.path();
            let to = dst.join(&name);
            let meta = fs::symlink_metadata(&from).map_err(BuildError::io("reading", &from))?;
            let existing = fs::symlink_metadata(&to).ok();
            if is_whiteout(&meta) {
                if existing.is_some() {
                    remove_any(&to)?;
                    self.stats.removed += 1;
                }
                self.forget_dirs_below(&child_rel);
                continue;
            }
            if meta.is_dir() {
                match existing {
                    Some(e) if e.is_dir() => {}
                    Some(_) => {
                        remove_any(&to)?;
                        fs::create_dir(&to).map_err(BuildError::io("creating", &to))?;
                        self.stats.directories += 1;
                    }
                    None => {
                        fs::create_dir(&to).map_err(BuildError::io("creating", &to))?;
                        self.stats.directories += 1;
                    }
                }
                self.merge_dir(&from, &to, &child_rel)?;
            } else {
                if existing.is_some() {
                    remove_any(&to)?;
                    self.forget_dirs_below(&child_rel);
                }
                // linkat without AT_SYMLINK_FOLLOW: a symlink is linked, not its target.
                fs::hard_link(&from, &to).map_err(BuildError::io("hard-linking", &to))?;
                self.stats.linked += 1;
            }
        }
        Ok(())
    }

    /// Empties `dir` (an opaque directory of a higher layer hides what is below).
    fn clear(&mut self, dir: &Path) -> Result<()> {
        let entries = fs::read_dir(dir).map_err(BuildError::io("reading directory", dir))?;
        for entry in entries {
            let entry = entry.map_err(BuildError::io("reading directory", dir))?;
            remove_any(&entry.path())?;
            self.stats.removed += 1;
        }
        Ok(())
    }

    fn forget_dirs_below(&mut self, rel: &Path) {
        self.dir_times.retain(|dir, _| !dir.starts_with(rel));
    }
}

/// Owner, mode and extended attributes (without overlayfs' own) of a directory.
fn copy_dir_metadata(src: &Path, dst: &Path, meta: &fs::Metadata) -> Result<()> {
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))
        .map_err(BuildError::io("changing owner of", dst))?;
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(BuildError::io("changing mode of", dst))?;
    let wanted: Vec<(std::ffi::OsString, Vec<u8>)> = xattrs(src)?
        .into_iter()
        .filter(|(name, _)| !is_overlay_xattr(&name.to_string_lossy()))
        .collect();
    for (name, _) in xattrs(dst)? {
        if !wanted.iter().any(|(n, _)| *n == name) {
            xattr::remove(dst, &name).map_err(BuildError::io("removing xattr of", dst))?;
        }
    }
    for (name, value) in wanted {
        xattr::set(dst, &name, &value).map_err(BuildError::io("writing xattr of", dst))?;
    }
    Ok(())
}

fn xattrs(path: &Path) -> Result<Vec<(std::ffi::OsString, Vec<u8>)>> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(err) if err.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
        Err(err) => return Err(BuildError::io("listing xattrs of", path)(err)),
    };
    let mut out = Vec::new();
    for name in names {
        if let Some(value) =
            xattr::get(path, &name).map_err(BuildError::io("reading xattr of", path))?
        {
            out.push((name, value));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_match_build_leftovers_only() {
        for path in ["build", "build.d", "var/log/dpkg.log", "var/tmp/x"] {
            assert!(excluded(Path::new(path)), "{path}");
        }
        for path in [
            "build.d/10.sh",
            "var/log/journal",
            "var/log/apt/history.log",
            "var/tmp",
            "etc/build",
        ] {
            assert!(!excluded(Path::new(path)), "{path}");
        }
    }

    fn whiteout(path: &Path) -> bool {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: valid path; a 0:0 character device is overlayfs' whiteout.
        unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) == 0 }
    }

    #[test]
    fn layers_assemble_with_overlay_rules_and_hard_links() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        let top = dir.path().join("top");
        std::fs::create_dir_all(base.join("etc/old")).unwrap();
        std::fs::create_dir_all(base.join("var/log")).unwrap();
        std::fs::create_dir_all(base.join("opaque")).unwrap();
        std::fs::write(base.join("etc/motd"), "base").unwrap();
        std::fs::write(base.join("etc/keep"), "keep").unwrap();
        std::fs::write(base.join("etc/old/file"), "old").unwrap();
        std::fs::write(base.join("opaque/hidden"), "hidden").unwrap();
        std::fs::write(base.join("var/log/build.log"), "log").unwrap();
        std::fs::create_dir_all(top.join("etc")).unwrap();
        std::fs::create_dir_all(top.join("build.d")).unwrap();
        std::fs::create_dir_all(top.join("opaque")).unwrap();
        std::fs::write(top.join("etc/motd"), "top").unwrap();
        std::fs::write(top.join("opaque/new"), "new").unwrap();
        std::fs::set_permissions(top.join("etc"), fs::Permissions::from_mode(0o750)).unwrap();
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            assert!(whiteout(&top.join("etc/old")));
            xattr::set(top.join("opaque"), OPAQUE_XATTR, b"y").unwrap();
        }

        let out = dir.path().join("tree");
        let stats = assemble(&[base.clone(), top.clone()], &out).unwrap();
        assert_eq!(fs::read_to_string(out.join("etc/motd")).unwrap(), "top");
        assert_eq!(fs::read_to_string(out.join("etc/keep")).unwrap(), "keep");
        assert_eq!(
            fs::metadata(out.join("etc/keep")).unwrap().ino(),
            fs::metadata(base.join("etc/keep")).unwrap().ino(),
            "not a hard link"
        );
        assert_eq!(
            fs::metadata(out.join("etc")).unwrap().mode() & 0o7777,
            0o750,
            "the top layer's directory metadata wins"
        );
        assert!(!out.join("build.d").exists());
        assert!(!out.join("var/log/build.log").exists());
        assert!(out.join("var/log").is_dir());
        assert!(fs::read_dir(&out).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.')));
        if root {
            assert!(!out.join("etc/old").exists(), "whiteout not applied");
            assert!(
                !out.join("opaque/hidden").exists(),
                "opaque dir not applied"
            );
            assert!(out.join("opaque/new").exists());
            assert_eq!(xattr::get(out.join("opaque"), OPAQUE_XATTR).unwrap(), None);
            assert!(stats.removed >= 2);
            assert_eq!(seal_layer(&top).unwrap(), 1);
            assert!(xattr::get(top.join("opaque"), OPAQUE_XATTR)
                .unwrap()
                .is_some());
        }
    }

    /// In a user namespace overlayfs marks opaque directories in `user.overlay.*`: the same
    /// rules hold, and the marks stay out of the image tree.
    #[test]
    fn user_namespace_opaque_marks_count_and_are_stripped() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        let top = dir.path().join("top");
        std::fs::create_dir_all(base.join("opaque")).unwrap();
        std::fs::write(base.join("opaque/hidden"), "hidden").unwrap();
        std::fs::create_dir_all(top.join("opaque")).unwrap();
        std::fs::write(top.join("opaque/new"), "new").unwrap();
        xattr::set(top.join("opaque"), USER_OPAQUE_XATTR, b"y").unwrap();
        xattr::set(top.join("opaque"), "user.overlay.impure", b"y").unwrap();

        assert_eq!(seal_layer(&top).unwrap(), 0);
        assert!(xattr::get(top.join("opaque"), USER_OPAQUE_XATTR)
            .unwrap()
            .is_some());
        assert_eq!(
            xattr::get(top.join("opaque"), "user.overlay.impure").unwrap(),
            None
        );
        let out = dir.path().join("tree");
        assemble(&[base, top], &out).unwrap();
        assert!(
            !out.join("opaque/hidden").exists(),
            "opaque dir not applied"
        );
        assert!(out.join("opaque/new").exists());
        assert_eq!(
            xattr::get(out.join("opaque"), USER_OPAQUE_XATTR).unwrap(),
            None
        );
    }
}
