//! The repository's gallery, checked the way the studio and `genpack new`
//! use it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use genpack_gallery::{
    Category, CreateError, Flavour, Gallery, GalleryError, NameError, Protocol, WebScheme,
    GITIGNORE,
};

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
            ["gentoo", "debian:bookworm", "debian:bookworm-backports"]
                .contains(&meta.base.as_str()),
            "{id}: base {}",
            meta.base
        );
        assert!(!meta.arches.is_empty(), "{id}: no arches");
        assert!(
            [" MB", " GB", " MiB", " GiB"]
                .iter()
                .any(|unit| meta.size.ends_with(unit)),
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
    // The machine is named after the project, not the template; nothing else changes.
    let ini_before = fs::read_to_string(template.dir.join("system.ini")).unwrap();
    let ini_after = fs::read_to_string(target.join("system.ini")).unwrap();
    let changed: Vec<(&str, &str)> = ini_before
        .lines()
        .zip(ini_after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed,
        vec![("hostname = debian-web", "hostname = intranet")]
    );
    assert_eq!(ini_before.lines().count(), ini_after.lines().count());
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
    // Every template that names the machine names it after the project ("_" is no host name
    // character).
    let named = gallery
        .create_project("minimal", "my_box", work.path().join("underscore"))
        .unwrap();
    let ini = fs::read_to_string(named.join("system.ini")).unwrap();
    assert!(ini.lines().any(|l| l == "hostname = my-box"), "{ini}");
    for template in gallery.templates() {
        let Ok(ini) = fs::read_to_string(work.path().join(&template.id).join("system.ini")) else {
            continue;
        };
        for line in ini.lines().filter(|l| l.starts_with("hostname")) {
            assert_eq!(line, "hostname = renamed-app", "{}", template.id);
        }
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

#[test]
fn each_appliance_has_one_card_with_its_ready_made_and_compiled_flavours() {
    let gallery = gallery();
    let cards = gallery.cards();
    let paired = gallery
        .templates()
        .iter()
        .filter(|t| t.meta.flavour_of.is_some())
        .count();
    assert_eq!(cards.len(), gallery.templates().len() - paired);
    for card in &cards {
        assert!(card.main.meta.flavour_of.is_none(), "{}", card.main.id);
        if let (Some(ready), Some(compiled)) = (card.ready_made, card.compiled) {
            assert_eq!(ready.meta.flavour(), Flavour::ReadyMade);
            assert_eq!(compiled.meta.flavour(), Flavour::Compiled);
            assert_eq!(ready.other_flavour.as_deref(), Some(compiled.id.as_str()));
            assert_eq!(compiled.other_flavour.as_deref(), Some(ready.id.as_str()));
            assert_eq!(ready.meta.category, compiled.meta.category);
        }
        // A compiled appliance either has a ready-made flavour or says why Debian cannot
        // provide one.
        if let Some(compiled) = card.compiled {
            assert!(
                card.ready_made.is_some() || compiled.meta.no_ready_made.is_some(),
                "{}: no ready-made flavour and no `no_ready_made` reason",
                compiled.id
            );
        }
    }
    let card = |id: &str| cards.iter().find(|c| c.main.id == id).unwrap();
    for (compiled, ready) in [
        ("nextcloud", "debian-personal-cloud"),
        ("file-server", "debian-file-server"),
        ("wireguard-hub", "debian-wireguard-hub"),
        ("backup-server", "debian-backup-server"),
        ("router", "debian-router"),
        ("suricata-ids", "debian-suricata-ids"),
        ("web-kiosk", "debian-web-kiosk"),
        ("rescue", "debian-rescue"),
        ("redmine", "debian-redmine"),
        ("minimal", "debian-minimal"),
    ] {
        assert_eq!(
            card(compiled).ready_made.map(|t| t.id.as_str()),
            Some(ready)
        );
    }
    let pytorch = card("pytorch-workstation");
    assert!(pytorch.ready_made.is_none());
    assert!(pytorch
        .main
        .meta
        .no_ready_made
        .as_deref()
        .is_some_and(|why| why.contains("ROCm")));
    // A ready-made template without a compiled sibling is a card of its own.
    let web = card("debian-web");
    assert_eq!(web.ready_made.map(|t| t.id.as_str()), Some("debian-web"));
    assert!(web.compiled.is_none());

    let json = serde_json::to_value(gallery.get("debian-file-server").unwrap()).unwrap();
    assert_eq!(json["other_flavour"], "file-server");
    assert_eq!(json["meta"]["flavour_of"], "file-server");
    assert_eq!(json["meta"]["ports"][0]["port"], 445);
    assert_eq!(json["meta"]["ports"][0]["protocol"], "tcp");
}

#[test]
fn web_ports_name_a_page_a_browser_can_open() {
    for template in gallery().templates() {
        for port in &template.meta.ports {
            if let Some(path) = &port.path {
                assert!(path.starts_with('/'), "{}: {path}", template.id);
            }
            if port.web.is_some() {
                assert_eq!(port.protocol, Protocol::Tcp, "{}", template.id);
            }
        }
    }
    let cloud = gallery();
    let cloud = cloud.get("debian-personal-cloud").unwrap();
    assert!(cloud
        .meta
        .ports
        .iter()
        .any(|p| p.port == 80 && p.web == Some(WebScheme::Http)));
}

/// A template for [`write_gallery`]: id, base, extra template.json5 lines.
type TestTemplate<'a> = (&'a str, &'a str, &'a str);

/// Writes a one-template-per-entry gallery into `dir`.
fn write_gallery(dir: &Path, templates: &[TestTemplate]) {
    for (id, base, extra) in templates {
        let folder = dir.join(id);
        fs::create_dir_all(&folder).unwrap();
        fs::write(
            folder.join("genpack.json5"),
            format!("{{ name: \"{id}\" }}"),
        )
        .unwrap();
        fs::write(
            folder.join("template.json5"),
            format!(
                "{{ title: \"{id}\", summary: \"S\", description: \"D. E.\", category: \"Server\", icon: \"icon.svg\",\n  base: \"{base}\", arches: [\"x86_64\"], size: \"1 MB\",\n  {extra}\n}}\n"
            ),
        )
        .unwrap();
    }
}

#[test]
fn flavour_pairs_that_cannot_share_a_card_are_refused_with_the_file_named() {
    let cases: [(&[TestTemplate], &str); 5] = [
        (
            &[("cloud", "debian:bookworm", "flavour_of: \"nowhere\",")],
            "\"nowhere\", which is not a template",
        ),
        (
            &[
                ("a", "debian:bookworm", "flavour_of: \"b\","),
                ("b", "debian:bookworm", ""),
            ],
            "made the same way",
        ),
        (
            &[
                ("a", "debian:bookworm", "flavour_of: \"c\","),
                ("b", "debian:bookworm", "flavour_of: \"c\","),
                ("c", "gentoo", ""),
            ],
            "already has another flavour",
        ),
        (
            &[
                ("a", "debian:bookworm", "flavour_of: \"c\","),
                ("c", "gentoo", "no_ready_made: \"none\","),
            ],
            "remove that line there",
        ),
        (
            &[("a", "debian:bookworm", "no_ready_made: \"why\",")],
            "this template is ready-made",
        ),
    ];
    for (templates, expected) in cases {
        let work = tempfile::tempdir().unwrap();
        write_gallery(work.path(), templates);
        let err = Gallery::open(work.path()).unwrap_err().to_string();
        assert!(err.contains("template.json5"), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in: {err}");
    }
}

#[test]
fn ports_and_measurements_are_checked() {
    let cases = [
        // The services are the definition's; template.json5 does not repeat them.
        ("ports: [{ port: 80, name: \"Web\" }],", "ports"),
        (
            "measured: { build_cold_s: 1, build_warm_s: 1, image_mib: 1, boot_to_service_s: 1, date: \"2 Dec\" },",
            "YYYY-MM-DD",
        ),
    ];
    for (extra, expected) in cases {
        let work = tempfile::tempdir().unwrap();
        write_gallery(work.path(), &[("one", "debian:bookworm", extra)]);
        let err = Gallery::open(work.path()).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected:?} in: {err}");
    }
}

#[test]
fn a_firewall_lets_every_declared_port_in() {
    let mut firewalls = 0;
    for template in gallery().templates() {
        let Ok(rules) = fs::read_to_string(template.dir.join("files/etc/nftables.conf")) else {
            continue;
        };
        firewalls += 1;
        for port in &template.meta.ports {
            let protocol = match port.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            let rule = format!("{protocol} dport {} accept", port.port);
            // A router offers its LAN services to everything on the LAN bridge.
            let whole_lan =
                port.name.ends_with("(LAN)") && rules.contains("iifname \"br-lan\" accept");
            assert!(
                rules.contains(&rule) || whole_lan,
                "{}: port {} ({}) is declared but its firewall has no `{rule}`",
                template.id,
                port.port,
                port.name
            );
        }
    }
    assert!(firewalls >= 8, "only {firewalls} templates with a firewall");
}
