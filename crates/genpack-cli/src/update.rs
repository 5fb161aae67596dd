//! `genpack self-update`: install a new image on the running system, or go back to the
//! previous one.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use genpack_install::update::{DEFAULT_BOOT_DIR, SYSTEM_CUR};
use genpack_install::{rollback, self_update, Progress, UpdateError, UpdateOptions};

use crate::report::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The new image (a .squashfs built by `genpack build`).
    #[arg(required_unless_present = "rollback", conflicts_with = "rollback")]
    image: Option<PathBuf>,
    /// Go back to the previous image instead (the one kept by the last update).
    #[arg(long)]
    rollback: bool,
    /// The mounted boot partition [default: /run/initramfs/boot, or the data partition
    /// /run/initramfs/rw when the image is stored there as `system`].
    #[arg(long, value_name = "DIR")]
    boot_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let options = match &args.boot_dir {
        Some(dir) => UpdateOptions::new(dir),
        None => UpdateOptions::running_system(),
    };
    if args.rollback {
        let report = rollback(&options).map_err(failure)?;
        if let Some(recovered) = report.recovered {
            println!("First: {recovered}.");
        }
        println!(
            "Rolled back: the image from {0} is now system.img, and the image it replaced is now {0}. Reboot to start it.",
            report.restored_from
        );
        println!("Run `genpack self-update --rollback` again to undo this.");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(image) = args.image else {
        return Err(Failure::new("no image given").hint("genpack self-update IMAGE"));
    };
    let terminal = std::io::stderr().is_terminal();
    let mut last_line = String::new();
    let mut show = |p: Progress| {
        let line = format!(
            "Copying {} of {} ({}/s)",
            genpack_util::human_size(p.bytes_done),
            genpack_util::human_size(p.bytes_total),
            genpack_util::human_size(p.bytes_per_second as u64)
        );
        if terminal {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
        }
        last_line = line;
    };
    let result = self_update(&image, &options, &mut show);
    if terminal {
        eprintln!();
    } else if !last_line.is_empty() {
        eprintln!("{last_line}");
    }
    let report = result.map_err(failure)?;
    if let Some(recovered) = report.recovered {
        println!("First: {recovered}.");
    }
    if report.removed_old {
        println!("Removed system.old to make room.");
    }
    for file in &report.refreshed {
        println!("Refreshed {file}.");
    }
    println!(
        "Installed {} as {}; the running image is kept as {SYSTEM_CUR}.",
        image.display(),
        options.image_path().display()
    );
    println!(
        "Reboot to start it. `genpack self-update --rollback` goes back to the running image."
    );
    Ok(ExitCode::SUCCESS)
}

fn failure(error: UpdateError) -> Failure {
    let hint = match &error {
        UpdateError::BadImage { .. } => {
            Some("build the image again (`genpack build`) or copy it again and compare its checksum".to_string())
        }
        UpdateError::NotABootDir { .. } => Some(format!(
            "a running genpack system has its boot partition at {DEFAULT_BOOT_DIR}; elsewhere pass --boot-dir"
        )),
        UpdateError::TooLargeForFat { .. } => {
            Some("make the image smaller, or install it to a disk with a data partition (`genpack install`)".into())
        }
        UpdateError::NoSpace { .. } => {
            Some("remove system.old (or other large files) from the boot partition and try again".into())
        }
        UpdateError::NoAtomicExchange { .. } => Some(
            "boot a kernel of Linux 6.0 or newer, or write the image with `genpack install` from another computer"
                .into(),
        ),
        UpdateError::NothingToRollBack { .. } => {
            Some("rollback needs an earlier `genpack self-update` on this system".into())
        }
        UpdateError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            Some("run it as root".into())
        }
        UpdateError::Io { .. } => None,
    };
    let failure = Failure::new(error);
    match hint {
        Some(hint) => failure.hint(hint),
        None => failure,
    }
}
