//! Saving is atomic: the file is replaced whole or not at all.

use std::fs;

use genpack_def::{save_atomic, Project};
use serde_json::json;

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}

#[test]
fn save_replaces_the_file_and_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genpack.json5");
    fs::write(&path, "old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    save_atomic(&path, "new text").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "new text");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn save_through_a_symlink_replaces_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json5");
    let link = dir.path().join("genpack.json5");
    fs::write(&real, "old").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    save_atomic(&link, "new").unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&real).unwrap(), "new");
}

#[test]
fn a_parent_that_is_a_file_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().join("not-a-folder");
    fs::write(&parent, "precious").unwrap();
    let err = save_atomic(&parent.join("genpack.json5"), "new").unwrap_err();
    assert!(err.to_string().contains("cannot save"), "{err}");
    assert_eq!(fs::read_to_string(&parent).unwrap(), "precious");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_failed_rename_leaves_the_old_content_and_no_temporary_file() {
    // The target is a folder with content: the rename over it fails, even for root.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("genpack.json5");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), "old").unwrap();
    assert!(save_atomic(&target, "new").is_err());
    assert_eq!(fs::read_to_string(target.join("keep")).unwrap(), "old");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_read_only_folder_keeps_the_old_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("ro");
    fs::create_dir(&folder).unwrap();
    let path = folder.join("genpack.json5");
    fs::write(&path, "old").unwrap();
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores folder permissions; then only check that the save is whole.
    let probe = folder.join("probe");
    let privileged = fs::write(&probe, "").is_ok();
    let _ = fs::remove_file(&probe);
    let result = save_atomic(&path, "new");
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o755)).unwrap();
    if privileged {
        result.unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    } else {
        assert!(result.is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
    }
    assert!(leftovers(&folder).is_empty());
}

#[test]
fn project_save_writes_the_document_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        "{\n  // my image\n  name: \"x\",\n  packages: [\"app-misc/screen\"], // the one\n}\n";
    fs::write(dir.path().join("genpack.json5"), text).unwrap();
    let mut project = Project::load(dir.path()).unwrap();
    let mut document = project.document().unwrap();
    document
        .append(&["packages".into()], json!("app-misc/tmux"))
        .unwrap();
    project.save(&document).unwrap();
    let on_disk = fs::read_to_string(dir.path().join("genpack.json5")).unwrap();
    assert_eq!(on_disk, document.as_str());
    assert!(on_disk.contains("// my image") && on_disk.contains("// the one"));
    assert_eq!(
        project.definition.packages,
        ["app-misc/screen", "app-misc/tmux"]
    );
    assert_eq!(
        Project::load(dir.path()).unwrap().definition,
        project.definition
    );
}
