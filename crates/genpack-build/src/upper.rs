//! The upper layer, or image tree: the runtime closure copied up from the lower, then
//! everything the definition adds (groups, users, `files/`, `build.d` scripts, setup commands,
//! services, package scripts), the boot side and the `/.genpack` metadata.
//!
//! It is made in [stages](crate::stages), each in its own layer with its own stamp; a build
//! reruns only the stages whose inputs (or an earlier stage) changed, then assembles the image
//! tree from the layers ([`crate::layers`]). With nothing changed, nothing runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};

use crate::base::BaseProvider;
use crate::boot::{self, BootReport};
use crate::closure::runtime_closure;
use crate::command::{shell_quote, Runner};
use crate::container::{Container, Runtime, HOST_MOUNT};
use crate::copy::{Ownership, TreeCopier};
use crate::error::{BuildError, Result};
use crate::fingerprint::{fingerprint, DigestCache};
use crate::fsutil::write_atomic;
use crate::layers::{assemble, seal_layer, AssembleStats};
use crate::metadata;
use crate::overlay::OverlayMount;
use crate::progress::{Meter, Phase, Progress, Unit};
use crate::recipe::{Recipe, SetupCommand};
use crate::select::select;
use crate::stages::{
    all_layers, layers_below, plan, summary, Stage, StageDecision, StageInputs, StageStamp,
};
use crate::workdir::{remove_tree, unmount_below, WorkDir};

/// Name of the log that records the decisions of the upper phase.
pub const UPPER_LOG: &str = "upper";

/// Name of the layer that `genpack upper-bash` writes into, above every stage.
pub const SHELL_LAYER: &str = "shell";

/// What the upper phase did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UpperReport {
    /// Every stage, in order, with why it reran (`None`: up to date, kept).
    pub stages: Vec<StageReport>,
    /// Nothing ran and the image tree was kept as it was.
    pub up_to_date: bool,
    /// Packages in the runtime closure.
    pub closure_packages: usize,
    /// Entries copied from the lower in this build (0 when the package stage was kept).
    pub entries_copied: u64,
    /// Bytes of file data copied from the lower in this build.
    pub bytes_copied: u64,
    /// `build.d` scripts of the image, in order (relative to `build.d/`).
    pub scripts_run: Vec<String>,
    /// overlayfs whiteouts (deletions) in the layers made in this build.
    pub whiteouts: usize,
    /// How the image tree was assembled, when it was.
    pub assembled: Option<AssembleStats>,
    /// Kernel and initramfs.
    pub boot: BootReport,
    /// Identity of the image tree (what the pack stamp refers to).
    pub tree: String,
}

/// One stage in an [`UpperReport`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StageReport {
    /// The stage.
    pub stage: Stage,
    /// Why it reran, or `None` when it was up to date.
    pub rerun: Option<String>,
    /// Seconds it took (0 when kept).
    pub seconds: f64,
}

/// Which stages a build reruns, decided from the stamps before anything runs.
#[derive(Debug, Clone)]
pub struct UpperPlan {
    /// One decision per stage, in order.
    pub decisions: Vec<StageDecision>,
    /// The identity the image tree gets (the last stage's hash).
    pub tree: String,
    /// The image tree on disk is the one the stamps describe: nothing to do.
    pub up_to_date: bool,
    files_cache: DigestCache,
}

impl UpperPlan {
    /// The stages that rerun.
    pub fn reruns(&self) -> impl Iterator<Item = &StageDecision> {
        self.decisions.iter().filter(|d| d.rerun.is_some())
    }
}

/// Deletions left to a background thread (the previous image tree goes while the new one is
/// packed); waited for when dropped.
#[derive(Default)]
pub(crate) struct Background(std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>);

impl Background {
    /// Removes `path` (which nothing refers to any more) in the background.
    fn remove(&self, path: PathBuf) {
        let handle = std::thread::spawn(move || {
            let _ = std::fs::remove_dir_all(&path);
        });
        if let Ok(mut handles) = self.0.lock() {
            handles.push(handle);
        }
    }

