//! `genpack install`: put an image on a drive, a disk image file, an ISO or a ZIP.
//! `genpack restore`: give a stick back to everyday use.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use genpack_drive::{drives, Confirmation, Drive, Phase, Refusal, Sha256};
use genpack_install::drive::{
    inspect_image, is_block_device, restore_drive, write_to_drives, DriveControl, DriveProgress,
    DrivesWrite, ImageKind,
};
use genpack_install::layout::PartitionTable;
use genpack_install::{
    export_disk_image, install_to_disk_image, make_iso, make_zip, EfiPlatform, InstallError,
    InstallOptions, InstallReport, IsoOptions, Layout, LoaderOrigin, VolumeLabel, ZipOptions,
};
use genpack_util::human_size;

use crate::report::Failure;

#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("target").required(true).multiple(true).args(["disk", "cdrom", "zip"])
))]
#[command(group(clap::ArgGroup::new("layout").args(["gpt", "mbr", "superfloppy"])))]
pub struct Args {
    /// The image to install: a .squashfs built by `genpack build`, or (to drives only) a ZIP
    /// made by `--zip` (its image is laid out like a .squashfs) or a disk image written as it
    /// is: raw (.img, hybrid .iso) or compressed (.img.xz, .img.zst, .img.gz, decompressed
    /// while writing).
    image: PathBuf,
    /// Disk to write: a drive (e.g. /dev/sdb: written exclusively and read back to verify),
    /// an existing disk image file (keeps its size) or a new file (sized to fit). Repeat it
    /// to write several drives at once (`--disk /dev/sdb --disk /dev/sdc`).
    /// `--disk list` shows the drives that may be written.
    #[arg(long, value_name = "DEVICE|FILE|list")]
    disk: Vec<PathBuf>,
    /// The image file's SHA-256 as published (for a compressed image, of the compressed
    /// file); checked before anything is written. Without it, a `IMAGE.sha256` file beside
    /// the image is used when there is one.
    #[arg(long, value_name = "SUM")]
    sha256: Option<Sha256>,
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
    /// gets GPT and boots with UEFI only). A drive's own sector size is always used.
    #[arg(long, value_name = "512|4096", value_parser = parse_sector_size)]
    sector_size: Option<u64>,
    /// Boot partition label, also the ISO volume id: at most 11 characters, letters A-Z
    /// (stored in upper case), digits, spaces and ! # $ % & ' ( ) - @ ^ _ ` { } ~.
    #[arg(long)]
    label: Option<VolumeLabel>,
    /// Do not ask before overwriting an existing disk or file.
    #[arg(short = 'y', long)]
    yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The stick to restore, e.g. /dev/sdb.
    drive: PathBuf,
    /// Allow an internal (non-removable) disk; you are asked to type its name.
    #[arg(long)]
    all: bool,
    /// Do not ask before erasing the drive.
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
        let hint = error.hint();
        let failure = Failure::new(&error);
        match hint {
            Some(hint) => failure.hint(hint),
            None => failure,
        }
    }
}

