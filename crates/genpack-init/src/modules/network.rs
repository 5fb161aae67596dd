//! Wired networking: DHCP by default, or fixed addresses from system.ini.
//!
//! The file `/etc/systemd/network/50-default.network` is ours. With `ip_address` or
//! `ip6_address` set it holds the fixed configuration; otherwise it configures DHCP on
//! Ethernet links, unless the image or the administrator provided their own `.network` or
//! `.netdev` files, or NetworkManager is enabled (then it is removed if we wrote it).

use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};

use genpack_ini::{check_cidr, split_list, Document};

use super::Outcome;
use crate::context::Context;
use crate::error::ModuleError;
use crate::fsops::{remove_file, write_file};

/// Keys read by this module.
pub const KEYS: &[&str] = &[
    "ip_address",
    "ip_gateway",
    "dns",
    "ip6_address",
    "ip6_gateway",
    "dns6",
];

const FILE: &str = "etc/systemd/network/50-default.network";
const MARKER: &str = "# Written by genpack-init";
const HEADER: &str =
    "# Written by genpack-init from system.ini (ip_address, dns, ...); change it there.\n";

pub fn apply(ctx: &Context, ini: &Document) -> Result<Outcome, ModuleError> {
    let mut out = Outcome::default();
    let v4 = checked(&mut out, ini, "ip_address", |v| {
        check_cidr(v, false).is_none()
    });
    let v6 = checked(&mut out, ini, "ip6_address", |v| {
        check_cidr(v, true).is_none()
    });
    let gw4 = checked(&mut out, ini, "ip_gateway", |v| {
        v.parse::<Ipv4Addr>().is_ok()
    });
    let gw6 = checked(&mut out, ini, "ip6_gateway", |v| {
        v.parse::<Ipv6Addr>().is_ok()
    });
    let dns = addresses(&mut out, ini, "dns");
    let dns6 = addresses(&mut out, ini, "dns6");

    let mut network = String::new();
    if v4.is_none() && v6.is_none() {
        if others_configure_network(ctx) {
            let ours = fs::read_to_string(ctx.path(FILE)).is_ok_and(|t| t.starts_with(MARKER));
            if ours {
                out.push(remove_file(
                    ctx,
                    FILE,
                    "other network configuration present",
                )?);
            }
            return Ok(out);
        }
        network.push_str("DHCP=yes\n");
    } else {
        let dhcp = match (&v4, &v6) {
            (Some(_), Some(_)) => "no",
            (Some(_), None) => "ipv6",
            _ => "ipv4",
        };
        network.push_str(&format!("DHCP={dhcp}\n"));
        for a in v4.iter().chain(v6.iter()) {
            network.push_str(&format!("Address={a}\n"));
        }
        for g in gw4.iter().chain(gw6.iter()) {
            network.push_str(&format!("Gateway={g}\n"));
        }
    }
    for d in dns.iter().chain(dns6.iter()) {
        network.push_str(&format!("DNS={d}\n"));
    }
    let mdns = if ctx
        .path("etc/systemd/system/multi-user.target.wants/avahi-daemon.service")
        .exists()
    {
        "no"
    } else {
        "yes"
    };
    let text = format!(
        "{HEADER}[Match]\nType=ether\nDriver=!veth\n\n[Network]\n{network}LLMNR=yes\nMulticastDNS={mdns}\n"
    );
    let summary = match &v4 {
        Some(a) => format!("wired network, fixed address {a}"),
        None if v6.is_some() => "wired network, fixed IPv6 address".to_string(),
        None => "wired network by DHCP".to_string(),
    };
    out.push(write_file(ctx, FILE, text.as_bytes(), 0o644, summary)?);
    Ok(out)
}

fn checked(
    out: &mut Outcome,
    ini: &Document,
    key: &str,
    ok: impl Fn(&str) -> bool,
) -> Option<String> {
    let v = out.line_value(ini, key)?;
    if ok(&v) {
        Some(v)
    } else {
        out.warn(format!("{key}: `{v}` is not a valid address; skipped"));
        None
    }
}

fn addresses(out: &mut Outcome, ini: &Document, key: &str) -> Vec<String> {
    let Some(v) = out.value(ini, key) else {
        return Vec::new();
    };
    split_list(&v)
        .filter_map(|a| {
            if a.parse::<std::net::IpAddr>().is_ok() {
                Some(a.to_string())
            } else {
                out.warn(format!("{key}: `{a}` is not an IP address; skipped"));
                None
            }
        })
        .collect()
}

/// Whether someone else configures networking: NetworkManager, or `.network`/`.netdev`
/// files in /etc/systemd/network that we did not write.
fn others_configure_network(ctx: &Context) -> bool {
    let nm = ctx.path("etc/systemd/system/multi-user.target.wants/NetworkManager.service");
    if fs::symlink_metadata(nm).is_ok() {
        return true;
    }
    let Ok(entries) = fs::read_dir(ctx.path("etc/systemd/network")) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        (name.ends_with(".network") || name.ends_with(".netdev"))
            && !fs::read_to_string(e.path()).is_ok_and(|t| t.starts_with(MARKER))
    })
}
