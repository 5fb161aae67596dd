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
use crate::overlay::OverlayMount;
use crate::pack::{pack_tree, PackOptions, PackReport, PackStamp};
use crate::progress::{discard, Phase, Progress, ProgressSink};
use crate::recipe::Recipe;
use crate::stages::Stage;
use crate::upper::{Background, UpperJob, UpperPlan, UpperReport, SHELL_LAYER};
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
    /// Rerun this stage of the image tree, and every later one, even when up to date.
    pub rerun_from: Option<Stage>,
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
            rerun_from: None,
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
            .field("rerun_from", &self.rerun_from)
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
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BuildReport {
    /// The lower phase (possibly skipped because it was up to date).
    pub lower: LowerReport,
    /// The upper phase (stages rerun or kept).
    pub upper: UpperReport,
    /// The pack phase (possibly skipped because the image was packed from the same tree).
    pub pack: PackReport,
    /// Nothing had changed: nothing ran, the image is the one of the last build.
    pub up_to_date: bool,
}

/// Builds one project for one architecture and variant.
pub struct Builder {
    recipe: Recipe,
    work: WorkDir,
    provider: Box<dyn BaseProvider>,
    runner: Runner,
    runtime: Runtime,
    force_lower: bool,
    rerun_from: Option<Stage>,
    cache_dir: PathBuf,
    cancel: CancelToken,
    background: Background,
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
            rerun_from: options.rerun_from,
            background: Background::default(),
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

    /// Lower (only if its inputs changed), the stages of the image tree whose inputs changed,
    /// pack (only if the tree or the pack options changed). With nothing changed, nothing runs
    /// and the report says `up_to_date`.
    pub fn build(&self) -> Result<BuildReport> {
        let started = std::time::Instant::now();
        self.phase(Phase::Lower, 1, 3);
        let lower = self.run_lower()?;
        let base_layer_s = if lower.rebuilt {
            started.elapsed().as_secs_f64()
        } else {
            0.0
        };
        self.phase(Phase::Upper, 2, 3);
        let job = self.upper_job();
        let plan = job.plan()?;
        let upper = job.run(&plan)?;
        self.phase(Phase::Pack, 3, 3);
        // The old image tree is deleted while the new one is packed.
        let pack = self.pack_if_needed(&plan);
        self.background.wait();
        let pack = pack?;
        let up_to_date = !lower.rebuilt && upper.up_to_date && pack.up_to_date;
        if !up_to_date {
            crate::times::BuildTimes::record(
                &self.work,
                started.elapsed().as_secs_f64(),
                base_layer_s,
            );
        }
        Ok(BuildReport {
            lower,
            upper,
            pack,
            up_to_date,
        })
    }

    /// Builds the lower if its inputs changed (always with `force_lower`).
    pub fn lower(&self) -> Result<LowerReport> {
        self.phase(Phase::Lower, 1, 1);
        self.run_lower()
    }

    /// Brings the image tree up to date with the current lower: reruns the stages whose
    /// inputs changed (and those from [`BuildOptions::rerun_from`]).
    pub fn upper(&self) -> Result<UpperReport> {
        self.phase(Phase::Upper, 1, 1);
        let job = self.upper_job();
        let plan = job.plan()?;
        let report = job.run(&plan);
        self.background.wait();
        report
    }

    /// Which stages of the image tree a build would rerun, and why. Runs nothing.
    pub fn upper_plan(&self) -> Result<UpperPlan> {
        self.upper_job().plan()
    }

    /// Packs the current image tree into the output file (even when it is up to date).
    pub fn pack(&self) -> Result<PackReport> {
        self.phase(Phase::Pack, 1, 1);
        self.run_pack()
    }

