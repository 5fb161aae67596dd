//! The Build step: runs the genpack build pipeline on a blocking thread and streams its
//! [`Progress`] events to the window.

use crate::error::{CommandError, CommandResult};
use crate::progress::ProgressChannel;
use genpack_build::worker::BuildRequest;
use genpack_build::{BuildError, CancelToken, EmergeOptions, Progress};
use genpack_def::{Arch, Base, Project};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use ts_rs::TS;

/// The builds running now, by project folder, so that they can be cancelled.
#[derive(Default)]
pub struct Builds {
    running: Mutex<HashMap<PathBuf, CancelToken>>,
}

impl Builds {
    fn start(&self, dir: &Path) -> CommandResult<CancelToken> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if running.contains_key(dir) {
            return Err(CommandError::invalid(format!(
                "{} is already being built; wait for it or cancel it",
                dir.display()
            )));
        }
        let token = CancelToken::new();
        running.insert(dir.to_path_buf(), token.clone());
        Ok(token)
    }

    fn finish(&self, dir: &Path) {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        running.remove(dir);
    }

    fn cancel(&self, dir: &Path) -> bool {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match running.get(dir) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}

/// The machine types and variants a project can be built for.
#[derive(Debug, Serialize, TS)]
pub struct BuildChoices {
    /// Every architecture the builder knows, the host's first.
    pub arches: Vec<String>,
    /// The host's architecture, the default choice.
    pub host_arch: Option<String>,
    /// The definition's variants, in file order.
    pub variants: Vec<String>,
    /// The variant built when none is chosen.
    pub default_variant: Option<String>,
    /// The image is built on Gentoo: the emerge settings apply.
    pub gentoo: bool,
}

/// The image a build makes for one architecture and variant, and whether it exists yet.
#[derive(Debug, Serialize, TS)]
pub struct BuildOutput {
    /// `<project>/<outfile>`.
    pub image: PathBuf,
    /// Whether the file exists.
    pub exists: bool,
    /// Its size in bytes, when it exists.
    pub bytes: Option<u64>,
    /// Whether a base layer is there to reuse (it is remade when its packages changed).
    pub base_layer_ready: bool,
    /// About how long the next build takes, in seconds, from this project's past builds on
    /// this machine; `None` before the first of its kind.
    pub estimate_s: Option<f64>,
}

/// What a finished build made.
#[derive(Debug, Serialize, TS)]
pub struct BuildResult {
    /// The SquashFS image.
    pub image: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Wall-clock seconds of the whole build.
    pub seconds: f64,
    /// Packages in the runtime closure copied into the image.
    pub packages: usize,
    /// Whether the base layer was rebuilt (else it was reused).
    pub lower_rebuilt: bool,
    /// Gentoo: packages compiled from source in this build.
    pub compiled_packages: usize,
    /// Gentoo: packages installed from binary packages (local cache or binhost).
    pub binary_packages: usize,
    /// Packages downloaded (Gentoo: binary packages from a binhost).
    pub downloaded_packages: usize,
}

fn load_project(dir: &Path) -> CommandResult<Project> {
    Ok(Project::load(dir)?)
}

fn parse_arch(arch: &str) -> CommandResult<Arch> {
    Ok(arch.parse::<Arch>()?)
}

fn chosen_variant(variant: Option<String>) -> Option<String> {
    variant.filter(|name| !name.is_empty())
}

/// `<project>/<outfile>` of the effective definition for `arch` and `variant`.
pub fn image_path(dir: &Path, arch: &str, variant: Option<String>) -> CommandResult<PathBuf> {
    let project = load_project(dir)?;
    Ok(project.image_path(parse_arch(arch)?, chosen_variant(variant).as_deref())?)
}

/// The architectures and variants to offer for `dir`.
#[tauri::command]
pub fn build_choices(dir: PathBuf) -> CommandResult<BuildChoices> {
    let project = load_project(&dir)?;
    let host = Arch::host();
    let mut arches: Vec<String> = host.iter().map(|arch| arch.as_str().to_string()).collect();
    arches.extend(
        Arch::ALL
            .iter()
            .filter(|arch| Some(**arch) != host)
            .map(|arch| arch.as_str().to_string()),
    );
    Ok(BuildChoices {
        arches,
        host_arch: host.map(|arch| arch.as_str().to_string()),
        variants: project.definition.variants.keys().cloned().collect(),
        default_variant: project.definition.default_variant.clone(),
        gentoo: project.definition.base == Base::Gentoo,
    })
}

/// The image file a build of `dir` for `arch` and `variant` writes, and whether it is there.
#[tauri::command]
pub fn build_output(
    dir: PathBuf,
    arch: String,
    variant: Option<String>,
) -> CommandResult<BuildOutput> {
    let variant = chosen_variant(variant);
    let work = genpack_build::workdir::WorkDir::new(&dir, &arch, variant.as_deref());
    let image = image_path(&dir, &arch, variant)?;
    let bytes = std::fs::metadata(&image).ok().map(|meta| meta.len());
    let base_layer_ready = genpack_build::times::base_layer_exists(&work);
    Ok(BuildOutput {
        exists: bytes.is_some(),
        image,
        bytes,
        base_layer_ready,
        estimate_s: genpack_build::BuildTimes::read(&work).estimate(base_layer_ready),
    })
}

