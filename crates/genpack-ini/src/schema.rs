//! The key schema: which keys an image understands, their types, defaults and help.
//!
//! Each image ships the schema of the keys its boot-time modules read (as JSON, see
//! [`SCHEMA_PATH_IN_IMAGE`]), so an editor shows exactly what that image understands.
//! [`Schema::builtin`] describes the modules of genpack-init itself; editors fall back to it
//! when there is no image to read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::document::DEFAULT_SECTION;

/// Where an image carries its schema, relative to the image root.
pub const SCHEMA_PATH_IN_IMAGE: &str = "usr/share/genpack/system-ini.schema.json";

/// The type of a value; it decides the form control and the validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(rename = "IniKind")]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// yes/no (`1/yes/true/on`, `0/no/false/off`).
    Bool,
    /// Free text.
    String,
    /// A secret (shown masked), e.g. a Wi-Fi passphrase.
    Password,
    /// A whole number, optionally bounded (inclusive).
    Int {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// One of a fixed list of values.
    Enum { values: Vec<String> },
    /// A time zone name under /usr/share/zoneinfo, e.g. `Europe/Berlin`.
    Timezone,
    /// A locale name, e.g. `en_US.UTF-8`.
    Locale,
    /// OpenSSH public keys, one per line (multi-line value).
    SshKeys,
    /// A host name (RFC 1123).
    Hostname,
    /// An ISO 3166-1 alpha-2 country code, e.g. `DE`.
    CountryCode,
    /// An IPv4 address with prefix length, e.g. `192.168.1.10/24`.
    Ipv4Cidr,
    /// An IPv4 address.
    Ipv4Address,
    /// An IPv6 address with prefix length, e.g. `2001:db8::10/64`.
    Ipv6Cidr,
    /// An IPv6 address.
    Ipv6Address,
    /// IP addresses separated by spaces or commas (e.g. DNS servers).
    IpAddresses,
    /// A plain file name (no `/`).
    FileName,
}

impl Kind {
    /// Whether the value naturally spans several lines.
    pub fn is_multiline(&self) -> bool {
        matches!(self, Kind::SshKeys)
    }
}

/// One key an image understands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(rename = "IniKeySpec")]
pub struct KeySpec {
    /// Section; `_default` for keys written before any header.
    pub section: String,
    /// Key name (lower case).
    pub key: String,
    /// Short label for a form field.
    pub title: String,
    /// Value type.
    pub kind: Kind,
    /// What happens when the key is not set, written as a value (None: nothing is done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Plain-language explanation for people who are not Linux experts.
    pub help: String,
    /// The boot-time module that reads the key (for genpack-init's own keys, the module
    /// name as `genpack-init modules` lists it).
    pub module: String,
    /// Whether a change takes effect at the next boot (false: applied once only).
    #[serde(default = "yes")]
    pub applied_every_boot: bool,
    /// Form group, e.g. "System", "Network", "Wi-Fi", "Access".
    pub group: String,
}

fn yes() -> bool {
    true
}

/// The keys an image understands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(rename = "IniSchema")]
pub struct Schema {
    /// Keys in display order.
    pub keys: Vec<KeySpec>,
}

/// Where to take the schema from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaSource {
    /// The keys applied by this version of genpack-init.
    Builtin,
    /// The JSON text of a schema shipped in an image.
    Json(String),
    /// A schema JSON file on disk.
    File(PathBuf),
}

/// A schema could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The JSON does not describe a schema.
    #[error("invalid system.ini schema{}: {source}", origin.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Json {
        origin: Option<PathBuf>,
        #[source]
        source: serde_json::Error,
    },
    /// The file could not be read.
    #[error("reading system.ini schema {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Loads a schema from `source`. Editors do not choose the source themselves: genpack-install's
/// `settings_schema` picks the image's own schema (or this built-in one, with the reason).
pub fn load_schema(source: SchemaSource) -> Result<Schema, SchemaError> {
    match source {
        SchemaSource::Builtin => Ok(Schema::builtin()),
        SchemaSource::Json(text) => Schema::from_json(&text),
        SchemaSource::File(path) => Schema::from_file(&path),
    }
}

impl Schema {
    /// Parses a schema from JSON (`{"keys": [...]}`).
    pub fn from_json(text: &str) -> Result<Self, SchemaError> {
        serde_json::from_str(text).map_err(|source| SchemaError::Json {
            origin: None,
            source,
        })
    }