    /// Waits for everything started so far.
    pub(crate) fn wait(&self) {
        let handles: Vec<_> = match self.0.lock() {
            Ok(mut handles) => handles.drain(..).collect(),
            Err(_) => return,
        };
        for handle in handles {
            let _ = handle.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.wait();
    }
}

pub(crate) struct UpperJob<'a> {
    pub recipe: &'a Recipe,
    pub provider: &'a dyn BaseProvider,
    pub work: &'a WorkDir,
    pub runner: &'a Runner,
    pub runtime: Runtime,
    /// Rerun this stage and every later one even when up to date.
    pub from: Option<Stage>,
    /// Where the old image tree is deleted.
    pub background: &'a Background,
}

/// The identity of the current lower: the hash of its inputs and when it was built.
fn lower_identity(work: &WorkDir) -> Result<String> {
    let stamp = work.lower_stamp();
    if !work.lower().join("usr").is_dir() || !stamp.is_file() {
        return Err(BuildError::Missing {
            what: format!("the lower layer in {}", work.root().display()),
            hint: "run `genpack lower` (or `genpack build`) first".into(),
        });
    }
    let text = std::fs::read(&stamp).map_err(BuildError::io("reading", &stamp))?;
    let modified = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .map_err(BuildError::io("reading", &stamp))?;
    let ns = modified
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(format!("{}@{ns}", crate::fsutil::sha256_hex(&text)))
}

