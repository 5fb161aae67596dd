//! Gentoo as a base: the lower starts from the latest systemd stage3 of the architecture, gets
//! the Portage tree snapshot, genpack's overlay and the project's own overlay, the Portage
//! configuration the definition decides, and is completed by the emerge pipeline running in a
//! container, with binary packages kept in a per-architecture cache shared by every project.
//!
//! Downloads come from a mirror (`https://`, `http://` or `file://`) and are cached under
//! `<cache>/gentoo/downloads/`; see [`crate::download`] for freshness and resume.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use genpack_portage::config::{self, Binhost, LOCAL_OVERLAY_LOCATION, OVERLAY_LOCATION};
use genpack_portage::emerge::{self, PlanOptions, Step};
use genpack_portage::history::{MergeCounts, MergeHistory};
use genpack_portage::progress::{EmergeEvent, ProgressParser};
use genpack_portage::stage3::{self, Digests, Mirror};
use genpack_portage::{binfmt, Arch as PortageArch};
use sha2::{Digest, Sha256};

use super::vardb::PortageDb;
use super::{BaseProvider, LowerContext, LowerStats, PackageDb, PrepareContext};
use crate::container::{Container, Runtime, HOST_MOUNT};
use crate::download::{Downloader, Fetched};
use crate::error::{BuildError, Result};
use crate::lower::GENTOO_LOWER_INPUT_DIRS;
use crate::progress::{Meter, Phase, Progress, Unit};
use crate::recipe::{Arch, Recipe};

/// Environment variable naming the mirror to download stage3 archives and snapshots from.
pub const MIRROR_ENV: &str = "GENPACK_GENTOO_MIRROR";
/// Environment variable naming the folder of genpack's overlay.
pub const OVERLAY_ENV: &str = "GENPACK_OVERLAY";
/// Where the shared per-architecture binary package cache is mounted in the lower.
pub const BINPKG_MOUNT: &str = "/var/cache/binpkgs";
/// Where the shared source archive cache is mounted in the lower.
pub const DISTFILES_MOUNT: &str = "/var/cache/distfiles";
/// Where the Portage tree snapshot is unpacked in the lower.
pub const GENTOO_REPO_LOCATION: &str = "/var/db/repos/gentoo";
/// Where the static boot programs are bound in the lower, for `sys-apps/genpack-init` to
/// install (named in `GENPACK_BOOT_BINARIES`).
pub const BOOT_BINARIES_MOUNT: &str = "/mnt/genpack-boot";
/// Where a `file://` mirror is bound in the lower, so Portage can fetch its `distfiles/`.
pub const MIRROR_MOUNT: &str = "/mnt/genpack-mirror";
/// Lines of a failed package's build log quoted in the error.
const BUILD_LOG_TAIL: usize = 20;

/// The binhost URL that stands for Gentoo's official binary packages of the target
/// architecture (signatures checked), as `--binhost gentoo` and the studio offer it.
pub const OFFICIAL_BINHOST: &str = "gentoo";

/// How emerge runs in a Gentoo lower. None of this changes what an image contains, so it is
/// not part of the lower's inputs: a build with other options reuses the lower.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct EmergeOptions {
    /// Build several packages at once: `--jobs=N --load-average=N`.
    pub jobs: Option<usize>,
    /// Remove build-time-only packages straight away: `--depclean --with-bdeps=n`.
    pub deep_depclean: bool,
    /// A binary package host to take prebuilt packages from (written to
    /// `/etc/portage/binrepos.conf`, emerge gets `--getbinpkg`). The URL
    /// [`OFFICIAL_BINHOST`] stands for Gentoo's own binhost of the target architecture.
    pub binhost: Option<Binhost>,
    /// distcc servers (`127.0.0.1:3632/4`): `FEATURES=distcc` with `DISTCC_HOSTS`.
    pub distcc_hosts: Vec<String>,
    /// Sign every binary package this builder makes, so others can check them
    /// (Portage's `binpkg-signing`).
    pub sign_binpkgs: Option<SigningKey>,
    /// OpenPGP public keys (armored files) whose signatures binhost packages may carry:
    /// imported, fully trusted, into the lower's `/etc/portage/gnupg`, the keyring Portage
    /// checks `verify-signature` binhosts against.
    pub binhost_keys: Vec<PathBuf>,
}

/// An OpenPGP key to sign binary packages with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct SigningKey {
    /// The GnuPG home holding the secret key (without a passphrase, or with an agent that has
    /// it); bound into the build container.
    pub gnupg_home: PathBuf,
    /// The key's fingerprint or user id.
    pub key: String,
}

/// Log (and step) name of everything before the emerge pipeline.
const STEP: &str = "lower";

/// Where the Gentoo base gets its sources from and keeps its caches.
#[derive(Debug, Clone)]
pub struct GentooSources {
    /// Mirror holding `releases/` and `snapshots/`.
    pub mirror: Mirror,
    /// Cache folder of this base (`~/.cache/genpack/gentoo`): downloads and binary packages.
    pub cache: PathBuf,
    /// genpack's overlay (the `overlay/` folder of the genpack sources).
    pub overlay: PathBuf,
    /// Where binfmt_misc handlers are listed (checked before an emulated build).
    pub binfmt_dir: PathBuf,
}

impl GentooSources {
    /// Sources from `mirror` cached in `cache`, with the overlay found by [`default_overlay`].
    pub fn new(mirror: &str, cache: &Path) -> Self {
        Self {
            mirror: Mirror::new(mirror),
            cache: cache.to_path_buf(),
            overlay: default_overlay(),
            binfmt_dir: PathBuf::from(binfmt::BINFMT_MISC_DIR),
        }
    }
}

