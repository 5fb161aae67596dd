//! The repository's gallery, checked the way the studio and `genpack new`
//! use it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use genpack_gallery::{Category, CreateError, Gallery, GalleryError, NameError, GITIGNORE};

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

fn gallery() -> Gallery {
    Gallery::open(templates_dir()).unwrap()
}

#[test]
fn gallery_has_at_least_fourteen_templates_two_of_them_debian() {
    let gallery = gallery();
    let ids: Vec<&str> = gallery.templates().iter().map(|t| t.id.as_str()).collect();
    assert!(ids.len() >= 14, "only {} templates: {ids:?}", ids.len());
    let debian: Vec<&str> = gallery
        .templates()
        .iter()
        .filter(|t| t.meta.base == "debian:bookworm")
        .map(|t| t.id.as_str())
        .collect();
    assert!(debian.len() >= 2, "debian templates: {debian:?}");
    for required in [
        "gnome-desktop",
        "streaming-workstation",
        "pytorch-workstation",
        "nextcloud",
        "redmine",
        "wireguard-hub",
        "router",
        "suricata-ids",
        "backup-server",
        "motion-camera",
        "rescue",
        "minimal",
        "debian-minimal",
        "debian-web",
    ] {
        assert!(ids.contains(&required), "missing template {required}");
    }
}

#[test]
fn every_template_folder_has_a_complete_template_json5() {
    // Every folder in templates/ must be a template: a folder without
    // template.json5 would silently vanish from the gallery.
    let folders = fs::read_dir(templates_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .count();
    let gallery = gallery();
    assert_eq!(gallery.templates().len(), folders);

    for template in gallery.templates() {
        let meta = &template.meta;
        let id = &template.id;
        for (field, value) in [
            ("title", &meta.title),
            ("summary", &meta.summary),
            ("description", &meta.description),
            ("size", &meta.size),
        ] {
            assert!(!value.trim().is_empty(), "{id}: empty {field}");
        }
        assert!(!meta.summary.contains('\n'), "{id}: summary spans lines");
        assert!(
            meta.description.split(". ").count() >= 2,
            "{id}: the description should be a few sentences"
        );
        assert!(!meta.tags.is_empty(), "{id}: no tags");
        assert_eq!(meta.icon, "icon.svg", "{id}");
        assert!(Category::ALL.contains(&meta.category), "{id}");
        assert!(
            meta.base == "gentoo" || meta.base == "debian:bookworm",
            "{id}: base {}",
            meta.base
        );
        assert!(!meta.arches.is_empty(), "{id}: no arches");
        assert!(
            meta.size.ends_with(" MB") || meta.size.ends_with(" GB"),
            "{id}: size {:?}",
            meta.size
        );
        assert!(template.package_count > 0, "{id}: no packages");
    }
}

#[test]
fn every_template_has_an_svg_icon() {
    for template in gallery().templates() {
        let path = template.dir.join("icon.svg");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("<svg"), "{}: not an SVG", path.display());
        assert!(text.contains("viewBox=\"0 0 64 64\""), "{}", path.display());
        assert!(text.trim_end().ends_with("</svg>"), "{}", path.display());
        assert_eq!(template.icon_svg.as_deref(), Some(text.as_str()));
    }
}

#[test]
fn icons_are_distinct() {
    let gallery = gallery();
    let mut icons: Vec<&str> = gallery
        .templates()
        .iter()
        .filter_map(|t| t.icon_svg.as_deref())
        .collect();
    let count = icons.len();
    icons.sort();
    icons.dedup();
    assert_eq!(icons.len(), count, "two templates share an icon");
}

