//! `wifi_*`: joins a Wi-Fi network with wpa_supplicant and systemd-networkd.
//!
//! Writes `/etc/wpa_supplicant/wpa_supplicant.conf` (mode 0600: it holds the password), a
//! `.network` file for wireless links, and the regulatory domain for `wifi_country`. The
//! SSID is written in hex and passwords in quotes, so any character is safe; values that
//! cannot be represented (line breaks, control characters) are reported and skipped.

use genpack_ini::Document;

use super::Outcome;
use crate::context::Context;
use crate::error::ModuleError;
use crate::fsops::write_file;
use crate::systemd::enable_unit;

/// Keys read by this module.
pub const KEYS: &[&str] = &[
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
];

const WPA_CONF: &str = "etc/wpa_supplicant/wpa_supplicant.conf";
const REGDOM: &str = "etc/modprobe.d/ieee80211_regdom.conf";
const HEADER: &str = "# Written by genpack-init from system.ini (wifi_*); change it there.\n";
const SERVICES: &[&str] = &["wpa_supplicant_any80211.service", "wpa_supplicant.service"];

pub fn apply(ctx: &Context, ini: &Document) -> Result<Outcome, ModuleError> {
    let mut out = Outcome::default();
    let Some(ssid) = out.line_value(ini, "wifi_ssid") else {
        return Ok(out);
    };
    if ssid.len() > 32 {
        out.warn("wifi_ssid: a Wi-Fi network name has at most 32 bytes; Wi-Fi not configured");
        return Ok(out);
    }
    let key = out.line_value(ini, "wifi_key");
    if key
        .as_deref()
        .is_some_and(|k| k.chars().any(char::is_control))
    {
        out.warn("wifi_key contains control characters; Wi-Fi not configured");
        return Ok(out);
    }
    let wpa3 = out.bool_value(ini, "wifi_wpa3").unwrap_or(false);
    let sae_pwe = match out.line_value(ini, "wifi_sae_pwe") {
        Some(v) if matches!(v.as_str(), "0" | "1" | "2") => Some(v),
        Some(v) => {
            out.warn(format!(
                "wifi_sae_pwe must be 0, 1 or 2, not `{v}`; skipped"
            ));
            wpa3.then(|| "2".to_string())
        }
        None => wpa3.then(|| "2".to_string()),
    };
    let country = match out.line_value(ini, "wifi_country") {
        Some(c) if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()) => Some(c),
        Some(c) => {
            out.warn(format!(
                "wifi_country: `{c}` is not two capital letters such as DE; skipped"
            ));
            None
        }
        None => None,
    };
    let file_name = match out.line_value(ini, "wifi_systemd_config_file") {
        Some(f) if !f.contains('/') && f.ends_with(".network") && !f.starts_with('.') => f,
        Some(f) => {
            out.warn(format!(
                "wifi_systemd_config_file: `{f}` must be a file name ending in .network; using 54-wlan.network"
            ));
            "54-wlan.network".into()
        }
        None => "54-wlan.network".into(),
    };
    let mdns = out.bool_value(ini, "wifi_mdns").unwrap_or(true);
    let llmnr = out.bool_value(ini, "wifi_llmnr").unwrap_or(true);
    let ignore_dns = out.bool_value(ini, "wifi_ignore_dns").unwrap_or(false);
    let ignore_gateway = out.bool_value(ini, "wifi_ignore_gateway").unwrap_or(false);
    let required_for_online = match out.line_value(ini, "wifi_required_for_online") {
        Some(v)
            if v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '-') =>
        {
            Some(v)
        }
        Some(v) => {
            out.warn(format!(
                "wifi_required_for_online: `{v}` is not a RequiredForOnline= value; skipped"
            ));
            None
        }
        None => None,
    };

    // wpa_supplicant.conf
    let mut wpa = String::from(HEADER);
    wpa.push_str("ctrl_interface=DIR=/run/wpa_supplicant\n");
    if let Some(c) = &country {
        wpa.push_str(&format!("country={c}\n"));
    }
    if let Some(p) = &sae_pwe {
        wpa.push_str(&format!("sae_pwe={p}\n"));
    }
    wpa.push_str("\nnetwork={\n");
    wpa.push_str(&format!("\tssid={}\n", hex(ssid.as_bytes())));
    match (&key, wpa3) {
        (None, _) => {
            out.warn("wifi_key is not set: joining an open (unencrypted) network");
            wpa.push_str("\tkey_mgmt=NONE\n");
        }
        (Some(k), true) => {
            wpa.push_str("\tkey_mgmt=SAE\n");
            wpa.push_str(&format!("\tsae_password=\"{k}\"\n"));
            wpa.push_str("\tieee80211w=2\n");
        }
        (Some(k), false) => {
            if k.len() == 64 && k.chars().all(|c| c.is_ascii_hexdigit()) {
                wpa.push_str(&format!("\tpsk={k}\n"));
            } else if (8..=63).contains(&k.len()) && k.is_ascii() {
                wpa.push_str(&format!("\tpsk=\"{k}\"\n"));
            } else {
                out.warn(
                    "wifi_key: a WPA2 password has 8 to 63 plain characters; Wi-Fi not configured",
                );
                return Ok(out);
            }
        }
    }
    wpa.push_str("}\n");
    out.push(write_file(
        ctx,
        WPA_CONF,
        wpa.as_bytes(),
        0o600,
        format!("Wi-Fi network {ssid}"),
    )?);

    // .network for wireless links
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut net = String::from(HEADER);
    net.push_str("[Match]\nType=wlan\nWLANInterfaceType=station\n");
    net.push_str(&format!("SSID={}\n", systemd_match_literal(&ssid)));
    if let Some(r) = &required_for_online {
        net.push_str(&format!("\n[Link]\nRequiredForOnline={r}\n"));
    }
    net.push_str(&format!(
        "\n[Network]\nDHCP=yes\nMulticastDNS={}\nLLMNR={}\n",
        yes_no(mdns),
        yes_no(llmnr)
    ));
    let mut dhcp4 = Vec::new();
    let mut dhcp6 = Vec::new();
    let mut ra = Vec::new();
    if ignore_dns {
        dhcp4.push("UseDNS=no");
        dhcp6.push("UseDNS=no");
        ra.push("UseDNS=no");
    }
    if ignore_gateway {
        dhcp4.push("UseRoutes=no");
        ra.push("UseGateway=no");
    }
    for (section, lines) in [
        ("DHCPv4", &dhcp4),
        ("DHCPv6", &dhcp6),
        ("IPv6AcceptRA", &ra),
    ] {
        if !lines.is_empty() {
            net.push_str(&format!("\n[{section}]\n{}\n", lines.join("\n")));
        }
    }
    let net_rel = format!("etc/systemd/network/{file_name}");
    out.push(write_file(
        ctx,
        &net_rel,
        net.as_bytes(),
        0o644,
        "Wi-Fi link settings",
    )?);

    if let Some(c) = &country {
        let conf = format!("{HEADER}options cfg80211 ieee80211_regdom={c}\n");
        out.push(write_file(
            ctx,
            REGDOM,
            conf.as_bytes(),
            0o644,
            format!("Wi-Fi country {c}"),
        )?);
    }

    let mut enabled = false;
    for service in SERVICES {
        if let Some(changes) = enable_unit(ctx, service)? {
            out.changes.extend(changes);
            enabled = true;
            break;
        }
    }
    if !enabled {
        out.warn("no wpa_supplicant service in this image; Wi-Fi settings were written but nothing will use them");
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An SSID as one literal item of a systemd match list: glob characters escaped for
/// fnmatch, then quoted and C-escaped for the unit-file parser.
fn systemd_match_literal(ssid: &str) -> String {
    let mut glob = String::new();
    for c in ssid.chars() {
        if "*?[]\\".contains(c) {
            glob.push('\\');
        }
        glob.push(c);
    }
    let mut quoted = String::from("\"");
    for c in glob.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssid_literals_escape_globs_and_quotes() {
        assert_eq!(systemd_match_literal("Home WLAN"), "\"Home WLAN\"");
        assert_eq!(systemd_match_literal("a\"b*"), "\"a\\\"b\\\\*\"");
        assert_eq!(hex(b"ab"), "6162");
    }
}
