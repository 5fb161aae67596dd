//! `autologin`: `yes` logs root in automatically on tty1 and the serial console ttyS0;
//! `no` removes that again; unset leaves everything as it is.

use genpack_ini::Document;

use super::Outcome;
use crate::context::Context;
use crate::error::ModuleError;
use crate::fsops::{remove_file, write_file};

const TTY1: &str = "etc/systemd/system/getty@tty1.service.d/genpack-autologin.conf";
const SERIAL: &str = "etc/systemd/system/serial-getty@ttyS0.service.d/genpack-autologin.conf";
/// The drop-in name older images used; removed when autologin is turned off.
const LEGACY: &str =
    "etc/systemd/system/getty@tty1.service.d/autologin-configured-by-overlay-init.conf";

const TTY1_CONF: &str = "# Written by genpack-init from system.ini (autologin); change it there.\n\
[Service]\n\
ExecStart=\n\
ExecStart=-/sbin/agetty --autologin root --noclear %I 38400 linux\n";

const SERIAL_CONF: &str =
    "# Written by genpack-init from system.ini (autologin); change it there.\n\
[Service]\n\
ExecStart=\n\
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM\n";

pub fn apply(ctx: &Context, ini: &Document) -> Result<Outcome, ModuleError> {
    let mut out = Outcome::default();
    match out.bool_value(ini, "autologin") {
        Some(true) => {
            out.push(write_file(
                ctx,
                TTY1,
                TTY1_CONF.as_bytes(),
                0o644,
                "autologin on tty1",
            )?);
            out.push(write_file(
                ctx,
                SERIAL,
                SERIAL_CONF.as_bytes(),
                0o644,
                "autologin on ttyS0",
            )?);
        }
        Some(false) => {
            for rel in [TTY1, SERIAL, LEGACY] {
                out.push(remove_file(ctx, rel, "autologin off")?);
            }
        }
        None => {}
    }
    Ok(out)
}
