//! Static builds of the two boot-side programs, for putting into images.
//!
//! An installed genpack ships them prebuilt, one folder per architecture, in
//! `<prefix>/lib/genpack/boot/<arch>/` next to `<prefix>/bin/genpack` (see
//! [`installed_boot_binaries`]); [`boot_binaries_for_arch`] takes those when they are there, so
//! building an image needs no Rust toolchain. In a development checkout it runs, in this
//! crate's source tree,
//!
//! ```text
//! RUSTFLAGS="-C target-feature=+crt-static" \
//!   cargo build --release -p genpack-init --bins --no-default-features \
//!     --target <arch>-unknown-linux-gnu
//! ```
//!
//! (for an image of another architecture than the machine's, with Debian's cross compiler for
//! it as the linker),
//!
//! with `CARGO_TARGET_DIR` set to a folder of the cache directory that belongs to this source
//! tree (see [`target_dir_for_this_tree`]), so repeated calls only rebuild when the sources
//! changed. The results are checked to be static executables (no ELF interpreter).

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
    #[error("cannot run cargo ({0}); this genpack is not installed from its package, so it builds the boot programs from source with cargo: install Rust (rustup.rs), or install the genpack-studio package, which ships them prebuilt")]
    NoCargo(std::io::Error),
    /// cargo failed.
    #[error("building the static boot programs failed:\n{0}")]
    Build(String),
    /// A result is not a static executable.
    #[error("{0} is not a static executable; the glibc static libraries (libc6-dev) are needed")]
    NotStatic(PathBuf),
    /// The installed boot programs are missing or damaged.
    #[error("{} is not a static executable, but genpack's prebuilt boot programs belong there; reinstall the genpack-studio package", .0.display())]
    DamagedInstall(PathBuf),
    /// The programs for an image of another architecture are neither installed nor buildable.
    #[error("the boot programs for {arch} images are not installed with this genpack, and building them here failed: install the genpack-studio package (it ships them for x86_64 and aarch64), or add the cross compiler: `rustup target add {target}` and `apt-get install {packages}`\n{detail}")]
    ForeignArch {
        /// The image's architecture (`aarch64`).
        arch: String,
        /// Rust's target for it.
        target: String,
        /// Debian's packages of the cross compiler and C library for it.
        packages: String,
        /// What cargo said.
        detail: String,
    },
}

/// File name of the initramfs `/init` program.
pub const INITRAMFS_INIT_NAME: &str = "genpack-initramfs-init";
/// File name of the provisioner.
pub const GENPACK_INIT_NAME: &str = "genpack-init";

/// Where an installed genpack keeps the prebuilt boot programs, relative to the prefix the
/// running program is installed in (`/usr/bin/genpack` -> `/usr/lib/genpack/boot`); one
/// folder per architecture below it (`x86_64`, `aarch64`, as Rust names them).
pub const INSTALLED_DIR: &str = "lib/genpack/boot";

/// The prebuilt boot programs of an installed genpack for the machine's architecture: see
/// [`installed_boot_binaries_for`] with the running program.
pub fn installed_boot_binaries() -> Result<Option<BootBinaries>, BinariesError> {
    match std::env::current_exe() {
        Ok(program) => installed_boot_binaries_for(&program, std::env::consts::ARCH),
        Err(_) => Ok(None),
    }
}