/// The mirror in `GENPACK_GENTOO_MIRROR`, else the Gentoo distfiles mirror.
pub fn default_mirror() -> String {
    std::env::var(MIRROR_ENV)
        .ok()
        .filter(|mirror| !mirror.trim().is_empty())
        .unwrap_or_else(|| stage3::DEFAULT_MIRROR.to_string())
}

/// genpack's overlay: `GENPACK_OVERLAY` when set, else `../share/genpack/overlay` next to the
/// running program (an installed genpack), else the `overlay/` folder of the sources this
/// program was built from.
pub fn default_overlay() -> PathBuf {
    if let Some(dir) = std::env::var_os(OVERLAY_ENV).filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("../share/genpack/overlay")))
        .filter(|dir| dir.join("profiles/repo_name").is_file());
    installed.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../overlay"))
}

/// The stage3 a mirror currently offers for one architecture, as cached locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage3 {
    /// Path relative to the autobuilds folder (`20250105T170325Z/stage3-amd64-systemd-...`).
    pub relative: String,
    /// Its URL.
    pub url: String,
    /// The cached archive.
    pub archive: PathBuf,
    /// The cached `.DIGESTS` file.
    pub digests: PathBuf,
}

impl Stage3 {
    /// The published file name.
    pub fn file_name(&self) -> &str {
        self.relative.rsplit('/').next().unwrap_or(&self.relative)
    }
}

/// The Gentoo base provider.
#[derive(Debug, Clone)]
pub struct Gentoo {
    sources: GentooSources,
    emerge: EmergeOptions,
}

impl Gentoo {
    /// A provider using `sources`, with emerge's default options.
    pub fn new(sources: GentooSources) -> Self {
        Self {
            sources,
            emerge: EmergeOptions::default(),
        }
    }

    /// The same provider running emerge with `options`.
    pub fn with_emerge_options(mut self, options: EmergeOptions) -> Self {
        self.emerge = options;
        self
    }

    /// Where it downloads from and caches.
    pub fn sources(&self) -> &GentooSources {
        &self.sources
    }

    /// Download folder of one architecture.
    pub fn downloads(&self, arch: Arch) -> PathBuf {
        self.sources.cache.join("downloads").join(arch.as_str())
    }

    /// The cached Portage snapshot (shared by every architecture).
    pub fn snapshot(&self) -> PathBuf {
        self.sources
            .cache
            .join("downloads")
            .join(file_name(stage3::PORTAGE_SNAPSHOT))
    }

    /// The binary package cache of one architecture, shared by every project
    /// (mounted at [`BINPKG_MOUNT`]; serve it over HTTP to use it as a binhost elsewhere).
    pub fn binpkgs(&self, arch: Arch) -> PathBuf {
        self.sources.cache.join(arch.as_str()).join("binpkgs")
    }

    /// emerge.log of every lower built for one architecture, appended after each: how long
    /// packages took, for the next build's ETA (the lower itself starts from a fresh stage3).
    pub fn merge_log(&self, arch: Arch) -> PathBuf {
        self.sources.cache.join(arch.as_str()).join("emerge.log")
    }

    fn latest_list(&self, arch: Arch) -> Result<(String, PathBuf)> {
        let url = self.sources.mirror.latest_stage3_list(portage_arch(arch)?);
        let path = self.downloads(arch).join(file_name(&url));
        Ok((url, path))
    }

    /// The stage3 named by the cached `latest-stage3-*.txt` (fetched by
    /// [`BaseProvider::prepare`]).
    pub fn stage3(&self, arch: Arch) -> Result<Stage3> {
        let (_, list) = self.latest_list(arch)?;
        let text = std::fs::read_to_string(&list).map_err(BuildError::io("reading", &list))?;
        let relative = stage3::parse_latest(&text).map_err(|source| {
            BuildError::Portage(genpack_portage::Error::Parse {
                path: list.clone(),
                line: 0,
                source,
            })
        })?;
        if relative.split('/').any(|part| part == "..") {
            return Err(BuildError::Download {
                url: list.display().to_string(),
                message: format!("refusing the stage3 path '{relative}'"),
            });
        }
        let url = self.sources.mirror.stage3(portage_arch(arch)?, &relative);
        let archive = self.downloads(arch).join(file_name(&relative));
        let digests = self
            .downloads(arch)
            .join(file_name(&stage3::digests_url(&relative)));
        Ok(Stage3 {
            relative,
            url,
            archive,
            digests,
        })
    }

    /// Stops an emulated build early when binfmt_misc cannot run the target's programs.
    /// Returns whether the build runs emulated.
    pub fn check_emulation(&self, arch: Arch) -> Result<bool> {
        let target = portage_arch(arch)?;
        let Some(host) = PortageArch::host() else {
            return Ok(false);
        };
        if !binfmt::emulation_needed(host, target) {
            return Ok(false);
        }
        binfmt::require_handler(&self.sources.binfmt_dir, target)?;
        Ok(true)
    }

    fn stage3_identity(&self, arch: Arch) -> String {
        match self.stage3(arch) {
            Ok(stage3) => format!("{} {}", stage3.relative, freshness(&stage3.archive)),
            Err(_) => "not downloaded".into(),
        }
    }

