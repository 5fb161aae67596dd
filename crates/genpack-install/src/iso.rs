//! Hybrid ISO images made with xorriso: they boot as a CD and, written to a USB stick, as a
//! disk; with BIOS (El Torito and GRUB's hybrid MBR) and UEFI (an EFI system partition image,
//! referenced by El Torito and appended as partition 2).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::InstallError;
use crate::fat::{write_boot_fs, Content, VolumeId};
use crate::grub::{grub_cfg_for, BootVolume, IsoUuid, CONFIG_PATH, I386_PC_MODULES_DIR};
use crate::label::VolumeLabel;
use crate::layout::{round_up, MIB};
use crate::loaders::{total_size, Loaders};
use crate::system::{check_image, scratch_dir_for, Companions};
use crate::Result;

/// Options of [`make_iso`].
#[derive(Debug, Clone, Default)]
pub struct IsoOptions {
    /// A system.ini put next to system.img.
    pub system_ini: Option<PathBuf>,
    /// A system.cfg put next to system.img.
    pub system_cfg: Option<PathBuf>,
    /// ISO volume id; `GENPACK` by default.
    pub label: Option<VolumeLabel>,
}

/// What [`make_iso`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoReport {
    /// The ISO file.
    pub iso: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The UUID GRUB finds it by.
    pub uuid: IsoUuid,
}

/// Smallest FAT32 EFI system partition image (FAT32 needs 65525 clusters).
const MIN_ESP_IMAGE: u64 = 40 * MIB;

/// Writes a hybrid ISO of `image` to `out` (replacing it only once complete).
pub fn make_iso(image: &Path, out: &Path, options: &IsoOptions) -> Result<IsoReport> {
    check_image(image)?;
    let companions =
        Companions::read(options.system_ini.as_deref(), options.system_cfg.as_deref())?;
    let hybrid_mbr = Path::new(I386_PC_MODULES_DIR).join("boot_hybrid.img");
    if !hybrid_mbr.is_file() {
        return Err(InstallError::Grub(format!(
            "{} is missing (hybrid ISOs need grub-pc-bin)",
            hybrid_mbr.display()
        )));
    }
    let scratch = scratch_dir_for(out)?;
    let loaders = Loaders::new(image, scratch.path());
    let efi_loaders = loaders.efi()?;
    let eltorito = loaders.bios_eltorito()?;

    let uuid = iso_uuid_now();
    let cfg = grub_cfg_for(BootVolume::Iso(uuid));
    let put = |name: &str, bytes: &[u8]| -> Result<PathBuf> {
        let path = scratch.path().join(name);
        std::fs::write(&path, bytes).map_err(InstallError::io("writing", &path))?;
        Ok(path)
    };
    let cfg_path = put("grub.cfg", cfg.as_bytes())?;
    let eltorito_path = put("eltorito.img", &eltorito)?;

    // The EFI system partition image: the UEFI loader and the same grub.cfg, which finds
    // the ISO by its UUID.
    let esp = scratch.path().join("efi.img");
    let esp_size =
        round_up(total_size(&efi_loaders) + cfg.len() as u64 + 4 * MIB, MIB).max(MIN_ESP_IMAGE);
    std::fs::File::create(&esp)
        .and_then(|f| f.set_len(esp_size))
        .map_err(InstallError::io("creating", &esp))?;
    let esp_id = VolumeId::random().map_err(InstallError::io("reading", "/dev/urandom"))?;
    let mut esp_files: Vec<(&str, Content<'_>)> = efi_loaders
        .iter()
        .map(|loader| (loader.boot_path(), Content::Bytes(&loader.bytes)))
        .collect();
    esp_files.push((CONFIG_PATH, Content::Bytes(cfg.as_bytes())));
    write_boot_fs(
        &esp,
        0,
        esp_size,
        &VolumeLabel::known("EFI"),
        esp_id,
        &esp_files,
    )?;

    let mut grafts = vec![
        graft(&format!("/{CONFIG_PATH}"), &cfg_path),
        graft("/boot/grub/i386-pc/eltorito.img", &eltorito_path),
        graft("/system.img", image),
    ];
    for (name, bytes) in companions.files() {
        let path = put(name, bytes)?;
        grafts.push(graft(&format!("/{name}"), &path));
    }

    let partial = scratch.path().join("out.iso");
    let label = options.label.clone().unwrap_or_default();
    let mut command = Command::new("xorriso");
    command
        .args([
            "-as",
            "mkisofs",
            "-iso-level",
            "3",
            "-R",
            "-J",
            "-V",
            label.as_str(),
        ])
        .arg(format!("--modification-date={}", uuid.digits()))
        .arg("-o")
        .arg(&partial)
        // BIOS from CD: El Torito with GRUB's CD loader.
        .args([
            "-b",
            "boot/grub/i386-pc/eltorito.img",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "--grub2-boot-info",
        ])
        // BIOS from disk: GRUB's hybrid MBR loads the same loader.
        .arg("--grub2-mbr")
        .arg(&hybrid_mbr)
        .args(["-partition_offset", "16", "--mbr-force-bootable"])
        // UEFI from CD and from disk: the EFI system partition image as partition 2.
        .args(["-append_partition", "2", "0xef"])
        .arg(&esp)
        .args([
            "-eltorito-alt-boot",
            "-e",
            "--interval:appended_partition_2:all::",
            "-no-emul-boot",
            "-graft-points",
        ])
        .args(&grafts);
    let output = command.output().map_err(|e| InstallError::Tool {
        program: "xorriso",
        target: out.to_path_buf(),
        message: e.to_string(),
        hint: "install xorriso",
    })?;
    if !output.status.success() {
        return Err(InstallError::Tool {
            program: "xorriso",
            target: out.to_path_buf(),
            message: last_lines(&output.stderr, 6),
            hint: "check free space next to the output file",
        });
    }
    let file = std::fs::File::open(&partial).map_err(InstallError::io("reading", &partial))?;
    file.sync_all()
        .map_err(InstallError::io("flushing", &partial))?;
    std::fs::rename(&partial, out).map_err(InstallError::io("replacing", out))?;
    let size = std::fs::metadata(out)
        .map_err(InstallError::io("reading", out))?
        .len();
    Ok(IsoReport {
        iso: out.to_path_buf(),
        size,
        uuid,
    })
}

fn graft(inside: &str, file: &Path) -> String {
    // `=` and `\` in a graft point's source must be escaped.
    let source = file
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('=', "\\=");
    format!("{inside}={source}")
}

fn last_lines(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("; ")
}

fn iso_uuid_now() -> IsoUuid {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    IsoUuid::from_unix(now.as_secs(), (now.subsec_millis() / 10) as u8)
}
