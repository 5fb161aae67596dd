//! Where genpack keeps things of its own on this machine.

use std::path::PathBuf;

/// The cache shared by every project of this user: downloads, binary packages, scratch space
/// for disk images. `$XDG_CACHE_HOME/genpack`, else `~/.cache/genpack`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("genpack");
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/genpack")
}
