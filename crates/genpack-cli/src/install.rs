//! `genpack install`: put an image on a disk, a disk image file, an ISO or a ZIP.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use genpack_install::layout::PartitionTable;
use genpack_install::{
    install_to_disk_image, make_iso, make_zip, InstallError, InstallOptions, IsoOptions, Layout,
    ZipOptions,
};
use genpack_install::{EfiPlatform, LoaderOrigin};

use crate::build::human_bytes;
use crate::report::Failure;

#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("target").required(true).multiple(true).args(["disk", "cdrom", "zip"])
))]
#[command(group(clap::ArgGroup::new("layout").args(["gpt", "mbr", "superfloppy"])))]
pub struct Args {
    /// The image to install (a .squashfs built by `genpack build`).
    image: PathBuf,
    /// Disk to write: a block device, an existing disk image file (keeps its size) or a new
    /// file (sized to fit). `--disk list` shows the drives that may be written.
    #[arg(long, value_name = "DEVICE|FILE|list")]
    disk: Option<PathBuf>,
    /// Allow an internal (non-removable) disk; you are asked to type its name.
    #[arg(long)]
    all: bool,
    /// Also (or instead) write a hybrid ISO that boots as a CD and from a USB stick.
    #[arg(long, value_name = "OUT.iso")]
    cdrom: Option<PathBuf>,
    /// Also (or instead) write a ZIP to unpack onto a FAT-formatted stick.
    #[arg(long, value_name = "OUT.zip")]
    zip: Option<PathBuf>,
    /// system.ini to put next to the image.
    #[arg(long, value_name = "FILE")]
    system_ini: Option<PathBuf>,
    /// system.cfg (a GRUB script that may set LINUX_ARGS) to put next to the image.
    #[arg(long, value_name = "FILE")]
    system_cfg: Option<PathBuf>,
    /// GPT partition table (default: MBR up to 2 TiB, GPT above).
    #[arg(long)]
    gpt: bool,
    /// MBR partition table.
    #[arg(long)]
    mbr: bool,
    /// No partition table: FAT32 over the whole disk (UEFI boot only).
    #[arg(long)]
    superfloppy: bool,
    /// Add a btrfs data partition for the writable layer (always added for images of
    /// 4 GiB or more, which are stored there).
    #[arg(long)]
    data_partition: bool,
    /// Size of a new disk image file, in MiB.
    #[arg(long, value_name = "MIB")]
    size_mib: Option<u64>,
    /// Logical sector size of the disk a new image file is meant for: 512 (most disks, the
    /// default) or 4096 (a "4Kn" disk: some NVMe drives and USB-attached disks; such an image
    /// gets GPT and boots with UEFI only). A block device's own sector size is always used.
    #[arg(long, value_name = "512|4096", value_parser = parse_sector_size)]
    sector_size: Option<u64>,
    /// Boot partition label (at most 11 characters) or ISO volume id.
    #[arg(long)]
    label: Option<String>,
    /// Do not ask before overwriting an existing disk or file.
    #[arg(short = 'y', long)]
    yes: bool,
}

/// `--sector-size`: the logical sector sizes disks are written for.
fn parse_sector_size(value: &str) -> Result<u64, String> {
    match value {
        "512" => Ok(512),
        "4096" => Ok(4096),
        _ => Err("a disk's logical sector size is 512 or 4096 (bytes)".into()),
    }
}

