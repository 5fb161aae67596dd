//! What the `genpack` command's tests share.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `genpack` binary of this build in `dir`, without colours, on this checkout's
/// templates.
pub fn genpack(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genpack"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env(
            "GENPACK_TEMPLATES",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates"),
        )
        .output()
        .expect("the genpack binary runs")
}