impl UpperJob<'_> {
    fn container(&self, root: &Path) -> Container {
        let mut container =
            Container::new(self.runtime, root).bind(&self.recipe.project_dir, HOST_MOUNT, false);
        for (key, value) in self.environment() {
            container = container.env(&key, &value);
        }
        container
    }

    /// Variables every command in the image gets. `SOURCE_DATE_EPOCH` only when it was set
    /// for this build (then, e.g., account creation dates follow it).
    fn environment(&self) -> Vec<(String, String)> {
        let recipe = self.recipe;
        let mut env = vec![
            ("ARTIFACT".to_string(), recipe.name.clone()),
            ("PROFILE".to_string(), recipe.profile_str().to_string()),
            (
                "VARIANT".to_string(),
                recipe.variant.clone().unwrap_or_default(),
            ),
        ];
        if std::env::var_os("SOURCE_DATE_EPOCH").is_some() {
            env.push((
                "SOURCE_DATE_EPOCH".to_string(),
                recipe.source_date_epoch.to_string(),
            ));
        }
        env
    }

    fn environment_input(&self) -> Value {
        let mut lines: Vec<String> = self
            .environment()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        lines.push(format!("runtime={}", self.runtime.package()));
        json!(lines)
    }

    /// What `stage` is made from (besides the stages before it).
    fn inputs(&self, stage: Stage, files_cache: &mut DigestCache) -> Result<StageInputs> {
        let recipe = self.recipe;
        let mut inputs = StageInputs::new();
        let mut put = |key: &str, value: Value| {
            inputs.insert(key.to_string(), value);
        };
        match stage {
            Stage::Packages => {
                put("packages", json!(self.roots()));
                put("devel", json!(recipe.devel));
                put("hostname", json!(recipe.name));
            }
            Stage::Accounts => {
                put("groups", json!(recipe.groups));
                put("users", json!(recipe.users));
                put("environment", self.environment_input());
            }
            Stage::Files => {
                let old = StageStamp::read(self.work, Stage::Files)
                    .and_then(|s| serde_json::from_value(s.cache).ok())
                    .unwrap_or_default();
                let (files, cache, _) = fingerprint(&recipe.project_dir.join("files"), &old)?;
                *files_cache = cache;
                put("files", json!(files));
            }
            Stage::BuildScripts => put("environment", self.environment_input()),
            Stage::Setup => {
                put("setup_commands", json!(recipe.setup_commands));
                put("environment", self.environment_input());
            }
            Stage::Services => {
                put("services", json!(recipe.services));
                put("environment", self.environment_input());
            }
            // Which scripts run follows from the packages (the stage before); what they do
            // from their folders' content.
            Stage::PackageScripts => {
                let mut scripts = Vec::new();
                for dir in self.provider.package_script_dirs(recipe) {
                    let (digests, _, _) = fingerprint(&dir, &DigestCache::default())?;
                    scripts.push(json!({ "dir": dir, "files": digests }));
                }
                put("scripts", json!(scripts));
                put("environment", self.environment_input());
            }
            Stage::Boot => {
                put(
                    "boot programs",
                    json!(boot::boot_programs_identity(&recipe.arch.to_string())),
                );
                put("initramfs modules", json!(boot::EXTRA_INITRAMFS_MODULES));
            }
            Stage::Metadata => {
                put("arch", json!(recipe.arch.to_string()));
                put("profile", json!(recipe.profile_str()));
                put("artifact", json!(recipe.name));
                put("variant", json!(recipe.variant));
                put("timestamp", json!(recipe.source_date_epoch));
            }
        }
        Ok(inputs)
    }

    /// The definition's packages and the base's, sorted.
    fn roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = self.recipe.packages.clone();
        roots.extend(self.provider.base_packages(self.recipe));
        roots.sort();
        roots.dedup();
        roots
    }

    /// Compares every stage's inputs with its stamp. Reads no package file and runs nothing.
    pub(crate) fn plan(&self) -> Result<UpperPlan> {
        let base = lower_identity(self.work)?;
        let mut files_cache = DigestCache::default();
        let mut inputs = Vec::new();
        for stage in Stage::ALL {
            inputs.push((stage, self.inputs(stage, &mut files_cache)?));
        }
        let decisions = plan(self.work, &base, inputs, self.from);
        let tree = decisions.last().map(|d| d.hash.clone()).unwrap_or_default();
        let assembled = std::fs::read_to_string(self.work.upper_stamp()).unwrap_or_default();
        let up_to_date = decisions.iter().all(|d| d.rerun.is_none())
            && assembled.trim() == tree
            && self.work.upper().is_dir();
        Ok(UpperPlan {
            decisions,
            tree,
            up_to_date,
            files_cache,
        })
    }

    /// Runs the stages `plan` reruns, then assembles the image tree.
    pub(crate) fn run(&self, plan: &UpperPlan) -> Result<UpperReport> {
        let message = if plan.up_to_date {
            "image tree is up to date".to_string()
        } else if plan.reruns().next().is_none() {
            "every stage is up to date; assembling the image tree again".to_string()
        } else {
            summary(&plan.decisions)
        };
        self.runner.log_line(UPPER_LOG, &message)?;
        (self.runner.progress())(Progress::Note {
            phase: Phase::Upper,
            message,
        });
        let mut report = UpperReport {
            stages: Vec::new(),
            up_to_date: plan.up_to_date,
            closure_packages: 0,
            entries_copied: 0,
            bytes_copied: 0,
            scripts_run: Vec::new(),
            whiteouts: 0,
            assembled: None,
            boot: BootReport::default(),
            tree: plan.tree.clone(),
        };
        if !plan.up_to_date {
            unmount_below(&self.work.merged())?;
            std::fs::create_dir_all(self.work.stages())
                .map_err(BuildError::io("creating", self.work.stages()))?;
            // A stage that does not finish leaves no stamp, nor do the ones after it.
            for decision in plan.reruns() {
                let stamp = self.work.stage_stamp(decision.stage.name());
                if stamp.exists() {
                    std::fs::remove_file(&stamp).map_err(BuildError::io("removing", &stamp))?;
                }
            }
        }
        for decision in &plan.decisions {
            let stage = decision.stage;
            let started = Instant::now();
            let outcome = match &decision.rerun {
                None => StageStamp::read(self.work, stage)
                    .map(|s| s.outcome)
                    .unwrap_or(Value::Null),
                Some(reason) => {
                    self.announce(stage, reason)?;
                    let outcome = self.run_stage(stage, &mut report)?;
                    let cache = if stage == Stage::Files {
                        serde_json::to_value(&plan.files_cache).unwrap_or(Value::Null)
                    } else {
                        Value::Null
                    };
                    StageStamp {
                        hash: decision.hash.clone(),
                        inputs: decision.inputs.clone(),
                        outcome: outcome.clone(),
                        cache,
                    }
                    .write(self.work, stage)?;
                    outcome
                }
            };
            apply_outcome(stage, &outcome, decision.rerun.is_some(), &mut report);
            report.stages.push(StageReport {
                stage,
                rerun: decision.rerun.clone(),
                seconds: if decision.rerun.is_some() {
                    started.elapsed().as_secs_f64()
                } else {
                    0.0
                },
            });
        }
        if !plan.up_to_date {
            report.assembled = Some(self.assemble_tree(&plan.tree, false)?);
        }
        Ok(report)
    }

    fn announce(&self, stage: Stage, reason: &str) -> Result<()> {
        self.runner.check_cancel(stage.name())?;
        (self.runner.progress())(Progress::Step {
            phase: Phase::Upper,
            name: stage.name().to_string(),
            index: stage.index() + 1,
            count: Stage::ALL.len(),
        });
        self.runner
            .log_line(stage.name(), &format!("running stage {stage}: {reason}"))?;
        self.runner
            .log_line(UPPER_LOG, &format!("{stage} reruns: {reason}"))
    }

    /// Assembles the image tree from the stage layers (and the `upper-bash` layer when
    /// `with_shell`), replacing the old one, and records `identity` as its stamp.
    pub(crate) fn assemble_tree(&self, identity: &str, with_shell: bool) -> Result<AssembleStats> {
        let work = self.work;
        let mut layers = all_layers(work);
        let shell = work.stage_layer(SHELL_LAYER);
        if with_shell {
            layers.push(shell);
        } else {
            remove_tree(&shell)?;
        }
        let staging = work.upper_staging();
        remove_tree(&staging)?;
        let stats = assemble(&layers, &staging)?;
        let stamp = work.upper_stamp();
        if stamp.exists() {
            std::fs::remove_file(&stamp).map_err(BuildError::io("removing", &stamp))?;
        }
        let upper = work.upper();
        let retired = work.upper_retired();
        remove_tree(&retired)?;
        if std::fs::symlink_metadata(&upper).is_ok() {
            unmount_below(&upper)?;
            std::fs::rename(&upper, &retired)
                .map_err(BuildError::io("moving the old image tree away", &upper))?;
        }
        std::fs::rename(&staging, &upper).map_err(BuildError::io(
            "moving the new image tree into place",
            &upper,
        ))?;
        write_atomic(&stamp, format!("{identity}\n").as_bytes())?;
        if std::fs::symlink_metadata(&retired).is_ok() {
            self.background.remove(retired);
        }
        self.runner.log_line(
            UPPER_LOG,
            &format!(
                "image tree assembled: {} entries linked, {} directories, {} removed by later stages",
                stats.linked, stats.directories, stats.removed
            ),
        )?;
        Ok(stats)
    }

    /// Runs one stage into its (emptied) layer and returns what it did.
    fn run_stage(&self, stage: Stage, report: &mut UpperReport) -> Result<Value> {
        let layer = self.work.stage_layer(stage.name());
        remove_tree(&layer)?;
        std::fs::create_dir_all(&layer).map_err(BuildError::io("creating", &layer))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&layer, std::fs::Permissions::from_mode(0o755))
                .map_err(BuildError::io("changing mode of", &layer))?;
        }
        if stage == Stage::Packages {
            return self.packages(&layer);
        }
        let mut lowers = layers_below(self.work, stage);
        if stage.sees_the_lower() {
            lowers.push(self.work.lower());
        }
        let overlay = OverlayMount::mount_layers(
            &lowers,
            &layer,
            &self.work.overlay_work(),
            &self.work.merged(),
        )?;
        let result = self.customise(stage, overlay.path());
        overlay.unmount()?;
        let outcome = result?;
        if stage.sees_the_lower() {
            // The container runtime creates the mount point of the project folder.
            let host_mount = layer.join(HOST_MOUNT.trim_start_matches('/'));
            let in_lower = self
                .work
                .lower()
                .join(HOST_MOUNT.trim_start_matches('/'))
                .exists();
            if host_mount.is_dir() && !in_lower {
                let _ = std::fs::remove_dir(&host_mount);
            }
        }
        let whiteouts = seal_layer(&layer)?;
        report.whiteouts += whiteouts;
        if whiteouts > 0 {
            self.runner.log_line(
                stage.name(),
                &format!("{whiteouts} entries of earlier layers removed"),
            )?;
        }
        Ok(outcome)
    }

    /// The package stage: closure, copy, hostname, linker cache, package list.
    fn packages(&self, layer: &Path) -> Result<Value> {
        let recipe = self.recipe;
        let lower = self.work.lower();
        let step = Stage::Packages.name();
        let db = self.provider.package_db(&lower)?;
        let closure = runtime_closure(db.as_ref(), &self.roots());
        self.runner.log_line(
            step,
            &format!("{} packages in the runtime closure", closure.packages.len()),
        )?;
        for name in &closure.packages {
            self.runner.log_line(step, name)?;
        }
        for missing in &closure.unsatisfied {
            self.runner
                .log_line(step, &format!("warning: unsatisfied dependency {missing}"))?;
        }
        if !closure.missing_roots.is_empty() {
            return Err(BuildError::Missing {
                what: format!(
                    "packages not installed in the lower: {}",
                    closure.missing_roots.join(", ")
                ),
                hint: "rebuild the lower with `genpack lower`".into(),
            });
        }

        let selection = select(&lower, db.as_ref(), &closure, recipe.devel)?;
        self.runner.log_line(
            step,
            &format!(
                "copying {} entries ({} bytes) from the lower",
                selection.entries.len(),
                selection.bytes
            ),
        )?;
        let mut copier = TreeCopier::new(&lower, layer, Ownership::Preserve);
        let mut meter = Meter::new(
            Phase::Upper,
            Unit::Files,
            Some(selection.entries.len() as u64),
        );
        for (i, rel) in selection.entries.iter().enumerate() {
            if i % 256 == 0 {
                self.runner.check_cancel(step)?;
                meter.report(self.runner.progress(), i as u64, false);
            }
            copier.copy_entry(rel)?;
        }
        copier.finish()?;
        meter.report(self.runner.progress(), selection.entries.len() as u64, true);

        write_atomic(
            &layer.join("etc/hostname"),
            format!("{}\n", recipe.name).as_bytes(),
        )?;
        if layer.join("etc/ld.so.conf").exists() {
            let mut cmd = std::process::Command::new("ldconfig");
            cmd.arg("-r").arg(layer);
            self.runner.run(step, &mut cmd, "libc-bin", |_| {})?;
        }
        let packages: Vec<_> = closure
            .packages
            .iter()
            .filter_map(|name| db.package(name).cloned())
            .collect();
        metadata::write_packages(layer, &packages)?;
        Ok(json!({
            "closure_packages": closure.packages.len(),
            "entries_copied": copier.entries,
            "bytes_copied": copier.bytes,
        }))
    }

    /// The stages that work on the merged view of the layers below and their own.
    fn customise(&self, stage: Stage, merged: &Path) -> Result<Value> {
        let recipe = self.recipe;
        let container = self.container(merged);
        let step = stage.name();
        match stage {
            Stage::Packages => Ok(Value::Null),
            Stage::Accounts => {
                let script = accounts_script(recipe);
                if !script.is_empty() {
                    self.runner.run(
                        step,
                        &mut container.shell(&script),
                        self.runtime.package(),
                        |_| {},
                    )?;
                }
                Ok(json!({ "groups": recipe.groups.len(), "users": recipe.users.len() }))
            }
            Stage::Files => {
                let files = recipe.project_dir.join("files");
                let mut entries = 0;
                if files.is_dir() {
                    let mut copier =
                        TreeCopier::merging_through_links(&files, merged, Ownership::Root);
                    copier.copy_children()?;
                    copier.finish()?;
                    entries = copier.entries;
                    self.runner.log_line(
                        step,
                        &format!("{entries} entries from files/ merged over /"),
                    )?;
                }
                Ok(json!({ "entries": entries }))
            }
            Stage::BuildScripts => {
                let scripts = build_scripts(merged)?;
                let mut run = Vec::new();
                for script in &scripts {
                    self.runner.check_cancel(step)?;
                    self.runner
                        .log_line(step, &format!("running {}", script.display_name))?;
                    let mut cmd = container.shell(&script.shell_line());
                    self.runner
                        .run(step, &mut cmd, self.runtime.package(), |_| {})?;
                    run.push(script.display_name.clone());
                }
                for leftover in ["build.d", "build"] {
                    crate::fsutil::remove_any(&merged.join(leftover))?;
                }
                Ok(json!({ "scripts_run": run }))
            }
            Stage::Setup => {
                for command in &recipe.setup_commands {
                    match command {
                        SetupCommand::Shell(line) => {
                            self.runner.run(
                                step,
                                &mut container.shell(line),
                                self.runtime.package(),
                                |_| {},
                            )?;
                        }
                        SetupCommand::Structured(_) => {
                            self.runner.log_line(
                                step,
                                "skipping a structured setup command: only strings are run",
                            )?;
                        }
                    }
                }
                Ok(json!({ "commands": recipe.setup_commands.len() }))
            }
            Stage::Services => {
                if !recipe.services.is_empty() {
                    let mut argv = vec!["systemctl".to_string(), "enable".to_string()];
                    argv.extend(recipe.services.iter().cloned());
                    self.runner.run(
                        step,
                        &mut container.command(&argv, false),
                        self.runtime.package(),
                        |_| {},
                    )?;
                }
                // systemd compares /usr's mtime with /etc/.updated and /var/.updated.
                let usr = merged.join("usr");
                filetime::set_file_mtime(&usr, filetime::FileTime::now())
                    .map_err(BuildError::io("touching", &usr))?;
                Ok(json!({ "services": recipe.services.len() }))
            }
            Stage::PackageScripts => {
                let db = self.provider.package_db(&self.work.lower())?;
                let closure = runtime_closure(db.as_ref(), &self.roots());
                let ran = crate::package_scripts::run(
                    merged,
                    &container,
                    &closure.packages,
                    &self.provider.package_script_dirs(recipe),
                    self.runner,
                )?;
                Ok(json!({ "scripts_run": ran }))
            }
            Stage::Boot => {
                let kernel = self.provider.kernel(&self.work.lower())?;
                let arch = recipe.arch.to_string();
                let boot =
                    boot::install_boot_side(merged, kernel.as_deref(), &arch, self.runner, step)?;
                Ok(serde_json::to_value(boot).unwrap_or(Value::Null))
            }
            Stage::Metadata => {
                metadata::write_identity(merged, recipe)?;
                self.runner.log_line(step, "/.genpack written")?;
                Ok(Value::Null)
            }
        }
    }
}

