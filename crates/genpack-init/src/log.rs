//! The boot log: console plus `/var/log/genpack-init.log` (rewritten every boot).

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Log destination for PID 1.
#[derive(Debug)]
pub struct BootLog {
    file: Option<File>,
    debug: bool,
}

impl BootLog {
    /// Logs to the console, and to `file` when it can be created (its directory is created
    /// if missing).
    pub fn open(file: &Path, debug: bool) -> Self {
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = File::create(file).ok();
        Self { file, debug }
    }

    /// Console only.
    pub fn console(debug: bool) -> Self {
        Self { file: None, debug }
    }

    /// Whether a log file is being written.
    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    /// An informational line.
    pub fn info(&mut self, message: &str) {
        self.write("INFO", message);
    }

    /// A warning.
    pub fn warn(&mut self, message: &str) {
        self.write("WARNING", message);
    }

    /// An error.
    pub fn error(&mut self, message: &str) {
        self.write("ERROR", message);
    }

    /// Only with `debug = yes`.
    pub fn debug(&mut self, message: &str) {
        if self.debug {
            self.write("DEBUG", message);
        }
    }

    fn write(&mut self, level: &str, message: &str) {
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|u| u.split_whitespace().next().map(str::to_string))
            .unwrap_or_default();
        let line = format!("[{uptime:>10}] genpack-init {level}: {message}\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        if let Some(f) = &mut self.file {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
