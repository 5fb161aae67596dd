//! `locale`: writes /etc/locale.conf.

use genpack_ini::Document;

use super::Outcome;
use crate::context::Context;
use crate::error::ModuleError;
use crate::fsops::write_file;

pub fn apply(ctx: &Context, ini: &Document) -> Result<Outcome, ModuleError> {
    let mut out = Outcome::default();
    let Some(locale) = out.line_value(ini, "locale") else {
        return Ok(out);
    };
    let ok = locale
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-@".contains(c));
    if !ok {
        out.warn(format!(
            "locale: `{locale}` is not a locale name such as en_US.UTF-8; skipped"
        ));
        return Ok(out);
    }
    let change = write_file(
        ctx,
        "etc/locale.conf",
        format!("LANG={locale}\n").as_bytes(),
        0o644,
        format!("LANG={locale}"),
    )?;
    out.push(change);
    Ok(out)
}
