//! The upper layer: the runtime closure copied up from the lower, then everything the
//! definition adds (groups, users, `files/`, `build.d` scripts, setup commands, services),
//! the `/.genpack` metadata and the boot side. The finished upper is exactly the image tree.

use std::path::{Path, PathBuf};

use crate::base::BaseProvider;
use crate::boot::{self, BootReport};
use crate::closure::runtime_closure;
use crate::command::{shell_quote, Runner};
use crate::container::{Container, Runtime, HOST_MOUNT};
use crate::copy::{Ownership, TreeCopier};
use crate::error::{BuildError, Result};
use crate::metadata;
use crate::overlay::{clean_upper, OverlayMount};
use crate::progress::{Meter, Phase, Progress, Unit};
use crate::recipe::{Recipe, SetupCommand};
use crate::select::select;
use crate::workdir::{remove_tree, unmount_below, WorkDir};

/// Steps of the upper phase, in order (also the names of their logs).
pub const STEPS: [&str; 11] = [
    "closure",
    "copy",
    "fundamentals",
    "users",
    "files",
    "build.d",
    "setup",
    "services",
    "cleanup",
    "metadata",
    "boot",
];

/// What the upper phase did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpperReport {
    /// Packages in the runtime closure.
    pub closure_packages: usize,
    /// Entries copied from the lower.
    pub entries_copied: u64,
    /// Bytes of file data copied from the lower.
    pub bytes_copied: u64,
    /// `build.d` scripts run, in order (relative to `build.d/`).
    pub scripts_run: Vec<String>,
    /// overlayfs whiteouts removed from the finished tree.
    pub whiteouts_removed: usize,
    /// Kernel and initramfs.
    pub boot: BootReport,
}

pub(crate) struct UpperJob<'a> {
    pub recipe: &'a Recipe,
    pub provider: &'a dyn BaseProvider,
    pub work: &'a WorkDir,
    pub runner: &'a Runner,
    pub runtime: Runtime,
}

impl UpperJob<'_> {
    fn step(&self, index: usize) -> Result<&'static str> {
        let name = STEPS[index];
        self.runner.check_cancel(name)?;
        (self.runner.progress())(Progress::Step {
            phase: Phase::Upper,
            name: name.to_string(),
            index: index + 1,
            count: STEPS.len(),
        });
        Ok(name)
    }

    fn container(&self, root: &Path) -> Container {
        let recipe = self.recipe;
        Container::new(self.runtime, root)
            .bind(&recipe.project_dir, HOST_MOUNT, false)
            .env("ARTIFACT", &recipe.name)
            .env("PROFILE", recipe.profile_str())
            .env("VARIANT", recipe.variant.as_deref().unwrap_or(""))
    }

    pub(crate) fn run(&self) -> Result<UpperReport> {
        let recipe = self.recipe;
        let lower = self.work.lower();
        let upper = self.work.upper();
        if !lower.join("usr").is_dir() || !self.work.lower_stamp().is_file() {
            return Err(BuildError::Missing {
                what: format!("the lower layer in {}", self.work.root().display()),
                hint: "run `genpack lower` (or `genpack build`) first".into(),
            });
        }
        unmount_below(&self.work.merged())?;
        remove_tree(&upper)?;
        std::fs::create_dir_all(&upper).map_err(BuildError::io("creating", &upper))?;

        // 1. closure
        let step = self.step(0)?;
        let db = self.provider.package_db(&lower)?;
        let mut roots: Vec<String> = recipe.packages.clone();
        roots.extend(self.provider.base_packages(recipe));
        let closure = runtime_closure(db.as_ref(), &roots);
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

        // 2. copy
        let step = self.step(1)?;
        let selection = select(&lower, db.as_ref(), &closure, recipe.devel)?;
        self.runner.log_line(
            step,
            &format!(
                "copying {} entries ({} bytes) from the lower",
                selection.entries.len(),
                selection.bytes
            ),
        )?;
        let mut copier = TreeCopier::new(&lower, &upper, Ownership::Preserve);
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

        // 3. fundamentals
        let step = self.step(2)?;
        crate::fsutil::write_atomic(
            &upper.join("etc/hostname"),
            format!("{}\n", recipe.name).as_bytes(),
        )?;
        if upper.join("etc/ld.so.conf").exists() {
            let mut cmd = std::process::Command::new("ldconfig");
            cmd.arg("-r").arg(&upper);
            self.runner.run(step, &mut cmd, "libc-bin", |_| {})?;
        }

        // 4-8 run on the lower+upper overlay.
        let overlay = OverlayMount::mount(
            &lower,
            &upper,
            &self.work.overlay_work(),
            &self.work.merged(),
        )?;
        crate::package_scripts::run(
            overlay.path(),
            &self.container(overlay.path()),
            &closure.packages,
            &self.provider.package_script_dirs(recipe),
            self.runner,
        )?;
        let scripts_run = self.customise(overlay.path())?;
        overlay.unmount()?;
        // The container runtime creates the mount point of the project folder.
        let host_mount = upper.join(HOST_MOUNT.trim_start_matches('/'));
        if host_mount.is_dir() && !lower.join(HOST_MOUNT.trim_start_matches('/')).exists() {
            let _ = std::fs::remove_dir(&host_mount);
        }

        // 9. cleanup
        let step = self.step(8)?;
        let whiteouts_removed = clean_upper(&upper)?;
        self.runner
            .log_line(step, &format!("{whiteouts_removed} whiteouts removed"))?;

        // 10. metadata
        let step = self.step(9)?;
        let packages: Vec<_> = closure
            .packages
            .iter()
            .filter_map(|name| db.package(name).cloned())
            .collect();
        metadata::write(&upper, recipe, &packages)?;
        self.runner.log_line(
            step,
            &format!("/.genpack written ({} packages)", packages.len()),
        )?;

        // 11. boot
        let step = self.step(10)?;
        let kernel = self.provider.kernel(&lower)?;
        let boot = boot::install_boot_side(&upper, kernel.as_deref(), self.runner, step)?;

        Ok(UpperReport {
            closure_packages: closure.packages.len(),
            entries_copied: copier.entries,
            bytes_copied: copier.bytes,
            scripts_run,
            whiteouts_removed,
            boot,
        })
    }

    /// Groups, users, files, build.d, setup commands and services, on the merged view.
    fn customise(&self, merged: &Path) -> Result<Vec<String>> {
        let recipe = self.recipe;
        let container = self.container(merged);

        let step = self.step(3)?;
        let script = accounts_script(recipe);
        if !script.is_empty() {
            self.runner.run(
                step,
                &mut container.shell(&script),
                self.runtime.package(),
                |_| {},
            )?;
        }

        let step = self.step(4)?;
        let files = recipe.project_dir.join("files");
        if files.is_dir() {
            let mut copier = TreeCopier::new(&files, merged, Ownership::Root);
            copier.copy_children()?;
            copier.finish()?;
            self.runner.log_line(
                step,
                &format!("{} entries from files/ merged over /", copier.entries),
            )?;
        }

        let step = self.step(5)?;
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
            let path = merged.join(leftover);
            if let Ok(meta) = std::fs::symlink_metadata(&path) {
                if meta.is_dir() {
                    std::fs::remove_dir_all(&path).map_err(BuildError::io("removing", &path))?;
                } else {
                    std::fs::remove_file(&path).map_err(BuildError::io("removing", &path))?;
                }
            }
        }

        let step = self.step(6)?;
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

        let step = self.step(7)?;
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
        Ok(run)
    }
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