/// Copies what a stage did (from this build or its stamp) into the report.
fn apply_outcome(stage: Stage, outcome: &Value, ran: bool, report: &mut UpperReport) {
    let number = |key: &str| outcome.get(key).and_then(Value::as_u64).unwrap_or(0);
    match stage {
        Stage::Packages => {
            report.closure_packages = number("closure_packages") as usize;
            if ran {
                report.entries_copied = number("entries_copied");
                report.bytes_copied = number("bytes_copied");
            }
        }
        Stage::BuildScripts => {
            report.scripts_run = outcome
                .get("scripts_run")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
        }
        Stage::Boot => {
            report.boot = serde_json::from_value(outcome.clone()).unwrap_or_default();
        }
        _ => {}
    }
}

/// Where the layers of `work` are (for tests and tools).
pub fn layer_paths(work: &WorkDir) -> Vec<(Stage, PathBuf)> {
    Stage::ALL
        .iter()
        .map(|s| (*s, work.stage_layer(s.name())))
        .collect()
}

/// Shell script creating the definition's groups, then its users (skipping existing ones).
pub(crate) fn accounts_script(recipe: &Recipe) -> String {
    let mut lines = Vec::new();
    for group in &recipe.groups {
        let name = shell_quote(&group.name);
        let gid = group.gid.map(|g| format!(" -g {g}")).unwrap_or_default();
        lines.push(format!(
            "getent group {name} >/dev/null || groupadd{gid} {name}"
        ));
    }
    for user in &recipe.users {
        let mut args = Vec::new();
        if let Some(uid) = user.uid {
            args.push(format!("-u {uid}"));
        }
        if let Some(comment) = &user.comment {
            args.push(format!("-c {}", shell_quote(comment)));
        }
        if let Some(home) = &user.home {
            args.push(format!("-d {}", shell_quote(home)));
        }
        if let Some(shell) = &user.shell {
            args.push(format!("-s {}", shell_quote(shell)));
        }
        if let Some(group) = &user.initial_group {
            args.push(format!("-g {}", shell_quote(group)));
        }
        if !user.additional_groups.is_empty() {
            args.push(format!(
                "-G {}",
                shell_quote(&user.additional_groups.join(","))
            ));
        }
        args.push(if user.create_home {
            "-m".into()
        } else {
            "-M".into()
        });
        if user.empty_password {
            args.push("-p ''".into());
        }
        let name = shell_quote(&user.name);
        lines.push(format!(
            "getent passwd {name} >/dev/null || useradd {} {name}",
            args.join(" ")
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("set -e\n{}\n", lines.join("\n"))
}

/// One script of `/build` or `/build.d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuildScript {
    /// Path inside the image.
    pub path: String,
    /// Interpreter, when the file is not executable.
    pub interpreter: Option<&'static str>,
    /// Account to run as (`build.d/<user>/`), else root.
    pub user: Option<String>,
    /// Name for logs (`10-setup.sh`, `alice/20-prefs.sh`).
    pub display_name: String,
}

impl BuildScript {
    fn shell_line(&self) -> String {
        let mut argv = Vec::new();
        if let Some(interp) = self.interpreter {
            argv.push(interp.to_string());
        }
        argv.push(shell_quote(&self.path));
        let command = argv.join(" ");
        match &self.user {
            None => format!("cd / && exec {command}"),
            Some(user) => {
                let user = shell_quote(user);
                format!(
                    "home=$(getent passwd {user} | cut -d: -f6); cd \"${{home:-/}}\" 2>/dev/null || cd /; \
                     exec runuser -u {user} -- env HOME=\"${{home:-/}}\" {command}"
                )
            }
        }
    }
}

/// `/build` then `/build.d/*` (sorted, as root), then `/build.d/<user>/*` (sorted, as that
/// user), as found in the merged tree.
pub(crate) fn build_scripts(merged: &Path) -> Result<Vec<BuildScript>> {
    let mut scripts = Vec::new();
    let single = merged.join("build");
    if single.is_file() {
        scripts.push(classify(&single, "/build".into(), None, "build".into())?);
    }
    let dir = merged.join("build.d");
    if !dir.is_dir() {
        return Ok(scripts);
    }
    let mut user_dirs = Vec::new();
    for (name, path) in sorted_entries(&dir)? {
        if path.is_dir() {
            user_dirs.push((name, path));
        } else {
            scripts.push(classify(
                &path,
                format!("/build.d/{name}"),
                None,
                name.clone(),
            )?);
        }
    }
    for (user, path) in user_dirs {
        for (name, file) in sorted_entries(&path)? {
            if file.is_file() {
                scripts.push(classify(
                    &file,
                    format!("/build.d/{user}/{name}"),
                    Some(user.clone()),
                    format!("{user}/{name}"),
                )?);
            }
        }
    }
    Ok(scripts)
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(BuildError::io("reading directory", dir))?
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

fn classify(
    file: &Path,
    path: String,
    user: Option<String>,
    display_name: String,
) -> Result<BuildScript> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file)
        .map_err(BuildError::io("reading", file))?
        .permissions()
        .mode();
    let interpreter = if mode & 0o111 != 0 {
        None
    } else if path.ends_with(".sh") {
        Some("/bin/sh")
    } else if path.ends_with(".py") {
        Some("python3")
    } else {
        return Err(BuildError::Definition(format!(
            "{path}: a build script must be executable, or end in .sh or .py"
        )));
    };
    Ok(BuildScript {
        path,
        interpreter,
        user,
        display_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn build_scripts_are_ordered_and_classified() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("build.d");
        std::fs::create_dir_all(d.join("alice")).unwrap();
        std::fs::write(d.join("20-b.py"), "").unwrap();
        std::fs::write(d.join("10-a.sh"), "").unwrap();
        std::fs::write(d.join("30-run"), "").unwrap();
        std::fs::set_permissions(d.join("30-run"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(d.join("alice/x.sh"), "").unwrap();
        let scripts = build_scripts(root.path()).unwrap();
        let names: Vec<_> = scripts.iter().map(|s| s.display_name.as_str()).collect();
        assert_eq!(names, vec!["10-a.sh", "20-b.py", "30-run", "alice/x.sh"]);
        assert_eq!(scripts[0].interpreter, Some("/bin/sh"));
        assert_eq!(scripts[1].interpreter, Some("python3"));
        assert_eq!(scripts[2].interpreter, None);
        assert_eq!(scripts[3].user.as_deref(), Some("alice"));
        assert!(scripts[3].shell_line().contains("runuser -u alice"));

        std::fs::write(d.join("40-bad.txt"), "").unwrap();
        assert!(
            matches!(build_scripts(root.path()), Err(BuildError::Definition(m)) if m.contains("40-bad.txt"))
        );
    }
}
