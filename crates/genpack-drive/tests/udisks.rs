//! The non-root route: UDisks2 over the system D-Bus. Alone in its binary because it points
//! the process at a bus that does not exist.

mod common;

use common::*;
use genpack_drive::{drives, Confirmation, FlashError, Flasher, OpenMethod};

#[test]
fn udisks_route_without_a_bus_says_what_failed_loop_needs_root() {
    // This binary holds this one test, so no other thread reads the environment meanwhile.
    std::env::set_var(
        "DBUS_SYSTEM_BUS_ADDRESS",
        "unix:path=/nonexistent/genpack-test-bus",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stick");
    filled_file(&file, 8 * MIB, 0);
    let lo = Loop::attach(&file, &[]);
    let drive = drives::probe(&lo.device).unwrap();
    let err = Flasher::open_with(
        &lo.device,
        Confirmation::for_drive(&drive),
        OpenMethod::UDisks,
    )
    .err()
    .unwrap();
    match &err {
        FlashError::UDisks { device, step, .. } => {
            assert_eq!(device, &lo.device);
            assert_eq!(*step, "connect to the system bus");
        }
        other => panic!("expected a UDisks2 error, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(lo.path()) && message.contains("UDisks2"),
        "{message}"
    );

    // Ejecting takes the same route and says so the same way.
    let err = genpack_drive::eject::eject(&lo.device).unwrap_err();
    assert_eq!(err.device, lo.device);
    assert_eq!(err.step, "connect to the system bus");
    assert!(err.to_string().contains("unplug"), "{err}");
}