impl Args {
    fn options(&self) -> InstallOptions {
        InstallOptions {
            system_ini: self.system_ini.clone(),
            system_cfg: self.system_cfg.clone(),
            size: self.size_mib.map(|mib| mib * 1024 * 1024),
            label: self.label.clone(),
            layout: if self.gpt {
                Layout::Gpt
            } else if self.mbr {
                Layout::Mbr
            } else if self.superfloppy {
                Layout::Superfloppy
            } else {
                Layout::Auto
            },
            data_partition: self.data_partition,
            sector_size: self.sector_size,
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    if args.disk.len() == 1 && args.disk[0] == Path::new("list") && !Path::new("list").exists() {
        return list_drives(args.all);
    }
    let (drive_paths, disk_files): (Vec<&PathBuf>, Vec<&PathBuf>) =
        args.disk.iter().partition(|disk| is_block_device(disk));
    if args.disk.len() > 1 && !disk_files.is_empty() {
        return Err(Failure::new(format!(
            "{} is not a drive: several --disk must all be drives",
            disk_files[0].display()
        ))
        .hint(
            "write image files one at a time; `genpack install IMAGE --disk list` shows the drives",
        ));
    }
    let drives = if drive_paths.is_empty() {
        Vec::new()
    } else {
        match confirm_drives(&drive_paths, args.all, args.yes)? {
            Some(drives) => drives,
            None => {
                eprintln!("Nothing was written.");
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    // The drives are checked (and confirmed) before the image is looked at.
    let kind = inspect_image(&args.image)?.kind;
    let genpack_image = kind.is_laid_out();
    if kind != ImageKind::Genpack {
        if let Some(other) = disk_files
            .first()
            .copied()
            .or(args.cdrom.as_ref())
            .or(args.zip.as_ref())
        {
            let what = if kind == ImageKind::GenpackZip {
                "a ZIP export, not a genpack image (.squashfs): it can be written to drives but cannot become"
            } else {
                "a disk image, not a genpack image (.squashfs): it is written to drives as it is and cannot become"
            };
            return Err(Failure::new(format!(
                "{} is {what} {}",
                args.image.display(),
                other.display()
            ))
            .hint("pass drives with --disk, or a .squashfs built by `genpack build`"));
        }
    }
    let files = disk_files
        .iter()
        .copied()
        .chain(&args.cdrom)
        .chain(&args.zip);
    for out in files {
        if out.exists() && !args.yes && !confirm_overwrite(out)? {
            eprintln!("Nothing was written.");
            return Ok(ExitCode::FAILURE);
        }
    }
    if !drives.is_empty() && !write_drives(&args, &drives, genpack_image)? {
        return Ok(ExitCode::FAILURE);
    }
    if let Some(disk) = disk_files.first() {
        write_disk_file(&args, disk)?;
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
            human_size(report.size)
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
            human_size(report.size)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `genpack restore DRIVE`: one FAT32 partition over the whole stick.
pub fn restore(args: RestoreArgs) -> Result<ExitCode, Failure> {
    if !is_block_device(&args.drive) {
        return Err(Failure::new(format!(
            "{} is not a drive (a block device such as /dev/sdb)",
            args.drive.display()
        ))
        .hint("`genpack install IMAGE --disk list` shows the drives that can be written"));
    }
    let Some(drive) = confirm_drive(
        &args.drive,
        args.all,
        args.yes,
        "Erase everything on and restore",
    )?
    else {
        eprintln!("Nothing was written.");
        return Ok(ExitCode::FAILURE);
    };
    let report = restore_drive(&Confirmation::for_drive(&drive), drive_control(false))?;
    finish_progress_line();
    println!(
        "Restored {}: one FAT32 partition of {} labelled {} ({}). It is ready for everyday use.",
        report.drive,
        human_size(report.partition_size),
        report.label,
        report.volume_id
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the image to every drive at once and prints one result line per drive; `false`
/// when any drive failed.
fn write_drives(args: &Args, drives: &[Drive], genpack_image: bool) -> Result<bool, Failure> {
    let request = DrivesWrite {
        image: args.image.clone(),
        drives: drives.iter().map(Confirmation::for_drive).collect(),
        options: InstallOptions {
            size: None,
            sector_size: None,
            ..args.options()
        },
        sha256: args.sha256,
    };
    if args.size_mib.is_some() || args.sector_size.is_some() {
        eprintln!(
            "note: --size-mib and --sector-size apply to image files; drives are written for their own size and sectors"
        );
    }
    let outcomes = write_to_drives(&request, drive_control(drives.len() > 1))?;
    finish_progress_line();
    let mut all_ok = true;
    for (outcome, drive) in outcomes.iter().zip(drives) {
        match &outcome.result {
            Ok(report) => {
                let what = if genpack_image {
                    let table = match report.table {
                        "mbr" => "MBR",
                        "gpt" => "GPT",
                        _ => "no partition table",
                    };
                    let boots = if report.bios_boot {
                        "BIOS and UEFI"
                    } else {
                        "UEFI"
                    };
                    format!(
                        "{} {table}, boots with {boots}",
                        human_size(report.image_bytes)
                    )
                } else {
                    format!("{} disk image", human_size(report.image_bytes))
                };
                println!(
                    "ok      {}: wrote {what} and read it back: {} verified in {:.1} s + {:.1} s.",
                    report.drive,
                    human_size(report.bytes_verified),
                    report.write_seconds,
                    report.verify_seconds
                );
            }
            Err(error) => {
                all_ok = false;
                println!("FAILED  {}: {error}", drive.description());
                if let Some(hint) = error.hint() {
                    println!("        hint: {hint}");
                }
            }
        }
    }
    if !all_ok && outcomes.len() > 1 {
        let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
        eprintln!(
            "{failed} of {} drives failed; a failed drive has no partition table now.",
            outcomes.len()
        );
    }
    Ok(all_ok)
}

fn write_disk_file(args: &Args, disk: &Path) -> Result<(), Failure> {
    let options = args.options();
    // A new file appears only once complete; an existing one is written in place, keeping
    // its size (it may be a virtual disk of a chosen size).
    let report = if disk.exists() {
        install_to_disk_image(&args.image, disk, &options)?
    } else {
        export_disk_image(&args.image, disk, &options)?
    };
    print_disk_report(&report);
    Ok(())
}

fn print_disk_report(report: &InstallReport) {
    let table = match report.table {
        Some(PartitionTable::Mbr) => "MBR",
        Some(PartitionTable::Gpt) => "GPT",
        None => "superfloppy",
    };
    println!(
        "Wrote {} ({}, {table}): boot partition {} at offset {}.",
        report.disk.display(),
        human_size(report.disk_size),
        report.volume_id,
        report.partition_offset
    );
    if let (Some(data), Some(label)) = (report.data_partition, &report.data_label) {
        println!(
            "Data partition {label}: {} at offset {}.",
            human_size(data.size),
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
}

/// Progress of a drive write on stderr, redrawn in place on a terminal (one line for all
/// drives when there are several); Ctrl-C cancels.
fn drive_control(several: bool) -> DriveControl {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                eprintln!("\nStopping at the next block…");
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    let terminal = std::io::stderr().is_terminal();
    let mut last_phase: Option<&'static str> = None;
    // Per drive: its phase (none once done) and the text of its progress.
    let mut drives: Vec<(PathBuf, Option<Phase>, String)> = Vec::new();
    DriveControl {
        cancel: Some(cancel),
        progress: Some(Box::new(move |event: &DriveProgress| {
            let mut err = std::io::stderr().lock();
            let (heading, text) = match event {
                DriveProgress::Layout => ("Laying the image out for the drives", None),
                DriveProgress::Checksum {
                    bytes_done,
                    bytes_total,
                } => (
                    "Checking the image's SHA-256",
                    Some(format!(
                        "     {} of {}",
                        human_size(*bytes_done),
                        human_size(*bytes_total)
                    )),
                ),
                DriveProgress::Drive {
                    device,
                    phase,
                    bytes_done,
                    bytes_total,
                    bytes_per_second,
                    eta_secs,
                } => {
                    let mut text = format!(
                        "{} of {}",
                        human_size(*bytes_done),
                        human_size(*bytes_total)
                    );
                    if *bytes_per_second > 0.0 {
                        text.push_str(&format!(", {:.1} MB/s", bytes_per_second / 1e6));
                    }
                    if let Some(eta) = eta_secs {
                        text.push_str(&format!(", about {eta:.0} s left"));
                    }
                    if !several {
                        (phase_name(*phase), Some(format!("     {text}")))
                    } else {
                        let changed = match drives.iter_mut().find(|(d, _, _)| d == device) {
                            Some(entry) => {
                                let changed = entry.1 != Some(*phase);
                                entry.1 = Some(*phase);
                                entry.2 = text;
                                changed
                            }
                            None => {
                                drives.push((device.clone(), Some(*phase), text));
                                true
                            }
                        };
                        if !terminal {
                            // A log: one line per drive and phase, no redrawn line.
                            if changed {
                                let _ = writeln!(
                                    err,
                                    "==> {}: {}",
                                    device.display(),
                                    phase_name(*phase)
                                );
                            }
                            return;
                        }
                        ("Writing the drives", Some(drives_line(&drives)))
                    }
                }
                DriveProgress::DriveDone { device, error } => {
                    if !several {
                        return;
                    }
                    let done = match error {
                        None => "verified".to_string(),
                        Some(error) => format!("FAILED: {error}"),
                    };
                    if !terminal {
                        let _ = writeln!(err, "==> {}: {done}", device.display());
                        return;
                    }
                    let short = if error.is_none() {
                        "verified"
                    } else {
                        "FAILED"
                    };
                    match drives.iter_mut().find(|(d, _, _)| d == device) {
                        Some(entry) => {
                            entry.1 = None;
                            entry.2 = short.to_string();
                        }
                        None => drives.push((device.clone(), None, short.to_string())),
                    }
                    ("Writing the drives", Some(drives_line(&drives)))
                }
            };
            if last_phase != Some(heading) {
                if terminal && last_phase.is_some() {
                    let _ = writeln!(err);
                }
                let _ = writeln!(err, "==> {heading}");
                last_phase = Some(heading);
            }
            if let (true, Some(text)) = (terminal, text) {
                let _ = write!(err, "\r\x1b[2K{text}");
            }
        })),
    }
}

/// One line for several drives: `sdb: writing 1.2 GiB of 3.0 GiB | sdc: verified`.
fn drives_line(drives: &[(PathBuf, Option<Phase>, String)]) -> String {
    let line = drives
        .iter()
        .map(|(device, phase, text)| {
            let name = device.file_name().unwrap_or(device.as_os_str());
            match phase {
                Some(phase) => {
                    format!("{}: {} {text}", name.to_string_lossy(), short_phase(*phase))
                }
                None => format!("{}: {text}", name.to_string_lossy()),
            }
        })
        .collect::<Vec<_>>()
        .join(" | ");
    format!("     {line}")
}

fn short_phase(phase: Phase) -> &'static str {
    match phase {
        Phase::Preparing => "wiping",
        Phase::Writing => "writing",
        Phase::Verifying => "verifying",
        Phase::Finishing => "table",
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Preparing => "Wiping the old partition table",
        Phase::Writing => "Writing",
        Phase::Verifying => "Reading back and comparing",
        Phase::Finishing => "Writing the partition table",
    }
}

fn finish_progress_line() {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

/// `--disk list`: the drives that may be written, and how many internal ones are hidden.
fn list_drives(all: bool) -> Result<ExitCode, Failure> {
    let listed = drives::list().map_err(|error| {
        Failure::new(format!("cannot list drives: {error}"))
            .hint("udev must be running; pass a device path to --disk instead")
    })?;
    let offered = drives::offered(listed, all);
    for drive in &offered.drives {
        println!("{}\t{}", drive.path.display(), drive.description());
    }
    if offered.drives.is_empty() {
        println!("No drive can be written: plug in a USB stick or SD card (and unmount it).");
    }
    if offered.hidden_internal > 0 {
        println!(
            "{} internal disk(s) not shown; --all shows them.",
            offered.hidden_internal
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks that the drive at `path` may be written (never the disk holding `/`, nothing
/// mounted or read-only; internal disks only with `--all`) and asks the user, naming the
/// drive and its size; an internal disk is confirmed by typing its name. Returns the drive as
/// it was confirmed, or `None` when the user said no.
fn confirm_drive(
    path: &Path,
    all: bool,
    yes: bool,
    action: &str,
) -> Result<Option<Drive>, Failure> {
    let drive = drives::probe(path)
        .map_err(|error| Failure::new(format!("{}: {error}", path.display())))?;
    if let Some(refusal) = drive.refusal(all) {
        let failure = Failure::new(format!(
            "refusing to write {}: {refusal}",
            drive.description()
        ));
        return Err(match refusal {
            Refusal::Fixed => {
                failure.hint("pass --all to write an internal disk (you will type its name)")
            }
            _ => failure
                .hint("`genpack install IMAGE --disk list` shows the drives that can be written"),
        });
    }
    if yes {
        return Ok(Some(drive));
    }
    let unattended = format!("{} would be erased", drive.description());
    let confirmed = if drive.removable {
        let answer = ask(
            &format!("{action} {}? [y/N] ", drive.description()),
            &unattended,
        )?;
        is_yes(&answer)
    } else {
        let answer = ask(
            &format!(
                "{} is an internal disk. Type its name ({}) to erase everything on it: ",
                drive.description(),
                drive.name
            ),
            &unattended,
        )?;
        answer == drive.name
    };
    Ok(confirmed.then_some(drive))
}

/// [`confirm_drive`] for several drives: every drive is checked before anything is asked,
/// then one question names them all (an internal disk is still confirmed by typing its name).
fn confirm_drives(paths: &[&PathBuf], all: bool, yes: bool) -> Result<Option<Vec<Drive>>, Failure> {
    if let [path] = paths {
        return Ok(confirm_drive(path, all, yes, "Erase everything on")?.map(|drive| vec![drive]));
    }
    let mut drives: Vec<Drive> = Vec::new();
    for path in paths {
        let drive = confirm_drive(path, all, true, "")?.ok_or_else(|| Failure::new("no drive"))?;
        if drives.iter().any(|d| d.path == drive.path) {
            return Err(Failure::new(format!(
                "{} is given twice",
                drive.path.display()
            )));
        }
        drives.push(drive);
    }
    if yes {
        return Ok(Some(drives));
    }
    let names: Vec<String> = drives.iter().map(|d| d.description()).collect();
    let unattended = format!("{} would be erased", names.join(", "));
    let answer = ask(
        &format!(
            "Erase everything on these {} drives?\n  {}\n[y/N] ",
            drives.len(),
            names.join("\n  ")
        ),
        &unattended,
    )?;
    if !is_yes(&answer) {
        return Ok(None);
    }
    for drive in drives.iter().filter(|d| !d.removable) {
        let answer = ask(
            &format!(
                "{} is an internal disk. Type its name ({}) to erase everything on it: ",
                drive.description(),
                drive.name
            ),
            &unattended,
        )?;
        if answer != drive.name {
            return Ok(None);
        }
    }
    Ok(Some(drives))
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
