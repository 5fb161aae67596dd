//! Enabling systemd units offline, the way `systemctl enable` does: a symlink in the
//! `.wants/` (or `.requires/`) directory of each target named in the unit's `[Install]`.

use std::fs;

use crate::context::{Change, Context};
use crate::error::ModuleError;
use crate::fsops::make_symlink;

const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// Enables `unit` (e.g. `wpa_supplicant.service`). Returns `Ok(None)` when the image has
/// no such unit.
pub fn enable_unit(ctx: &Context, unit: &str) -> Result<Option<Vec<Change>>, ModuleError> {
    let Some((dir, text)) = UNIT_DIRS.iter().find_map(|d| {
        fs::read_to_string(ctx.path(d).join(unit))
            .ok()
            .map(|t| (*d, t))
    }) else {
        return Ok(None);
    };
    let mut changes = Vec::new();
    let target_path = format!("/{dir}/{unit}");
    let mut in_install = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_install = line == "[Install]";
            continue;
        }
        if !in_install {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let suffix = match key.trim() {
            "WantedBy" => "wants",
            "RequiredBy" => "requires",
            _ => continue,
        };
        for target in value.split_whitespace() {
            let link = format!("etc/systemd/system/{target}.{suffix}/{unit}");
            changes.extend(make_symlink(
                ctx,
                &link,
                &target_path,
                format!("enable {unit}"),
            )?);
        }
    }
    Ok(Some(changes))
}