#[test]
fn templates_are_sorted_by_category_then_title() {
    let gallery = gallery();
    let keys: Vec<(Category, String)> = gallery
        .templates()
        .iter()
        .map(|t| (t.meta.category, t.meta.title.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn by_category_groups_every_template_once_in_gallery_order() {
    let gallery = gallery();
    let groups = gallery.by_category();
    let categories: Vec<Category> = groups.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        categories,
        Category::ALL.to_vec(),
        "every category has a template"
    );
    let flattened: Vec<&str> = groups
        .iter()
        .flat_map(|(_, members)| members.iter().map(|t| t.id.as_str()))
        .collect();
    let listed: Vec<&str> = gallery.templates().iter().map(|t| t.id.as_str()).collect();
    assert_eq!(flattened, listed);
    for (category, members) in &groups {
        assert!(members.iter().all(|t| t.meta.category == *category));
    }
}

#[test]
fn every_definition_names_itself_after_its_folder() {
    for template in gallery().templates() {
        let text = fs::read_to_string(template.definition_path()).unwrap();
        let value: serde_json::Value = json5_value(&text);
        assert_eq!(value["name"], template.id.as_str(), "{}", template.id);
        if template.meta.base != "gentoo" {
            assert_eq!(
                value["base"],
                template.meta.base.as_str(),
                "{}",
                template.id
            );
        } else {
            assert!(value.get("base").is_none_or(|b| b == "gentoo"));
        }
        if let Some(profile) = &template.meta.profile {
            assert_eq!(value["profile"], profile.as_str(), "{}", template.id);
        }
        assert!(
            text.lines()
                .filter(|l| l.trim_start().starts_with("//"))
                .count()
                >= 3,
            "{}: a template's definition should teach through comments",
            template.id
        );
    }
}

#[test]
fn every_system_ini_is_commented_and_uses_the_default_section() {
    for template in gallery().templates() {
        let path = template
            .system_ini_path()
            .unwrap_or_else(|| panic!("{}: no system.ini", template.id));
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("[_default]"), "{}", path.display());
        let comments = text.lines().filter(|l| l.starts_with('#')).count();
        let keys = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains('='))
            .count();
        assert!(keys >= 1, "{}: no active setting", path.display());
        assert!(comments > keys, "{}: explain each key", path.display());
        assert!(text.contains("hostname = "), "{}", path.display());
    }
}

#[test]
fn build_scripts_are_executable_posix_shell_that_stops_on_errors() {
    let mut scripts = 0;
    for template in gallery().templates() {
        let build_d = template.dir.join("files/build.d");
        let Ok(entries) = fs::read_dir(&build_d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "{} is not executable", path.display());
            let text = fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("#!/bin/sh\n"), "{}", path.display());
            assert!(text.contains("\nset -e\n"), "{}", path.display());
            scripts += 1;
        }
    }
    assert!(scripts >= 5, "only {scripts} build.d scripts");
}

#[test]
fn create_project_copies_the_template_and_renames_the_definition() {
    let gallery = gallery();
    let template = gallery.get("debian-web").unwrap();
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("projects/intranet");

    let created = gallery
        .create_project("debian-web", "intranet", &target)
        .unwrap();
    assert_eq!(created, target);

    let original = fs::read_to_string(template.definition_path()).unwrap();
    let copied = fs::read_to_string(target.join("genpack.json5")).unwrap();
    assert_eq!(json5_value(&copied)["name"], "intranet");
    for line in original.lines().filter(|l| l.contains("//")) {
        assert!(copied.contains(line), "lost comment line: {line}");
    }
    // Only the name line differs.
    let changed: Vec<(&str, &str)> = original
        .lines()
        .zip(copied.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed,
        vec![("    name: \"debian-web\",", "    name: \"intranet\",")]
    );
    assert_eq!(original.lines().count(), copied.lines().count());

    assert_eq!(
        fs::read_to_string(target.join(".gitignore")).unwrap(),
        GITIGNORE
    );
    for line in ["/work/", "/*.squashfs", "/*.img", "/*.iso", "/*.tar.gz"] {
        assert!(GITIGNORE.lines().any(|l| l == line), "{line}");
    }
    assert!(!target.join("template.json5").exists());
    assert!(!target.join("icon.svg").exists());
    assert_eq!(
        fs::read(target.join("files/srv/www/index.html")).unwrap(),
        fs::read(template.dir.join("files/srv/www/index.html")).unwrap()
    );
    assert_eq!(
        fs::read(target.join("system.ini")).unwrap(),
        fs::read(template.dir.join("system.ini")).unwrap()
    );
    // Nothing else is left next to the project.
    let siblings: Vec<_> = fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, vec![std::ffi::OsString::from("intranet")]);
}

