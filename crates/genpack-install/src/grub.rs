//! The GRUB side: loader images made with grub-mkimage (UEFI, BIOS disk, BIOS El Torito),
//! and the grub.cfg that boots the kernel and initramfs from inside the system image.

use std::path::Path;
use std::process::Command;

use crate::error::InstallError;
use crate::fat::VolumeId;
use crate::loaders::EfiPlatform;
use crate::Result;

/// Where GRUB keeps its modules, one directory per platform (`x86_64-efi`, `i386-pc`...).
pub const MODULES_ROOT: &str = "/usr/lib/grub";
/// Directory of GRUB's BIOS modules and boot sectors (package grub-pc-bin).
pub const I386_PC_MODULES_DIR: &str = "/usr/lib/grub/i386-pc";

/// Modules built into every loader: everything needed to find the boot partition, loop-mount
/// the SquashFS image (from FAT, ISO 9660 or the btrfs data partition) and boot Linux from
/// it, with a serial console. Modules a platform lacks are left out.
pub const MODULES: &[&str] = &[
    "biosdisk",
    "part_gpt",
    "part_msdos",
    "fat",
    "iso9660",
    "btrfs",
    "ext2",
    "loopback",
    "squash4",
    "linux",
    "normal",
    "configfile",
    "search",
    "search_fs_uuid",
    "search_label",
    "search_fs_file",
    "echo",
    "serial",
    "terminal",
    "test",
    "sleep",
    "reboot",
    "halt",
    "gzio",
    "xzio",
    "lzopio",
    "zstd",
    "all_video",
    "efi_gop",
    "font",
    "gfxterm",
    "ls",
    "cat",
    "probe",
    "regexp",
];

/// Where grub.cfg lives on the boot file system (disk, ISO and ZIP alike), next to the
/// UEFI loader.
pub const CONFIG_DIR: &str = "/EFI/BOOT";
/// grub.cfg's path on the boot file system, without the leading `/`.
pub const CONFIG_PATH: &str = "EFI/BOOT/grub.cfg";

/// A kind of GRUB loader image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderKind {
    /// A UEFI application (`BOOTX64.EFI`, `BOOTIA32.EFI`...).
    Efi(EfiPlatform),
    /// `core.img` for a BIOS disk, reading its configuration from the first MBR partition.
    BiosMbr,
    /// `core.img` for a BIOS disk, reading its configuration from the first GPT partition.
    BiosGpt,
    /// `eltorito.img`, the BIOS loader of a CD.
    BiosEltorito,
}

impl LoaderKind {
    fn format(self) -> &'static str {
        match self {
            LoaderKind::Efi(platform) => platform.grub_platform(),
            LoaderKind::BiosMbr | LoaderKind::BiosGpt => "i386-pc",
            LoaderKind::BiosEltorito => "i386-pc-eltorito",
        }
    }

    /// The directory of the host's GRUB modules this loader is made from.
    pub fn modules_dir(self) -> std::path::PathBuf {
        match self {
            LoaderKind::Efi(platform) => platform.host_modules_dir(),
            _ => I386_PC_MODULES_DIR.into(),
        }
    }

    /// Where the loader reads grub.cfg from. UEFI and CD loaders use the device they were
    /// loaded from; the BIOS disk loader names the boot partition.
    fn prefix(self) -> String {
        match self {
            LoaderKind::BiosMbr => format!("(,msdos1){CONFIG_DIR}"),
            LoaderKind::BiosGpt => format!("(,gpt1){CONFIG_DIR}"),
            LoaderKind::Efi(_) | LoaderKind::BiosEltorito => CONFIG_DIR.to_string(),
        }
    }
}

/// Writes the loader `kind` to `out` with the host's grub-mkimage.
pub fn make_loader(kind: LoaderKind, out: &Path) -> Result<()> {
    let modules_dir = kind.modules_dir();
    let modules_dir = modules_dir.as_path();
    if !modules_dir.is_dir() {
        return Err(InstallError::Grub(format!(
            "{} is missing",
            modules_dir.display()
        )));
    }
    let available: Vec<&str> = MODULES
        .iter()
        .copied()
        .filter(|m| modules_dir.join(format!("{m}.mod")).is_file())
        .collect();
    let output = Command::new("grub-mkimage")
        .arg("-d")
        .arg(modules_dir)
        .args(["-O", kind.format(), "-p", &kind.prefix(), "-o"])
        .arg(out)
        .args(&available)
        .output()
        .map_err(|e| InstallError::Grub(format!("cannot run grub-mkimage: {e}")))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        // grub-mkimage writes its output next to the disk or ISO being made: a full disk is
        // not a missing GRUB package.
        if message.contains("No space left on device") {
            return Err(InstallError::Io {
                action: "writing the boot loader",
                path: out.to_path_buf(),
                source: std::io::Error::from_raw_os_error(libc::ENOSPC),
            });
        }
        return Err(InstallError::Grub(message));
    }
    Ok(())
}