    /// Copies the project's `savedconfig/ patches/ env/ kernel/ overlay/` into the lower.
    fn copy_project_dirs(&self, ctx: &LowerContext<'_>) -> Result<()> {
        let project = ctx.project_dir;
        let target = ctx.target;
        for (dir, destination) in [
            ("savedconfig", "/etc/portage/savedconfig"),
            ("patches", "/etc/portage/patches"),
            ("env", "/etc/portage/env"),
            ("overlay", LOCAL_OVERLAY_LOCATION),
        ] {
            let source = project.join(dir);
            if source.is_dir() {
                copy_contents(ctx, &source, &in_root(target, destination))?;
            }
        }
        let kernel = project.join("kernel");
        if kernel.is_dir() {
            let destination = in_root(target, "/etc/kernel");
            std::fs::create_dir_all(&destination)
                .map_err(BuildError::io("creating", &destination))?;
            let entries = std::fs::read_dir(&kernel).map_err(BuildError::io("reading", &kernel))?;
            for entry in entries {
                let entry = entry.map_err(BuildError::io("reading", &kernel))?;
                if entry.file_name().to_string_lossy().starts_with("arch-") {
                    continue;
                }
                let mut cmd = Command::new("cp");
                cmd.arg("-a").arg(entry.path()).arg(&destination);
                ctx.runner.run(STEP, &mut cmd, "coreutils", |_| {})?;
            }
            let per_arch = kernel.join(format!("arch-{}", ctx.recipe.arch.as_str()));
            if per_arch.is_dir() {
                copy_contents(ctx, &per_arch, &destination)?;
            }
        }
        Ok(())
    }

    /// Writes the Portage configuration of the definition into the lower. The project overlay's
    /// `metadata/layout.conf` and `profiles/repo_name` are only created when it has none.
    /// The binhost of the build settings, else the definition's (`binhost` key); Gentoo's
    /// official one always with its signatures checked.
    fn binhost(&self, recipe: &Recipe) -> Option<Binhost> {
        self.emerge.binhost.clone().or_else(|| {
            recipe.portage.binhost.as_ref().map(|url| Binhost {
                url: url.clone(),
                verify_signature: url == OFFICIAL_BINHOST,
            })
        })
    }

