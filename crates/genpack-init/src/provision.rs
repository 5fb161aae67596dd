//! genpack-init as PID 1: find system.ini, apply every module, then start the real init.

use std::ffi::{CString, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use genpack_ini::{Document, DEFAULT_SECTION};

use crate::context::Context;
use crate::log::BootLog;
use crate::runner::{run_all, ModuleReport};

/// system.ini on the boot partition.
pub const BOOT_INI: &str = "/run/initramfs/boot/system.ini";
/// system.ini on the writable layer (VMs and sticks without a boot partition copy).
pub const RW_INI: &str = "/run/initramfs/rw/system.ini";
/// system.ini passed by QEMU (`-fw_cfg name=opt/genpack/system.ini,file=...`).
pub const FW_CFG_INI: &str = "/sys/firmware/qemu_fw_cfg/by_name/opt/genpack/system.ini/raw";
/// Where a system.ini read from fw_cfg is copied for drop-in modules.
pub const RUNTIME_INI: &str = "/run/genpack-init/system.ini";
/// The log file.
pub const LOG_FILE: &str = "/var/log/genpack-init.log";
/// Inits tried after provisioning, in order.
pub const INIT_CANDIDATES: &[&str] = &["/sbin/init", "/usr/lib/systemd/systemd", "/usr/bin/init"];

/// Where system.ini was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniSource {
    /// File to read (and to hand to drop-ins).
    pub path: PathBuf,
    /// The text.
    pub text: String,
}

/// Finds system.ini: boot partition, else writable layer, else QEMU fw_cfg (loading the
/// qemu_fw_cfg driver first when needed).
pub fn find_ini(log: &mut Vec<String>) -> Option<IniSource> {
    for path in [BOOT_INI, RW_INI] {
        if let Ok(text) = fs::read_to_string(path) {
            return Some(IniSource {
                path: path.into(),
                text,
            });
        }
    }
    if !Path::new("/sys/firmware/qemu_fw_cfg").exists() && Path::new("/sbin/modprobe").exists() {
        let _ = std::process::Command::new("/sbin/modprobe")
            .args(["-q", "qemu_fw_cfg"])
            .status();
    }
    let text = fs::read_to_string(FW_CFG_INI).ok()?;
    log.push(format!("system.ini read from QEMU fw_cfg ({FW_CFG_INI})"));
    let copy = Path::new(RUNTIME_INI);
    let path = match fs::create_dir_all(copy.parent()?).and_then(|()| fs::write(copy, &text)) {
        Ok(()) => copy.to_path_buf(),
        Err(_) => PathBuf::from(FW_CFG_INI),
    };
    Some(IniSource { path, text })
}

/// Logs one module report.
pub fn log_report(log: &mut BootLog, report: &ModuleReport) {
    match &report.result {
        Ok(outcome) => {
            for change in &outcome.changes {
                log.info(&format!("{}: {change}", report.name));
            }
            for note in &outcome.notes {
                match note.level {
                    crate::modules::NoteLevel::Warning => {
                        log.warn(&format!("{}: {}", report.name, note.message))
                    }
                    crate::modules::NoteLevel::Info => {
                        log.debug(&format!("{}: {}", report.name, note.message))
                    }
                }
            }
            if outcome.changes.is_empty() {
                log.debug(&format!("{}: nothing to change", report.name));
            }
        }
        Err(e) => log.error(&format!(
            "{}: {e} (continuing with the next module)",
            report.name
        )),
    }
    for line in &report.output {
        log.info(&format!("{}: {line}", report.name));
    }
}

/// Runs as PID 1: provisions, then execs the real init with `args`. Never returns.
pub fn run_as_pid1(args: Vec<OsString>) -> ! {
    let mut early = Vec::new();
    let source = find_ini(&mut early);
    let (doc, ini_path) = match &source {
        Some(s) => (Document::parse_lenient(&s.text), Some(s.path.clone())),
        None => (Document::new(), None),
    };
    let debug = doc
        .get_bool(DEFAULT_SECTION, "debug")
        .ok()
        .flatten()
        .unwrap_or(false);
    let mut log = BootLog::open(Path::new(LOG_FILE), debug);
    if !log.has_file() {
        log.warn(&format!(
            "cannot write {LOG_FILE}; logging to the console only"
        ));
    }
    for line in early {
        log.info(&line);
    }
    match &source {
        Some(s) => log.info(&format!("applying {}", s.path.display())),
        None => log.info(
            "no system.ini found (boot partition, data partition, QEMU fw_cfg); using defaults",
        ),
    }
    for problem in doc.problems() {
        log.warn(&format!("system.ini {problem}; the line is ignored"));
    }
    let ctx = Context::live(ini_path);
    run_all(&ctx, &doc, debug, |r| log_report(&mut log, r));
    exec_init(&mut log, args)
}

/// Execs the first init that exists; if none can start, opens a shell or reboots.
pub fn exec_init(log: &mut BootLog, args: Vec<OsString>) -> ! {
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| fs::canonicalize(p).ok());
    for candidate in INIT_CANDIDATES {
        let path = Path::new(candidate);
        if !path.exists() || fs::canonicalize(path).ok() == me {
            continue;
        }
        log.debug(&format!("starting {candidate}"));
        let err = exec(path, &args);
        log.error(&format!("cannot start {candidate}: {err}"));
    }
    log.error("no init could be started; check that the image contains /sbin/init (systemd)");
    crate::boot::emergency::give_up("no init program could be started")
}

/// Replaces the process with `program`; returns only on failure.
pub fn exec(program: &Path, args: &[OsString]) -> std::io::Error {
    let Ok(prog) = CString::new(program.as_os_str().as_bytes()) else {
        return std::io::Error::from(std::io::ErrorKind::InvalidInput);
    };
    let mut argv: Vec<CString> = vec![prog.clone()];
    argv.extend(args.iter().filter_map(|a| CString::new(a.as_bytes()).ok()));
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: `prog` and every pointer in `ptrs` point into CStrings alive for the call;
    // the array is null-terminated; the environment is inherited.
    unsafe {
        libc::execv(prog.as_ptr(), ptrs.as_ptr());
    }
    std::io::Error::last_os_error()
}
