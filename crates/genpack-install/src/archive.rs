//! ZIP archives to unpack onto a FAT-formatted stick: `system.img`, `system.ini`/`system.cfg`,
//! the UEFI loaders and their grub.cfg, and a Raspberry Pi image's boot files. Written with
//! zip64 where needed (images of 4 GiB or more).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use crate::error::InstallError;
use crate::grub::{grub_cfg_for, BootVolume, CONFIG_PATH};
use crate::loaders::Loaders;
use crate::raspberry_pi;
use crate::system::{open_image, scratch_dir_for, Companions};
use crate::Result;

/// Options of [`make_zip`].
#[derive(Debug, Clone, Default)]
pub struct ZipOptions {
    /// A system.ini put next to system.img.
    pub system_ini: Option<PathBuf>,
    /// A system.cfg put next to system.img.
    pub system_cfg: Option<PathBuf>,
}

/// What [`make_zip`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipReport {
    /// The archive.
    pub archive: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Names of its entries, in order.
    pub entries: Vec<String>,
}

/// Writes a ZIP of `image` with its boot files to `out` (replacing it only once complete).
pub fn make_zip(image: &Path, out: &Path, options: &ZipOptions) -> Result<ZipReport> {
    let installable = open_image(image)?;
    let image_size = installable.size;
    let companions =
        Companions::read(options.system_ini.as_deref(), options.system_cfg.as_deref())?;
    let scratch = scratch_dir_for(out)?;
    let pi_files = raspberry_pi::boot_files(&installable.image, "auto")?;
    // A Raspberry Pi boots without GRUB; UEFI loaders are a bonus there.
    let efi_loaders = match Loaders::new(image, scratch.path()).efi() {
        Err(_) if !pi_files.is_empty() => Vec::new(),
        result => result?,
    };
    let cfg = grub_cfg_for(BootVolume::Current);

    let partial = scratch.path().join("out.zip");
    let zip_err = |e: &dyn std::fmt::Display| InstallError::Zip {
        archive: out.to_path_buf(),
        message: e.to_string(),
    };
    let file = File::create(&partial).map_err(InstallError::io("creating", &partial))?;
    let mut writer = zip::ZipWriter::new(BufWriter::new(file));
    let deflated = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644);
    // SquashFS is compressed already: store it, with zip64 sizes when it needs them.
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(image_size >= u32::MAX as u64)
        .unix_permissions(0o644);
    let mut entries = Vec::new();

    writer
        .start_file("system.img", stored)
        .map_err(|e| zip_err(&e))?;
    let mut input = File::open(image).map_err(InstallError::io("reading", image))?;
    std::io::copy(&mut input, &mut writer).map_err(InstallError::io("archiving", image))?;
    entries.push("system.img".to_string());

    let mut small: Vec<(&str, &[u8])> = companions.files();
    for loader in &efi_loaders {
        small.push((loader.boot_path(), &loader.bytes));
    }
    for file in &pi_files {
        small.push((&file.path, &file.bytes));
    }
    small.push((CONFIG_PATH, cfg.as_bytes()));
    for (name, bytes) in small {
        writer.start_file(name, deflated).map_err(|e| zip_err(&e))?;
        writer
            .write_all(bytes)
            .map_err(InstallError::io("writing", &partial))?;
        entries.push(name.to_string());
    }
    let buffered = writer.finish().map_err(|e| zip_err(&e))?;
    let file = buffered
        .into_inner()
        .map_err(|e| InstallError::io("writing", &partial)(e.into_error()))?;
    file.sync_all()
        .map_err(InstallError::io("flushing", &partial))?;
    drop(file);
    std::fs::rename(&partial, out).map_err(InstallError::io("replacing", out))?;
    let size = std::fs::metadata(out)
        .map_err(InstallError::io("reading", out))?
        .len();
    Ok(ZipReport {
        archive: out.to_path_buf(),
        size,
        entries,
    })
}