    /// Reads a schema JSON file.
    pub fn from_file(path: &Path) -> Result<Self, SchemaError> {
        let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SchemaError::Json {
            origin: Some(path.to_path_buf()),
            source,
        })
    }

    /// The schema as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, enums and options cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The spec of a key (key compared case-insensitively).
    pub fn find(&self, section: &str, key: &str) -> Option<&KeySpec> {
        let key = key.trim().to_lowercase();
        self.keys
            .iter()
            .find(|k| k.section == section && k.key == key)
    }

    /// Adds the keys of another schema (e.g. of an add-on module); keys already present stay.
    pub fn merge(&mut self, other: Schema) {
        for spec in other.keys {
            if self.find(&spec.section, &spec.key).is_none() {
                self.keys.push(spec);
            }
        }
    }

    /// The groups in display order.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for k in &self.keys {
            if !groups.contains(&k.group) {
                groups.push(k.group.clone());
            }
        }
        groups
    }

    /// The keys applied by genpack-init's own modules.
    pub fn builtin() -> Self {
        let keys = vec![
            spec("hostname", "Computer name", Kind::Hostname, None, "System", "10hostname",
                "The name this computer uses on the network, e.g. `kitchen-pi`. Letters, digits and hyphens; dots separate parts of a full name."),
            spec("timezone", "Time zone", Kind::Timezone, None, "System", "20timezone",
                "The time zone for the clock, e.g. `Europe/Berlin` or `Asia/Tokyo`. Unset keeps the image's time zone (usually UTC)."),
            spec("locale", "Language and formats", Kind::Locale, None, "System", "30locale",
                "Language, number and date formats, e.g. `en_US.UTF-8` or `ja_JP.UTF-8`."),
            spec("swapfile", "Swap file", Kind::Bool, Some("yes"), "System", "60swapfile",
                "Use part of the data partition as extra memory (a swap file sized from the RAM). Only on a disk or stick with a data partition. `no` deletes the swap file."),
            spec("debug", "Detailed boot log", Kind::Bool, Some("no"), "System", "genpack-init",
                "Write detailed messages to the console and /var/log/genpack-init.log while the settings are applied. Useful when something does not work."),
            spec("ssh_pubkey", "SSH public keys", Kind::SshKeys, None, "Access", "40ssh_pubkey",
                "Public keys allowed to log in over SSH, one per line (the contents of e.g. `~/.ssh/id_ed25519.pub`). They are added for root and for each normal user. Removing a key here does not remove it from the computer."),
            spec("autologin", "Log in automatically", Kind::Bool, None, "Access", "50autologin",
                "`yes` logs in as root on the screen and the serial console without a password; `no` turns that off again. Unset leaves it as it is. Only for trusted places."),
            spec("wifi_ssid", "Wi-Fi network name", Kind::String, None, "Wi-Fi", "50wifi",
                "The name (SSID) of the Wi-Fi network to join. Wi-Fi stays off while this is empty."),
            spec("wifi_key", "Wi-Fi password", Kind::Password, None, "Wi-Fi", "50wifi",
                "The Wi-Fi password (8 to 63 characters). Leave it empty for an open network."),
            spec("wifi_wpa3", "Use WPA3", Kind::Bool, Some("no"), "Wi-Fi", "50wifi",
                "Turn on for networks that require WPA3 (SAE)."),
            spec("wifi_sae_pwe", "WPA3 password method", Kind::Enum { values: vec!["0".into(), "1".into(), "2".into()] }, None, "Wi-Fi", "50wifi",
                "Advanced: how WPA3 derives the key (0 = hunting-and-pecking, 1 = hash-to-element, 2 = both). Unset uses 2 with WPA3."),
            spec("wifi_country", "Wi-Fi country", Kind::CountryCode, None, "Wi-Fi", "50wifi",
                "The country you are in, as two capital letters (e.g. `US`, `DE`, `JP`), so the allowed Wi-Fi channels are used."),
            spec("wifi_systemd_config_file", "Wi-Fi network file name", Kind::FileName, Some("54-wlan.network"), "Wi-Fi", "50wifi",
                "Advanced: the file name written under /etc/systemd/network."),
            spec("wifi_mdns", "Announce on Wi-Fi (mDNS)", Kind::Bool, Some("yes"), "Wi-Fi", "50wifi",
                "Let other computers find this one as `<name>.local` on the Wi-Fi network."),
            spec("wifi_llmnr", "Windows name lookup on Wi-Fi (LLMNR)", Kind::Bool, Some("yes"), "Wi-Fi", "50wifi",
                "Let Windows computers find this one by name on the Wi-Fi network."),
            spec("wifi_ignore_dns", "Ignore Wi-Fi DNS servers", Kind::Bool, Some("no"), "Wi-Fi", "50wifi",
                "Advanced: do not use the name servers offered by the Wi-Fi network."),
            spec("wifi_ignore_gateway", "Ignore Wi-Fi gateway", Kind::Bool, Some("no"), "Wi-Fi", "50wifi",
                "Advanced: do not route traffic through the Wi-Fi network's router (useful when another network provides the internet)."),
            spec("wifi_required_for_online", "Wait for Wi-Fi at boot", Kind::String, None, "Wi-Fi", "50wifi",
                "Advanced: systemd's RequiredForOnline= for the Wi-Fi link, e.g. `no` or `routable`."),
            spec("ip_address", "Fixed IPv4 address", Kind::Ipv4Cidr, None, "Network", "90network",
                "A fixed address for the wired network with its prefix length, e.g. `192.168.1.10/24`. Unset: the address is obtained automatically (DHCP)."),
            spec("ip_gateway", "IPv4 gateway", Kind::Ipv4Address, None, "Network", "90network",
                "The router for the fixed IPv4 address, e.g. `192.168.1.1`."),
            spec("dns", "DNS servers", Kind::IpAddresses, None, "Network", "90network",
                "Name servers for the fixed address, separated by spaces, e.g. `192.168.1.1 1.1.1.1`."),
            spec("ip6_address", "Fixed IPv6 address", Kind::Ipv6Cidr, None, "Network", "90network",
                "A fixed IPv6 address with prefix length, e.g. `2001:db8::10/64`. Unset: automatic."),
            spec("ip6_gateway", "IPv6 gateway", Kind::Ipv6Address, None, "Network", "90network",
                "The IPv6 router, e.g. `fe80::1`."),
            spec("dns6", "IPv6 DNS servers", Kind::IpAddresses, None, "Network", "90network",
                "IPv6 name servers separated by spaces."),
        ];
        Schema { keys }
    }
}

fn spec(
    key: &str,
    title: &str,
    kind: Kind,
    default: Option<&str>,
    group: &str,
    module: &str,
    help: &str,
) -> KeySpec {
    KeySpec {
        section: DEFAULT_SECTION.to_string(),
        key: key.to_string(),
        title: title.to_string(),
        kind,
        default: default.map(str::to_string),
        help: help.to_string(),
        module: module.to_string(),
        applied_every_boot: true,
        group: group.to_string(),
    }
}
