//! The system image and its companions `system.ini` and `system.cfg`, as every target kind
//! (disk, ISO, ZIP) takes them.

use std::path::{Path, PathBuf};

use crate::error::InstallError;
use crate::Result;

/// Files that go next to the system image.
#[derive(Debug, Clone, Default)]
pub struct Companions {
    /// `system.ini`: settings applied at boot.
    pub system_ini: Option<Vec<u8>>,
    /// `system.cfg`: a GRUB script read before the menu (may set `LINUX_ARGS`).
    pub system_cfg: Option<Vec<u8>>,
}

impl Companions {
    /// Reads the files given (either may be absent).
    /// Reads the settings files to put next to the image. Both must be text: system.ini must
    /// read as genpack-init reads it (UTF-8, configparser syntax), system.cfg must be UTF-8.
    pub fn read(system_ini: Option<&Path>, system_cfg: Option<&Path>) -> Result<Self> {
        let read = |path: Option<&Path>, name: &'static str| -> Result<Option<Vec<u8>>> {
            let Some(path) = path else {
                return Ok(None);
            };
            let bad = |reason: String| InstallError::BadCompanion {
                path: path.to_path_buf(),
                name,
                reason,
            };
            let meta = std::fs::metadata(path).map_err(InstallError::io("reading", path))?;
            if !meta.is_file() {
                return Err(bad("it is not a regular file".into()));
            }
            if meta.len() > MAX_COMPANION_BYTES {
                return Err(bad(format!(
                    "it is {} bytes; settings files are small text files",
                    meta.len()
                )));
            }
            let bytes = std::fs::read(path).map_err(InstallError::io("reading", path))?;
            let text = std::str::from_utf8(&bytes).map_err(|error| {
                bad(format!(
                    "it is not UTF-8 text (the first bad byte is at offset {})",
                    error.valid_up_to()
                ))
            })?;
            if text.contains('\0') {
                return Err(bad("it holds NUL bytes: it is not a text file".into()));
            }
            if name == "system.ini" {
                if let Err(error) = genpack_ini::Document::parse(text) {
                    return Err(bad(error.to_string()));
                }
            }
            Ok(Some(bytes))
        };
        Ok(Self {
            system_ini: read(system_ini, "system.ini")?,
            system_cfg: read(system_cfg, "system.cfg")?,
        })
    }

    /// `(name, bytes)` of the files present.
    pub fn files(&self) -> Vec<(&'static str, &[u8])> {
        let mut files = Vec::new();
        if let Some(ini) = &self.system_ini {
            files.push(("system.ini", ini.as_slice()));
        }
        if let Some(cfg) = &self.system_cfg {
            files.push(("system.cfg", cfg.as_slice()));
        }
        files
    }

    /// Their total size.
    pub fn size(&self) -> u64 {
        self.files().iter().map(|(_, b)| b.len() as u64).sum()
    }
}

/// The largest system.ini or system.cfg put on a boot partition.
const MAX_COMPANION_BYTES: u64 = 1 << 20;

/// A genpack image that can be installed, opened.
pub(crate) struct InstallableImage {
    /// The opened image.
    pub image: genpack_image::Image,
    /// Its size in bytes.
    pub size: u64,
}

/// Opens `image` if it can be installed: a complete SquashFS file (its superblock's
/// `bytes_used` fits in the file) in a compression GRUB reads (gzip, xz, lzo), with genpack
/// metadata, `/boot/kernel` and `/boot/initramfs` (a Raspberry Pi image, with
/// `/boot/bootcode.bin`, may do without). Otherwise says why, in words, for the
/// caller's error.
pub(crate) fn open_installable(image: &Path) -> std::result::Result<InstallableImage, String> {
    use std::io::Read;
    let mut file = std::fs::File::open(image).map_err(|e| format!("cannot open it: {e}"))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read its size: {e}"))?
        .len();
    let mut superblock = [0u8; 96];
    file.read_exact(&mut superblock)
        .map_err(|_| "it is too short to be a SquashFS image".to_string())?;
    if &superblock[..4] != b"hsqs" {
        return Err("it is not a SquashFS image (no hsqs magic)".into());
    }
    let mut used = [0u8; 8];
    used.copy_from_slice(&superblock[40..48]);
    let bytes_used = u64::from_le_bytes(used);
    if bytes_used > size {
        return Err(format!(
            "it is incomplete: the SquashFS superblock says {bytes_used} bytes, the file has {size}"
        ));
    }
    let unreadable_by_grub = match u16::from_le_bytes([superblock[20], superblock[21]]) {
        2 => Some("lzma"),
        5 => Some("lz4"),
        6 => Some("zstd"),
        _ => None,
    };
    if let Some(name) = unreadable_by_grub {
        return Err(format!(
            "it is compressed with {name}, which GRUB cannot read; rebuild it with \
             compression gzip, xz or lzo"
        ));
    }
    let opened = genpack_image::Image::open(image).map_err(|e| e.to_string())?;
    opened.metadata().map_err(|e| e.to_string())?;
    // A Raspberry Pi's firmware loads its kernel from the boot partition, not through GRUB.
    if !crate::raspberry_pi::is_pi_image(&opened) {
        for path in ["/boot/kernel", "/boot/initramfs"] {
            opened
                .resolve(path)
                .map_err(|_| format!("{path} is missing"))?;
        }
    }
    Ok(InstallableImage {
        image: opened,
        size,
    })
}

/// Opens `image` if it can be installed (see [`open_installable`]).
pub(crate) fn open_image(image: &Path) -> Result<InstallableImage> {
    open_installable(image).map_err(|reason| InstallError::BadImage {
        image: image.to_path_buf(),
        reason,
    })
}

/// Checks that `image` can be installed (see [`open_installable`]) and returns its size.
pub fn check_image(image: &Path) -> Result<u64> {
    open_image(image).map(|installable| installable.size)
}

/// A scratch directory for temporary files of writing `target`: next to it when it is a
/// regular file or a new one (same file system, so room is where the output goes), else the
/// system's temporary directory.
pub fn scratch_dir_for(target: &Path) -> Result<tempfile::TempDir> {
    let is_device = std::fs::metadata(target)
        .map(|m| !m.is_file())
        .unwrap_or(false);
    let parent: PathBuf = if is_device {
        std::env::temp_dir()
    } else {
        target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    tempfile::Builder::new()
        .prefix(".genpack-install.")
        .tempdir_in(&parent)
        .map_err(InstallError::io(
            "creating a temporary directory in",
            parent,
        ))
}
