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
        for path in [lower, upper, work] {
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
        // index/metacopy/redirect_dir off: the upper must be a plain, self-contained tree.
        let options = format!(
            "lowerdir={},upperdir={},workdir={},index=off,metacopy=off,redirect_dir=off",
            lower.display(),
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

/// Makes an upper that served as overlayfs upperdir a plain tree: drops whiteouts (character
/// devices 0:0, meaningless without the lower) and overlayfs' `trusted.overlay.*` xattrs.
pub fn clean_upper(upper: &Path) -> Result<usize> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut removed = 0;
    let mut stack = vec![upper.to_path_buf()];
    while let Some(dir) = stack.pop() {
        strip_overlay_xattrs(&dir)?;
        let entries = std::fs::read_dir(&dir).map_err(BuildError::io("reading directory", &dir))?;
        for entry in entries {
            let entry = entry.map_err(BuildError::io("reading directory", &dir))?;
            let path = entry.path();
            let meta =
                std::fs::symlink_metadata(&path).map_err(BuildError::io("reading", &path))?;
            if meta.file_type().is_char_device() && meta.rdev() == 0 {
                std::fs::remove_file(&path).map_err(BuildError::io("removing whiteout", &path))?;
                removed += 1;
            } else if meta.is_dir() {
                stack.push(path);
            } else if !meta.file_type().is_symlink() {
                strip_overlay_xattrs(&path)?;
            }
        }
    }
    Ok(removed)
}

fn strip_overlay_xattrs(path: &Path) -> Result<()> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(_) => return Ok(()),
    };
    for name in names {
        if name.to_string_lossy().starts_with("trusted.overlay.") {
            xattr::remove(path, &name)
                .map_err(BuildError::io("removing overlay xattr of", path))?;
        }
    }
    Ok(())
}
