//! `genpack-testbed ENV_FILE [--allow-loop-devices]`: starts a system D-Bus, polkitd and
//! udisksd and creates an unprivileged user, writes what a test needs to ENV_FILE as shell
//! assignments (DBUS_SYSTEM_BUS_ADDRESS, TESTBED_USER, TESTBED_UID, TESTBED_GID,
//! TESTBED_HOME), then waits. SIGHUP restarts udisksd (after a loop device was attached) and
//! appends `UDISKS_RESTARTED=<n>` to ENV_FILE when it is back; SIGTERM or SIGINT stops
//! everything and removes the user. With --allow-loop-devices, a polkit rule lets the user
//! open loop devices (and nothing else) through UDisks2. For the studio's end-to-end tests.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use genpack_testbed::{rule_allowing, Daemons, Services, User, OPEN_DEVICE_SYSTEM};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(env_file) = args.next().map(PathBuf::from) else {
        eprintln!("usage: genpack-testbed ENV_FILE [--allow-loop-devices]");
        return ExitCode::from(2);
    };
    let allow_loops = args.any(|a| a == "--allow-loop-devices");
    match run(&env_file, allow_loops) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("genpack-testbed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(env_file: &std::path::Path, allow_loops: bool) -> Result<(), String> {
    // Block the signals before any thread starts, then wait for them below.
    // SAFETY: plain libc signal-set calls on a local set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let user = User::create("gpstudio")?;
    let mut services = Services::start(Daemons::default())?;
    if allow_loops {
        services.allow(
            "50-genpack-e2e",
            &rule_allowing(&user.name, OPEN_DEVICE_SYSTEM, "/dev/loop*"),
        )?;
    }
    let text = format!(
        "DBUS_SYSTEM_BUS_ADDRESS='{}'\nTESTBED_USER='{}'\nTESTBED_UID={}\nTESTBED_GID={}\nTESTBED_HOME='{}'\nTESTBED_LOGS='{}'\n",
        services.address(),
        user.name,
        user.uid,
        user.gid,
        user.home().display(),
        services.dir().display()
    );
    std::fs::write(env_file, text)
        .map_err(|e| format!("cannot write {}: {e}", env_file.display()))?;
    let mut restarts = 0;
    loop {
        let mut signal = 0;
        // SAFETY: `set` is an initialised signal set; `signal` is a valid out pointer.
        if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
            return Err("sigwait failed".into());
        }
        if signal != libc::SIGHUP {
            return Ok(());
        }
        services.restart_udisks()?;
        restarts += 1;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(env_file)
            .map_err(|e| format!("cannot open {}: {e}", env_file.display()))?;
        writeln!(file, "UDISKS_RESTARTED={restarts}")
            .map_err(|e| format!("cannot write {}: {e}", env_file.display()))?;
    }
}
