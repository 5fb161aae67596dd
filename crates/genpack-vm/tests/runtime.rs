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