/// The file system GRUB boots from, as grub.cfg finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootVolume {
    /// A FAT boot partition with this volume id; the kernel gets `root=systemimg:<id>`.
    Fat(VolumeId),
    /// An ISO 9660 file system with this GRUB UUID (`YYYY-MM-DD-hh-mm-ss-cc`); the kernel
    /// gets `root=systemimg:auto`.
    Iso(IsoUuid),
    /// Whatever file system the configuration was read from (files unpacked from a ZIP onto
    /// a stick); the kernel gets `root=systemimg:auto`.
    Current,
}

/// The UUID GRUB reports for an ISO 9660 file system: its modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoUuid {
    /// Digits `YYYYMMDDhhmmsscc`, as xorriso's `--modification-date` takes them.
    pub digits: [u8; 16],
}

impl IsoUuid {
    /// The UUID for a time in seconds since the epoch (UTC), with centiseconds `cc`.
    pub fn from_unix(secs: u64, cc: u8) -> Self {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days as i64);
        let text = format!(
            "{y:04}{m:02}{d:02}{:02}{:02}{:02}{:02}",
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            cc % 100
        );
        let mut digits = [b'0'; 16];
        digits.copy_from_slice(&text.as_bytes()[..16]);
        Self { digits }
    }

    /// `YYYYMMDDhhmmsscc`.
    pub fn digits(&self) -> &str {
        std::str::from_utf8(&self.digits).unwrap_or("0000000000000000")
    }
}

impl std::fmt::Display for IsoUuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.digits();
        write!(
            f,
            "{}-{}-{}-{}-{}-{}-{}",
            &d[0..4],
            &d[4..6],
            &d[6..8],
            &d[8..10],
            &d[10..12],
            &d[12..14],
            &d[14..16]
        )
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The grub.cfg of a FAT boot partition with volume id `volume_id` (see [`grub_cfg_for`]).
pub fn grub_cfg(volume_id: VolumeId) -> String {
    grub_cfg_for(BootVolume::Fat(volume_id))
}

