//! The lower+upper overlay that scripts run on: writes land in the upper, the lower's tools
//! stay usable. Unmounted when the guard drops.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::error::{BuildError, Result};
use crate::workdir::{remove_tree, unmount_below};

/// A mounted overlay; unmounted (lazily) on drop.
pub struct OverlayMount {
    target: PathBuf,
    work: PathBuf,
    mounted: bool,
}

impl OverlayMount {
    /// Mounts `lower` (read-only layer) and `upper` (receives writes) at `target`, using
    /// `work` as overlayfs' work directory (recreated empty).
    pub fn mount(lower: &Path, upper: &Path, work: &Path, target: &Path) -> Result<Self> {
        Self::mount_layers(&[lower.to_path_buf()], upper, work, target)
    }

    /// Mounts the read-only `lowers` (the first one on top) under `upper` (receives writes)
    /// at `target`, using `work` as overlayfs' work directory (recreated empty).
    pub fn mount_layers(
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<Self> {
        for path in lowers.iter().map(PathBuf::as_path).chain([upper, work]) {
            let text = path.to_string_lossy();
            if text.contains(',') || text.contains(':') {
                return Err(BuildError::Io {
                    action:
                        "mounting an overlay on (commas and colons are not allowed in the path)",
                    path: path.to_path_buf(),
                    source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
                });
            }
        }
        unmount_below(target)?;
        remove_tree(work)?;
        std::fs::create_dir_all(work).map_err(BuildError::io("creating", work))?;
        std::fs::create_dir_all(target).map_err(BuildError::io("creating", target))?;
        let lowerdir: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
        // index/metacopy/redirect_dir off: every layer must be a plain, self-contained tree.
        // In a user namespace (a build as an ordinary user) overlayfs may not use trusted.*
        // attributes: it keeps its marks in user.* (userxattr), where redirects may neither be
        // made nor followed (nofollow).
        let features = if crate::userns::entered() {
            "userxattr,index=off,metacopy=off,redirect_dir=nofollow"
        } else {
            "index=off,metacopy=off,redirect_dir=off"
        };
        let options = format!(
            "lowerdir={},upperdir={},workdir={},{features}",
            lowerdir.join(":"),
            upper.display(),
            work.display()
        );
        let c = |s: &str| {
            CString::new(s).map_err(|_| BuildError::Io {
                action: "mounting overlay at",
                path: target.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })
        };
        let source = c("overlay")?;
        let fstype = c("overlay")?;
        let data = c(&options)?;
        let c_target = c(&target.to_string_lossy())?;
        // SAFETY: all pointers are valid NUL-terminated strings for the duration of the call.
        let rc = unsafe {
            libc::mount(
                source.as_ptr(),
                c_target.as_ptr(),
                fstype.as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return Err(BuildError::Io {
                action: "mounting overlay at",
                path: target.to_path_buf(),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(Self {
            target: target.to_path_buf(),
            work: work.to_path_buf(),
            mounted: true,
        })
    }

    /// The merged view.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Unmounts and removes the work directory.
    pub fn unmount(mut self) -> Result<()> {
        self.mounted = false;
        unmount_below(&self.target)?;
        remove_tree(&self.work)?;
        let _ = std::fs::remove_dir(&self.target);
        Ok(())
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = unmount_below(&self.target);
        }
    }
}
