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
        qmp_socket: runtime.qmp_socket(),
        console_socket: runtime.console_socket(),
        console_log: runtime.console_log(),
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
