//! File operations on the configured tree that report a [`Change`] only when something
//! actually differs, and do nothing in a dry run.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use crate::context::{Action, Change, Context};
use crate::error::ModuleError;

/// The path as shown to people: absolute inside the tree.
pub fn display_path(rel: &str) -> String {
    format!("/{}", rel.trim_start_matches('/'))
}

/// Writes `contents` to `rel` (atomically, with `mode`) unless it already has exactly them.
pub fn write_file(
    ctx: &Context,
    rel: &str,
    contents: &[u8],
    mode: u32,
    summary: impl Into<String>,
) -> Result<Option<Change>, ModuleError> {
    let path = ctx.path(rel);
    let same_contents = fs::read(&path).is_ok_and(|old| old == contents);
    let same_mode = fs::symlink_metadata(&path)
        .is_ok_and(|m| m.file_type().is_file() && m.permissions().mode() & 0o7777 == mode);
    if same_contents && same_mode {
        return Ok(None);
    }
    if !ctx.dry_run {
        write_atomic(&path, contents, mode)?;
    }
    Ok(Some(Change {
        path: display_path(rel),
        action: Action::Wrote,
        summary: summary.into(),
    }))
}

/// Deletes `rel` if it exists.
pub fn remove_file(
    ctx: &Context,
    rel: &str,
    summary: impl Into<String>,
) -> Result<Option<Change>, ModuleError> {
    let path = ctx.path(rel);
    if fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    if !ctx.dry_run {
        fs::remove_file(&path).map_err(|e| ModuleError::io("removing", &path, e))?;
    }
    Ok(Some(Change {
        path: display_path(rel),
        action: Action::Removed,
        summary: summary.into(),
    }))
}

/// Makes `rel` a symbolic link to `target` unless it already is one.
pub fn make_symlink(
    ctx: &Context,
    rel: &str,
    target: &str,
    summary: impl Into<String>,
) -> Result<Option<Change>, ModuleError> {
    let path = ctx.path(rel);
    if fs::read_link(&path).is_ok_and(|t| t == Path::new(target)) {
        return Ok(None);
    }
    if !ctx.dry_run {
        create_parent(&path)?;
        let tmp = path.with_file_name(format!(
            ".{}.genpack-init",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = fs::remove_file(&tmp);
        symlink(target, &tmp).map_err(|e| ModuleError::io("creating symlink", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| ModuleError::io("replacing", &path, e))?;
    }
    Ok(Some(Change {
        path: display_path(rel),
        action: Action::Linked,
        summary: summary.into(),
    }))
}

/// Creates the parent directories of `path`.
pub fn create_parent(path: &Path) -> Result<(), ModuleError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| ModuleError::io("creating directory", parent, e))?;
    }
    Ok(())
}

/// Writes a file atomically with permission bits `mode`: temporary file in the same
/// directory, fsync, rename; missing parent directories are created.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), ModuleError> {
    let options = genpack_util::AtomicOptions {
        mode: Some(mode),
        create_parents: true,
        // A link in the image (resolv.conf) is replaced, as a fresh file would be.
        replace_symlink: true,
    };
    genpack_util::write_atomic_with(path, contents, options)
        .map_err(|e| ModuleError::io("writing", path, e))
}