/// The prebuilt boot programs for `arch` that belong with `program` (an installed
/// `<prefix>/bin/genpack` or `genpack-studio`): `<prefix>/lib/genpack/boot/<arch>/`.
/// `None` when that folder does not exist (a development build: the programs are built
/// from source); an error when it exists but does not hold both as static executables.
pub fn installed_boot_binaries_for(
    program: &Path,
    arch: &str,
) -> Result<Option<BootBinaries>, BinariesError> {
    let Some(prefix) = program.parent().and_then(Path::parent) else {
        return Ok(None);
    };
    let dir = prefix.join(INSTALLED_DIR).join(arch);
    if !dir.is_dir() {
        return Ok(None);
    }
    let binaries = BootBinaries {
        initramfs_init: dir.join(INITRAMFS_INIT_NAME),
        genpack_init: dir.join(GENPACK_INIT_NAME),
    };
    for path in [&binaries.initramfs_init, &binaries.genpack_init] {
        if !is_static_elf(path) {
            return Err(BinariesError::DamagedInstall(path.clone()));
        }
    }
    Ok(Some(binaries))
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

/// The crates of this workspace the boot programs are built from besides this one.
const WORKSPACE_DEPENDENCIES: [&str; 2] = ["genpack-ini", "genpack-util"];

/// The files [`boot_binaries`] builds from: this crate's manifest and sources, those of the
/// crates it depends on in the same workspace, and the workspace's lock file. A change in
/// any of them gives different boot programs.
pub fn source_paths() -> Vec<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![here.join("Cargo.toml"), here.join("src")];
    for name in WORKSPACE_DEPENDENCIES {
        let sibling = here.join("..").join(name);
        paths.push(sibling.join("Cargo.toml"));
        paths.push(sibling.join("src"));
    }
    paths.push(here.join("../../Cargo.lock"));
    paths
}

/// The cargo target directory for this source tree inside `cache_dir`: `tree-<hash of the
/// tree's path>`.
///
/// Two checkouts of genpack must not share one target directory. Cargo names the artifacts
/// of a workspace crate by its path relative to the workspace and decides that a build is
/// current by comparing the times of the source files with the time of the last build. A
/// checkout whose files are older than another checkout's last build into the same
/// directory therefore gets that checkout's programs, built from other sources, without a
/// word.
pub fn target_dir_for_this_tree(cache_dir: &Path) -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tree = std::fs::canonicalize(here).unwrap_or_else(|_| here.to_path_buf());
    // FNV-1a: stable across Rust releases, unlike the standard library's hasher.
    let hash = tree
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
    cache_dir.join(format!("tree-{hash:016x}"))
}

/// The boot programs for images of this machine's architecture: see
/// [`boot_binaries_for_arch`].
pub fn boot_binaries() -> Result<BootBinaries, BinariesError> {
    boot_binaries_for_arch(std::env::consts::ARCH)
}

/// The boot programs for images of `arch` (Rust's name: `x86_64`, `aarch64`, `i686`,
/// `riscv64`): an installed genpack's prebuilt ones ([`installed_boot_binaries_for`]; nothing
/// is compiled), else the release binaries built (if needed) from this source tree in the
/// default cache directory.
pub fn boot_binaries_for_arch(arch: &str) -> Result<BootBinaries, BinariesError> {
    boot_binaries_of(std::env::current_exe().ok().as_deref(), arch)
}

/// [`boot_binaries_for_arch`] for the genpack installed as `program`.
fn boot_binaries_of(program: Option<&Path>, arch: &str) -> Result<BootBinaries, BinariesError> {
    if let Some(program) = program {
        if let Some(binaries) = installed_boot_binaries_for(program, arch)? {
            return Ok(binaries);
        }
    }
    boot_binaries_in_for_arch(&default_cache_dir(), Profile::Release, arch)
}

/// Rust's target for the static boot programs of `arch` images.
pub fn rust_target(arch: &str) -> String {
    match arch {
        "riscv64" => "riscv64gc-unknown-linux-gnu".to_string(),
        other => format!("{other}-unknown-linux-gnu"),
    }
}

/// Debian's cross compiler for `arch` (`aarch64-linux-gnu-gcc`) and the packages that bring it
/// with the static C library.
fn cross_compiler(arch: &str) -> (String, String) {
    let debian = match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" => "i386",
        other => other,
    };
    let gnu = if arch == "i686" { "i686" } else { arch };
    (
        format!("{gnu}-linux-gnu-gcc"),
        // Debian's package names write x86_64 as x86-64.
        format!(
            "gcc-{}-linux-gnu libc6-dev-{debian}-cross",
            gnu.replace('_', "-")
        ),
    )
}

/// Builds (if needed) the binaries for this machine's architecture with `profile` in
/// `cache_dir`: see [`boot_binaries_in_for_arch`].
pub fn boot_binaries_in(cache_dir: &Path, profile: Profile) -> Result<BootBinaries, BinariesError> {
    boot_binaries_in_for_arch(cache_dir, profile, std::env::consts::ARCH)
}

