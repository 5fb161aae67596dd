//! Checking a document against a schema.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::document::{has_lone_percent, parse_bool, Document, DEFAULT_SECTION};
use crate::schema::{Kind, Schema};
use crate::ssh::{key_lines, parse_ssh_public_key};
use crate::timezone::KnownTimezones;

/// How serious an issue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[ts(rename = "IniSeverity")]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The value will not be applied (or the file will not be read as intended).
    Error,
    /// The value is applied but is probably not what was meant.
    Warning,
    /// For information, e.g. a key this image does not use.
    Info,
}

/// One finding, tied to a line of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(rename = "IniIssue")]
pub struct Issue {
    /// 1-based line.
    pub line: usize,
    /// Section of the key, if the issue concerns a key.
    pub section: Option<String>,
    /// The key as written, if the issue concerns a key.
    pub key: Option<String>,
    /// How serious it is.
    pub severity: Severity,
    /// Plain-language description with what to do.
    pub message: String,
}

/// What validation compares against.
#[derive(Clone, Debug)]
pub struct ValidationOptions {
    /// Known time zone names.
    pub timezones: KnownTimezones,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        Self {
            timezones: KnownTimezones::system(),
        }
    }
}

/// Checks a document against a schema, using this system's time zones.
pub fn validate(doc: &Document, schema: &Schema) -> Vec<Issue> {
    validate_with(doc, schema, &ValidationOptions::default())
}

/// Checks a document against a schema. Issues are sorted by line.
pub fn validate_with(doc: &Document, schema: &Schema, options: &ValidationOptions) -> Vec<Issue> {
    let mut issues: Vec<Issue> = doc
        .problems()
        .iter()
        .map(|p| Issue {
            line: p.line,
            section: None,
            key: None,
            severity: Severity::Error,
            message: p.to_string(),
        })
        .collect();
    for section in doc.sections() {
        for entry in doc.entries(&section) {
            let issue = |severity, message: String| Issue {
                line: entry.line,
                section: Some(section.clone()),
                key: Some(entry.key.clone()),
                severity,
                message,
            };
            let raw = doc.raw(&section, &entry.key).unwrap_or_default();
            if has_lone_percent(&raw) {
                issues.push(issue(
                    Severity::Error,
                    "a single % cannot be read at boot; write it as %% (the editor does this for you)".into(),
                ));
                continue;
            }
            let Some(spec) = schema.find(&section, &entry.key) else {
                let place = if section == DEFAULT_SECTION {
                    String::new()
                } else {
                    format!(" in [{section}]")
                };
                // A near miss of a key the image reads is most likely a typo: say which key.
                match close_key(schema, &section, &entry.key) {
                    Some(close) => issues.push(issue(
                        Severity::Warning,
                        format!(
                            "`{}`{place} is not used by this image; did you mean `{close}`? (it is kept as written)",
                            entry.key
                        ),
                    )),
                    None => issues.push(issue(
                        Severity::Info,
                        format!(
                            "`{}`{place} is not used by this image; it is kept as written",
                            entry.key
                        ),
                    )),
                }
                continue;
            };
            let value = match doc.value(&section, &entry.key) {
                Ok(v) => v.unwrap_or_default(),
                Err(e) => {
                    issues.push(issue(Severity::Error, e.kind.to_string()));
                    continue;
                }
            };
            for (severity, message) in check_value(&spec.kind, &value, options) {
                issues.push(issue(severity, message));
            }
        }
    }
    issues.extend(cross_checks(doc));
    issues.sort_by_key(|i| (i.line, i.severity));
    issues
}

/// The key of `section` in `schema` closest to a mistyped `key` (`hostnme` -> `hostname`),
/// if one is close enough to be what was meant.
pub fn close_key<'a>(schema: &'a Schema, section: &str, key: &str) -> Option<&'a str> {
    let typed = key.to_ascii_lowercase();
    schema
        .keys
        .iter()
        .filter(|spec| spec.section == section)
        .map(|spec| {
            let known = spec.key.to_ascii_lowercase();
            let score = strsim::jaro_winkler(&typed, &known);
            let edits = strsim::damerau_levenshtein(&typed, &known);
            (spec.key.as_str(), score, edits)
        })
        // Close in spelling, and at most two typing mistakes away (short keys differ by
        // little: `dns` and `ntp` are both 3 letters, and not typos of each other).
        .filter(|(_, score, edits)| {
            *score >= 0.85 && *edits <= 2 && *edits < typed.len().max(1) / 2 + 1
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(known, _, _)| known)
}

