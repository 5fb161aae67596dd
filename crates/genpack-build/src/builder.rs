//! The public entry point: [`Builder`] runs the lower, upper and pack phases of one project
//! for one architecture and variant.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use genpack_def::{Arch, Base, Project};

use crate::base::debian::Debian;
use crate::base::gentoo::{default_mirror, EmergeOptions, Gentoo, GentooSources};
use crate::base::{BaseProvider, PrepareContext};
use crate::command::Runner;
use crate::container::{Container, Runtime, HOST_MOUNT};
use crate::error::{BuildError, Result};
use crate::lower::{ensure_lower, LowerReport};
use crate::overlay::{clean_upper, OverlayMount};
use crate::pack::{pack_tree, PackOptions, PackReport};
use crate::progress::{discard, Phase, Progress, ProgressSink};
use crate::recipe::Recipe;
use crate::upper::{UpperJob, UpperReport};
use crate::workdir::{remove_tree, WorkDir};
use crate::CancelToken;

/// How to build.
#[derive(Clone)]
pub struct BuildOptions {
    /// Target architecture; the host's when `None`.
    pub arch: Option<Arch>,
    /// Variant; the definition's `default_variant` when `None`.
    pub variant: Option<String>,
    /// Cancellation flag checked while commands run.
    pub cancel: CancelToken,
    /// Receives progress events.
    pub progress: ProgressSink,
    /// Rebuild the lower even when its inputs did not change.
    pub force_lower: bool,
    /// How emerge runs (Gentoo base only): parallel jobs, binhost, distcc, deep depclean.
    pub emerge: EmergeOptions,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            arch: None,
            variant: None,
            cancel: CancelToken::new(),
            progress: discard(),
            force_lower: false,
            emerge: EmergeOptions::default(),
        }
    }
}

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("arch", &self.arch)
            .field("variant", &self.variant)
            .field("cancelled", &self.cancel.is_cancelled())
            .field("force_lower", &self.force_lower)
            .field("emerge", &self.emerge)
            .finish()
    }
}

/// Where base systems come from and where their downloads are cached. The defaults suit
/// everyday use; tests and offline setups point them at a local mirror and cache.
#[derive(Debug, Clone)]
pub struct BaseSettings {
    /// Gentoo mirror (`https://`, `http://` or `file://`): `GENPACK_GENTOO_MIRROR`, else the
    /// Gentoo distfiles mirror.
    pub gentoo_mirror: String,
    /// genpack's Gentoo overlay (see [`crate::base::gentoo::default_overlay`]).
    pub gentoo_overlay: PathBuf,
    /// Cache folder shared by every project ([`cache_root`]).
    pub cache_root: PathBuf,
}

impl Default for BaseSettings {
    fn default() -> Self {
        Self {
            gentoo_mirror: default_mirror(),
            gentoo_overlay: crate::base::gentoo::default_overlay(),
            cache_root: cache_root(),
        }
    }
}

/// What a full build did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildReport {
    /// The lower phase (possibly skipped because it was up to date).
    pub lower: LowerReport,
    /// The upper phase.
    pub upper: UpperReport,
    /// The pack phase.
    pub pack: PackReport,
}

/// Builds one project for one architecture and variant.
pub struct Builder {
    recipe: Recipe,
    work: WorkDir,
    provider: Box<dyn BaseProvider>,
    runner: Runner,
    runtime: Runtime,
    force_lower: bool,
    cache_dir: PathBuf,
    cancel: CancelToken,
}

impl Builder {
    /// A builder for `project`. Fails when the definition has errors, the variant does not
    /// exist, the base is not supported or no container runtime is installed.
    pub fn new(project: &Project, options: BuildOptions) -> Result<Self> {
        Self::with_settings(project, options, BaseSettings::default())
    }

    /// [`Builder::new`] with explicit base settings (mirror, overlay, cache).
    pub fn with_settings(
        project: &Project,
        options: BuildOptions,
        settings: BaseSettings,
    ) -> Result<Self> {
        let arch = match options.arch {
            Some(arch) => arch,
            None => Arch::host()
                .ok_or_else(|| BuildError::Definition("unsupported host architecture".into()))?,
        };
        let recipe = Recipe::from_project(project, arch, options.variant.as_deref())?;
        Self::from_recipe_with_settings(recipe, options, settings)
    }

    /// A builder for an already merged recipe.
    pub fn from_recipe(recipe: Recipe, options: BuildOptions) -> Result<Self> {
        Self::from_recipe_with_settings(recipe, options, BaseSettings::default())
    }

    /// [`Builder::from_recipe`] with explicit base settings.
    pub fn from_recipe_with_settings(
        recipe: Recipe,
        options: BuildOptions,
        settings: BaseSettings,
    ) -> Result<Self> {
        let provider: Box<dyn BaseProvider> = match &recipe.base {
            Base::Debian { suite } => Box::new(Debian::new(suite)),
            Base::Gentoo => {
                let mut sources = GentooSources::new(
                    &settings.gentoo_mirror,
                    &settings.cache_root.join("gentoo"),
                );
                sources.overlay = settings.gentoo_overlay.clone();
                Box::new(Gentoo::new(sources).with_emerge_options(options.emerge.clone()))
            }
        };
        let work = WorkDir::new(
            &recipe.project_dir,
            recipe.arch.as_str(),
            recipe.variant.as_deref(),
        );
        let runner = Runner::new(
            work.logs(),
            options.cancel.clone(),
            options.progress.clone(),
        );
        let cache_dir = settings.cache_root.join(provider.name()).join("archives");
        Ok(Self {
            recipe,
            work,
            provider,
            runner,
            runtime: Runtime::detect()?,
            force_lower: options.force_lower,
            cache_dir,
            cancel: options.cancel,
        })
    }