    fn write_config(&self, ctx: &LowerContext<'_>) -> Result<()> {
        for file in config::files(&ctx.recipe.portage.config)? {
            let path = in_root(ctx.target, &file.path.to_string_lossy());
            if file.path.starts_with(LOCAL_OVERLAY_LOCATION) && path.exists() {
                continue;
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(BuildError::io("creating", dir))?;
            }
            std::fs::write(&path, &file.contents).map_err(BuildError::io("writing", &path))?;
            ctx.runner
                .log_line(STEP, &format!("wrote {}", file.path.display()))?;
        }
        if let Some(binhost) = &self.binhost(ctx.recipe) {
            let binhost = if binhost.url == OFFICIAL_BINHOST {
                gentoo_binhost(ctx.recipe.arch).ok_or_else(|| {
                    BuildError::Definition(format!(
                        "Gentoo publishes no binary packages for {}; use the URL of a binhost of your own",
                        ctx.recipe.arch
                    ))
                })?
            } else {
                binhost.clone()
            };
            let binhost = &binhost;
            let file = config::binrepos_conf(binhost)?;
            let path = in_root(ctx.target, &file.path.to_string_lossy());
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(BuildError::io("creating", dir))?;
            }
            std::fs::write(&path, &file.contents).map_err(BuildError::io("writing", &path))?;
            ctx.runner.log_line(
                STEP,
                &format!(
                    "wrote {}: binary packages from {}",
                    file.path.display(),
                    binhost.url
                ),
            )?;
        }
        Ok(())
    }

    /// Points `/etc/portage/make.profile` at the definition's profile in our overlay, as
    /// `eselect profile set genpack-overlay:genpack/<arch>[/<profile>]` would.
    fn select_profile(&self, ctx: &LowerContext<'_>) -> Result<()> {
        let arch = portage_arch(ctx.recipe.arch)?;
        let profile = ctx.recipe.profile.as_deref();
        let link_target = config::profile_link(arch, profile)?;
        let profile_dir = in_root(
            &in_root(ctx.target, "etc/portage"),
            &link_target.to_string_lossy(),
        );
        if !profile_dir.is_dir() {
            return Err(BuildError::Definition(format!(
                "profile '{}' does not exist in genpack's overlay (no {})",
                config::profile_target(arch, profile)?,
                profile_dir.display()
            )));
        }
        let link = in_root(ctx.target, "etc/portage/make.profile");
        match std::fs::symlink_metadata(&link) {
            Ok(meta) if meta.is_dir() => {
                std::fs::remove_dir_all(&link).map_err(BuildError::io("removing", &link))?
            }
            Ok(_) => std::fs::remove_file(&link).map_err(BuildError::io("removing", &link))?,
            Err(_) => {}
        }
        std::os::unix::fs::symlink(&link_target, &link)
            .map_err(BuildError::io("creating", &link))?;
        ctx.runner.log_line(
            STEP,
            &format!(
                "profile {}: /etc/portage/make.profile -> {}",
                config::profile_target(arch, profile)?,
                link_target.display()
            ),
        )
    }

    /// Lets Portage fetch source archives from the mirror's `distfiles/`: `GENTOO_MIRRORS` is
    /// the mirror itself; a `file://` mirror is bound read-only and copied from with curl.
    fn bind_mirror(&self, ctx: &LowerContext<'_>, container: Container) -> Result<Container> {
        let base = self.sources.mirror.base().trim_end_matches('/').to_string();
        if let Some(path) = base.strip_prefix("file://") {
            let path = Path::new(path);
            if !path.join("distfiles").is_dir() {
                return Ok(container);
            }
            ctx.runner.log_line(
                STEP,
                &format!(
                    "source archives from {}/distfiles (bound at {MIRROR_MOUNT})",
                    path.display()
                ),
            )?;
            let fetch = "curl -fsS -o \"${DISTDIR}/${FILE}\" \"${URI}\"";
            return Ok(container
                .bind(path, MIRROR_MOUNT, true)
                .env("GENTOO_MIRRORS", &format!("file://{MIRROR_MOUNT}"))
                .env("FETCHCOMMAND_FILE", fetch)
                .env("RESUMECOMMAND_FILE", fetch));
        }
        Ok(container.env("GENTOO_MIRRORS", &base))
    }

    /// Imports [`EmergeOptions::binhost_keys`] into the lower's Portage keyring
    /// (`/etc/portage/gnupg`) with full trust, with this machine's gpg.
    /// A builder that signs its packages also trusts its own key: Portage checks the
    /// signature of every binary package it installs, its own included.
    fn import_binhost_keys(&self, ctx: &LowerContext<'_>) -> Result<()> {
        let mut keys = self.emerge.binhost_keys.clone();
        if let Some(signing) = &self.emerge.sign_binpkgs {
            let exported = in_root(ctx.target, "tmp/genpack-signing-key.asc");
            let mut cmd = Command::new("gpg");
            cmd.arg("--homedir")
                .arg(&signing.gnupg_home)
                .args(["--batch", "--no-tty", "--armor", "--output"])
                .arg(&exported)
                .args(["--export", signing.key.as_str()]);
            ctx.runner.run(STEP, &mut cmd, "gnupg", |_| {})?;
            keys.push(exported);
        }
        if keys.is_empty() {
            return Ok(());
        }
        let home = in_root(ctx.target, "etc/portage/gnupg");
        std::fs::create_dir_all(&home).map_err(BuildError::io("creating", &home))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))
            .map_err(BuildError::io("changing the mode of", &home))?;
        let gpg = |args: &[&str]| {
            let mut cmd = Command::new("gpg");
            cmd.arg("--homedir")
                .arg(&home)
                .args(["--batch", "--no-tty"])
                .args(args);
            cmd
        };
        for key in &keys {
            let mut cmd = gpg(&["--import"]);
            cmd.arg(key);
            ctx.runner.run(STEP, &mut cmd, "gnupg", |_| {})?;
        }
        let mut fingerprints = Vec::new();
        let mut cmd = gpg(&["--with-colons", "--fingerprint"]);
        ctx.runner.run(STEP, &mut cmd, "gnupg", |line| {
            if let Some(rest) = line.strip_prefix("fpr:") {
                if let Some(fpr) = rest.split(':').find(|field| field.len() >= 40) {
                    fingerprints.push(fpr.to_string());
                }
            }
        })?;
        let trust: String = fingerprints
            .iter()
            .map(|fpr| format!("{fpr}:6:\n"))
            .collect();
        let file = in_root(ctx.target, "etc/portage/gnupg/genpack-ownertrust.txt");
        std::fs::write(&file, trust).map_err(BuildError::io("writing", &file))?;
        let mut cmd = gpg(&["--import-ownertrust"]);
        cmd.arg(&file);
        ctx.runner.run(STEP, &mut cmd, "gnupg", |_| {})?;
        let _ = std::fs::remove_file(&file);
        // Computed now: Portage's gpg runs with --no-auto-check-trustdb, as a user that cannot
        // write the trust database.
        ctx.runner
            .run(STEP, &mut gpg(&["--check-trustdb"]), "gnupg", |_| {})?;
        let mut kill = Command::new("gpgconf");
        kill.arg("--homedir").arg(&home).args(["--kill", "all"]);
        let _ = ctx.runner.run(STEP, &mut kill, "gnupg", |_| {});
        // Portage verifies as an unprivileged user (GPG_VERIFY_USER_DROP): the keyring must be
        // readable, and gpg must not try to lock files it cannot write.
        let conf = home.join("gpg.conf");
        std::fs::write(&conf, "lock-never\nno-permission-warning\n")
            .map_err(BuildError::io("writing", &conf))?;
        let entries = std::fs::read_dir(&home).map_err(BuildError::io("reading", &home))?;
        for entry in entries {
            let path = entry.map_err(BuildError::io("reading", &home))?.path();
            let mode = if path.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(BuildError::io("changing the mode of", &path))?;
        }
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755))
            .map_err(BuildError::io("changing the mode of", &home))?;
        ctx.runner.log_line(
            STEP,
            &format!(
                "binhost packages are checked against {} trusted key(s) in /etc/portage/gnupg",
                fingerprints.len()
            ),
        )
    }

    /// Binds the static boot programs for the image's architecture (the same ones every base
    /// gets) for `sys-apps/genpack-init` to install.
    fn bind_boot_binaries(
        &self,
        ctx: &LowerContext<'_>,
        container: Container,
    ) -> Result<Container> {
        let arch = ctx.recipe.arch.to_string();
        ctx.runner.log_line(
            STEP,
            &format!(
                "{} (for sys-apps/genpack-init)",
                crate::boot::boot_programs_origin(&arch)
            ),
        )?;
        let binaries = crate::boot::boot_programs(&arch)?;
        let dir = binaries
            .genpack_init
            .parent()
            .ok_or_else(|| BuildError::Boot("the boot programs have no folder".into()))?;
        Ok(container
            .bind(dir, BOOT_BINARIES_MOUNT, true)
            .env("GENPACK_BOOT_BINARIES", BOOT_BINARIES_MOUNT))
    }

    /// Runs one step of the emerge pipeline (and its fallback), reporting emerge's progress.
    fn run_step(
        &self,
        ctx: &LowerContext<'_>,
        container: &Container,
        runtime: Runtime,
        step: &Step,
        history: &MergeHistory,
        stats: &mut LowerStats,
    ) -> Result<()> {
        let mut container = container.clone();
        for (key, value) in &step.env {
            container = container.env(key, value);
        }
        let name = format!("emerge-{}", step.id);
        let sink = ctx.runner.progress().clone();
        let mut parser = ProgressParser::new();
        let mut attempt = |argv: &[String], parser: &mut ProgressParser| -> Result<()> {
            let mut meter = Meter::new(Phase::Lower, Unit::Packages, None);
            let mut cmd = container.command(argv, false);
            ctx.runner.run(&name, &mut cmd, runtime.package(), |line| {
                match parser.feed(line) {
                    Some(EmergeEvent::Emerging {
                        index,
                        total,
                        package,
                        ..
                    }) => {
                        meter.set_total(Some(total as u64));
                        if let Some(remaining) = history.remaining(&package, index, total) {
                            meter.expect_end_in(remaining);
                        }
                        meter.report(&sink, index.saturating_sub(1) as u64, false);
                    }
                    Some(EmergeEvent::Completed { index, total, .. }) => {
                        meter.set_total(Some(total as u64));
                        meter.report(&sink, index as u64, index == total);
                        stats.installed_packages += 1;
                    }
                    Some(EmergeEvent::Jobs { done, total, .. }) => {
                        meter.set_total(Some(total as u64));
                        meter.report(&sink, done as u64, false);
                    }
                    _ => {}
                }
            })
        };
        let result = match attempt(&step.argv, &mut parser) {
            Err(BuildError::StepFailed { .. }) if step.fallback.is_some() => {
                let fallback = step.fallback.as_deref().unwrap_or_default();
                ctx.runner.log_line(
                    &name,
                    &format!(
                        "{} failed; trying {}",
                        step.id,
                        fallback
                            .iter()
                            .map(|w| emerge::shell_quote(w))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                )?;
                attempt(fallback, &mut parser)
            }
            other => other,
        };
        if let Err(error) = &result {
            if let Some(failure) = self.package_failure(ctx, &parser, &name, error)? {
                return Err(failure);
            }
        }
        if result.is_err() {
            for failure in parser.failures() {
                let log = failure
                    .log
                    .as_ref()
                    .map(|log| {
                        format!(
                            " (build log: {})",
                            in_root(ctx.target, &log.to_string_lossy()).display()
                        )
                    })
                    .unwrap_or_default();
                ctx.runner.log_line(
                    &name,
                    &format!(
                        "failed: {} in phase {}{log}",
                        failure.package,
                        failure.phase.as_deref().unwrap_or("unknown")
                    ),
                )?;
            }
            for fetch in parser.fetch_failures() {
                ctx.runner.log_line(
                    &name,
                    &format!(
                        "could not download {} for {}",
                        fetch.file.as_deref().unwrap_or("a source archive"),
                        fetch.package.as_deref().unwrap_or("a package")
                    ),
                )?;
            }
        }
        result
    }

    /// The first package emerge reported as failed, as an error naming it, its phase, the last
    /// lines of its build log and where the full log is (copied to the logs folder, since a
    /// failed lower is removed).
    fn package_failure(
        &self,
        ctx: &LowerContext<'_>,
        parser: &ProgressParser,
        step: &str,
        error: &BuildError,
    ) -> Result<Option<BuildError>> {
        let BuildError::StepFailed { log: step_log, .. } = error else {
            return Ok(None);
        };
        let Some(failure) = parser.failures().first() else {
            return Ok(None);
        };
        let inside = failure.log.clone().unwrap_or_else(|| {
            let (category, pf) = failure
                .package
                .split_once('/')
                .unwrap_or(("", &failure.package));
            PathBuf::from(format!("/var/tmp/portage/{category}/{pf}/temp/build.log"))
        });
        let build_log = in_root(ctx.target, &inside.to_string_lossy());
        let kept = ctx
            .runner
            .log_path(&format!("build-{}", failure.package.replace('/', "_")));
        let (log, tail) = match std::fs::read(&build_log) {
            Ok(bytes) => {
                std::fs::write(&kept, &bytes).map_err(BuildError::io("writing", &kept))?;
                (
                    kept,
                    log_tail(&String::from_utf8_lossy(&bytes), BUILD_LOG_TAIL),
                )
            }
            Err(_) => (step_log.clone(), String::new()),
        };
        ctx.runner.log_line(
            step,
            &format!(
                "{} failed in phase {}; its build log is kept in {}",
                failure.package,
                failure.phase.as_deref().unwrap_or("unknown"),
                log.display()
            ),
        )?;
        Ok(Some(BuildError::PackageFailed {
            package: failure.package.clone(),
            phase: failure.phase.clone().unwrap_or_else(|| "unknown".into()),
            log,
            tail,
        }))
    }

    /// `ebuild <file> manifest` for every ebuild of the project overlay whose package has no
    /// Manifest yet. Failures are logged and ignored (Portage then reports the package).
    fn make_manifests(
        &self,
        ctx: &LowerContext<'_>,
        container: &Container,
        runtime: Runtime,
    ) -> Result<()> {
        let overlay = ctx.project_dir.join("overlay");
        for ebuild in ebuilds_without_manifest(&overlay) {
            let inside = format!("{LOCAL_OVERLAY_LOCATION}/{ebuild}");
            let mut cmd = container.command(&["ebuild", inside.as_str(), "manifest"], false);
            if let Err(err) = ctx.runner.run(STEP, &mut cmd, runtime.package(), |_| {}) {
                ctx.runner
                    .log_line(STEP, &format!("warning: no Manifest for {ebuild}: {err}"))?;
            }
        }
        Ok(())
    }
}