/// Builds `dir` for `arch` and `variant`; `force_lower` rebuilds the base layer too; `emerge`
/// sets how emerge runs for a Gentoo base (parallel jobs, binhost, distcc, deep depclean) and
/// `mirror` where its stage3 and Portage snapshot come from (`genpack build --mirror`).
///
/// Every [`Progress`] event goes to `progress`; the command returns when the build is done,
/// failed or cancelled (with [`build_cancel`]).
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn build_start(
    builds: tauri::State<'_, Arc<Builds>>,
    dir: PathBuf,
    arch: String,
    variant: Option<String>,
    force_lower: bool,
    emerge: Option<EmergeOptions>,
    mirror: Option<String>,
    progress: ProgressChannel,
) -> CommandResult<BuildResult> {
    let arch = parse_arch(&arch)?;
    let project = load_project(&dir)?;
    refuse_unknown_packages(&project, arch)?;
    let project_dir = project
        .dir
        .canonicalize()
        .unwrap_or_else(|_| project.dir.clone());
    let cancel = builds.start(&project_dir)?;
    let builds = Arc::clone(&*builds);
    let request = BuildRequest {
        project_dir: project.dir.clone(),
        arch: Some(arch),
        variant: chosen_variant(variant),
        force_lower,
        rerun_from: None,
        emerge: emerge.unwrap_or_default(),
        mirror: mirror
            .map(|mirror| mirror.trim().to_string())
            .filter(|mirror| !mirror.is_empty()),
    };
    let packages = project.definition.packages.clone();
    let progress = Arc::new(move |event: Progress| {
        // A closed window drops the channel; the build goes on and its log stays on disk.
        let _ = progress.send(event);
    });
    // As an ordinary user the build runs in a child process in a user namespace.
    let outcome = tauri::async_runtime::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let report = genpack_build::worker::build(&request, progress, cancel)?;
        Ok::<_, BuildError>((report, started.elapsed()))
    })
    .await;
    builds.finish(&project_dir);
    let (report, elapsed) = outcome
        .map_err(|error| CommandError::stopped("build thread", error))?
        .map_err(|error| with_field(error, &packages))?;
    Ok(BuildResult {
        image: report.pack.output,
        bytes: report.pack.bytes,
        seconds: elapsed.as_secs_f64(),
        packages: report.upper.closure_packages,
        lower_rebuilt: report.lower.rebuilt,
        compiled_packages: report.lower.compiled_packages,
        binary_packages: report.lower.binary_packages,
        downloaded_packages: report.lower.downloaded_packages,
    })
}

/// A build error whose cause names one of the definition's packages, linked to its entry.
fn with_field(error: BuildError, packages: &[String]) -> CommandError {
    let package = error.cause().and_then(|cause| cause.package);
    let mut error = CommandError::from(error);
    if let (Some(cause), Some(package)) = (error.cause.as_mut(), package) {
        cause.field = packages
            .iter()
            .position(|entry| entry == &package || entry.starts_with(&format!("{package}=")))
            .map(|index| format!("packages[{index}]"));
    }
    error
}

/// Refuses to build a definition whose packages the base's package index does not have, the
/// first one in plain words linked to its entry (as `genpack build` refuses it).
fn refuse_unknown_packages(project: &Project, arch: Arch) -> CommandResult<()> {
    let check = genpack_build::package_index::check_packages(
        project,
        &project.source,
        arch,
        &genpack_build::cache_root(),
    );
    let Some(first) = check.diagnostics.first() else {
        return Ok(());
    };
    let listed: Vec<String> = check.diagnostics.iter().map(ToString::to_string).collect();
    let mut error = CommandError::definition(listed.join("\n")).with_hint(first.help.clone());
    error.cause = Some(crate::error::FailureCause {
        sentence: format!("{}.", first.message),
        field: Some(first.path.clone()),
    });
    Err(error)
}

/// Asks the build of `dir` to stop; `false` when none is running.
#[tauri::command]
pub fn build_cancel(builds: tauri::State<'_, Arc<Builds>>, dir: PathBuf) -> bool {
    let dir = dir.canonicalize().unwrap_or(dir);
    builds.cancel(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path, text: &str) {
        std::fs::write(dir.join("genpack.json5"), text).unwrap();
    }

    #[test]
    fn choices_list_the_variants_and_the_host_first() {
        let dir = tempfile::tempdir().unwrap();
        project(
            dir.path(),
            r#"{ name: "demo", base: "debian:bookworm", variants: { small: {}, big: {} }, default_variant: "small" }"#,
        );
        let choices = build_choices(dir.path().to_path_buf()).unwrap();
        assert_eq!(choices.variants, ["small", "big"]);
        assert_eq!(choices.default_variant.as_deref(), Some("small"));
        assert_eq!(choices.arches.len(), Arch::ALL.len());
        if let Some(host) = &choices.host_arch {
            assert_eq!(&choices.arches[0], host);
        }
    }

    #[test]
    fn output_names_the_image_and_notices_when_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path(), r#"{ name: "demo", base: "debian:bookworm" }"#);
        let output = build_output(dir.path().to_path_buf(), "x86_64".into(), None).unwrap();
        assert_eq!(output.image, dir.path().join("demo-x86_64.squashfs"));
        assert!(!output.exists);

        std::fs::write(&output.image, b"hsqs").unwrap();
        let output = build_output(dir.path().to_path_buf(), "x86_64".into(), None).unwrap();
        assert!(output.exists);
        assert_eq!(output.bytes, Some(4));
    }

    #[test]
    fn a_second_build_of_the_same_project_is_refused_and_cancel_reaches_the_first() {
        let builds = Builds::default();
        let dir = Path::new("/projects/demo");
        let token = builds.start(dir).unwrap();
        assert!(builds.start(dir).is_err());
        assert!(builds.cancel(dir));
        assert!(token.is_cancelled());
        builds.finish(dir);
        assert!(!builds.cancel(dir));
        assert!(builds.start(dir).is_ok());
    }
}
