//! Package-scripts: small programs that finish what a package leaves undone in an image
//! (enable its service, drop host keys made at build time, point `/boot/kernel` at the
//! kernel). They live in an overlay's `package-scripts/<category>/<name>/` folder, in
//! genpack's overlay and in the project's own `overlay/`.
//!
//! While the upper layer is made, after the image's packages were copied up and before the
//! definition's accounts, `files/`, `build.d` scripts, setup commands and services, every
//! executable script of every package in the image runs on the lower+upper overlay, in this
//! order:
//!
//! 1. packages by name (`app-misc/hello` before `sys-apps/systemd`);
//! 2. within a package, scripts by file name (`10-x` before `50-y`), from every overlay
//!    together; a project script with the same file name as one of genpack's replaces it.
//!
//! Each runs as root in the build container with `ARTIFACT`, `PROFILE` and `VARIANT` set and the
//! script's own folder as the working directory (files next to it, such as configuration
//! templates, are at hand). A failing script fails the build with its output. Non-executable
//! files are not run. The scripts are copied into the overlay for the run and removed after it,
//! so they never reach the image.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::command::{shell_quote, Runner};
use crate::container::Container;
use crate::error::{BuildError, Result};

/// Log (and step) name of the package-scripts run.
pub const STEP: &str = "package-scripts";
/// Where the scripts are put in the merged tree while they run.
pub const STAGING: &str = "var/tmp/genpack-package-scripts";

/// One script to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageScript {
    /// `category/name` of its package.
    pub package: String,
    /// Its file name.
    pub name: String,
    /// Its folder on this machine (`<overlay>/package-scripts/<category>/<name>`).
    pub source_dir: PathBuf,
}

impl PackageScript {
    /// `category/name/script`, as logs and reports show it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.package, self.name)
    }
}

/// The scripts of `packages` (`category/name`, optionally with `:slot`) found in the
/// `package-scripts` folders `dirs` (later folders replace scripts of the same name), in run
/// order.
pub fn find<S: AsRef<str>>(
    packages: impl IntoIterator<Item = S>,
    dirs: &[PathBuf],
) -> Result<Vec<PackageScript>> {
    let mut keys: Vec<String> = packages
        .into_iter()
        .filter_map(|package| {
            let key = package.as_ref().split(':').next()?.to_string();
            (key.split('/').count() == 2 && !key.contains("..")).then_some(key)
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut scripts = Vec::new();
    for key in keys {
        let mut by_name: BTreeMap<String, PackageScript> = BTreeMap::new();
        for dir in dirs {
            let folder = dir.join(&key);
            let entries = match std::fs::read_dir(&folder) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(BuildError::io("reading", &folder)(error)),
            };
            for entry in entries {
                let entry = entry.map_err(BuildError::io("reading", &folder))?;
                let path = entry.path();
                let meta = std::fs::metadata(&path).map_err(BuildError::io("reading", &path))?;
                if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                by_name.insert(
                    name.clone(),
                    PackageScript {
                        package: key.clone(),
                        name,
                        source_dir: folder.clone(),
                    },
                );
            }
        }
        scripts.extend(by_name.into_values());
    }
    Ok(scripts)
}

/// Runs the scripts of `packages` from the `package-scripts` folders `dirs` in `container`,
/// whose root is the merged tree `merged`. Returns the scripts that ran
/// (`category/name/script`), in order.
pub(crate) fn run<S: AsRef<str>>(
    merged: &Path,
    container: &Container,
    packages: impl IntoIterator<Item = S>,
    dirs: &[PathBuf],
    runner: &Runner,
) -> Result<Vec<String>> {
    let scripts = find(packages, dirs)?;
    if scripts.is_empty() {
        runner.log_line(STEP, "no package-scripts for the packages of this image")?;
        return Ok(Vec::new());
    }
    let staging = merged.join(STAGING);
    let result = run_staged(&staging, container, &scripts, dirs, runner);
    let removed = std::fs::remove_dir_all(&staging).map_err(BuildError::io("removing", &staging));
    let ran = result?;
    removed?;
    Ok(ran)
}

fn run_staged(
    staging: &Path,
    container: &Container,
    scripts: &[PackageScript],
    dirs: &[PathBuf],
    runner: &Runner,
) -> Result<Vec<String>> {
    let mut ran = Vec::new();
    for script in scripts {
        runner.check_cancel(STEP)?;
        let folder = staging.join(&script.package);
        if !folder.is_dir() {
            // Every overlay's files of the package, the project's last so they win.
            std::fs::create_dir_all(&folder).map_err(BuildError::io("creating", &folder))?;
            for dir in dirs {
                copy_files(&dir.join(&script.package), &folder)?;
            }
        }
        let inside = format!("/{STAGING}/{}", script.package);
        runner.log_line(STEP, &format!("running {}", script.label()))?;
        let line = format!(
            "cd {} && exec ./{}",
            shell_quote(&inside),
            shell_quote(&script.name)
        );
        runner.run(STEP, &mut container.shell(&line), "genpack overlay", |_| {})?;
        ran.push(script.label());
    }
    Ok(ran)
}

/// Copies the files of `from` (when it exists; not its subfolders) into `to`, keeping modes.
fn copy_files(from: &Path, to: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(BuildError::io("reading", from)(error)),
    };
    for entry in entries {
        let entry = entry.map_err(BuildError::io("reading", from))?;
        let path = entry.path();
        if path.is_file() {
            let dest = to.join(entry.file_name());
            std::fs::copy(&path, &dest).map_err(BuildError::io("copying", &path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(root: &Path, path: &str, mode: u32) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn scripts_run_by_package_then_by_name_and_the_project_replaces_same_names() {
        let dir = tempfile::tempdir().unwrap();
        let genpack = dir.path().join("genpack");
        let project = dir.path().join("project");
        script(&genpack, "sys-apps/systemd/50-network", 0o755);
        script(&genpack, "sys-apps/systemd/README", 0o644);
        script(&genpack, "app-misc/hello/50-enable", 0o755);
        script(&genpack, "net-misc/openssh/50-sshd", 0o755);
        script(&project, "app-misc/hello/10-first", 0o755);
        script(&project, "app-misc/hello/50-enable", 0o755);
        let packages = vec![
            "sys-apps/systemd".to_string(),
            "app-misc/hello:0".to_string(),
            "sys-libs/none".to_string(),
        ];
        let found = find(&packages, &[genpack.clone(), project.clone()]).unwrap();
        let labels: Vec<String> = found.iter().map(PackageScript::label).collect();
        assert_eq!(
            labels,
            [
                "app-misc/hello/10-first",
                "app-misc/hello/50-enable",
                "sys-apps/systemd/50-network"
            ]
        );
        assert_eq!(found[1].source_dir, project.join("app-misc/hello"));
        assert_eq!(found[2].source_dir, genpack.join("sys-apps/systemd"));
        // Packages outside the image (openssh) and Debian names without a category run nothing.
        assert!(find(["openssh-server"], &[genpack]).unwrap().is_empty());
    }
}
