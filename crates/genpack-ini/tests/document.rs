use genpack_ini::{Document, EditError, LineErrorKind, ValueErrorKind, DEFAULT_SECTION};

const D: &str = DEFAULT_SECTION;

const TRICKY: &[&str] = &[
    "",
    "\n",
    "hostname=box",
    "hostname = box\n",
    "# comment\n; other comment\n\nhostname : box\n",
    "hostname=box\r\ntimezone=UTC\r\n",
    "hostname=box\r\ntimezone=UTC",
    "  indented = yes\n",
    "ssh_pubkey = ssh-ed25519 AAAA one\n    ssh-ed25519 BBBB two\n\n    # skipped\n    ssh-rsa CCCC three\n\nnext = 1\n",
    "key = value # not a comment\n",
    "name = Grüße 🌍\n[Sektion]\nschlüssel = wert\n",
    "a=1\n\n\n[s1]\nb : 2\n   \n[s2]\n",
    "\u{feff}hostname=bom\n",
    "x = 50%% off\n",
    "[only]\nk=v\n# trailing comment",
];

#[test]
fn unchanged_documents_round_trip_byte_identical() {
    for text in TRICKY {
        let doc = Document::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(doc.to_string(), *text);
    }
}

#[test]
fn keys_before_any_header_are_in_default_and_case_insensitive() {
    let doc = Document::parse("HostName = box\n[Net]\nDNS: 1.1.1.1\n").unwrap();
    assert_eq!(doc.get(D, "hostname").as_deref(), Some("box"));
    assert_eq!(doc.get("Net", "dns").as_deref(), Some("1.1.1.1"));
    assert_eq!(
        doc.get("net", "dns"),
        None,
        "section names are case-sensitive"
    );
    assert_eq!(doc.sections(), vec![D.to_string(), "Net".to_string()]);
    assert_eq!(doc.entries(D)[0].key, "HostName");
}

#[test]
fn continuation_lines_form_multi_line_values() {
    let doc = Document::parse(TRICKY[8]).unwrap();
    assert_eq!(
        doc.get(D, "ssh_pubkey").as_deref(),
        Some("ssh-ed25519 AAAA one\nssh-ed25519 BBBB two\n\nssh-rsa CCCC three")
    );
    assert_eq!(doc.get(D, "next").as_deref(), Some("1"));
}

#[test]
fn inline_hash_is_part_of_the_value() {
    let doc = Document::parse(TRICKY[9]).unwrap();
    assert_eq!(doc.get(D, "key").as_deref(), Some("value # not a comment"));
}

#[test]
fn duplicates_and_default_header_are_errors_with_line_numbers() {
    let err = Document::parse("a=1\nA=2\n").unwrap_err();
    assert_eq!(err.errors[0].line, 2);
    assert!(matches!(
        err.errors[0].kind,
        LineErrorKind::DuplicateKey { first_line: 1, .. }
    ));

    let err = Document::parse("[s]\n[t]\n[s]\n").unwrap_err();
    assert_eq!(err.errors[0].line, 3);
    assert!(matches!(
        err.errors[0].kind,
        LineErrorKind::DuplicateSection { first_line: 1, .. }
    ));

    let err = Document::parse("a=1\n[_default]\nb=2\n").unwrap_err();
    assert_eq!(err.errors[0].kind, LineErrorKind::DefaultSectionHeader);

    let err = Document::parse("ok=1\njust words\n= x\n").unwrap_err();
    assert_eq!(err.errors.len(), 2);
    assert_eq!((err.errors[0].line, err.errors[1].line), (2, 3));

    let lenient = Document::parse_lenient("a=1\nA=2\n");
    assert_eq!(
        lenient.get(D, "a").as_deref(),
        Some("1"),
        "first occurrence wins"
    );
    assert_eq!(lenient.to_string(), "a=1\nA=2\n");
}

#[test]
fn percent_is_escaped_on_write_and_unescaped_on_read() {
    let mut doc = Document::new();
    doc.set(D, "wifi_key", "100%secret").unwrap();
    assert_eq!(doc.to_string(), "wifi_key = 100%%secret\n");
    assert_eq!(doc.get(D, "wifi_key").as_deref(), Some("100%secret"));
    assert_eq!(
        doc.value(D, "wifi_key").unwrap().as_deref(),
        Some("100%secret")
    );

    let lone = Document::parse("wifi_key = 100%secret\n").unwrap();
    assert_eq!(lone.get(D, "wifi_key").as_deref(), Some("100%secret"));
    let err = lone.value(D, "wifi_key").unwrap_err();
    assert_eq!(err.line, 1);
    assert!(matches!(err.kind, ValueErrorKind::Interpolation(_)));

    let reference = Document::parse("base = /srv\npath = %(BASE)s/data\n").unwrap();
    assert_eq!(
        reference.value(D, "path").unwrap().as_deref(),
        Some("/srv/data")
    );
}

#[test]
fn booleans_follow_configparser() {
    let doc = Document::parse("a=Yes\nb=off\nc=1\nd=maybe\n").unwrap();
    assert_eq!(doc.get_bool(D, "a").unwrap(), Some(true));
    assert_eq!(doc.get_bool(D, "b").unwrap(), Some(false));
    assert_eq!(doc.get_bool(D, "c").unwrap(), Some(true));
    assert_eq!(doc.get_bool(D, "missing").unwrap(), None);
    let err = doc.get_bool(D, "d").unwrap_err();
    assert_eq!(
        (err.line, err.kind),
        (4, ValueErrorKind::NotABoolean("maybe".into()))
    );
}