impl BaseProvider for Gentoo {
    fn name(&self) -> &'static str {
        "gentoo"
    }

    fn lower_identity(&self, recipe: &Recipe) -> Vec<String> {
        let portage = serde_json::to_vec(&recipe.portage).unwrap_or_default();
        vec![
            format!("stage3={}", self.stage3_identity(recipe.arch)),
            format!("portage-snapshot={}", freshness(&self.snapshot())),
            format!("overlay={}", short(&tree_hash(&self.sources.overlay))),
            format!("portage-config={}", short(&hex(&Sha256::digest(portage)))),
        ]
    }

    fn lower_input_dirs(&self) -> &'static [&'static str] {
        &GENTOO_LOWER_INPUT_DIRS
    }

    /// None: the selected profile's `@profile` set roots every image.
    fn base_packages(&self, _recipe: &Recipe) -> Vec<String> {
        Vec::new()
    }

    fn prepare(&self, ctx: &PrepareContext<'_>) -> Result<()> {
        let arch = ctx.recipe.arch;
        if self.check_emulation(arch)? {
            ctx.runner.log_line(
                STEP,
                &format!("{arch} runs through binfmt_misc emulation on this machine"),
            )?;
        }
        let downloader = Downloader::new(
            ctx.runner.progress().clone(),
            ctx.cancel.clone(),
            Phase::Lower,
        );
        let fetch = |url: &str, dest: &Path| -> Result<()> {
            let message = match downloader.fetch(url, dest)? {
                Fetched::Current => format!("{url}: cached copy is current"),
                Fetched::Offline { reason } => {
                    format!("warning: {url} unreachable ({reason}); using the cached copy")
                }
                Fetched::Downloaded { bytes } => format!("{url}: downloaded {bytes} bytes"),
            };
            ctx.runner.log_line(STEP, &message)
        };
        let (list_url, list) = self.latest_list(arch)?;
        fetch(&list_url, &list)?;
        let stage3 = self.stage3(arch)?;
        fetch(&stage3::digests_url(&stage3.url), &stage3.digests)?;
        fetch(&stage3.url, &stage3.archive)?;
        let text = std::fs::read_to_string(&stage3.digests)
            .map_err(BuildError::io("reading", &stage3.digests))?;
        let digests = Digests::parse(&text).map_err(|source| {
            BuildError::Portage(genpack_portage::Error::Parse {
                path: stage3.digests.clone(),
                line: 0,
                source,
            })
        })?;
        digests.verify(&stage3.archive, stage3.file_name(), &stage3.digests)?;
        ctx.runner.log_line(
            STEP,
            &format!(
                "{}: SHA512 matches {}",
                stage3.file_name(),
                file_name_of(&stage3.digests)
            ),
        )?;
        fetch(&self.sources.mirror.portage_snapshot(), &self.snapshot())?;
        Ok(())
    }

    fn lower(&self, ctx: &LowerContext<'_>) -> Result<LowerStats> {
        let recipe = ctx.recipe;
        let target = ctx.target;
        let emulated = self.check_emulation(recipe.arch)?;
        let overlay = &self.sources.overlay;
        if !overlay.join("profiles/repo_name").is_file() {
            return Err(BuildError::Missing {
                what: format!(
                    "genpack's overlay (no {})",
                    overlay.join("profiles/repo_name").display()
                ),
                hint: format!("set {OVERLAY_ENV} to the overlay/ folder of the genpack sources"),
            });
        }
        let stage3 = self.stage3(recipe.arch)?;
        std::fs::create_dir_all(target).map_err(BuildError::io("creating", target))?;

        ctx.runner
            .log_line(STEP, &format!("unpacking {}", stage3.file_name()))?;
        // The device nodes a stage3 carries are left out: the container gives the lower its own
        // /dev, and a build as an ordinary user (in a user namespace) may not make them.
        let mut cmd = Command::new("tar");
        cmd.args(["--numeric-owner", "--xattrs", "--xattrs-include=*"])
            .args(["--anchored", "--exclude=./dev/*", "--exclude=dev/*", "-xpf"])
            .arg(&stage3.archive)
            .arg("-C")
            .arg(target);
        ctx.runner.run(STEP, &mut cmd, "tar", |_| {})?;

        let repo = in_root(target, GENTOO_REPO_LOCATION);
        std::fs::create_dir_all(&repo).map_err(BuildError::io("creating", &repo))?;
        let snapshot = self.snapshot();
        ctx.runner
            .log_line(STEP, &format!("unpacking {}", snapshot.display()))?;
        let mut cmd = Command::new("tar");
        cmd.args(["--numeric-owner", "--strip-components=1", "-xpf"])
            .arg(&snapshot)
            .arg("-C")
            .arg(&repo);
        ctx.runner.run(STEP, &mut cmd, "tar", |_| {})?;

        copy_contents(ctx, overlay, &in_root(target, OVERLAY_LOCATION))?;
        self.copy_project_dirs(ctx)?;
        self.write_config(ctx)?;
        for dir in [DISTFILES_MOUNT, BINPKG_MOUNT] {
            let path = in_root(target, dir);
            std::fs::create_dir_all(&path).map_err(BuildError::io("creating", &path))?;
        }

        share_distfiles(target, ctx.cache_dir)?;

        let runtime = Runtime::detect()?;
        let mut container = Container::new(runtime, target)
            .bind(ctx.project_dir, HOST_MOUNT, false)
            .bind(ctx.cache_dir, DISTFILES_MOUNT, false)
            .env("ARTIFACT", &recipe.name)
            .env("PROFILE", recipe.profile_str())
            .env("VARIANT", recipe.variant.as_deref().unwrap_or(""));
        if !recipe.portage.independent_binpkgs {
            let binpkgs = self.binpkgs(recipe.arch);
            std::fs::create_dir_all(&binpkgs).map_err(BuildError::io("creating", &binpkgs))?;
            container = container.bind(&binpkgs, BINPKG_MOUNT, false);
        }
        if emulated {
            container = container.env("FEATURES", "-pid-sandbox");
        }
        container = self.bind_mirror(ctx, container)?;
        container = self.bind_boot_binaries(ctx, container)?;
        if let Some(signing) = &self.emerge.sign_binpkgs {
            container = container.bind(&signing.gnupg_home, emerge::SIGNING_GNUPG_HOME, false);
        }
        self.import_binhost_keys(ctx)?;

        self.select_profile(ctx)?;
        self.make_manifests(ctx, &container, runtime)?;

        let options = PlanOptions {
            fresh: true,
            independent_binpkgs: recipe.portage.independent_binpkgs,
            binpkg_excludes: recipe.portage.binpkg_excludes.clone(),
            emulated,
            parallel_jobs: self.emerge.jobs,
            deep_depclean: self.emerge.deep_depclean,
            getbinpkg: self.binhost(recipe).is_some(),
            distcc_hosts: self.emerge.distcc_hosts.clone(),
            signing_key: self.emerge.sign_binpkgs.as_ref().map(|s| s.key.clone()),
            ..PlanOptions::default()
        };
        let steps = emerge::plan(&recipe.portage.plan, &options);
        let mut stats = LowerStats::default();
        let merge_log = self.merge_log(recipe.arch);
        let history = MergeHistory::parse(&std::fs::read_to_string(&merge_log).unwrap_or_default());
        let merged = (|| {
            for (index, step) in steps.iter().enumerate() {
                (ctx.runner.progress())(Progress::Step {
                    phase: Phase::Lower,
                    name: format!("emerge-{}", step.id),
                    index: index + 1,
                    count: steps.len(),
                });
                ctx.runner.log_line(
                    STEP,
                    &format!("{}: {}", step.description, step.command_line()),
                )?;
                self.run_step(ctx, &container, runtime, step, &history, &mut stats)?;
            }
            Ok(())
        })();
        let lower_log = in_root(ctx.target, "var/log/emerge.log");
        let counts = MergeCounts::parse(&std::fs::read_to_string(&lower_log).unwrap_or_default());
        stats.compiled_packages = counts.compiled.len();
        stats.binary_packages = counts.binary.len();
        stats.downloaded_packages = counts.fetched.len();
        ctx.runner.log_line(
            STEP,
            &format!(
                "{} packages compiled, {} installed from binary packages ({} downloaded from a binhost)",
                counts.compiled.len(),
                counts.binary.len(),
                counts.fetched.len()
            ),
        )?;
        for cpv in &counts.compiled {
            ctx.runner.log_line(STEP, &format!("compiled: {cpv}"))?;
        }
        // Kept whether the merges succeeded or not: the packages that did merge count.
        if let Err(error) = keep_merge_history(&lower_log, &merge_log) {
            ctx.runner.log_line(
                STEP,
                &format!("warning: merge times not kept for the next ETA: {error}"),
            )?;
        }
        merged.map(|()| stats)
    }

    fn package_db(&self, root: &Path) -> Result<Box<dyn PackageDb>> {
        Ok(Box::new(PortageDb::open(root)?))
    }

    fn download_cache_mount(&self) -> &'static str {
        DISTFILES_MOUNT
    }

    fn kernel(&self, root: &Path) -> Result<Option<PathBuf>> {
        Ok(genpack_portage::kernel::find(root).map(|kernel| kernel.image))
    }

    /// genpack's overlay, then the project's `overlay/`.
    fn package_script_dirs(&self, recipe: &Recipe) -> Vec<PathBuf> {
        vec![
            self.sources.overlay.join("package-scripts"),
            recipe.project_dir.join("overlay/package-scripts"),
        ]
    }
}

