//! Mistakes are reported with the right message, place and help.

mod common;

use std::fs;

use common::parse;
use genpack_def::{LoadError, Project, Severity};

/// `(what, text, message fragment, line, column, help fragment)`.
const BAD_INPUTS: &[(&str, &str, &str, usize, usize, &str)] = &[
    (
        "syntax: missing comma",
        "{\n  packages: [\"a/b\" \"c/d\"]\n}",
        "expected `,`",
        2,
        19,
        "commas",
    ),
    (
        "syntax: missing colon",
        "{\n  packages [\"a/b\"]\n}",
        "expected `:` after the key",
        2,
        12,
        "key: value",
    ),
    (
        "syntax: unclosed list",
        "{\n  packages: [\"a/b\",\n}",
        "expected",
        3,
        1,
        "",
    ),
    (
        "syntax: unquoted value",
        "{ name: demo }",
        "unexpected word: expected a value",
        1,
        9,
        "quotes",
    ),
    (
        "syntax: unclosed string",
        "{ name: \"demo }",
        "never closed",
        1,
        9,
        "",
    ),
    (
        "syntax: trailing text",
        "{} {}",
        "expected the end of the file",
        1,
        4,
        "",
    ),
    (
        "not an object",
        "[\"app-misc/screen\"]",
        "expected the definition to be an object",
        1,
        1,
        "braces",
    ),
    (
        "wrong type",
        "{\n  packages: 12,\n}",
        "expected a list of package atoms, found a number",
        2,
        13,
        "",
    ),
    (
        "wrong item type",
        "{ packages: [\"a/b\", true] }",
        "expected a package atom (a string), found true/false",
        1,
        21,
        "",
    ),
    (
        "wrong map type",
        "{ use: [\"x\"] }",
        "expected an object of package atoms to USE flags",
        1,
        8,
        "",
    ),
    (
        "wrong bool",
        "{ devel: \"yes\" }",
        "expected true or false, found a string",
        1,
        10,
        "",
    ),
    (
        "unknown key",
        "{\n  pakages: [],\n}",
        "unknown key `pakages` at the top level",
        2,
        3,
        "did you mean `packages`?",
    ),
    (
        "unknown key in variant",
        "{ variants: { v: { servics: [] } } }",
        "unknown key `servics` inside a variant",
        1,
        20,
        "did you mean `services`?",
    ),
    (
        "legacy key",
        "{\n  \"buildtime-packages\": [],\n}",
        "it is now `buildtime_packages`",
        2,
        3,
        "rename",
    ),
    (
        "legacy key binpkg",
        "{ \"binpkg-exclude\": [] }",
        "it is now `binpkg_excludes`",
        1,
        3,
        "",
    ),
    (
        "legacy key breaker",
        "{ \"circulardep-breaker\": {} }",
        "it is now `circulardep_breaker`",
        1,
        3,
        "",
    ),
    (
        "key not allowed in arch",
        "{ arch: { x86_64: { users: [\"u\"] } } }",
        "`users` is not allowed inside an `arch` block",
        1,
        21,
        "packages",
    ),
    (
        "key not allowed in variant",
        "{ variants: { v: { devel: true } } }",
        "`devel` is not allowed inside a variant",
        1,
        20,
        "",
    ),
    (
        "bad atom",
        "{ packages: [\"app-misc/screen\", \"screen\"] }",
        "needs a category",
        1,
        33,
        "category/name",
    ),
    (
        "version without operator",
        "{ packages: [\"sys-fs/fuse-2.9.9\"] }",
        "has no operator",
        1,
        14,
        "",
    ),
    (
        "blocker",
        "{ packages: [\"!media-libs/mesa\"] }",
        "blocker",
        1,
        14,
        "",
    ),
    (
        "bad removal",
        "{ packages: [\"-mesa\"] }",
        "after the `-`",
        1,
        14,
        "",
    ),
    (
        "bad map key",
        "{ use: { \"mesa\": \"X\" } }",
        "needs a category",
        1,
        10,
        "*/*",
    ),
    (
        "bad USE string",
        "{ use: { \"media-libs/mesa\": \"VIDEO_CARDS:virgl\" } }",
        "put a space after the colon",
        1,
        29,
        "",
    ),
    (
        "bad USE flag",
        "{ use: { \"*/*\": \"foo$\" } }",
        "not a valid USE flag",
        1,
        17,
        "",
    ),
    (
        "duplicate key",
        "{\n  name: \"a\",\n  name: \"b\"\n}",
        "duplicate key `name`: first defined at 2:3",
        3,
        3,
        "",
    ),
    (
        "duplicate map key",
        "{ use: { \"a/b\": \"x\", \"a/b\": \"y\" } }",
        "duplicate key `a/b`",
        1,
        22,
        "",
    ),
    (
        "default_variant missing",
        "{ variants: { cuda: {} }, default_variant: \"cuad\" }",
        "default_variant `cuad` is not one of the variants",
        1,
        44,
        "did you mean `cuda`?",
    ),
    (
        "default_variant without variants",
        "{ default_variant: \"x\" }",
        "there are no `variants`",
        1,
        20,
        "",
    ),
    (
        "bad arch",
        "{ arch: { \"x86-64\": {} } }",
        "unknown architecture `x86-64`",
        1,
        11,
        "did you mean `x86_64`?",
    ),
    (
        "bad compression",
        "{ compression: \"zst\" }",
        "unknown compression `zst`",
        1,
        16,
        "did you mean `zstd`?",
    ),
    (
        "bad service",
        "{ services: [\"foo.servce\"] }",
        "not a unit type",
        1,
        14,
        "",
    ),
    (
        "bad user name",
        "{ users: [\"Bob\"] }",
        "not a valid name",
        1,
        11,
        "",
    ),
    (
        "user without name",
        "{ users: [{ uid: 1000 }] }",
        "has no `name`",
        1,
        11,
        "",
    ),
    (
        "unknown user key",
        "{ users: [{ name: \"u\", emptypassword: true }] }",
        "unknown user setting",
        1,
        24,
        "did you mean `empty_password`?",
    ),
    (
        "uid too large",
        "{ users: [{ name: \"u\", uid: 4294967295 }] }",
        "too large",
        1,
        29,
        "",
    ),
    (
        "uid negative",
        "{ users: [{ name: \"u\", uid: -5 }] }",
        "is not a uid",
        1,
        29,
        "",
    ),
    (
        "home relative",
        "{ users: [{ name: \"u\", home: \"home/u\" }] }",
        "absolute path",
        1,
        30,
        "",
    ),
    (
        "both spellings",
        "{ users: [{ name: \"u\", \"create-home\": true, create_home: false }] }",
        "repeats",
        1,
        45,
        "",
    ),
    (
        "bad base",
        "{ base: \"fedora\" }",
        "unknown base `fedora`",
        1,
        9,
        "",
    ),
    (
        "bad outfile",
        "{ outfile: \"out/x.squashfs\" }",
        "is not a file name",
        1,
        12,
        "",
    ),
    (
        "bad name",
        "{ name: \"my image\" }",
        "not a usable image name",
        1,
        9,
        "",
    ),
    (
        "binhost neither gentoo nor a URL",
        "{ binhost: \"builder.lan:8080\" }",
        "neither \"gentoo\" nor an http://",
        1,
        12,
        "genpack binhost serve",
    ),
    (
        "binhost not a string",
        "{ binhost: true }",
        "\"gentoo\" or a binhost's URL",
        1,
        12,
        "",
    ),
    (
        "zero capacity",
        "{ \"lower-layer-capacity\": 0 }",
        "at least 1 GiB",
        1,
        27,
        "",
    ),
    (
        "env null",
        "{ env: { \"a/b\": null } }",
        "names no environment file",
        1,
        17,
        "",
    ),
    (
        "group gid",
        "{ groups: [{ name: \"g\", gid: 1.5 }] }",
        "is not a gid",
        1,
        30,
        "",
    ),
    (
        "breaker key",
        "{ circulardep_breaker: { packages: [], uses: \"x\" } }",
        "unknown key `uses`",
        1,
        40,
        "did you mean `use`?",
    ),
    (
        "debian package",
        "{ base: \"debian\", packages: [\"app-misc/screen\"] }",
        "looks like a Gentoo atom",
        1,
        30,
        "",
    ),
    (
        "users: an account Debian already has",
        "{ base: \"debian:bookworm\", users: [{ name: \"backup\", home: \"/srv/backup\" }] }",
        "`backup` is an account the base system already has",
        1,
        44,
        "usermod",
    ),
    (
        "users: root on Gentoo",
        "{ users: [\"root\"] }",
        "`root` is an account the base system already has",
        1,
        11,
        "another name",
    ),
    (
        "users: two accounts with one uid",
        "{ users: [{ name: \"a\", uid: 1000 }, { name: \"b\", uid: 1000 }] }",
        "uid 1000 is given to `b` and to `a`",
        1,
        45,
        "",
    ),
    (
        "users: a colon in the comment",
        "{ users: [{ name: \"a\", comment: \"Ops: admin\" }] }",
        "':' cannot be part of an account's settings",
        1,
        33,
        "/etc/passwd",
    ),
    (
        "users: a line break in the home folder",
        "{ users: [{ name: \"a\", home: \"/home/a\\nroot\" }] }",
        "'\\n' cannot be part of an account's settings",
        1,
        30,
        "line breaks",
    ),
    (
        "services: a name that reads as an option",
        "{ services: [\"--now\"] }",
        "starts with `-`",
        1,
        14,
        "",
    ),
    (
        "names: a NUL byte is shown, not swallowed",
        "{ users: [\"a\\u0000b\"] }",
        "`a\\0b`",
        1,
        11,
        "",
    ),
];