/// The grub.cfg that boots the system image found through `volume`.
///
/// It prefers a serial console (115200 8N1) when one exists; reads `system.cfg` (a GRUB
/// script that may set `LINUX_ARGS`) from the boot partition; waits 10 s instead of 1 s when
/// `boottime.txt` is present (the last shutdown was not clean); boots `system.img` from the
/// boot partition, else `system` from the data partition labelled `data-<volume id>`; hands
/// over to the image's own `/boot/grub/grub.cfg` when it has one; and offers a Normal and a
/// Transient (`genpack.transient=1`) entry.
pub fn grub_cfg_for(volume: BootVolume) -> String {
    let (find_boot, root_arg, data_label) = match volume {
        BootVolume::Fat(id) => (
            format!(
                "if ! search --no-floppy --fs-uuid --set=BOOT_PARTITION {id}; then\n    set BOOT_PARTITION=$root\nfi\nset BOOT_PARTITION_UUID={id}\n"
            ),
            format!("systemimg:{id}"),
            format!("data-{id}"),
        ),
        BootVolume::Iso(uuid) => (
            format!(
                "if ! search --no-floppy --fs-uuid --set=BOOT_PARTITION {uuid}; then\n    set BOOT_PARTITION=$root\nfi\nset BOOT_PARTITION_UUID={uuid}\n"
            ),
            "systemimg:auto".to_string(),
            String::new(),
        ),
        BootVolume::Current => (
            "set BOOT_PARTITION=$root\nprobe --set=BOOT_PARTITION_UUID -u $BOOT_PARTITION\n"
                .to_string(),
            "systemimg:auto".to_string(),
            "data-$BOOT_PARTITION_UUID".to_string(),
        ),
    };
    let data_lookup = if data_label.is_empty() {
        String::new()
    } else {
        format!(
            r#"if [ -z "$SYSTEM_IMAGE" ]; then
    if search --no-floppy --label --set=DATA_PARTITION {data_label}; then
        if [ -f ($DATA_PARTITION)/system ]; then
            set SYSTEM_IMAGE=($DATA_PARTITION)/system
        fi
    fi
fi
"#
        )
    };
    format!(
        r#"# Boots the genpack system image from the boot partition (or the data partition).
if serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1; then
    terminal_input serial console
    terminal_output serial console
fi
{find_boot}
set timeout=1
if [ -f ($BOOT_PARTITION)/boottime.txt ]; then
    # The last shutdown was not clean: leave time to pick Transient mode.
    set timeout=10
fi
set default=normal

set LINUX_ARGS=""
if [ -f ($BOOT_PARTITION)/system.cfg ]; then
    source ($BOOT_PARTITION)/system.cfg
fi
if ! regexp "(^| )panic=" "$LINUX_ARGS"; then
    set LINUX_ARGS="$LINUX_ARGS panic=30"
fi
if ! regexp "(^| )console=" "$LINUX_ARGS"; then
    # PCs: screen and first serial port. Elsewhere the firmware names the serial console
    # (ACPI SPCR or the device tree), and ttyS0 would hide it.
    if [ "$grub_cpu" = "x86_64" -o "$grub_cpu" = "i386" ]; then
        set LINUX_ARGS="$LINUX_ARGS console=tty0 console=ttyS0,115200n8"
    fi
fi

set SYSTEM_IMAGE=""
if [ -f ($BOOT_PARTITION)/system.img ]; then
    set SYSTEM_IMAGE=($BOOT_PARTITION)/system.img
fi
{data_lookup}if [ -z "$SYSTEM_IMAGE" ]; then
    echo "No system.img on $BOOT_PARTITION and no data partition holding system; rebooting in 5 s."
    sleep 5
    reboot
fi

loopback loop $SYSTEM_IMAGE
if [ -f (loop)/boot/grub/grub.cfg ]; then
    export BOOT_PARTITION
    export BOOT_PARTITION_UUID
    set root=loop
    configfile (loop)/boot/grub/grub.cfg
fi

menuentry "Normal mode" --id normal {{
    linux (loop)/boot/kernel root={root_arg} $LINUX_ARGS systemd.firstboot=0
    initrd (loop)/boot/initramfs
}}

menuentry "Transient mode (changes are not kept)" --id transient {{
    linux (loop)/boot/kernel root={root_arg} $LINUX_ARGS systemd.firstboot=0 genpack.transient=1
    initrd (loop)/boot/initramfs
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_boots_from_inside_the_image_with_both_entries() {
        let cfg = grub_cfg(VolumeId(0x1234_abcd));
        assert!(cfg.contains("search --no-floppy --fs-uuid --set=BOOT_PARTITION 1234-ABCD"));
        assert!(cfg.contains("set SYSTEM_IMAGE=($BOOT_PARTITION)/system.img"));
        assert!(cfg.contains("--label --set=DATA_PARTITION data-1234-ABCD"));
        assert!(cfg.contains("loopback loop $SYSTEM_IMAGE"));
        assert!(cfg.contains("root=systemimg:1234-ABCD"));
        assert!(cfg.contains("console=ttyS0"));
        // ttyS0 only on PCs: on ARM it would hide the firmware's serial console.
        assert!(cfg.contains(r#"if [ "$grub_cpu" = "x86_64" -o "$grub_cpu" = "i386" ]; then"#));
        assert!(cfg.contains("system.cfg"));
        assert!(cfg.contains("set timeout=10"));
        assert_eq!(cfg.matches("menuentry").count(), 2);
        assert!(cfg.contains("genpack.transient=1"));
        assert!(cfg.contains("initrd (loop)/boot/initramfs"));
        assert_eq!(cfg.matches('{').count(), cfg.matches('}').count());
    }

    #[test]
    fn iso_config_finds_the_iso_and_lets_the_initramfs_search() {
        let uuid = IsoUuid::from_unix(1_795_000_000, 7);
        let cfg = grub_cfg_for(BootVolume::Iso(uuid));
        assert!(cfg.contains(&format!("--fs-uuid --set=BOOT_PARTITION {uuid}")));
        assert!(cfg.contains("root=systemimg:auto"));
        assert!(!cfg.contains("DATA_PARTITION"));
    }

    #[test]
    fn iso_uuid_is_the_utc_date() {
        // 2026-11-26 01:37:25 UTC
        let uuid = IsoUuid::from_unix(1_795_657_045, 0);
        assert_eq!(uuid.to_string(), "2026-11-26-01-37-25-00");
        assert_eq!(uuid.digits(), "2026112601372500");
        assert_eq!(
            IsoUuid::from_unix(951_782_400, 5).to_string(),
            "2000-02-29-00-00-00-05"
        );
    }

    #[test]
    fn loaders_are_made_needs_grub() {
        let dir = tempfile::tempdir().unwrap();
        for platform in EfiPlatform::ALL {
            if platform.host_modules_dir().is_dir() {
                let out = dir.path().join(platform.file_name());
                make_loader(LoaderKind::Efi(platform), &out).unwrap();
                assert_eq!(&std::fs::read(&out).unwrap()[..2], b"MZ");
            }
        }
        if Path::new(I386_PC_MODULES_DIR).is_dir() {
            for kind in [LoaderKind::BiosMbr, LoaderKind::BiosGpt] {
                let out = dir.path().join("core.img");
                make_loader(kind, &out).unwrap();
                let size = std::fs::metadata(&out).unwrap().len();
                // It must fit the GPT BIOS boot partition (1 MiB - 17 KiB).
                assert!(size < (1 << 20) - 34 * 512, "{kind:?}: {size}");
            }
        }
    }
}
