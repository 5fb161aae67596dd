//! `genpack ini get|set|edit`: system.ini on a stick, disk or disk image, without mounting it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use genpack_install::boot_ini::{
    read_system_ini, read_system_ini_text, replace_system_ini, set_system_ini_value, BootIniError,
    IniWrite, DEFAULT_SECTION, SYSTEM_INI_BACKUP,
};
use genpack_install::BootPartitionError;

use crate::report::{output, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: IniCommand,
}

#[derive(Debug, Subcommand)]
enum IniCommand {
    /// Print system.ini, or the value of one key.
    Get {
        /// The stick, disk (e.g. /dev/sdb) or disk image file.
        disk: PathBuf,
        /// The key; without it the whole file is printed.
        key: Option<String>,
        /// The section of the key (keys before any [section] header by default).
        #[arg(long, default_value = DEFAULT_SECTION)]
        section: String,
    },
    /// Set one key, keeping comments and every other line as they are.
    Set {
        /// The stick, disk (e.g. /dev/sdb) or disk image file.
        disk: PathBuf,
        /// The key.
        key: String,
        /// The new value.
        value: String,
        /// The section of the key (keys before any [section] header by default).
        #[arg(long, default_value = DEFAULT_SECTION)]
        section: String,
    },
    /// Open system.ini in $VISUAL or $EDITOR and write it back when it changed.
    Edit {
        /// The stick, disk (e.g. /dev/sdb) or disk image file.
        disk: PathBuf,
    },
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    match args.command {
        IniCommand::Get { disk, key, section } => get(&disk, key.as_deref(), &section),
        IniCommand::Set {
            disk,
            key,
            value,
            section,
        } => {
            let write = set_system_ini_value(&disk, &section, &key, &value).map_err(failure)?;
            report_write(&disk, &write);
            Ok(ExitCode::SUCCESS)
        }
        IniCommand::Edit { disk } => edit(&disk),
    }
}

fn get(disk: &Path, key: Option<&str>, section: &str) -> Result<ExitCode, Failure> {
    let Some(key) = key else {
        let text = read_system_ini_text(disk).map_err(failure)?;
        return match text {
            Some(text) => {
                output(text.trim_end_matches('\n'))?;
                Ok(ExitCode::SUCCESS)
            }
            None => Err(
                Failure::new(format!("{} has no system.ini", disk.display())).hint(format!(
                    "create one with `genpack ini set {} hostname NAME`",
                    disk.display()
                )),
            ),
        };
    };
    let doc = read_system_ini(disk).map_err(failure)?;
    match doc.get(section, key) {
        Some(value) => {
            output(&value)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "{key} is not set in [{section}] of system.ini on {}",
                disk.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn edit(disk: &Path) -> Result<ExitCode, Failure> {
    let text = read_system_ini_text(disk)
        .map_err(failure)?
        .unwrap_or_default();
    let scratch = Scratch::create(&text)?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(scratch.path())
        .status()
        .map_err(|e| Failure::new(format!("cannot start the editor `{editor}`: {e}")))?;
    if !status.success() {
        return Err(Failure::new(format!(
            "the editor `{editor}` failed ({status}); nothing was written"
        ))
        .hint("set VISUAL or EDITOR to the editor you use"));
    }
    let edited = std::fs::read_to_string(scratch.path())
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", scratch.path().display())))?;
    if edited == text {
        println!("system.ini on {} is unchanged.", disk.display());
        return Ok(ExitCode::SUCCESS);
    }
    match replace_system_ini(disk, &edited) {
        Ok(write) => {
            report_write(disk, &write);
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ BootIniError::Parse { .. }) => {
            let kept = scratch.keep();
            Err(Failure::new(error).hint(format!(
                "your text is kept in {}; fix it and run `genpack ini edit` again",
                kept.display()
            )))
        }
        Err(error) => Err(failure(error)),
    }
}

/// The text being edited, in a private file under the temporary directory; removed on drop
/// unless kept.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    fn create(text: &str) -> Result<Self, Failure> {
        use std::os::unix::fs::OpenOptionsExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("genpack-system-{}-{nanos}.ini", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Failure::new(format!("cannot create {}: {e}", path.display())))?;
        file.write_all(text.as_bytes())
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
        Ok(Self { path, keep: false })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn report_write(disk: &Path, write: &IniWrite) {
    if !write.changed {
        println!("system.ini on {} is unchanged.", disk.display());
    } else if write.backed_up {
        println!(
            "Wrote system.ini on {}; the previous text is in {SYSTEM_INI_BACKUP}.",
            disk.display()
        );
    } else {
        println!("Wrote a new system.ini on {}.", disk.display());
    }
}

fn failure(error: BootIniError) -> Failure {
    let hint = match &error {
        BootIniError::Partition(BootPartitionError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Some("run it as root (or with write access to the device)")
        }
        BootIniError::Partition(BootPartitionError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Some("check the device or file name (`lsblk` lists disks)")
        }
        BootIniError::Partition(BootPartitionError::InUse { .. }) => {
            Some("or edit system.ini where the boot partition is mounted")
        }
        BootIniError::Edit { .. } => Some("open the file with `genpack ini edit` to fix it"),
        _ => None,
    };
    let failure = Failure::new(error);
    match hint {
        Some(hint) => failure.hint(hint),
        None => failure,
    }
}
