//! `timezone`: points /etc/localtime at the zone under /usr/share/zoneinfo.

use genpack_ini::{is_zone_name_shape, Document};

use super::Outcome;
use crate::context::Context;
use crate::error::ModuleError;
use crate::fsops::make_symlink;

pub fn apply(ctx: &Context, ini: &Document) -> Result<Outcome, ModuleError> {
    let mut out = Outcome::default();
    let Some(zone) = out.line_value(ini, "timezone") else {
        return Ok(out);
    };
    let zone_file = ctx.path("usr/share/zoneinfo").join(&zone);
    if !is_zone_name_shape(&zone) || !zone_file.is_file() {
        out.warn(format!(
            "timezone: `{zone}` is not a time zone of this image (no /usr/share/zoneinfo/{zone}); skipped"
        ));
        return Ok(out);
    }
    let target = format!("../usr/share/zoneinfo/{zone}");
    out.push(make_symlink(
        ctx,
        "etc/localtime",
        &target,
        format!("time zone {zone}"),
    )?);
    Ok(out)
}
