//! Static builds of the two boot-side programs, for putting into images.
//!
//! [`boot_binaries`] runs, in this crate's source tree,
//!
//! ```text
//! RUSTFLAGS="-C target-feature=+crt-static" \
//!   cargo build --release -p genpack-init --bins --no-default-features \
//!     --target <arch>-unknown-linux-gnu
//! ```
//!
//! with `CARGO_TARGET_DIR` set to a cache directory, so repeated calls only rebuild when the
//! sources changed. The results are checked to be static executables (no ELF interpreter).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The two boot-side executables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootBinaries {
    /// The initramfs `/init` (`genpack-initramfs-init`).
    pub initramfs_init: PathBuf,
    /// The provisioner started as PID 1 in the new root (`genpack-init`).
    pub genpack_init: PathBuf,
}

/// Which cargo profile to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Optimised (for images).
    Release,
    /// Unoptimised, faster to build (for tests).
    Dev,
}

/// Building the static programs failed.
#[derive(Debug, thiserror::Error)]
pub enum BinariesError {
    /// cargo could not be started.
    #[error("cannot run cargo ({0}); the boot programs are built from source with cargo")]
    NoCargo(std::io::Error),
    /// cargo failed.
    #[error("building the static boot programs failed:\n{0}")]
    Build(String),
    /// A result is not a static executable.
    #[error("{0} is not a static executable; the glibc static libraries (libc6-dev) are needed")]
    NotStatic(PathBuf),
}

/// Environment variable overriding the cache directory.
pub const CACHE_ENV: &str = "GENPACK_BOOT_BINARIES_DIR";

/// The default cache: `$GENPACK_BOOT_BINARIES_DIR`, else `$XDG_CACHE_HOME/genpack/boot-binaries`,
/// else `~/.cache/genpack/boot-binaries`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_ENV) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("genpack").join("boot-binaries")
}

/// The files [`boot_binaries`] builds from: this crate's manifest and sources, those of the
/// crates it depends on in the same workspace (genpack-ini), and the workspace's lock file.
/// A change in any of them gives different boot programs.
pub fn source_paths() -> Vec<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sibling = here.join("../genpack-ini");
    vec![
        here.join("Cargo.toml"),
        here.join("src"),
        sibling.join("Cargo.toml"),
        sibling.join("src"),
        here.join("../../Cargo.lock"),
    ]
}

/// Builds (if needed) the release binaries in the default cache directory.
pub fn boot_binaries() -> Result<BootBinaries, BinariesError> {
    boot_binaries_in(&default_cache_dir(), Profile::Release)
}

/// Builds (if needed) the binaries with `profile` in `cache_dir`.
pub fn boot_binaries_in(cache_dir: &Path, profile: Profile) -> Result<BootBinaries, BinariesError> {
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "-p",
            "genpack-init",
            "--bins",
            "--no-default-features",
            "--target",
            &target,
        ])
        .env("CARGO_TARGET_DIR", cache_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    if profile == Profile::Release {
        command.arg("--release");
    }
    let output = command.output().map_err(BinariesError::NoCargo)?;
    if !output.status.success() {
        return Err(BinariesError::Build(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let dir = cache_dir.join(&target).join(match profile {
        Profile::Release => "release",
        Profile::Dev => "debug",
    });
    let binaries = BootBinaries {
        initramfs_init: dir.join("genpack-initramfs-init"),
        genpack_init: dir.join("genpack-init"),
    };
    for path in [&binaries.initramfs_init, &binaries.genpack_init] {
        if !is_static_elf(path) {
            return Err(BinariesError::NotStatic(path.clone()));
        }
    }
    Ok(binaries)
}

/// Whether `path` is an ELF executable without a program interpreter (statically linked).
pub fn is_static_elf(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    if bytes.get(..4) != Some(b"\x7fELF") || bytes.get(4) != Some(&2) {
        return false;
    }
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    const PT_INTERP: u32 = 3;
    (0..phnum).all(|i| {
        let at = phoff as usize + i * phentsize;
        bytes
            .get(at..at + 4)
            .is_some_and(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) != PT_INTERP)
    })
}