#[test]
fn set_replaces_in_place_keeping_spelling_delimiter_and_comments() {
    let text =
        "# Settings for the kiosk\nHostName:   old   \n; keep me\n\n[wg-walbrix]\nprivkey = abc\n";
    let mut doc = Document::parse(text).unwrap();
    doc.set(D, "hostname", "new").unwrap();
    assert_eq!(
        doc.to_string(),
        "# Settings for the kiosk\nHostName:   new\n; keep me\n\n[wg-walbrix]\nprivkey = abc\n"
    );
}

#[test]
fn new_default_keys_go_after_the_last_default_key() {
    let mut doc =
        Document::parse("# top\nhostname = a\n\n# section comment\n[s]\nk = v\n").unwrap();
    doc.set(D, "timezone", "UTC").unwrap();
    assert_eq!(
        doc.to_string(),
        "# top\nhostname = a\ntimezone = UTC\n\n# section comment\n[s]\nk = v\n"
    );

    let mut doc = Document::parse("# about s\n[s]\nk = v\n").unwrap();
    doc.set(D, "hostname", "h").unwrap();
    assert_eq!(doc.to_string(), "hostname = h\n\n# about s\n[s]\nk = v\n");
    assert!(!doc.to_string().contains("[_default]"));
}

#[test]
fn new_keys_and_sections_are_appended() {
    let mut doc = Document::parse("[s]\nk = v\n\n[t]\nx = 1").unwrap();
    doc.set("s", "k2", "v2").unwrap();
    doc.set("new", "a", "b").unwrap();
    assert_eq!(
        doc.to_string(),
        "[s]\nk = v\nk2 = v2\n\n[t]\nx = 1\n\n[new]\na = b"
    );
}

#[test]
fn multi_line_values_are_written_as_continuations() {
    let mut doc =
        Document::parse("hostname = h\r\nssh_pubkey = old\r\n  older\r\n# note\r\nx = 1\r\n")
            .unwrap();
    doc.set(D, "ssh_pubkey", "ssh-ed25519 AAAA a\nssh-rsa BBBB b\n")
        .unwrap();
    assert_eq!(
        doc.to_string(),
        "hostname = h\r\nssh_pubkey = ssh-ed25519 AAAA a\r\n  ssh-rsa BBBB b\r\n# note\r\nx = 1\r\n"
    );
    assert_eq!(
        doc.get(D, "ssh_pubkey").as_deref(),
        Some("ssh-ed25519 AAAA a\nssh-rsa BBBB b")
    );

    let mut doc = Document::new();
    doc.set(D, "ssh_pubkey", "k1\nk2").unwrap();
    assert_eq!(doc.to_string(), "ssh_pubkey = k1\n    k2\n");
    assert!(matches!(
        doc.set(D, "ssh_pubkey", "k1\n# k2"),
        Err(EditError::CommentInValue {
            line_in_value: 2,
            ..
        })
    ));
}

#[test]
fn remove_keeps_comments_and_unknown_keys() {
    let mut doc =
        Document::parse("# c\nfoo_unknown = 1\nssh_pubkey = a\n  b\n# after\nhostname = h\n")
            .unwrap();
    assert!(doc.remove(D, "SSH_PUBKEY").unwrap());
    assert!(!doc.remove(D, "ssh_pubkey").unwrap());
    assert_eq!(
        doc.to_string(),
        "# c\nfoo_unknown = 1\n# after\nhostname = h\n"
    );
}

#[test]
fn invalid_names_are_refused_and_leave_the_document_unchanged() {
    let mut doc = Document::parse("a = 1\n").unwrap();
    assert!(matches!(
        doc.set(D, "b=c", "x"),
        Err(EditError::InvalidKey(_))
    ));
    assert!(matches!(
        doc.set(D, "#b", "x"),
        Err(EditError::InvalidKey(_))
    ));
    assert!(matches!(
        doc.set("", "b", "x"),
        Err(EditError::InvalidSection(_))
    ));
    assert_eq!(doc.to_string(), "a = 1\n");
}

#[test]
fn file_without_trailing_newline_keeps_it_missing_after_append() {
    let mut doc = Document::parse("hostname = h").unwrap();
    doc.set(D, "locale", "C.UTF-8").unwrap();
    assert_eq!(doc.to_string(), "hostname = h\nlocale = C.UTF-8");
}

#[test]
fn remove_section_keeps_the_comment_of_the_next_section() {
    let mut doc = Document::parse("a = 1\n\n[wg]\nk = v\n# about s\n[s]\nx = 1\n").unwrap();
    assert!(doc.remove_section("wg").unwrap());
    assert_eq!(doc.to_string(), "a = 1\n\n# about s\n[s]\nx = 1\n");
    assert!(!doc.remove_section("wg").unwrap());
    assert!(doc.remove_section("s").unwrap());
    assert_eq!(doc.to_string(), "a = 1\n\n");
    assert_eq!(doc.sections(), vec![D.to_string()]);
}

#[test]
fn view_lists_sections_entries_and_problems() {
    let doc = Document::parse_lenient("hostname = h\njunk\n[s]\nk = 50%%\n");
    let view = doc.view();
    assert_eq!(view.sections.len(), 2);
    assert_eq!(view.sections[1].entries[0].value, "50%");
    assert_eq!(view.problems[0].line, 2);
    let json = serde_json::to_string(&view).unwrap();
    assert!(json.contains("\"missing_delimiter\""), "{json}");
}

#[test]
fn byte_order_mark_stays_first_when_inserting_at_the_top() {
    let mut doc = Document::parse("\u{feff}[s]\nk = v\n").unwrap();
    doc.set(D, "hostname", "h").unwrap();
    assert_eq!(doc.to_string(), "\u{feff}hostname = h\n\n[s]\nk = v\n");
    assert_eq!(doc.get("s", "k").as_deref(), Some("v"));
}
