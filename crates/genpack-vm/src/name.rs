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

/// The name a VM booting the image tree `tree` (a build's `work/<arch>/upper`) gets: the same
/// as for the image packed from it, from the tree's `/.genpack` record; else the folder's name.
pub fn name_for_tree(tree: &Path) -> String {
    let part = |file: &str| {
        std::fs::read_to_string(tree.join(".genpack").join(file))
            .map(|text| text.trim().to_string())
            .unwrap_or_default()
    };
    let recorded = [part("artifact"), part("variant"), part("arch")]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if recorded.is_empty() {
        let folder = tree.file_name().map(|n| n.to_string_lossy().into_owned());
        return sanitize(folder.as_deref().unwrap_or_default());
    }
    sanitize(&recorded)
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
    fn a_tree_is_named_like_its_image() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join(".genpack");
        std::fs::create_dir_all(&record).unwrap();
        std::fs::write(record.join("artifact"), "web\n").unwrap();
        std::fs::write(record.join("variant"), "").unwrap();
        std::fs::write(record.join("arch"), "x86_64\n").unwrap();
        assert_eq!(name_for_tree(dir.path()), "web-x86_64");
        std::fs::write(record.join("variant"), "kiosk").unwrap();
        assert_eq!(name_for_tree(dir.path()), "web-kiosk-x86_64");
    }

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
