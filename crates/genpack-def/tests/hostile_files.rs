//! Definition files a careful user should never be hurt by: pipes and devices, huge files,
//! links out of the project, a byte order mark.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use genpack_def::{edit::Segment, LoadError, Project, MAX_DEFINITION_BYTES};

fn project(dir: &Path, text: &str) {
    fs::write(dir.join("genpack.json5"), text).unwrap();
}

#[test]
fn a_pipe_as_definition_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("genpack.json5");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Reading a pipe nobody writes would wait forever: the test hangs if it is read.
    match Project::load(dir.path()) {
        Err(error @ LoadError::NotAFile { .. }) => {
            assert!(error.to_string().contains("not a regular file"), "{error}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        Project::load(&fifo),
        Err(LoadError::NotAFile { .. })
    ));
}

#[test]
fn a_device_or_a_huge_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Project::load(Path::new("/dev/zero")),
        Err(LoadError::NotAFile { .. })
    ));
    let huge = dir.path().join("genpack.json5");
    fs::File::create(&huge)
        .unwrap()
        .set_len(MAX_DEFINITION_BYTES + 1)
        .unwrap();
    match Project::load(dir.path()) {
        Err(error @ LoadError::TooLarge { .. }) => {
            assert!(error.to_string().contains("right file"), "{error}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_link_out_of_the_project_is_refused_without_quoting_its_target() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    fs::write(&secret, "password = hunter2\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    symlink(&secret, dir.path().join("genpack.json5")).unwrap();
    let error = Project::load(dir.path()).unwrap_err();
    assert!(matches!(error, LoadError::OutsideProject { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("outside the project folder"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(error.diagnostic().is_none());
}

#[test]
fn a_link_inside_the_project_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("real.json5"),
        r#"{ name: "linked", base: "debian:bookworm" }"#,
    )
    .unwrap();
    symlink("real.json5", dir.path().join("genpack.json5")).unwrap();
    let project = Project::load(dir.path()).unwrap();
    assert_eq!(project.name(), "linked");
}

#[test]
fn a_byte_order_mark_is_accepted_and_kept_on_save() {
    let dir = tempfile::tempdir().unwrap();
    let text = "\u{feff}{\n  name: \"bom\", // saved by Notepad\n  base: \"debian:bookworm\",\n}\n";
    project(dir.path(), text);
    let mut project = Project::load(dir.path()).unwrap();
    assert!(!project.has_errors(), "{:?}", project.diagnostics);
    assert_eq!(project.name(), "bom");
    let mut document = project.document().unwrap();
    document
        .set(
            &[Segment::Key("name".into())],
            serde_json::Value::String("renamed".into()),
        )
        .unwrap();
    project.save(&document).unwrap();
    let saved = fs::read_to_string(dir.path().join("genpack.json5")).unwrap();
    assert!(saved.starts_with('\u{feff}'), "{saved:?}");
    assert!(
        saved.contains("\"renamed\", // saved by Notepad"),
        "{saved}"
    );
    assert_eq!(project.name(), "renamed");
}

#[test]
fn errors_in_a_file_with_a_byte_order_mark_point_at_the_right_column() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "\u{feff}{ name: \"bom\", base: 42 }\n");
    let project = Project::load(dir.path()).unwrap();
    let error = project.errors().next().expect("an error about base");
    assert_eq!((error.line, error.column), (1, 22), "{error:?}");
}
