use genpack_ini::{validate_with, Document, KnownTimezones, Schema, Severity, ValidationOptions};

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMPPzPZ78AKXLWvq1whIPYOvPeNWwWsbcKde+R0Wr99P user@host";

fn issues_for(text: &str) -> Vec<(usize, Severity, String)> {
    let doc = Document::parse_lenient(text);
    let options = ValidationOptions {
        timezones: KnownTimezones::bundled(),
    };
    validate_with(&doc, &Schema::builtin(), &options)
        .into_iter()
        .map(|i| (i.line, i.severity, i.message))
        .collect()
}

fn errors(text: &str) -> usize {
    issues_for(text)
        .iter()
        .filter(|i| i.1 == Severity::Error)
        .count()
}

#[test]
fn validation_table() {
    let table: &[(&str, usize)] = &[
        ("debug = yes\n", 0),
        ("debug = maybe\n", 1),
        ("timezone = Asia/Tokyo\n", 0),
        ("timezone = Mars/Olympus\n", 1),
        ("hostname = kitchen-pi\n", 0),
        ("hostname = my_box\n", 1),
        ("hostname = -bad\n", 1),
        (&format!("hostname = {}\n", "a".repeat(64)), 1),
        ("wifi_country = DE\n", 0),
        ("wifi_country = de\n", 1),
        ("wifi_sae_pwe = 2\n", 0),
        ("wifi_sae_pwe = 3\n", 1),
        ("ip_address = 192.168.1.10/24\n", 0),
        ("ip_address = 192.168.1.10\n", 1),
        ("ip6_address = 2001:db8::1/64\n", 0),
        ("dns = 1.1.1.1, 9.9.9.9\n", 0),
        ("dns = 1.1.1.1 nameserver\n", 1),
        ("wifi_key = 100%secret\nwifi_ssid = x\n", 1),
        (&format!("ssh_pubkey = {ED25519}\n"), 0),
        (&format!("ssh_pubkey = {ED25519}\n    # old key\n    ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIMPPzPZ78AKXLWvq1whIPYOvPeNWwWsbcKde+R0Wr99P x\n"), 1),
        ("ssh_pubkey = ssh-ed25519 not-base64!\n", 1),
        ("ssh_pubkey = ssh-dsa AAAA\n", 1),
        ("a=1\nA=2\n", 1),
    ];
    for (text, expected) in table {
        assert_eq!(errors(text), *expected, "{text:?}: {:?}", issues_for(text));
    }
}

#[test]
fn unknown_keys_are_info_and_hints_name_the_line() {
    let issues = issues_for("hostname = box\nfoo = bar\n[wg-walbrix]\naddress = 10.0.0.1\n");
    assert_eq!(issues.len(), 2);
    assert!(issues.iter().all(|i| i.1 == Severity::Info));
    assert_eq!((issues[0].0, issues[1].0), (2, 4));
    assert!(issues[0].2.contains("not used by this image"));

    let tz = issues_for("timezone = tokyo\n");
    assert!(tz[0].2.contains("Asia/Tokyo"), "{tz:?}");
    let typo = issues_for("timezone = Europe/Berln\n");
    assert!(typo[0].2.contains("Europe/Berlin"), "{typo:?}");
}

#[test]
fn a_near_miss_of_a_known_key_says_which_key_was_meant() {
    let issues = issues_for("hostnme = box\ntimezon = Asia/Tokyo\n");
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert_eq!(issues[0].1, Severity::Warning);
    assert!(
        issues[0].2.contains("did you mean `hostname`?"),
        "{issues:?}"
    );
    assert!(
        issues[1].2.contains("did you mean `timezone`?"),
        "{issues:?}"
    );
    // A key far from every known one is only kept, with no guess.
    let other = issues_for("kiosk_url = https://example.org/\n");
    assert_eq!(other[0].1, Severity::Info);
    assert!(!other[0].2.contains("did you mean"), "{other:?}");
    // The same spelling in another section is not the default section's key.
    let elsewhere = issues_for("[app]\nhostnme = box\n");
    assert!(!elsewhere[0].2.contains("did you mean"), "{elsewhere:?}");
}

#[test]
fn cross_checks_warn_about_orphan_keys() {
    let issues = issues_for("wifi_key = password123\n");
    assert!(issues
        .iter()
        .any(|i| i.1 == Severity::Warning && i.2.contains("wifi_ssid")));
}

#[test]
fn builtin_schema_round_trips_through_json() {
    let schema = Schema::builtin();
    let back = Schema::from_json(&schema.to_json()).unwrap();
    assert_eq!(back, schema);
    for key in [
        "hostname",
        "timezone",
        "locale",
        "ssh_pubkey",
        "autologin",
        "swapfile",
        "wifi_ssid",
        "wifi_key",
        "wifi_wpa3",
        "wifi_sae_pwe",
        "wifi_country",
        "wifi_systemd_config_file",
        "wifi_mdns",
        "wifi_llmnr",
        "wifi_ignore_dns",
        "wifi_ignore_gateway",
        "wifi_required_for_online",
        "debug",
        "ip_address",
        "ip_gateway",
        "dns",
        "ip6_address",
        "ip6_gateway",
        "dns6",
    ] {
        assert!(schema.find("_default", key).is_some(), "{key}");
    }
    assert!(Schema::from_json("{\"keys\": [{\"key\": 1}]}").is_err());
}

#[test]
fn timezones_list_contains_common_zones() {
    let zones = genpack_ini::timezones();
    assert!(zones.iter().any(|z| z == "Europe/Berlin"));
    assert!(KnownTimezones::bundled().contains("America/New_York"));
    assert!(!genpack_ini::is_zone_name_shape("../etc/passwd"));
}