#[test]
fn create_project_keeps_executable_bits_and_every_template_renames() {
    let gallery = gallery();
    let work = tempfile::tempdir().unwrap();
    for template in gallery.templates() {
        let target = work.path().join(&template.id);
        gallery
            .create_project(&template.id, "renamed-app", &target)
            .unwrap();
        let text = fs::read_to_string(target.join("genpack.json5")).unwrap();
        assert_eq!(json5_value(&text)["name"], "renamed-app", "{}", template.id);
        let original = fs::read_to_string(template.definition_path()).unwrap();
        assert_eq!(
            text.replace("\"renamed-app\"", &format!("\"{}\"", template.id)),
            original,
            "{}: more than the name changed",
            template.id
        );
    }
    let script = work
        .path()
        .join("nextcloud/files/build.d/10-deploy-nextcloud.sh");
    let mode = fs::metadata(&script).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let helper = work
        .path()
        .join("wireguard-hub/files/usr/local/bin/wg-hub-add-peer");
    assert_eq!(
        fs::metadata(helper).unwrap().permissions().mode() & 0o111,
        0o111
    );
}

#[test]
fn create_project_accepts_an_empty_folder_and_refuses_a_non_empty_one() {
    let gallery = gallery();
    let work = tempfile::tempdir().unwrap();

    let empty = work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    gallery.create_project("minimal", "box", &empty).unwrap();
    assert!(empty.join("genpack.json5").is_file());

    let full = work.path().join("full");
    fs::create_dir(&full).unwrap();
    fs::write(full.join("notes.txt"), "mine").unwrap();
    let err = gallery.create_project("minimal", "box", &full).unwrap_err();
    assert!(matches!(err, CreateError::TargetNotEmpty { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("full"), "{message}");
    assert!(message.contains("not empty"), "{message}");
    assert_eq!(fs::read_to_string(full.join("notes.txt")).unwrap(), "mine");
    assert_eq!(fs::read_dir(&full).unwrap().count(), 1);

    let file = work.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let err = gallery.create_project("minimal", "box", &file).unwrap_err();
    assert!(
        matches!(err, CreateError::TargetNotDirectory { .. }),
        "{err:?}"
    );
}

#[test]
fn create_project_rejects_bad_names_and_unknown_templates() {
    let gallery = gallery();
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("p");

    let err = gallery
        .create_project("minimal", "My Appliance", &target)
        .unwrap_err();
    assert!(
        matches!(err, CreateError::InvalidName(NameError::BadStart { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("lowercase letters"));
    assert!(!target.exists());

    let err = gallery
        .create_project("no-such-template", "fine", &target)
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no-such-template"), "{message}");
    assert!(message.contains("debian-minimal"), "{message}");
    assert!(!target.exists());
}

#[test]
fn malformed_template_json5_is_reported_with_file_line_and_column() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("broken");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("genpack.json5"), "{ name: \"broken\" }").unwrap();
    fs::write(
        dir.join("template.json5"),
        "{\n  title: \"Broken\",\n  summary: \"x\"\n  category: \"Server\",\n}\n",
    )
    .unwrap();
    let err = Gallery::open(work.path()).unwrap_err();
    match &err {
        GalleryError::SyntaxAt {
            path, line, column, ..
        } => {
            assert!(path.ends_with("broken/template.json5"));
            assert_eq!((*line, *column), (4, 3));
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("template.json5:4:3"), "{err}");
}

#[test]
fn unknown_fields_and_categories_are_refused_with_the_file_named() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("odd");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("genpack.json5"), "{}").unwrap();
    let good = r#"title: "T", summary: "S", description: "D. E.", tags: [], icon: "icon.svg",
        base: "gentoo", arches: ["x86_64"], size: "1 MB""#;

    fs::write(
        dir.join("template.json5"),
        format!("{{ {good}, category: \"Games\" }}"),
    )
    .unwrap();
    let err = Gallery::open(work.path()).unwrap_err().to_string();
    assert!(err.contains("odd/template.json5"), "{err}");
    assert!(err.contains("Games"), "{err}");

    fs::write(
        dir.join("template.json5"),
        format!("{{ {good}, category: \"Server\", colour: \"red\" }}"),
    )
    .unwrap();
    let err = Gallery::open(work.path()).unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");

    fs::write(
        dir.join("template.json5"),
        format!("{{ {good}, category: \"Server\" }}").replace("x86_64", "sparc"),
    )
    .unwrap();
    let err = Gallery::open(work.path()).unwrap_err().to_string();
    assert!(err.contains("sparc") && err.contains("aarch64"), "{err}");

    // With the mistakes fixed the template loads, with no icon to show.
    fs::write(
        dir.join("template.json5"),
        format!("{{ {good}, category: \"Server\" }}"),
    )
    .unwrap();
    let gallery = Gallery::open(work.path()).unwrap();
    assert_eq!(gallery.templates()[0].id, "odd");
    assert_eq!(gallery.templates()[0].icon_svg, None);
    assert_eq!(gallery.templates()[0].package_count, 0);
}

#[test]
fn a_missing_gallery_folder_is_reported_with_its_path() {
    let err = Gallery::open("/nonexistent/templates").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/templates"), "{err}");
}

#[test]
fn default_dir_finds_the_repository_templates() {
    if std::env::var_os(genpack_gallery::TEMPLATES_ENV).is_some() {
        // An explicit setting wins; nothing to find.
        return;
    }
    let dir = Gallery::default_dir().unwrap();
    assert_eq!(
        fs::canonicalize(dir).unwrap(),
        fs::canonicalize(templates_dir()).unwrap()
    );
}

#[test]
fn templates_serialize_for_the_studio() {
    let gallery = gallery();
    let json = serde_json::to_value(gallery.get("nextcloud").unwrap()).unwrap();
    assert_eq!(json["id"], "nextcloud");
    assert_eq!(json["meta"]["category"], "Server");
    assert_eq!(json["meta"]["base"], "gentoo");
    assert!(json["package_count"].as_u64().unwrap() >= 5);
    assert!(json["icon_svg"].as_str().unwrap().starts_with("<svg"));
}

fn json5_value(text: &str) -> serde_json::Value {
    json5::from_str(text).unwrap()
}

#[test]
fn a_template_whose_definition_is_not_an_object_cannot_be_used() {
    let work = tempfile::tempdir().unwrap();
    let gallery_dir = work.path().join("gallery");
    let dir = gallery_dir.join("odd");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("template.json5"),
        r#"{ title: "T", summary: "S", description: "D. E.", category: "Starter", icon: "icon.svg",
            base: "gentoo", arches: ["x86_64"], size: "1 MB" }"#,
    )
    .unwrap();
    fs::write(dir.join("genpack.json5"), "[\"app-misc/screen\"]").unwrap();
    let gallery = Gallery::open(&gallery_dir).unwrap();
    let target = work.path().join("project");
    let err = gallery.create_project("odd", "fine", &target).unwrap_err();
    assert!(matches!(err, CreateError::SetName { .. }), "{err:?}");
    assert!(err.to_string().contains("odd/genpack.json5"), "{err}");
    assert!(!target.exists());
    // The staging folder is cleaned up too.
    let left: Vec<_> = fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("gallery")]);
}