/// The last `count` lines of a build log, without terminal colours and without the notes
/// Portage's network sandbox prints in every phase inside a container.
fn log_tail(text: &str, count: usize) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(genpack_portage::progress::strip_ansi)
        .filter(|line| !line.contains("Unable to configure loopback interface"))
        .collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Appends the lower's emerge.log (`from`, absent when nothing merged) to the history `to`.
fn keep_merge_history(from: &Path, to: &Path) -> std::io::Result<()> {
    let log = match std::fs::read(from) {
        Ok(log) => log,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut history = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(to)?;
    std::io::Write::write_all(&mut history, &log)?;
    history.sync_all()
}

/// Gentoo's official binary packages for `arch` (see [`Binhost::gentoo`]).
pub fn gentoo_binhost(arch: Arch) -> Option<Binhost> {
    Binhost::gentoo(portage_arch(arch).ok()?)
}

/// The Portage name of a definition architecture.
fn portage_arch(arch: Arch) -> Result<PortageArch> {
    Ok(arch.as_str().parse::<PortageArch>()?)
}

/// `path` (absolute inside the lower) under `root`.
fn in_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Lets Portage's fetcher, which runs as the `portage` user, write into the shared source
/// archive cache: owned by that user's uid and gid as the lower's account files give them,
/// and group-writable. Nothing changes when the lower has no `portage` account.
fn share_distfiles(root: &Path, distfiles: &Path) -> Result<()> {
    let id = |file: &str| -> Option<u32> {
        let text = std::fs::read_to_string(root.join(file)).ok()?;
        text.lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.first() == Some(&"portage"))
            .and_then(|fields| fields.get(2)?.parse().ok())
    };
    let (Some(uid), Some(gid)) = (id("etc/passwd"), id("etc/group")) else {
        return Ok(());
    };
    std::os::unix::fs::chown(distfiles, Some(uid), Some(gid))
        .map_err(BuildError::io("changing the owner of", distfiles))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(distfiles, std::fs::Permissions::from_mode(0o2775))
        .map_err(BuildError::io("changing the mode of", distfiles))
}