    /// The merged definition being built.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// The work folder.
    pub fn work_dir(&self) -> &WorkDir {
        &self.work
    }

    /// The base provider.
    pub fn provider(&self) -> &dyn BaseProvider {
        self.provider.as_ref()
    }

    fn phase(&self, phase: Phase, index: usize, count: usize) {
        (self.runner.progress())(Progress::Phase {
            phase,
            index,
            count,
        });
    }

    /// Lower (only if its inputs changed), upper, pack.
    pub fn build(&self) -> Result<BuildReport> {
        self.phase(Phase::Lower, 1, 3);
        let lower = self.run_lower()?;
        self.phase(Phase::Upper, 2, 3);
        let upper = UpperJob {
            recipe: &self.recipe,
            provider: self.provider.as_ref(),
            work: &self.work,
            runner: &self.runner,
            runtime: self.runtime,
        }
        .run()?;
        self.phase(Phase::Pack, 3, 3);
        let pack = self.run_pack()?;
        Ok(BuildReport { lower, upper, pack })
    }

    /// Builds the lower if its inputs changed (always with `force_lower`).
    pub fn lower(&self) -> Result<LowerReport> {
        self.phase(Phase::Lower, 1, 1);
        self.run_lower()
    }

    /// Rebuilds the upper from the current lower.
    pub fn upper(&self) -> Result<UpperReport> {
        self.phase(Phase::Upper, 1, 1);
        UpperJob {
            recipe: &self.recipe,
            provider: self.provider.as_ref(),
            work: &self.work,
            runner: &self.runner,
            runtime: self.runtime,
        }
        .run()
    }

    /// Packs the current upper into the output file.
    pub fn pack(&self) -> Result<PackReport> {
        self.phase(Phase::Pack, 1, 1);
        self.run_pack()
    }

    fn run_lower(&self) -> Result<LowerReport> {
        self.provider.prepare(&PrepareContext {
            recipe: &self.recipe,
            cancel: &self.cancel,
            runner: &self.runner,
        })?;
        ensure_lower(
            self.provider.as_ref(),
            &self.recipe,
            &self.work,
            &self.runner,
            &self.cache_dir,
            self.force_lower,
        )
    }

    fn run_pack(&self) -> Result<PackReport> {
        let upper = self.work.upper();
        if !upper.join(crate::metadata::METADATA_DIR).is_dir() {
            return Err(BuildError::Missing {
                what: format!("a finished upper layer in {}", self.work.root().display()),
                hint: "run `genpack upper` (or `genpack build`) first".into(),
            });
        }
        let options = PackOptions {
            compression: self.recipe.compression,
            source_date_epoch: self.recipe.source_date_epoch,
            processors: None,
        };
        pack_tree(&upper, &self.recipe.output_path(), &options, &self.runner)
    }

    fn container(&self, root: &Path) -> Container {
        Container::new(self.runtime, root)
            .bind(&self.recipe.project_dir, HOST_MOUNT, false)
            .env("ARTIFACT", &self.recipe.name)
            .env("PROFILE", self.recipe.profile_str())
            .env("VARIANT", self.recipe.variant.as_deref().unwrap_or(""))
    }

    /// A shell in the lower (interactive when `command` is empty, else `sh -c command`), with
    /// the terminal attached. Returns the shell's exit status.
    pub fn bash(&self, command: &[String]) -> Result<ExitStatus> {
        let lower = self.work.lower();
        if !lower.join("usr").is_dir() {
            return Err(BuildError::Missing {
                what: "the lower layer".into(),
                hint: "run `genpack lower` first".into(),
            });
        }
        std::fs::create_dir_all(&self.cache_dir)
            .map_err(BuildError::io("creating cache", &self.cache_dir))?;
        let container = self.container(&lower).bind(
            &self.cache_dir,
            self.provider.download_cache_mount(),
            false,
        );
        self.run_attached(&container, command)
    }

    /// A shell on the lower+upper overlay: changes land in the upper (and so in the next
    /// pack). Overlay whiteouts are removed afterwards.
    pub fn upper_bash(&self, command: &[String]) -> Result<ExitStatus> {
        let upper = self.work.upper();
        if !upper.is_dir() {
            return Err(BuildError::Missing {
                what: "the upper layer".into(),
                hint: "run `genpack upper` first".into(),
            });
        }
        let overlay = OverlayMount::mount(
            &self.work.lower(),
            &upper,
            &self.work.overlay_work(),
            &self.work.merged(),
        )?;
        let status = self.run_attached(&self.container(overlay.path()), command);
        overlay.unmount()?;
        clean_upper(&upper)?;
        status
    }

    fn run_attached(&self, container: &Container, command: &[String]) -> Result<ExitStatus> {
        let mut cmd = if command.is_empty() {
            container.command(&["/bin/bash"], true)
        } else {
            container.command(
                &["/bin/sh".to_string(), "-c".to_string(), command.join(" ")],
                false,
            )
        };
        cmd.stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd.spawn().map_err(|source| BuildError::Spawn {
            step: "bash".into(),
            program,
            package: self.runtime.package().into(),
            source,
        })?;
        child
            .wait()
            .map_err(BuildError::io("waiting for the shell in", self.work.root()))
    }
}

/// Removes the project's work folder (`work/`), detaching anything still mounted in it.
/// Output images are kept.
pub fn clean(project_dir: &Path) -> Result<()> {
    remove_tree(&project_dir.join("work"))
}

/// `$XDG_CACHE_HOME/genpack`, else `~/.cache/genpack`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("genpack");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/genpack")
}
