//! The one rule that names a VM after the image it boots, for `genpack vm run` and the studio.

use std::path::Path;

use genpack_image::Image;

/// The name a VM booting `image` gets unless the user gives one: the name the build gives the
/// image file, `<artifact>[-<variant>]-<arch>`, from the image's `/.genpack` record (so a copy
/// renamed to `system.img` keeps its name, and the x86_64 and aarch64 builds or two variants of
/// one project never share a name); else the file name without its extension. Characters a VM
/// name does not allow become `-`.
pub fn name_for_image(image: &Path) -> String {
    let recorded = Image::open(image)
        .ok()
        .and_then(|opened| opened.metadata().ok())
        .map(|meta| {
            [meta.artifact, meta.variant, meta.arch]
                .iter()
                .map(|part| part.trim())
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join("-")
        });
    let raw = recorded
        .or_else(|| image.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    sanitize(raw.trim())
}

/// Replaces characters a VM name does not allow with `-`, drops leading dots and keeps at most
/// 64 characters.
fn sanitize(raw: &str) -> String {
    let name: String = raw
        .trim_start_matches('.')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "vm".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_valid() {
        assert_eq!(sanitize("web server/x86"), "web-server-x86");
        assert_eq!(sanitize("..hidden"), "hidden");
        assert_eq!(sanitize(""), "vm");
        assert_eq!(sanitize(&"a".repeat(80)).len(), 64);
        for raw in ["my app", ".x", "ü", "a,b"] {
            assert!(
                crate::runtime::validate_name(&sanitize(raw)).is_ok(),
                "{raw}"
            );
        }
    }
}