/// `cp -a source/. destination/`, creating `destination`.
fn copy_contents(ctx: &LowerContext<'_>, source: &Path, destination: &Path) -> Result<()> {
    std::fs::create_dir_all(destination).map_err(BuildError::io("creating", destination))?;
    let mut from = source.as_os_str().to_os_string();
    from.push("/.");
    let mut cmd = Command::new("cp");
    cmd.arg("-a").arg(from).arg(destination);
    ctx.runner.run(STEP, &mut cmd, "coreutils", |_| {})
}

/// `category/package/name.ebuild` of every ebuild in `overlay` whose folder has no Manifest.
fn ebuilds_without_manifest(overlay: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let children = |dir: &Path| -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    };
    for category in children(overlay).into_iter().filter(|p| p.is_dir()) {
        for package in children(&category).into_iter().filter(|p| p.is_dir()) {
            if package.join("Manifest").exists() {
                continue;
            }
            for file in children(&package) {
                if file.extension().is_some_and(|ext| ext == "ebuild") {
                    if let Ok(relative) = file.strip_prefix(overlay) {
                        out.push(relative.to_string_lossy().into_owned());
                    }
                }
            }
        }
    }
    out
}

/// What the stored headers say about a cached download, on one line.
fn freshness(path: &Path) -> String {
    match Downloader::stored(path) {
        Some(stored) => stored
            .to_headers_file()
            .lines()
            .collect::<Vec<_>>()
            .join("; "),
        None => "not downloaded".into(),
    }
}

