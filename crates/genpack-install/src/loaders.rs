//! Where boot loaders come from: the image's own `/usr/lib/genpack-install` when it carries
//! them (so an image boots with the GRUB it was built with), else the host's grub-mkimage.
//!
//! UEFI loaders are installed for every platform that can run the image: an x86_64 image gets
//! `BOOTX64.EFI` and, where available, `BOOTIA32.EFI` (GRUB's 32-bit UEFI loader boots 64-bit
//! kernels, for machines with 64-bit CPUs and 32-bit firmware); aarch64 and riscv64 images
//! get `BOOTAA64.EFI` and `BOOTRISCV64.EFI`. GRUB's BIOS core images (disk and CD) are always
//! made here, because their built-in prefix must name the place this crate writes grub.cfg
//! to; BIOS boot is only offered for x86 images.

use std::path::{Path, PathBuf};

use crate::error::InstallError;
use crate::grub::{make_loader, LoaderKind, I386_PC_MODULES_DIR, MODULES_ROOT};
use crate::Result;

/// Directory inside an image that may hold prebuilt loaders: `bootx64.efi`, `bootia32.efi`,
/// `bootaa64.efi`, `bootriscv64.efi`, `boot.img`.
pub const IMAGE_LOADER_DIR: &str = "/usr/lib/genpack-install";

/// A UEFI platform, named as firmware names its removable-media loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EfiPlatform {
    /// 64-bit x86: `BOOTX64.EFI`.
    X86_64,
    /// 32-bit x86: `BOOTIA32.EFI`.
    Ia32,
    /// 64-bit ARM: `BOOTAA64.EFI`.
    Aarch64,
    /// 64-bit RISC-V: `BOOTRISCV64.EFI`.
    Riscv64,
}

impl EfiPlatform {
    /// Every platform, in the order loaders are installed.
    pub const ALL: [EfiPlatform; 4] = [
        EfiPlatform::X86_64,
        EfiPlatform::Ia32,
        EfiPlatform::Aarch64,
        EfiPlatform::Riscv64,
    ];

    /// The loader's file name in `EFI/BOOT`, where firmware looks on removable media.
    pub fn file_name(self) -> &'static str {
        match self {
            EfiPlatform::X86_64 => "BOOTX64.EFI",
            EfiPlatform::Ia32 => "BOOTIA32.EFI",
            EfiPlatform::Aarch64 => "BOOTAA64.EFI",
            EfiPlatform::Riscv64 => "BOOTRISCV64.EFI",
        }
    }

    /// The loader's path on a boot file system, without the leading `/`.
    pub fn boot_path(self) -> &'static str {
        match self {
            EfiPlatform::X86_64 => "EFI/BOOT/BOOTX64.EFI",
            EfiPlatform::Ia32 => "EFI/BOOT/BOOTIA32.EFI",
            EfiPlatform::Aarch64 => "EFI/BOOT/BOOTAA64.EFI",
            EfiPlatform::Riscv64 => "EFI/BOOT/BOOTRISCV64.EFI",
        }
    }

    /// The loader's path inside an image that carries it.
    pub fn image_path(self) -> &'static str {
        match self {
            EfiPlatform::X86_64 => "/usr/lib/genpack-install/bootx64.efi",
            EfiPlatform::Ia32 => "/usr/lib/genpack-install/bootia32.efi",
            EfiPlatform::Aarch64 => "/usr/lib/genpack-install/bootaa64.efi",
            EfiPlatform::Riscv64 => "/usr/lib/genpack-install/bootriscv64.efi",
        }
    }

    /// GRUB's name of the platform (`grub-mkimage -O`).
    pub fn grub_platform(self) -> &'static str {
        match self {
            EfiPlatform::X86_64 => "x86_64-efi",
            EfiPlatform::Ia32 => "i386-efi",
            EfiPlatform::Aarch64 => "arm64-efi",
            EfiPlatform::Riscv64 => "riscv64-efi",
        }
    }

    /// Where this host keeps GRUB's modules for the platform.
    pub fn host_modules_dir(self) -> PathBuf {
        Path::new(MODULES_ROOT).join(self.grub_platform())
    }

    /// The Debian package holding those modules.
    pub fn host_package(self) -> &'static str {
        match self {
            EfiPlatform::X86_64 => "grub-efi-amd64-bin",
            EfiPlatform::Ia32 => "grub-efi-ia32-bin",
            EfiPlatform::Aarch64 => "grub-efi-arm64-bin",
            EfiPlatform::Riscv64 => "grub-efi-riscv64-bin",
        }
    }

    /// The platforms whose firmware can start an image built for `arch` (as the image's
    /// `/.genpack/arch` names it), the essential one first. Every platform when the
    /// architecture is unknown.
    pub fn for_image_arch(arch: &str) -> &'static [EfiPlatform] {
        match arch {
            "x86_64" | "amd64" => &[EfiPlatform::X86_64, EfiPlatform::Ia32],
            "i686" | "i586" | "i486" | "i386" | "x86" => &[EfiPlatform::Ia32],
            "aarch64" | "arm64" => &[EfiPlatform::Aarch64],
            "riscv64" | "riscv" => &[EfiPlatform::Riscv64],
            _ => &EfiPlatform::ALL,
        }
    }
}

