//! What happens when booting cannot continue: say what failed and what to check, then
//! open a shell when the initramfs has one, else reboot after 30 seconds. Never a silent hang.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Shells tried for the emergency prompt.
const SHELLS: &[&str] = &["/bin/sh", "/bin/busybox"];

/// Prints the failure and the hint, then shell or reboot. Never returns.
pub fn fail(what: &str, hint: &str) -> ! {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "\n*** genpack: boot failed: {what}");
    if !hint.is_empty() {
        let _ = writeln!(err, "*** what to check: {hint}");
    }
    give_up(what)
}

/// Opens an emergency shell if there is one, otherwise reboots after 30 s. Never returns.
pub fn give_up(what: &str) -> ! {
    let mut err = std::io::stderr();
    for shell in SHELLS {
        if Path::new(shell).exists() {
            let _ = writeln!(
                err,
                "*** starting an emergency shell ({shell}); leave it to reboot"
            );
            let mut command = std::process::Command::new(shell);
            if shell.ends_with("busybox") {
                command.arg("sh");
            }
            let _ = command.status();
            break;
        }
    }
    let _ = writeln!(err, "*** rebooting in 30 seconds ({what})");
    std::thread::sleep(Duration::from_secs(30));
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    let _ = rustix::system::reboot(rustix::system::RebootCommand::Restart);
    // reboot() only returns on failure (e.g. not permitted outside PID 1 context).
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
