//! `genpack install`: put an image on a disk image file.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use genpack_install::{install_to_disk_image, InstallError, InstallOptions};

use crate::build::human_bytes;
use crate::report::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to install (a .squashfs built by `genpack build`).
    image: PathBuf,
    /// Disk image file to write: an existing file keeps its size, a new one is sized to fit.
    #[arg(long, value_name = "FILE")]
    disk: PathBuf,
    /// system.ini to put on the boot partition.
    #[arg(long, value_name = "FILE")]
    system_ini: Option<PathBuf>,
    /// Size of a new disk image, in MiB.
    #[arg(long, value_name = "MIB")]
    size_mib: Option<u64>,
    /// Boot partition label (at most 11 characters).
    #[arg(long)]
    label: Option<String>,
    /// Do not ask before overwriting an existing file.
    #[arg(short = 'y', long)]
    yes: bool,
}

impl From<InstallError> for Failure {
    fn from(error: InstallError) -> Self {
        Failure::new(error)
    }
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    if args.disk.exists() && !args.yes && !confirm_overwrite(&args.disk)? {
        eprintln!("Nothing was written.");
        return Ok(ExitCode::FAILURE);
    }
    let report = install_to_disk_image(
        &args.image,
        &args.disk,
        &InstallOptions {
            system_ini: args.system_ini,
            size: args.size_mib.map(|mib| mib * 1024 * 1024),
            label: args.label,
        },
    )?;
    println!(
        "Wrote {} ({}): boot partition {} at offset {}.",
        report.disk.display(),
        human_bytes(report.disk_size),
        report.volume_id,
        report.partition_offset
    );
    println!(
        "Try it: genpack vm run {} --firmware uefi",
        report.disk.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; without one, refuses (pass -y in scripts).
fn confirm_overwrite(disk: &std::path::Path) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(format!(
            "{} exists and would be overwritten",
            disk.display()
        ))
        .hint("pass -y to confirm"));
    }
    eprint!(
        "{} exists. Overwrite everything on it? [y/N] ",
        disk.display()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| Failure::new(format!("cannot read the answer: {error}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