/// Checks one value against its kind; empty values mean "unset" and are fine.
pub fn check_value(
    kind: &Kind,
    value: &str,
    options: &ValidationOptions,
) -> Vec<(Severity, String)> {
    let v = value.trim();
    if v.is_empty() {
        return Vec::new();
    }
    let error = |m: String| vec![(Severity::Error, m)];
    match kind {
        Kind::Bool if parse_bool(v).is_none() => error(format!(
            "`{v}` is not a yes/no value; use yes or no (also true/false, on/off, 1/0)"
        )),
        Kind::Int { min, max } => match v.parse::<i64>() {
            Err(_) => error(format!("`{v}` is not a whole number")),
            Ok(n) if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) => error(format!(
                "{n} is out of range ({} to {})",
                min.map(|m| m.to_string()).unwrap_or_else(|| "…".into()),
                max.map(|m| m.to_string()).unwrap_or_else(|| "…".into())
            )),
            Ok(_) => Vec::new(),
        },
        Kind::Enum { values } if !values.iter().any(|x| x == v) => {
            error(format!("`{v}` is not one of: {}", values.join(", ")))
        }
        Kind::Timezone if !options.timezones.contains(v) => {
            let hints = options.timezones.suggestions(v, 3);
            let hint = if hints.is_empty() {
                " (names look like Europe/Berlin or Asia/Tokyo)".to_string()
            } else {
                format!("; did you mean {}?", hints.join(" or "))
            };
            error(format!("unknown time zone `{v}`{hint}"))
        }
        Kind::Locale if !is_locale_shape(v) => vec![(
            Severity::Warning,
            format!("`{v}` does not look like a locale such as en_US.UTF-8"),
        )],
        Kind::SshKeys => key_lines(v)
            .filter_map(|(i, line)| {
                parse_ssh_public_key(line)
                    .err()
                    .map(|e| (Severity::Error, format!("key on line {} of the value: {e}", i + 1)))
            })
            .collect(),
        Kind::Hostname => check_hostname(v).map(error).unwrap_or_default(),
        Kind::CountryCode
            if !(v.len() == 2 && v.chars().all(|c| c.is_ascii_uppercase())) =>
        {
            error(format!("`{v}` is not a country code; use two capital letters such as US, DE or JP"))
        }
        Kind::Password if !is_wpa_passphrase(v) => vec![(
            Severity::Warning,
            "Wi-Fi passwords are 8 to 63 plain (ASCII) characters; WPA2 networks will not accept this one".into(),
        )],
        Kind::Ipv4Cidr => check_cidr(v, false).map(error).unwrap_or_default(),
        Kind::Ipv6Cidr => check_cidr(v, true).map(error).unwrap_or_default(),
        Kind::Ipv4Address if v.parse::<Ipv4Addr>().is_err() => {
            error(format!("`{v}` is not an IPv4 address such as 192.168.1.1"))
        }
        Kind::Ipv6Address if v.parse::<Ipv6Addr>().is_err() => {
            error(format!("`{v}` is not an IPv6 address such as fe80::1"))
        }
        Kind::IpAddresses => split_list(v)
            .filter(|a| a.parse::<IpAddr>().is_err())
            .map(|a| (Severity::Error, format!("`{a}` is not an IP address")))
            .collect(),
        Kind::FileName if v.contains('/') || v == "." || v == ".." => {
            error(format!("`{v}` must be a plain file name without /"))
        }
        _ => Vec::new(),
    }
}

/// Splits a list of addresses separated by spaces or commas.
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
}

/// RFC 1123 host name rules; returns what is wrong.
pub fn check_hostname(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some(format!(
            "a host name has at most 253 characters, this one has {}",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Some(format!("`{name}` has an empty part between dots"));
        }
        if label.len() > 63 {
            return Some(format!("`{label}` is longer than 63 characters"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Some(format!(
                "`{name}` may only contain letters a-z, digits and hyphens (no spaces or _)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("`{label}` must not start or end with a hyphen"));
        }
    }
    None
}

/// `address/prefix` with the right family and prefix range; returns what is wrong.
pub fn check_cidr(value: &str, ipv6: bool) -> Option<String> {
    let example = if ipv6 {
        "2001:db8::10/64"
    } else {
        "192.168.1.10/24"
    };
    let Some((addr, prefix)) = value.split_once('/') else {
        return Some(format!("`{value}` needs a prefix length, e.g. {example}"));
    };
    let max = if ipv6 { 128 } else { 32 };
    let addr_ok = if ipv6 {
        addr.parse::<Ipv6Addr>().is_ok()
    } else {
        addr.parse::<Ipv4Addr>().is_ok()
    };
    let prefix_ok = prefix.parse::<u8>().is_ok_and(|p| p <= max);
    (!addr_ok || !prefix_ok)
        .then(|| format!("`{value}` is not an address with prefix length such as {example}"))
}

fn is_locale_shape(v: &str) -> bool {
    if matches!(v, "C" | "POSIX" | "C.UTF-8" | "C.utf8") {
        return true;
    }
    let (rest, _modifier) = v.split_once('@').unwrap_or((v, ""));
    let (rest, codeset) = rest.split_once('.').unwrap_or((rest, "x"));
    let (lang, territory) = rest.split_once('_').unwrap_or((rest, "XX"));
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && territory.len() == 2
        && territory.chars().all(|c| c.is_ascii_uppercase())
        && !codeset.is_empty()
        && codeset
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_wpa_passphrase(v: &str) -> bool {
    let printable = v.chars().all(|c| (' '..='~').contains(&c));
    (printable && (8..=63).contains(&v.len()))
        || (v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

fn cross_checks(doc: &Document) -> Vec<Issue> {
    let mut issues = Vec::new();
    let d = DEFAULT_SECTION;
    let mut needs = |key: &str, other: &str, message: &str| {
        if let (Some(line), None) = (doc.line_of(d, key), doc.line_of(d, other)) {
            issues.push(Issue {
                line,
                section: Some(d.to_string()),
                key: Some(key.to_string()),
                severity: Severity::Warning,
                message: message.to_string(),
            });
        }
    };
    needs(
        "wifi_key",
        "wifi_ssid",
        "the Wi-Fi password is not used until wifi_ssid (the network name) is set",
    );
    needs(
        "ip_gateway",
        "ip_address",
        "the IPv4 gateway is only used together with a fixed ip_address",
    );
    needs(
        "ip6_gateway",
        "ip6_address",
        "the IPv6 gateway is only used together with a fixed ip6_address",
    );
    if let (Some(line), None) = (doc.line_of(d, "wifi_ssid"), doc.line_of(d, "wifi_key")) {
        issues.push(Issue {
            line,
            section: Some(d.to_string()),
            key: Some("wifi_ssid".into()),
            severity: Severity::Info,
            message: "no wifi_key is set, so the Wi-Fi network is joined as an open network".into(),
        });
    }
    issues
}