/// SHA-256 over the relative paths and contents of every file below `dir` (empty when absent).
fn tree_hash(dir: &Path) -> String {
    fn walk(base: &Path, dir: &Path, hasher: &mut Sha256) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for path in entries {
            let relative = path.strip_prefix(base).unwrap_or(&path);
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update([0]);
            if path.is_dir() {
                walk(base, &path, hasher);
            } else if let Ok(mut file) = std::fs::File::open(&path) {
                let mut buffer = Vec::new();
                if file.read_to_end(&mut buffer).is_ok() {
                    hasher.update(&buffer);
                }
            }
        }
    }
    let mut hasher = Sha256::new();
    walk(dir, dir, &mut hasher);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}

fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_are_laid_out_per_architecture() {
        let gentoo = Gentoo::new(GentooSources::new(
            "http://127.0.0.1:8080/gentoo",
            Path::new("/cache/gentoo"),
        ));
        assert_eq!(
            gentoo.latest_list(Arch::X86_64).unwrap(),
            (
                "http://127.0.0.1:8080/gentoo/releases/amd64/autobuilds/latest-stage3-amd64-systemd.txt"
                    .to_string(),
                PathBuf::from("/cache/gentoo/downloads/x86_64/latest-stage3-amd64-systemd.txt")
            )
        );
        assert_eq!(
            gentoo.snapshot(),
            Path::new("/cache/gentoo/downloads/portage-latest.tar.xz")
        );
        assert_eq!(
            gentoo.binpkgs(Arch::Aarch64),
            Path::new("/cache/gentoo/aarch64/binpkgs")
        );
    }

    #[test]
    fn project_ebuilds_without_manifest_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let with = dir.path().join("app-misc/signed");
        let without = dir.path().join("app-misc/fresh");
        std::fs::create_dir_all(&with).unwrap();
        std::fs::create_dir_all(&without).unwrap();
        std::fs::write(with.join("signed-1.ebuild"), "").unwrap();
        std::fs::write(with.join("Manifest"), "").unwrap();
        std::fs::write(without.join("fresh-2.ebuild"), "").unwrap();
        std::fs::write(without.join("metadata.xml"), "").unwrap();
        assert_eq!(
            ebuilds_without_manifest(dir.path()),
            vec!["app-misc/fresh/fresh-2.ebuild"]
        );
    }

    #[test]
    fn distfiles_belong_to_the_lowers_portage_account() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let distfiles = dir.path().join("distfiles");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&distfiles).unwrap();
        share_distfiles(&root, &distfiles).unwrap();
        use std::os::unix::fs::MetadataExt;
        let before = std::fs::metadata(&distfiles).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0::/root:/bin/bash\nportage:x:250:250::/var/lib/portage/home:/bin/false\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nportage:x:250:\n").unwrap();
        let result = share_distfiles(&root, &distfiles);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Only root may give files away; the error names the folder.
            assert!(result.unwrap_err().to_string().contains("distfiles"));
            assert_eq!(std::fs::metadata(&distfiles).unwrap().uid(), before.uid());
            return;
        }
        result.unwrap();
        let meta = std::fs::metadata(&distfiles).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (250, 250));
        assert_eq!(meta.mode() & 0o7777, 0o2775);
    }

    #[test]
    fn overlay_changes_change_the_tree_hash() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("profiles")).unwrap();
        std::fs::write(dir.path().join("profiles/repo_name"), "genpack-overlay\n").unwrap();
        let before = tree_hash(dir.path());
        std::fs::write(dir.path().join("profiles/repo_name"), "other\n").unwrap();
        assert_ne!(before, tree_hash(dir.path()));
    }
}