/// Builds (if needed) the binaries for `arch` images with `profile` in `cache_dir` (in this
/// source tree's own folder of it: [`target_dir_for_this_tree`]). For another architecture
/// than the machine's, cargo links with Debian's cross compiler for it unless
/// `CARGO_TARGET_<TARGET>_LINKER` says otherwise.
pub fn boot_binaries_in_for_arch(
    cache_dir: &Path,
    profile: Profile,
    arch: &str,
) -> Result<BootBinaries, BinariesError> {
    let cache_dir = &target_dir_for_this_tree(cache_dir);
    let target = rust_target(arch);
    let foreign = arch != std::env::consts::ARCH;
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
    let (linker, cross_packages) = cross_compiler(arch);
    let linker_variable = format!(
        "CARGO_TARGET_{}_LINKER",
        target.to_uppercase().replace('-', "_")
    );
    if foreign && std::env::var_os(&linker_variable).is_none() {
        command.env(&linker_variable, &linker);
    }
    let output = command.output().map_err(BinariesError::NoCargo)?;
    if !output.status.success() {
        let detail = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if foreign {
            // cargo's own words end with the reason (a missing target or linker).
            let detail = detail.lines().rev().take(6).collect::<Vec<_>>();
            let detail = detail.into_iter().rev().collect::<Vec<_>>().join("\n");
            return Err(BinariesError::ForeignArch {
                arch: arch.to_string(),
                target,
                packages: cross_packages,
                detail,
            });
        }
        return Err(BinariesError::Build(detail));
    }
    let dir = cache_dir.join(&target).join(match profile {
        Profile::Release => "release",
        Profile::Dev => "debug",
    });
    let binaries = BootBinaries {
        initramfs_init: dir.join(INITRAMFS_INIT_NAME),
        genpack_init: dir.join(GENPACK_INIT_NAME),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every workspace crate in this crate's `[dependencies]` is built into the boot programs,
    /// so its sources must count for the image's up-to-date check.
    #[test]
    fn source_paths_cover_every_workspace_dependency() {
        let manifest =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .unwrap();
        let dependencies = manifest
            .split("[dependencies]")
            .nth(1)
            .unwrap()
            .split("\n[")
            .next()
            .unwrap();
        let workspace_crates: Vec<&str> = dependencies
            .lines()
            .filter_map(|line| line.split(['.', ' ', '=']).next())
            .filter(|name| name.starts_with("genpack-"))
            .collect();
        assert!(workspace_crates.contains(&"genpack-util"));
        let paths = source_paths();
        for name in workspace_crates {
            let src = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(name)
                .join("src");
            assert!(
                paths.contains(&src),
                "{name} is missing from source_paths()"
            );
            assert!(src.is_dir(), "{}", src.display());
        }
    }

    /// A 64-bit ELF header with no program headers (static) or with one `PT_INTERP`
    /// program header (dynamically linked).
    fn elf(dynamic: bool) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2;
        if dynamic {
            bytes[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
            bytes[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
            bytes[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
            let mut header = vec![0u8; 56];
            header[..4].copy_from_slice(&3u32.to_le_bytes());
            bytes.extend(header);
        }
        bytes
    }

    /// A prefix with `bin/genpack` and static boot programs for `arch`; returns their folder.
    fn install_prebuilt(prefix: &Path, arch: &str) -> PathBuf {
        let dir = prefix.join("lib/genpack/boot").join(arch);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(INITRAMFS_INIT_NAME), elf(false)).unwrap();
        std::fs::write(dir.join(GENPACK_INIT_NAME), elf(false)).unwrap();
        dir
    }

    #[test]
    fn an_installed_genpack_takes_its_prebuilt_programs_for_the_architecture() {
        let prefix = tempfile::tempdir().unwrap();
        let program = prefix.path().join("bin/genpack");
        let dir = install_prebuilt(prefix.path(), "x86_64");

        let found = installed_boot_binaries_for(&program, "x86_64")
            .unwrap()
            .expect("the prebuilt programs are found");
        assert_eq!(found.initramfs_init, dir.join("genpack-initramfs-init"));
        assert_eq!(found.genpack_init, dir.join("genpack-init"));
        assert!(
            installed_boot_binaries_for(&program, "riscv64")
                .unwrap()
                .is_none(),
            "no folder for that architecture: built from source"
        );
    }

    #[test]
    fn building_an_image_with_an_installed_genpack_compiles_nothing() {
        let prefix = tempfile::tempdir().unwrap();
        let program = prefix.path().join("bin/genpack-studio");
        let dir = install_prebuilt(prefix.path(), std::env::consts::ARCH);
        // A build from source would run cargo and give programs in the cache folder.
        let for_images = boot_binaries_of(Some(&program), std::env::consts::ARCH).unwrap();
        assert_eq!(for_images.genpack_init, dir.join("genpack-init"));
        assert_eq!(
            for_images.initramfs_init,
            dir.join("genpack-initramfs-init")
        );
        // An image of the other architecture the package ships gets that one's programs,
        // never the machine's own.
        let other = if std::env::consts::ARCH == "aarch64" {
            "x86_64"
        } else {
            "aarch64"
        };
        let other_dir = install_prebuilt(prefix.path(), other);
        let for_other = boot_binaries_of(Some(&program), other).unwrap();
        assert_eq!(for_other.genpack_init, other_dir.join("genpack-init"));
        assert_ne!(for_other, for_images);
    }

    #[test]
    fn programs_for_another_architecture_say_what_builds_them() {
        // riscv64 programs are neither installed nor (on a usual machine) buildable: the error
        // names Rust's target and Debian's cross compiler; where both are there, they build.
        let cache = std::env::temp_dir().join("genpack-test-boot-binaries");
        match boot_binaries_in_for_arch(&cache, Profile::Dev, "riscv64") {
            Ok(built) => {
                assert!(is_static_elf(&built.genpack_init));
                assert!(is_static_elf(&built.initramfs_init));
            }
            Err(error @ BinariesError::ForeignArch { .. }) => {
                let message = error.to_string();
                assert!(
                    message.starts_with("the boot programs for riscv64 images are not installed"),
                    "{message}"
                );
                assert!(
                    message.contains("rustup target add riscv64gc-unknown-linux-gnu"),
                    "{message}"
                );
                assert!(
                    message
                        .contains("apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross"),
                    "{message}"
                );
            }
            Err(other) => panic!("expected a ForeignArch error, got {other}"),
        }
    }

    #[test]
    fn a_development_build_has_no_installed_programs() {
        let prefix = tempfile::tempdir().unwrap();
        let program = prefix.path().join("target/debug/genpack");
        std::fs::create_dir_all(program.parent().unwrap()).unwrap();
        assert!(installed_boot_binaries_for(&program, "x86_64")
            .unwrap()
            .is_none());
        // The test program itself runs from a cargo target folder.
        assert!(installed_boot_binaries().unwrap().is_none());
    }

    #[test]
    fn a_damaged_installation_is_an_error_not_a_build_from_source() {
        let prefix = tempfile::tempdir().unwrap();
        let program = prefix.path().join("bin/genpack-studio");
        let dir = prefix.path().join("lib/genpack/boot/x86_64");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(INITRAMFS_INIT_NAME), elf(false)).unwrap();
        std::fs::write(dir.join(GENPACK_INIT_NAME), elf(true)).unwrap();
        let error = installed_boot_binaries_for(&program, "x86_64").unwrap_err();
        assert!(
            matches!(&error, BinariesError::DamagedInstall(path) if path == &dir.join("genpack-init")),
            "{error}"
        );
        assert!(error.to_string().contains("reinstall"), "{error}");

        std::fs::remove_file(dir.join(INITRAMFS_INIT_NAME)).unwrap();
        std::fs::write(dir.join(GENPACK_INIT_NAME), elf(false)).unwrap();
        let error = installed_boot_binaries_for(&program, "x86_64").unwrap_err();
        assert!(
            matches!(&error, BinariesError::DamagedInstall(path) if path == &dir.join("genpack-initramfs-init")),
            "{error}"
        );
    }

    #[test]
    fn each_source_tree_builds_in_its_own_target_dir() {
        let cache = Path::new("/var/cache/boot");
        let dir = target_dir_for_this_tree(cache);
        assert_eq!(dir.parent(), Some(cache));
        assert_eq!(dir, target_dir_for_this_tree(cache), "stable between calls");
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("tree-") && name.len() == "tree-".len() + 16,
            "{name}"
        );
    }
}