/// A UEFI loader for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfiLoader {
    /// The platform it runs on.
    pub platform: EfiPlatform,
    /// The loader.
    pub bytes: Vec<u8>,
    /// Where it came from.
    pub origin: LoaderOrigin,
}

impl EfiLoader {
    /// Its path on a boot file system (`EFI/BOOT/BOOTX64.EFI`...).
    pub fn boot_path(&self) -> &'static str {
        self.platform.boot_path()
    }
}

/// The total size of `loaders`, for sizing a boot file system.
pub fn total_size(loaders: &[EfiLoader]) -> u64 {
    loaders.iter().map(|l| l.bytes.len() as u64).sum()
}

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
    arch: String,
    scratch: PathBuf,
}

impl Loaders {
    /// Loaders for `image`; temporary files go to `scratch` (an existing directory).
    pub fn new(image: &Path, scratch: &Path) -> Self {
        let image = genpack_image::Image::open(image).ok();
        let arch = image
            .as_ref()
            .and_then(|i| i.metadata().ok())
            .map(|m| m.arch)
            .unwrap_or_default();
        Self {
            image,
            arch,
            scratch: scratch.to_path_buf(),
        }
    }

    fn read_from_image(&self, path: &str) -> Option<Vec<u8>> {
        self.image.as_ref()?.read(path).ok()
    }

    /// The UEFI loaders for every platform that can run the image, each from the image when
    /// it carries one, else made with the host's GRUB when its modules are installed.
    /// Fails when not even one is available.
    pub fn efi(&self) -> Result<Vec<EfiLoader>> {
        let platforms = EfiPlatform::for_image_arch(&self.arch);
        let mut loaders = Vec::new();
        for &platform in platforms {
            if let Some(bytes) = self.read_from_image(platform.image_path()) {
                loaders.push(EfiLoader {
                    platform,
                    bytes,
                    origin: LoaderOrigin::Image,
                });
            } else if platform.host_modules_dir().is_dir() {
                let bytes = self.make_on_host(LoaderKind::Efi(platform), platform.file_name())?;
                loaders.push(EfiLoader {
                    platform,
                    bytes,
                    origin: LoaderOrigin::Host,
                });
            }
        }
        if loaders.is_empty() {
            let arch = if self.arch.is_empty() {
                "an unknown architecture"
            } else {
                self.arch.as_str()
            };
            let packages: Vec<&str> = platforms.iter().map(|p| p.host_package()).collect();
            return Err(InstallError::Loader {
                name: platforms[0].file_name().to_string(),
                message: format!(
                    "no UEFI loader for {arch}: the image carries none in {IMAGE_LOADER_DIR} \
                     and this machine has no GRUB modules for it (on Debian: apt-get install {})",
                    packages.join(" or ")
                ),
            });
        }
        Ok(loaders)
    }

    /// Whether the image runs on PCs with a BIOS (x86, or an unknown architecture).
    pub fn boots_bios(&self) -> bool {
        EfiPlatform::for_image_arch(&self.arch)
            .iter()
            .any(|p| matches!(p, EfiPlatform::X86_64 | EfiPlatform::Ia32))
    }

    fn make_on_host(&self, kind: LoaderKind, name: &str) -> Result<Vec<u8>> {
        let out = self.scratch.join(name);
        make_loader(kind, &out)?;
        let bytes = std::fs::read(&out).map_err(InstallError::io("reading", &out))?;
        let _ = std::fs::remove_file(&out);
        Ok(bytes)
    }

    /// GRUB's BIOS boot sector (`boot.img`, 512 bytes).
    pub fn bios_boot_sector(&self) -> Result<Vec<u8>> {
        let bytes = match self.read_from_image(&format!("{IMAGE_LOADER_DIR}/boot.img")) {
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
