//! The work folder of a project: `work/<arch>/` with the lower tree, the stage layers of the
//! image tree and their stamps, the assembled image tree, logs, and the stamps that record what
//! the lower, the tree and the packed image were made from.
//!
//! The lower layer is a plain directory tree rather than a loop-mounted ext4 image: it needs no
//! loop device, no sizing, no fsck, can be inspected with ordinary tools, and overlayfs and
//! systemd-nspawn accept a directory directly. The cost is that the project's file system must
//! support the lower's ownership, device nodes and xattrs (any Linux file system does).

use std::path::{Path, PathBuf};

use crate::error::{BuildError, Result};

/// Paths of one project's work folder for one architecture (and variant).
#[derive(Debug, Clone)]
pub struct WorkDir {
    root: PathBuf,
    variant: Option<String>,
}

impl WorkDir {
    /// The work folder of `project_dir` for `arch` (and `variant`, which gets its own lower and
    /// upper because its package set can differ).
    pub fn new(project_dir: &Path, arch: &str, variant: Option<&str>) -> Self {
        Self {
            root: project_dir.join("work").join(arch),
            variant: variant.map(str::to_string),
        }
    }

    fn suffixed(&self, stem: &str) -> PathBuf {
        self.suffixed_ext(stem, "")
    }

    /// `<stem>[-<variant>]<ext>` inside `work/<arch>/`.
    fn suffixed_ext(&self, stem: &str, ext: &str) -> PathBuf {
        match &self.variant {
            Some(v) => self.root.join(format!("{stem}-{v}{ext}")),
            None => self.root.join(format!("{stem}{ext}")),
        }
    }

    /// `work/<arch>/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The lower tree (base system with every package).
    pub fn lower(&self) -> PathBuf {
        self.suffixed("lower")
    }

    /// Where a new lower is assembled before it replaces [`WorkDir::lower`].
    pub fn lower_staging(&self) -> PathBuf {
        self.suffixed_ext("lower", ".new")
    }

    /// Hash of the inputs the current lower was built from; written only after success.
    pub fn lower_stamp(&self) -> PathBuf {
        self.suffixed_ext("lower", ".stamp")
    }

    /// The image tree: exactly what goes into the image, assembled from the stage layers
    /// (hard links into them; nothing ever writes into it).
    pub fn upper(&self) -> PathBuf {
        self.suffixed("upper")
    }

    /// Where a new image tree is assembled before it replaces [`WorkDir::upper`].
    pub fn upper_staging(&self) -> PathBuf {
        self.suffixed_ext("upper", ".new")
    }

    /// Where the previous image tree goes while it is deleted (after the new one is in place).
    pub fn upper_retired(&self) -> PathBuf {
        self.suffixed_ext("upper", ".old")
    }

    /// Identity of the stage results the current image tree was assembled from.
    pub fn upper_stamp(&self) -> PathBuf {
        self.suffixed_ext("upper", ".stamp")
    }

    /// The folder of the stage layers and their stamps.
    pub fn stages(&self) -> PathBuf {
        self.suffixed("stages")
    }

    /// The layer of stage `name`: what the stage added or changed (an overlayfs upper layer).
    pub fn stage_layer(&self, name: &str) -> PathBuf {
        self.stages().join(name)
    }

    /// What stage `name` was last run from; written only after the stage succeeded.
    pub fn stage_stamp(&self, name: &str) -> PathBuf {
        self.stages().join(format!("{name}.stamp"))
    }

    /// What the output image was last packed from.
    pub fn pack_stamp(&self) -> PathBuf {
        self.suffixed_ext("pack", ".stamp")
    }

    /// overlayfs work directory used while scripts run on lower+upper.
    pub fn overlay_work(&self) -> PathBuf {
        self.suffixed_ext("overlay", ".work")
    }

    /// Mount point of the lower+upper overlay.
    pub fn merged(&self) -> PathBuf {
        self.suffixed("merged")
    }

    /// How long the last builds took (`build-times[-<variant>].json`).
    pub fn build_times(&self) -> PathBuf {
        self.suffixed_ext("build-times", ".json")
    }

    /// Step logs, `logs/<step>.log`.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
}

/// Mount points at or below `path`, deepest first, from `/proc/self/mountinfo`.
pub(crate) fn mounts_below(path: &Path) -> Result<Vec<PathBuf>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(BuildError::io("reading", "/proc/self/mountinfo"))?;
    let base = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|mount| mount.starts_with(&base))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    Ok(found)
}

fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detaches every mount at or below `path` (deepest first).
pub(crate) fn unmount_below(path: &Path) -> Result<()> {
    for mount in mounts_below(path)? {
        let c_path =
            std::ffi::CString::new(mount.as_os_str().as_encoded_bytes()).map_err(|_| {
                BuildError::Io {
                    action: "unmounting",
                    path: mount.clone(),
                    source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
                }
            })?;
        // SAFETY: umount2 with a valid NUL-terminated path.
        if unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) } != 0 {
            return Err(BuildError::Io {
                action: "unmounting",
                path: mount,
                source: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}

/// Removes a tree after detaching anything mounted inside it, so a leftover bind mount of
/// `/dev` or `/proc` from an interrupted run can never be recursed into.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    unmount_below(path)?;
    if !mounts_below(path)?.is_empty() {
        return Err(BuildError::Io {
            action: "removing (something is still mounted below)",
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::ResourceBusy),
        });
    }
    std::fs::remove_dir_all(path).map_err(BuildError::io("removing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_gets_its_own_lower_and_upper() {
        let plain = WorkDir::new(Path::new("/p"), "x86_64", None);
        let variant = WorkDir::new(Path::new("/p"), "x86_64", Some("dev"));
        assert_eq!(plain.lower(), Path::new("/p/work/x86_64/lower"));
        assert_eq!(variant.lower(), Path::new("/p/work/x86_64/lower-dev"));
        assert_eq!(
            variant.lower_stamp(),
            Path::new("/p/work/x86_64/lower-dev.stamp")
        );
        assert_eq!(variant.logs(), Path::new("/p/work/x86_64/logs"));
        assert_eq!(
            variant.stage_layer("files"),
            Path::new("/p/work/x86_64/stages-dev/files")
        );
        assert_eq!(
            plain.stage_stamp("boot"),
            Path::new("/p/work/x86_64/stages/boot.stamp")
        );
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }
}
