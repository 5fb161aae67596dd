//! `hostname`: writes /etc/hostname.

use genpack_ini::{check_hostname, Document};

use super::Outcome;
use crate::context::Context;
use crate::error::ModuleError;
use crate::fsops::write_file;

pub fn apply(ctx: &Context, ini: &Document) -> Result<Outcome, ModuleError> {
    let mut out = Outcome::default();
    let Some(name) = out.line_value(ini, "hostname") else {
        return Ok(out);
    };
    if let Some(problem) = check_hostname(&name) {
        out.warn(format!("hostname: {problem}; skipped"));
        return Ok(out);
    }
    let change = write_file(
        ctx,
        "etc/hostname",
        format!("{name}\n").as_bytes(),
        0o644,
        format!("hostname {name}"),
    )?;
    out.push(change);
    Ok(out)
}