    fn upper_job(&self) -> UpperJob<'_> {
        UpperJob {
            recipe: &self.recipe,
            provider: self.provider.as_ref(),
            work: &self.work,
            runner: &self.runner,
            runtime: self.runtime,
            from: self.rerun_from,
            background: &self.background,
        }
    }

    fn pack_options(&self) -> PackOptions {
        PackOptions {
            compression: self.recipe.compression,
            source_date_epoch: self.recipe.source_date_epoch,
            processors: None,
        }
    }

    /// The identity of the image tree on disk (its stamp), if it was assembled.
    fn tree_identity(&self) -> Option<String> {
        std::fs::read_to_string(self.work.upper_stamp())
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn pack_if_needed(&self, plan: &UpperPlan) -> Result<PackReport> {
        let output = self.recipe.output_path();
        let options = self.pack_options();
        if PackStamp::is_current(&self.work.pack_stamp(), &output, &plan.tree, &options) {
            let bytes = std::fs::metadata(&output)
                .map_err(BuildError::io("reading", &output))?
                .len();
            let message = format!("{} is up to date", output.display());
            self.runner.log_line("pack", &message)?;
            (self.runner.progress())(Progress::Note {
                phase: Phase::Pack,
                message,
            });
            return Ok(PackReport {
                output,
                bytes,
                duration: std::time::Duration::ZERO,
                up_to_date: true,
            });
        }
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
        let tree = self.tree_identity();
        let Some(tree) = tree.filter(|_| upper.join(crate::metadata::METADATA_DIR).is_dir()) else {
            return Err(BuildError::Missing {
                what: format!("a finished image tree in {}", self.work.root().display()),
                hint: "run `genpack upper` (or `genpack build`) first".into(),
            });
        };
        let options = self.pack_options();
        let output = self.recipe.output_path();
        let stamp = self.work.pack_stamp();
        if stamp.exists() {
            std::fs::remove_file(&stamp).map_err(BuildError::io("removing", &stamp))?;
        }
        let report = pack_tree(&upper, &output, &options, &self.runner)?;
        PackStamp::record(&stamp, &output, &tree, &options)?;
        Ok(report)
    }

    fn container(&self, root: &Path) -> Container {
        Container::new(self.runtime, root)
            .bind(&self.recipe.project_dir, HOST_MOUNT, false)
            .env("ARTIFACT", &self.recipe.name)
            .env("PROFILE", self.recipe.profile_str())
            .env("VARIANT", self.recipe.variant.as_deref().unwrap_or(""))
    }

    /// A shell in the lower (interactive when `command` is empty, else `sh -c command`), with
    /// the terminal attached. Returns the shell's exit status. The next build copies the
    /// packages from the lower again, since the shell may have changed them.
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
        let status = self.run_attached(&container, command);
        // The shell may have changed the lower: the image tree's package stage (which keys on
        // the lower stamp's time) reruns at the next build.
        let stamp = self.work.lower_stamp();
        if stamp.is_file() {
            filetime::set_file_mtime(&stamp, filetime::FileTime::now())
                .map_err(BuildError::io("touching", &stamp))?;
        }
        status
    }

    /// A shell on the image tree (its stage layers over the lower): changes land in a layer
    /// of their own on top, which the image tree and the next pack include, until the next
    /// build or upper reassembles the tree from the stages.
    pub fn upper_bash(&self, command: &[String]) -> Result<ExitStatus> {
        let Some(tree) = self.tree_identity().filter(|_| self.work.upper().is_dir()) else {
            return Err(BuildError::Missing {
                what: "the image tree".into(),
                hint: "run `genpack upper` first".into(),
            });
        };
        let shell = self.work.stage_layer(SHELL_LAYER);
        std::fs::create_dir_all(&shell).map_err(BuildError::io("creating", &shell))?;
        let mut lowers: Vec<PathBuf> = crate::stages::all_layers(&self.work)
            .into_iter()
            .rev()
            .filter(|l| l.is_dir())
            .collect();
        lowers.push(self.work.lower());
        let overlay = OverlayMount::mount_layers(
            &lowers,
            &shell,
            &self.work.overlay_work(),
            &self.work.merged(),
        )?;
        let status = self.run_attached(&self.container(overlay.path()), command);
        overlay.unmount()?;
        crate::layers::seal_layer(&shell)?;
        let base = tree.split('+').next().unwrap_or(&tree).to_string();
        let generation = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        self.upper_job()
            .assemble_tree(&format!("{base}+shell-{generation}"), true)?;
        self.background.wait();
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

/// The image tree of a project's last build (for running it without packing).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageTree {
    /// The tree (`work/<arch>/upper[-<variant>]`).
    pub path: PathBuf,
    /// The output image was packed from this very tree and is unchanged since.
    pub packed: bool,
}

/// The assembled image tree of `project_dir` for `arch` and `variant`, if there is one.
pub fn image_tree(project_dir: &Path, arch: &str, variant: Option<&str>) -> Option<ImageTree> {
    let work = WorkDir::new(project_dir, arch, variant);
    let path = work.upper();
    let identity = std::fs::read_to_string(work.upper_stamp()).ok()?;
    let identity = identity.trim();
    if identity.is_empty() || !path.join(crate::metadata::METADATA_DIR).is_dir() {
        return None;
    }
    let packed = std::fs::read_to_string(work.pack_stamp())
        .ok()
        .and_then(|text| serde_json::from_str::<PackStamp>(&text).ok())
        .is_some_and(|stamp| {
            stamp.tree == identity
                && PackStamp::is_current(
                    &work.pack_stamp(),
                    &stamp.output,
                    identity,
                    &stamp.options,
                )
        });
    Some(ImageTree { path, packed })
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
