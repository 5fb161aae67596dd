use genpack_ini::{load, save_atomic, Document, SaveOptions, DEFAULT_SECTION};

#[test]
fn save_atomic_writes_and_keeps_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "# mine\nhostname = a\n").unwrap();
    let mut doc = load(&path).unwrap();
    doc.set(DEFAULT_SECTION, "hostname", "b").unwrap();
    save_atomic(&path, &doc, SaveOptions { backup: true }).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# mine\nhostname = b\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("system.ini.bak")).unwrap(),
        "# mine\nhostname = a\n"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
}

#[test]
fn save_into_missing_directory_fails_with_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing/system.ini");
    let err = save_atomic(&path, &Document::new(), SaveOptions::default()).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}
