//! Where boot loaders come from: the image's own `/usr/lib/genpack-install` when it carries
//! them (so an image boots with the GRUB it was built with), else the host's grub-mkimage.
//!
//! The UEFI loader and BIOS boot sector are taken from the image; GRUB's BIOS core images
//! (disk and CD) are always made here, because their built-in prefix must name the place
//! this crate writes grub.cfg to.

use std::path::{Path, PathBuf};

use crate::error::InstallError;
use crate::grub::{make_loader, LoaderKind, I386_PC_MODULES_DIR};
use crate::Result;

/// Directory inside an image that may hold prebuilt loaders: `bootx64.efi`, `boot.img`.
pub const IMAGE_LOADER_DIR: &str = "/usr/lib/genpack-install";

/// Where a loader came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderOrigin {
    /// From the image's `/usr/lib/genpack-install`.
    Image,
    /// Made on this machine with grub-mkimage.
    Host,
}

/// Finds loaders for one installation.
pub struct Loaders {
    image: Option<genpack_image::Image>,
    scratch: PathBuf,
}

impl Loaders {
    /// Loaders for `image`; temporary files go to `scratch` (an existing directory).
    pub fn new(image: &Path, scratch: &Path) -> Self {
        Self {
            image: genpack_image::Image::open(image).ok(),
            scratch: scratch.to_path_buf(),
        }
    }

    fn read_from_image(&self, name: &str) -> Option<Vec<u8>> {
        let image = self.image.as_ref()?;
        image.read(&format!("{IMAGE_LOADER_DIR}/{name}")).ok()
    }

    fn make_on_host(&self, kind: LoaderKind, name: &str) -> Result<Vec<u8>> {
        let out = self.scratch.join(name);
        make_loader(kind, &out)?;
        let bytes = std::fs::read(&out).map_err(InstallError::io("reading", &out))?;
        let _ = std::fs::remove_file(&out);
        Ok(bytes)
    }

    /// `BOOTX64.EFI`.
    pub fn efi_x64(&self) -> Result<(Vec<u8>, LoaderOrigin)> {
        match self.read_from_image("bootx64.efi") {
            Some(bytes) => Ok((bytes, LoaderOrigin::Image)),
            None => Ok((
                self.make_on_host(LoaderKind::EfiX64, "BOOTX64.EFI")?,
                LoaderOrigin::Host,
            )),
        }
    }

    /// GRUB's BIOS boot sector (`boot.img`, 512 bytes).
    pub fn bios_boot_sector(&self) -> Result<Vec<u8>> {
        let bytes = match self.read_from_image("boot.img") {
            Some(bytes) => bytes,
            None => {
                let path = Path::new(I386_PC_MODULES_DIR).join("boot.img");
                std::fs::read(&path).map_err(|e| {
                    InstallError::Grub(format!(
                        "cannot read {}: {e} (BIOS boot needs grub-pc-bin)",
                        path.display()
                    ))
                })?
            }
        };
        if bytes.len() != 512 {
            return Err(InstallError::Loader {
                name: "boot.img".into(),
                message: format!("is {} bytes, not 512", bytes.len()),
            });
        }
        Ok(bytes)
    }

    /// GRUB's BIOS core image for a disk; `gpt` picks the partition it reads grub.cfg from.
    pub fn bios_core(&self, gpt: bool) -> Result<Vec<u8>> {
        let kind = if gpt {
            LoaderKind::BiosGpt
        } else {
            LoaderKind::BiosMbr
        };
        self.make_on_host(kind, "core.img")
    }

    /// GRUB's El Torito loader for a CD.
    pub fn bios_eltorito(&self) -> Result<Vec<u8>> {
        self.make_on_host(LoaderKind::BiosEltorito, "eltorito.img")
    }
}
