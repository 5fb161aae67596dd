//! Loads a definition folder, prints its diagnostics and the effective definition as JSON.
//!
//! ```text
//! cargo run -p genpack-def --example effective -- DIR [ARCH] [VARIANT]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use genpack_def::{Arch, Project};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: effective DIR [ARCH] [VARIANT]");
        return ExitCode::from(2);
    };
    let arch = match args.next().map(|a| a.parse::<Arch>()) {
        Some(Ok(arch)) => arch,
        Some(Err(err)) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
        None => Arch::host().unwrap_or(Arch::X86_64),
    };
    let variant = args.next();
    let started = std::time::Instant::now();
    let project = match Project::load(&dir) {
        Ok(project) => project,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "loaded {} in {:?}",
        project.file.display(),
        started.elapsed()
    );
    for diagnostic in &project.diagnostics {
        eprintln!("{diagnostic}");
    }
    match project.effective(arch, variant.as_deref()) {
        Ok(effective) => match serde_json::to_string_pretty(&effective) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("cannot print the result: {err}");
                ExitCode::FAILURE
            }
        },
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
