//! Runtime folders seen through list/show/status, without QEMU.

use genpack_vm::{RunState, RuntimeDir};

#[test]
fn list_removes_folders_of_vms_that_are_gone() {
    let name = format!("t{}-stale", std::process::id());
    let runtime = RuntimeDir::for_name(&name).unwrap();
    std::fs::create_dir_all(runtime.path()).unwrap();
    // A pid above the kernel's pid_max: no such process.
    std::fs::write(runtime.pid_file(), "4294967\n").unwrap();

    assert_eq!(genpack_vm::status(&name).unwrap().state, RunState::Stopped);
    assert!(genpack_vm::list().unwrap().iter().all(|vm| vm.name != name));
    assert!(!runtime.path().exists(), "stale folder left behind");
    assert!(matches!(
        genpack_vm::show(&name),
        Err(genpack_vm::VmError::NotRunning { .. })
    ));
}

/// A runtime folder whose pid file names `pid`, with the `vm.json` of a running VM.
fn folder_claiming(name: &str, pid: u32) -> RuntimeDir {
    let runtime = RuntimeDir::for_name(name).unwrap();
    std::fs::create_dir_all(runtime.path()).unwrap();
    std::fs::write(runtime.pid_file(), format!("{pid}\n")).unwrap();
    let state = genpack_vm::VmState {
        name: name.to_string(),
        image: "/nowhere.squashfs".into(),
        memory_mib: 256,
        cpus: 1,
        accel: genpack_vm::Accel::Tcg,
        started_at: 1,
        forwards: vec![],
        pid,
        data_disk: None,
        vsock_cid: None,
        vnc_socket: None,
        input: None,
        clipboard: false,
        qmp_socket: runtime.qmp_socket(),
        console_socket: runtime.console_socket(),
        console_log: runtime.console_log(),
        system_ini: None,
        guest: Default::default(),
    };
    std::fs::write(runtime.state_file(), serde_json::to_vec(&state).unwrap()).unwrap();
    runtime
}

#[tokio::test]
async fn a_pid_reused_by_another_program_is_neither_shown_running_nor_signalled() {
    // QEMU is gone and its pid now belongs to an unrelated program of the same user.
    let mut unrelated = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let name = format!("t{}-reused", std::process::id());
    let runtime = folder_claiming(&name, unrelated.id());

    assert_eq!(genpack_vm::status(&name).unwrap().state, RunState::Stopped);
    assert!(genpack_vm::list().unwrap().iter().all(|vm| vm.name != name));
    assert!(!runtime.path().exists(), "the stale folder is cleaned");

    let runtime = folder_claiming(&name, unrelated.id());
    let stopped = genpack_vm::stop(&name, genpack_vm::StopOptions::default()).await;
    assert!(
        matches!(stopped, Err(genpack_vm::VmError::NotRunning { .. })),
        "{stopped:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        unrelated.try_wait().unwrap().is_none(),
        "vm stop signalled a process that is not the VM's QEMU"
    );
    assert!(!runtime.path().exists());
    unrelated.kill().unwrap();
    unrelated.wait().unwrap();
}

/// Set in the environment of the copy of this test binary that runs as another user.
const AS_OTHER_USER: &str = "GENPACK_VM_TEST_RUNTIME_AS_USER";
/// The unprivileged user the copy runs as ("nobody").
const OTHER_UID: u32 = 65534;

/// Runs the test `runtime_folder_seen_by_an_unprivileged_user` of this binary as `OTHER_UID`,
/// without XDG_RUNTIME_DIR; `expect` tells it what to assert.
fn as_unprivileged_user(expect: &str) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "runtime_folder_seen_by_an_unprivileged_user",
            "--nocapture",
        ])
        .env(AS_OTHER_USER, expect)
        .env_remove("XDG_RUNTIME_DIR")
        .uid(OTHER_UID)
        .gid(OTHER_UID)
        .output()
        .unwrap()
}

#[test]
fn a_runtime_folder_made_first_by_another_user_is_refused() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test switches users: run it as root (as CI does)"
    );
    let fallback = std::path::PathBuf::from(format!("/tmp/genpack-{OTHER_UID}"));
    let _ = std::fs::remove_dir_all(&fallback);

    // Another local user (here uid 4242) made the folder first, open to everyone.
    std::fs::create_dir(&fallback).unwrap();
    std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(&fallback, Some(4242), Some(4242)).unwrap();
    let output = as_unprivileged_user("refused");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        std::fs::read_dir(&fallback).unwrap().next().is_none(),
        "nothing was made inside"
    );

    // Without it, the user's own private folder is made.
    std::fs::remove_dir(&fallback).unwrap();
    let output = as_unprivileged_user("private");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let meta = std::fs::symlink_metadata(&fallback).unwrap();
    assert_eq!(meta.uid(), OTHER_UID);
    assert_eq!(meta.mode() & 0o777, 0o700);
    std::fs::remove_dir_all(&fallback).unwrap();
}

/// The half of `a_runtime_folder_made_first_by_another_user_is_refused` that runs as the
/// unprivileged user; does nothing when run directly.
#[test]
fn runtime_folder_seen_by_an_unprivileged_user() {
    let Ok(expect) = std::env::var(AS_OTHER_USER) else {
        return;
    };
    let listed = genpack_vm::list();
    let named = RuntimeDir::for_name("web");
    match expect.as_str() {
        "refused" => {
            for error in [listed.err(), named.err()] {
                let error = error.expect("the other user's folder was used");
                assert!(
                    matches!(error, genpack_vm::VmError::UnsafeRuntimeDir { .. }),
                    "{error}"
                );
                assert!(error.to_string().contains("/tmp/genpack-65534"), "{error}");
            }
        }
        "private" => {
            assert!(listed.unwrap().is_empty());
            assert!(named.unwrap().path().starts_with("/tmp/genpack-65534/vm"));
        }
        other => panic!("unknown expectation {other}"),
    }
}