#[test]
fn each_mistake_is_reported_at_its_place() {
    let mut failures = Vec::new();
    for (what, text, fragment, line, column, help) in BAD_INPUTS {
        let parsed = parse(text);
        let found = parsed
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error && d.message.contains(fragment));
        match found {
            None => failures.push(format!(
                "{what}: no error containing {fragment:?}; got {:#?}",
                parsed.diagnostics
            )),
            Some(d) => {
                if (d.line, d.column) != (*line, *column) {
                    failures.push(format!(
                        "{what}: at {}:{}, expected {line}:{column}",
                        d.line, d.column
                    ));
                }
                if !help.is_empty() && !d.help.as_deref().unwrap_or("").contains(help) {
                    failures.push(format!("{what}: help {:?} lacks {help:?}", d.help));
                }
                if d.end_line < d.line || (d.end_line == d.line && d.end_column < d.column) {
                    failures.push(format!("{what}: end before start"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn diagnostics_name_their_path() {
    let parsed = parse(
        "{ variants: { cuda: { use: { \"sci-ml/caffe2\": \"a:b\" } } }, packages: [\"a/b\", 3] }",
    );
    let paths: Vec<&str> = parsed.diagnostics.iter().map(|d| d.path.as_str()).collect();
    assert!(
        paths.contains(&"variants.cuda.use.\"sci-ml/caffe2\""),
        "{paths:?}"
    );
    assert!(paths.contains(&"packages[1]"), "{paths:?}");

    // A diagnostic's path leads an editor to the value it is about.
    let text =
        "{ variants: { cuda: { use: { \"sci-ml/caffe2\": \"a:b\" } } }, packages: [\"a/b\", 3] }";
    let document = genpack_def::Document::parse(text).unwrap();
    let values: Vec<serde_json::Value> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            document
                .get(&genpack_def::parse_path(&d.path).unwrap())
                .unwrap()
        })
        .collect();
    assert_eq!(values, [serde_json::json!("a:b"), serde_json::json!(3)]);
}

#[test]
fn display_reads_file_line_column_severity_message_and_help() {
    let parsed = parse("{\n  pakages: []\n}");
    let text = parsed.diagnostics[0].to_string();
    assert_eq!(
        text,
        "test/genpack.json5:2:3: error: unknown key `pakages` at the top level\n  help: did you mean `packages`?"
    );
    let json = serde_json::to_value(&parsed.diagnostics[0]).unwrap();
    assert_eq!(json["severity"], "error");
    assert_eq!(json["line"], 2);
    assert_eq!(json["path"], "pakages");
}

#[test]
fn warnings_do_not_stop_the_definition() {
    let parsed = parse(
        r##"{
        name: "w",
        packages: ["a/b", "a/b", "#c/d"],
        users: [{ name: "svc", uid: 100 }],
        services: ["sshd", "sshd.service"],
    }"##,
    );
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let messages: Vec<&str> = parsed
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("listed twice")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("comment and is ignored")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("reserved for system accounts")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`sshd.service` is listed twice")),
        "{messages:?}"
    );
    let definition = parsed.definition.unwrap();
    assert!(!definition.packages.iter().any(|p| p.starts_with('#')));
}

#[test]
fn settings_that_would_surprise_later_warn_now() {
    let parsed = parse(
        r#"{ name: "z", compression: "zstd", "lower-layer-capacity": 64, variants: { small: { compression: "lz4" } } }"#,
    );
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let about = |path: &str| {
        parsed
            .diagnostics
            .iter()
            .find(|d| d.path == path)
            .unwrap_or_else(|| panic!("nothing about {path}: {:?}", parsed.diagnostics))
    };
    for (path, name) in [
        ("compression", "zstd"),
        ("variants.small.compression", "lz4"),
    ] {
        let warning = about(path);
        assert_eq!(warning.severity, Severity::Warning);
        assert!(
            warning
                .message
                .contains(&format!("cannot read SquashFS compressed with {name}")),
            "{warning:?}"
        );
        assert!(warning.help.as_deref().unwrap_or("").contains("\"gzip\""));
    }
    let capacity = about("lower-layer-capacity");
    assert_eq!(capacity.severity, Severity::Warning);
    assert!(capacity.message.contains("is not used"), "{capacity:?}");
    let gzip = parse(r#"{ name: "g", compression: "gzip" }"#);
    assert!(gzip.diagnostics.is_empty(), "{:?}", gzip.diagnostics);
}

#[test]
fn portage_keys_on_debian_warn() {
    let parsed = parse(
        r#"{ base: "debian:trixie", name: "d", packages: ["openssh-server", "-nano"], use: { "a/b": "x" }, profile: "gnome/baremetal", binhost: "gentoo" }"#,
    );
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    for key in ["use", "binhost"] {
        assert!(
            parsed
                .diagnostics
                .iter()
                .any(|d| d.message.contains("does nothing on a Debian base") && d.path == key),
            "{key}: {:?}",
            parsed.diagnostics
        );
    }
    assert!(parsed
        .diagnostics
        .iter()
        .any(|d| d.message.contains("only chooses between")));
    assert_eq!(parsed.definition.unwrap().base.to_string(), "debian:trixie");
}

#[test]
fn an_unknown_base_is_one_error_not_one_per_package() {
    let parsed = parse(
        r#"{ base: "ubuntu", name: "web", profile: "paravirt", packages: ["nginx", "openssh-server", "systemd-resolved"], buildtime_packages: ["curl"], services: ["nginx"] }"#,
    );
    let errors: Vec<_> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:#?}", parsed.diagnostics);
    assert!(errors[0].message.contains("unknown base `ubuntu`"));
    assert_eq!(errors[0].path, "base");
    assert!(
        errors[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("debian:bookworm"),
        "{:?}",
        errors[0].help
    );
    assert_eq!(
        parsed.diagnostics.len(),
        1,
        "nothing else: {:#?}",
        parsed.diagnostics
    );
}

#[test]
fn json5_features_are_accepted() {
    let parsed = parse(
        "// leading comment\n{\n  /* block */ name: 'single',\n  \"lower-layer-capacity\": 0x40,\n  packages: ['app-misc/screen',],\n  devel: false,\n}\n// trailing\n",
    );
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let definition = parsed.definition.unwrap();
    assert_eq!(definition.name.as_deref(), Some("single"));
    assert_eq!(definition.lower_layer_capacity, Some(64));
    let parsed = parse("{ lower_layer_capacity: +Infinity }");
    assert!(
        parsed
            .diagnostics
            .iter()
            .any(|d| d.message.contains("is not a size")),
        "{:?}",
        parsed.diagnostics
    );
}

#[test]
fn folder_problems_are_typed_errors_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    match Project::load(dir.path()) {
        Err(e @ LoadError::NotFound { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(&dir.path().display().to_string())
                    && text.contains("create genpack.json5"),
                "{text}"
            );
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    fs::write(dir.path().join("genpack.json5"), "{}").unwrap();
    fs::write(dir.path().join("genpack.json"), "{}").unwrap();
    match Project::load(dir.path()) {
        Err(e @ LoadError::Ambiguous { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(&dir.path().display().to_string())
                    && text.contains("delete or rename"),
                "{text}"
            );
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    // Naming the file itself settles the question.
    let project = Project::load(&dir.path().join("genpack.json5")).unwrap();
    assert_eq!(project.dir, dir.path());
    fs::remove_file(dir.path().join("genpack.json5")).unwrap();
    let project = Project::load(dir.path()).unwrap();
    assert!(project.file.ends_with("genpack.json"));
}

#[test]
fn non_utf8_bytes_are_located() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("genpack.json5"), b"{\n  name: \"a\xff\"\n}").unwrap();
    match Project::load(dir.path()) {
        Err(
            e @ LoadError::NotUtf8 {
                line: 2,
                column: 11,
                ..
            },
        ) => {
            assert!(
                e.to_string()
                    .contains("genpack.json5:2:11: error: the file is not UTF-8"),
                "{e}"
            );
            assert_eq!(e.diagnostic().map(|d| (d.line, d.column)), Some((2, 11)));
        }
        other => panic!("expected NotUtf8 at 2:11, got {other:?}"),
    }
}

#[test]
fn empty_files_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for text in ["", "  \n", "// only a comment\n"] {
        fs::write(dir.path().join("genpack.json5"), text).unwrap();
        match Project::load(dir.path()) {
            Err(e @ LoadError::Empty(_)) => {
                assert!(e.to_string().contains("the file is empty"), "{e}")
            }
            other => panic!("expected Empty for {text:?}, got {other:?}"),
        }
        let parsed = parse(text);
        assert!(parsed.definition.is_none());
        assert_eq!(
            (parsed.diagnostics[0].line, parsed.diagnostics[0].column),
            (1, 1)
        );
    }
}

#[test]
fn syntax_errors_fail_the_load_with_a_location() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("genpack.json5"),
        "{\n  packages: [\"a/b\" \"c/d\"]\n}",
    )
    .unwrap();
    match Project::load(dir.path()) {
        Err(LoadError::Syntax(d)) => {
            assert_eq!((d.line, d.column), (2, 19));
            assert!(
                d.to_string()
                    .contains("genpack.json5:2:19: error: expected `,`"),
                "{d}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn validation_errors_keep_the_project_loaded() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("genpack.json5"),
        "{ name: \"x\", packages: [\"screen\", \"app-misc/tmux\"] }",
    )
    .unwrap();
    let project = Project::load(dir.path()).unwrap();
    assert!(project.has_errors());
    assert_eq!(project.definition.packages, ["app-misc/tmux"]);
    assert!(project.effective(genpack_def::Arch::X86_64, None).is_err());
}

#[test]
fn a_ten_megabyte_file_loads() {
    let mut text = String::with_capacity(10_500_000);
    text.push_str("{\n  name: \"big\",\n  packages: [\n");
    let mut n = 0;
    while text.len() < 10_000_000 {
        text.push_str(&format!(
            "    \"app-misc/package-number{n}\", // comment {n}\n"
        ));
        n += 1;
    }
    text.push_str("  ],\n}\n");
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("genpack.json5"), &text).unwrap();
    let project = Project::load(dir.path()).unwrap();
    assert!(!project.has_errors());
    assert_eq!(project.definition.packages.len(), n);

    // Many problems on one long line: reported, capped, and still fast enough to finish.
    let mut bad = String::from("{ packages: [");
    while bad.len() < 10_000_000 {
        bad.push_str("1,");
    }
    bad.push_str("] }");
    let parsed = parse(&bad);
    assert!(parsed.has_errors());
    assert!(parsed.diagnostics.len() <= 501);
    assert!(parsed
        .diagnostics
        .last()
        .unwrap()
        .message
        .contains("more problems are not shown"));
}
