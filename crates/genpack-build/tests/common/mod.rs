//! Shared fixtures of the end-to-end tests: one Debian image built once per test binary, and
//! a QEMU runner that watches the serial console.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use genpack_build::{BuildOptions, BuildReport, Builder};
use genpack_def::Project;

/// The template built by the tests.
pub const TEMPLATE: &str = "debian-minimal";

/// A built image and the reports of its two builds.
pub struct Built {
    pub project_dir: PathBuf,
    pub image: PathBuf,
    pub first: BuildReport,
    pub second: BuildReport,
    /// `logs/lower.log` right after the second build.
    pub second_lower_log: String,
    /// `logs/upper.log` right after the second build.
    pub second_upper_log: String,
}

static BUILT: OnceLock<Built> = OnceLock::new();
static WORK_LOCK: Mutex<()> = Mutex::new(());

/// Serialises tests that touch the fixture's work folder.
pub fn work_lock() -> std::sync::MutexGuard<'static, ()> {
    WORK_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The test project: the Debian template plus a `build.d` script for root and one for the
/// template's `admin` user. It lives in cargo's target tmp dir so the lower survives between
/// runs (its stamp decides whether it is rebuilt).
pub fn project_dir() -> PathBuf {
    let template = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../templates")
        .join(TEMPLATE);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("genpack-build-e2e")
        .join(TEMPLATE);
    let _ = std::fs::remove_dir_all(dir.join("files"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(template.join("genpack.json5"), dir.join("genpack.json5")).unwrap();
    std::fs::copy(template.join("system.ini"), dir.join("system.ini")).unwrap();
    copy_dir(&template.join("files"), &dir.join("files"));
    let build_d = dir.join("files/build.d");
    std::fs::create_dir_all(build_d.join("admin")).unwrap();
    std::fs::write(
        build_d.join("10-mark.sh"),
        "echo \"built by build.d for $ARTIFACT\" > /etc/build-d-marker\n",
    )
    .unwrap();
    std::fs::write(
        build_d.join("admin/20-user.sh"),
        "id -un > \"$HOME/.build-d-user\"\n",
    )
    .unwrap();
    dir
}

/// Builds the project twice (the second build must find nothing to do) and returns the result.
pub fn built() -> &'static Built {
    BUILT.get_or_init(|| {
        let _guard = work_lock();
        let dir = project_dir();
        let project = Project::load(&dir).unwrap();
        let started = Instant::now();
        let first = Builder::new(&project, BuildOptions::default())
            .unwrap()
            .build()
            .unwrap();
        eprintln!("first build: {:.1} s", started.elapsed().as_secs_f64());
        let started = Instant::now();
        let second = Builder::new(&project, BuildOptions::default())
            .unwrap()
            .build()
            .unwrap();
        eprintln!("second build: {:.1} s", started.elapsed().as_secs_f64());
        eprintln!(
            "packages downloaded: first build {}, second build {}",
            first.lower.downloaded_packages, second.lower.downloaded_packages
        );
        let second_lower_log =
            std::fs::read_to_string(dir.join("work/x86_64/logs/lower.log")).unwrap();
        let second_upper_log =
            std::fs::read_to_string(dir.join("work/x86_64/logs/upper.log")).unwrap();
        let image = second.pack.output.clone();
        Built {
            project_dir: dir,
            image,
            first,
            second,
            second_lower_log,
            second_upper_log,
        }
    })
}

/// What the serial console showed.
pub struct BootOutcome {
    pub found: bool,
    pub elapsed: Duration,
    pub console: String,
}

/// Runs QEMU (TCG) with `args` until `wanted` appears on the serial console (stdout) or
/// `timeout` passes, then kills it.
pub fn boot_until(args: &[String], wanted: &str, timeout: Duration) -> BootOutcome {
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg",
            "-m",
            "1024",
            "-nographic",
            "-no-reboot",
            "-nodefaults",
            "-serial",
            "stdio",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("qemu-system-x86_64 must be installed");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut console = Vec::new();
    let mut found = false;
    while started.elapsed() < timeout {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(chunk) => {
                console.extend_from_slice(&chunk);
                if String::from_utf8_lossy(&console).contains(wanted) {
                    found = true;
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    BootOutcome {
        found,
        elapsed,
        console: String::from_utf8_lossy(&console).into_owned(),
    }
}

/// The last `n` lines of a console transcript, for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A copy of the built project in a new folder: definition and `files/` copied, the work
/// folder hard-linked (`cp -al`), which is safe because nothing writes into a lower, a stage
/// layer or the image tree in place (stages write through overlayfs into fresh layers).
pub fn clone_built_project(to: &Path) -> PathBuf {
    let built = built();
    let _guard = work_lock();
    let dir = to.join(TEMPLATE);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        built.project_dir.join("genpack.json5"),
        dir.join("genpack.json5"),
    )
    .unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(built.project_dir.join("files"))
        .arg(dir.join("files"))
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("cp")
        .arg("-al")
        .arg(built.project_dir.join("work"))
        .arg(dir.join("work"))
        .status()
        .unwrap();
    assert!(status.success(), "cp -al of the work folder failed");
    dir
}
