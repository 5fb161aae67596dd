//! Drop-in modules shipped by packages in `/usr/lib/genpack-init`.
//!
//! - An executable file runs with `GENPACK_INIT_INI` (path of system.ini) and
//!   `GENPACK_INIT_ROOT` (the configured tree) in its environment.
//! - A `*.py` file defining `configure(ini)` or `configure()` runs unmodified under python3
//!   (the image's `/usr/bin/python3` at boot; the `python3` on `PATH` for `apply --root`),
//!   with the `genpack_init` helper module importable and `ini` a configparser loaded the way
//!   genpack-init always loaded it.
//!
//! Each module runs in its own process; its output is logged and a failure does not stop
//! the next one.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::context::Context;
use crate::modules::SUPERSEDED_DROPINS;

/// Where packages put their modules, relative to the root.
pub const DROPIN_DIR: &str = "usr/lib/genpack-init";

/// The `genpack_init` Python API offered to `*.py` modules.
pub const PYTHON_API: &str = include_str!("python/genpack_init.py");
const PYTHON_RUNNER: &str = include_str!("python/run_module.py");

/// A module file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropIn {
    /// File name, which decides the order.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// How it runs.
    pub kind: DropInKind,
}

/// How a drop-in runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropInKind {
    /// A `*.py` file with `configure()`.
    Python,
    /// Any executable.
    Executable,
}

/// What running a drop-in produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropInRun {
    /// Whether it exited successfully.
    pub success: bool,
    /// Its output lines (stdout and stderr).
    pub output: Vec<String>,
    /// Exit description when it failed.
    pub failure: Option<String>,
}

/// Lists the drop-ins in name order, and the names skipped because a built-in module
/// replaces them.
pub fn discover(ctx: &Context) -> (Vec<DropIn>, Vec<String>) {
    let dir = ctx.path(DROPIN_DIR);
    let Ok(entries) = fs::read_dir(&dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut found = Vec::new();
    let mut superseded = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() || name.starts_with('.') {
            continue;
        }
        let kind = if name.ends_with(".py") {
            DropInKind::Python
        } else if meta.permissions().mode() & 0o111 != 0 {
            DropInKind::Executable
        } else {
            continue;
        };
        if SUPERSEDED_DROPINS.contains(&name.as_str()) {
            superseded.push(name);
            continue;
        }
        found.push(DropIn { name, path, kind });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    superseded.sort();
    (found, superseded)
}

/// Runs one drop-in. `python_dir` holds the Python API (see [`PythonSupport`]).
pub fn run(
    ctx: &Context,
    dropin: &DropIn,
    python: Option<&PythonSupport>,
    debug: bool,
) -> DropInRun {
    let mut command = match dropin.kind {
        DropInKind::Executable => Command::new(&dropin.path),
        DropInKind::Python => {
            let Some(py) = python else {
                return DropInRun {
                    success: false,
                    output: Vec::new(),
                    failure: Some("python3 is not available; module not run".into()),
                };
            };
            let mut c = Command::new(&py.interpreter);
            c.arg(py.dir.join("run_module.py"))
                .arg(&dropin.path)
                .env("PYTHONPATH", &py.dir)
                .env("PYTHONDONTWRITEBYTECODE", "1");
            c
        }
    };
    command
        .env("GENPACK_INIT_ROOT", &ctx.root)
        .env("GENPACK_INIT_DEBUG", if debug { "1" } else { "0" })
        .current_dir(&ctx.root);
    if let Some(ini) = &ctx.ini_path {
        command.env("GENPACK_INIT_INI", ini);
    }
    match command.output() {
        Ok(o) => {
            let mut output: Vec<String> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect();
            output.extend(
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .map(str::to_string),
            );
            DropInRun {
                success: o.status.success(),
                output,
                failure: (!o.status.success()).then(|| format!("exited with {}", o.status)),
            }
        }
        Err(e) => DropInRun {
            success: false,
            output: Vec::new(),
            failure: Some(format!("could not start {}: {e}", dropin.path.display())),
        },
    }
}

/// The Python interpreter and a directory holding the `genpack_init` API; removed on drop.
#[derive(Debug)]
pub struct PythonSupport {
    /// Interpreter to run.
    pub interpreter: PathBuf,
    /// Directory with `genpack_init.py` and the module runner.
    pub dir: PathBuf,
}

impl PythonSupport {
    /// Finds python3 (the image's at boot, else the one on PATH) and writes the API files.
    /// None when there is no interpreter or the files cannot be written.
    pub fn prepare(ctx: &Context) -> Option<Self> {
        let interpreter = if ctx.live {
            Some(ctx.path("usr/bin/python3")).filter(|p| p.exists())
        } else {
            find_in_path("python3")
        }?;
        let dir = std::env::temp_dir().join(format!("genpack-init-python-{}", std::process::id()));
        fs::create_dir_all(&dir).ok()?;
        fs::write(dir.join("genpack_init.py"), PYTHON_API).ok()?;
        fs::write(dir.join("run_module.py"), PYTHON_RUNNER).ok()?;
        Some(Self { interpreter, dir })
    }
}

impl Drop for PythonSupport {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