impl From<InstallError> for Failure {
    fn from(error: InstallError) -> Self {
        let hint = match &error {
            InstallError::TooSmall { .. } => {
                Some("use a larger disk, or for a new image file a larger --size-mib")
            }
            InstallError::FileTooLarge { .. } => Some("use --mbr or --gpt (not --superfloppy)"),
            InstallError::BadImage { .. } => Some("build the image with `genpack build` first"),
            InstallError::Io { .. } => Some("check the path, free space and permissions"),
            InstallError::PartitionTable { .. } => Some("check that the disk is writable"),
            _ => None,
        };
        let failure = Failure::new(&error);
        match hint {
            Some(hint) => failure.hint(hint),
            None => failure,
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    if args.disk.as_deref() == Some(Path::new("list")) && !Path::new("list").exists() {
        return list_drives(args.all);
    }
    if args.label.as_ref().is_some_and(|l| l.len() > 11) {
        return Err(Failure::new("--label takes at most 11 characters")
            .hint("FAT volume labels are short, e.g. --label GENPACK"));
    }
    if let Some(disk) = args.disk.as_deref().filter(|d| is_block_device(d)) {
        if !confirm_drive(disk, args.all, args.yes)? {
            eprintln!("Nothing was written.");
            return Ok(ExitCode::FAILURE);
        }
    }
    let files = [&args.disk, &args.cdrom, &args.zip]
        .into_iter()
        .flatten()
        .filter(|out| !is_block_device(out));
    for out in files {
        if out.exists() && !args.yes && !confirm_overwrite(out)? {
            eprintln!("Nothing was written.");
            return Ok(ExitCode::FAILURE);
        }
    }
    if let Some(disk) = &args.disk {
        write_disk(&args, disk)?;
    }
    if let Some(iso) = &args.cdrom {
        let report = make_iso(
            &args.image,
            iso,
            &IsoOptions {
                system_ini: args.system_ini.clone(),
                system_cfg: args.system_cfg.clone(),
                label: args.label.clone(),
            },
        )?;
        println!(
            "Wrote {} ({}): boots as a CD and, written to a USB stick, as a disk (BIOS and UEFI).",
            report.iso.display(),
            human_bytes(report.size)
        );
    }
    if let Some(zip) = &args.zip {
        let report = make_zip(
            &args.image,
            zip,
            &ZipOptions {
                system_ini: args.system_ini.clone(),
                system_cfg: args.system_cfg.clone(),
            },
        )?;
        println!(
            "Wrote {} ({}): unpack it onto a FAT32 stick to boot it through UEFI.",
            report.archive.display(),
            human_bytes(report.size)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn write_disk(args: &Args, disk: &Path) -> Result<(), Failure> {
    let layout = if args.gpt {
        Layout::Gpt
    } else if args.mbr {
        Layout::Mbr
    } else if args.superfloppy {
        Layout::Superfloppy
    } else {
        Layout::Auto
    };
    let report = install_to_disk_image(
        &args.image,
        disk,
        &InstallOptions {
            system_ini: args.system_ini.clone(),
            system_cfg: args.system_cfg.clone(),
            size: args.size_mib.map(|mib| mib * 1024 * 1024),
            label: args.label.clone(),
            layout,
            data_partition: args.data_partition,
            sector_size: args.sector_size,
        },
    )?;
    let table = match report.table {
        Some(PartitionTable::Mbr) => "MBR",
        Some(PartitionTable::Gpt) => "GPT",
        None => "superfloppy",
    };
    println!(
        "Wrote {} ({}, {table}): boot partition {} at offset {}.",
        report.disk.display(),
        human_bytes(report.disk_size),
        report.volume_id,
        report.partition_offset
    );
    if let (Some(data), Some(label)) = (report.data_partition, &report.data_label) {
        println!(
            "Data partition {label}: {} at offset {}.",
            human_bytes(data.size),
            data.offset
        );
    }
    if report.system_on_data {
        println!(
            "The image is 4 GiB or larger, too large for FAT32: it is stored on the data partition as `system`."
        );
    }
    let boots = if report.bios_boot {
        "BIOS and UEFI"
    } else {
        "UEFI"
    };
    let loaders: Vec<String> = report
        .efi_loaders
        .iter()
        .map(|(platform, origin)| {
            let from = match origin {
                LoaderOrigin::Image => "the image's",
                LoaderOrigin::Host => "this machine's",
            };
            format!("{} from {from} GRUB", platform.file_name())
        })
        .collect();
    println!("Boots with {boots} ({}).", loaders.join(", "));
    // `genpack vm` runs x86_64 guests from disk images.
    let vm_can_boot_it = report
        .efi_loaders
        .iter()
        .any(|(platform, _)| *platform == EfiPlatform::X86_64);
    if vm_can_boot_it {
        println!(
            "Try it: genpack vm run {} --firmware uefi",
            report.disk.display()
        );
    }
    Ok(())
}

fn is_block_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device())
}

/// `--disk list`: the drives that may be written, and how many internal ones are hidden.
fn list_drives(all: bool) -> Result<ExitCode, Failure> {
    let drives = genpack_drive::drives::list().map_err(|error| {
        Failure::new(format!("cannot list drives: {error}"))
            .hint("udev must be running; pass a device path to --disk instead")
    })?;
    let mut hidden = 0;
    let mut shown = 0;
    for drive in &drives {
        match drive.refusal(all) {
            None => {
                shown += 1;
                println!("{}	{}", drive.path.display(), drive.description());
            }
            Some(genpack_drive::Refusal::Fixed) => hidden += 1,
            Some(_) => {}
        }
    }
    if shown == 0 {
        println!("No drive can be written: plug in a USB stick or SD card (and unmount it).");
    }
    if hidden > 0 {
        println!("{hidden} internal disk(s) not shown; --all shows them.");
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks that the block device `disk` may be written (never the disk holding `/`, nothing
/// mounted or read-only; internal disks only with `--all`) and asks the user, naming the
/// drive and its size. An internal disk is confirmed by typing its name.
fn confirm_drive(disk: &Path, all: bool, yes: bool) -> Result<bool, Failure> {
    let drive = genpack_drive::drives::probe(disk)
        .map_err(|error| Failure::new(format!("{}: {error}", disk.display())))?;
    if let Some(refusal) = drive.refusal(all) {
        let failure = Failure::new(format!(
            "refusing to write {}: {refusal}",
            drive.description()
        ));
        return Err(match refusal {
            genpack_drive::Refusal::Fixed => {
                failure.hint("pass --all to write an internal disk (you will type its name)")
            }
            _ => failure
                .hint("`genpack install IMAGE --disk list` shows the drives that can be written"),
        });
    }
    if yes {
        return Ok(true);
    }
    let name = drive.name.clone();
    if drive.removable {
        let answer = ask(
            &format!("Erase everything on {}? [y/N] ", drive.description()),
            &format!("{} would be erased", drive.description()),
        )?;
        Ok(is_yes(&answer))
    } else {
        let answer = ask(
            &format!(
                "{} is an internal disk. Type its name ({name}) to erase everything on it: ",
                drive.description()
            ),
            &format!("{} would be erased", drive.description()),
        )?;
        Ok(answer == name)
    }
}

/// Asks on the terminal; without one, refuses (pass -y in scripts).
fn confirm_overwrite(target: &Path) -> Result<bool, Failure> {
    let answer = ask(
        &format!(
            "{} exists. Overwrite everything on it? [y/N] ",
            target.display()
        ),
        &format!("{} exists and would be overwritten", target.display()),
    )?;
    Ok(is_yes(&answer))
}

/// Shows `question` on the terminal and returns the answer, trimmed. Without a terminal,
/// fails with `unattended` and the hint to pass -y.
fn ask(question: &str, unattended: &str) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(unattended).hint("pass -y to confirm"));
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| Failure::new(format!("cannot read the answer: {error}")))?;
    Ok(answer.trim().to_string())
}

fn is_yes(answer: &str) -> bool {
    matches!(answer, "y" | "Y" | "yes")
}
