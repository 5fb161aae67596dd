//! The non-root route: UDisks2 over the system D-Bus, with polkit deciding. The daemons are
//! the real ones, started by the test (genpack-testbed); the flash runs as a user created
//! for the test. The first test points the process at a bus that does not exist, so the
//! others pass the test bus's address to the processes they start instead.

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
        FlashError::NoSystemBus { device, .. } => assert_eq!(device, &lo.device),
        other => panic!("expected a system bus error, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(lo.path())
            && message.contains("UDisks2")
            && message.contains("systemctl start dbus"),
        "{message}"
    );

    // Ejecting takes the same route and says so the same way.
    let err = genpack_drive::eject::eject(&lo.device).unwrap_err();
    assert_eq!(err.device, lo.device);
    assert_eq!(err.step, "connect to the system bus");
    assert!(err.to_string().contains("unplug"), "{err}");
}

/// Run as the unprivileged user by [`a_user_flashes_a_stick_through_udisks_loop_needs_root`]
/// (this same test binary, started again): flashes the image named in the environment and
/// writes what happened to the result file.
fn flash_as_child() {
    use genpack_drive::{FlashOptions, Phase};
    use std::sync::{Arc, Mutex};
    let var = |name: &str| std::env::var(name).unwrap();
    let device = std::path::PathBuf::from(var("GENPACK_TEST_DEVICE"));
    let stick = std::path::PathBuf::from(var("GENPACK_TEST_STICK"));
    let result = var("GENPACK_TEST_RESULT");
    let outcome = (|| -> Result<String, String> {
        let drive = drives::probe(&device).map_err(|e| e.to_string())?;
        let mut flasher =
            Flasher::open(&device, Confirmation::for_drive(&drive)).map_err(|e| e.to_string())?;
        // While the image body is read back, the stick must have no partition table yet: the
        // user cannot read the device node, but can read the file behind it.
        let blank_while_verifying = Arc::new(Mutex::new(None));
        let blank = Arc::clone(&blank_while_verifying);
        let options = FlashOptions {
            progress: Some(Box::new(move |p| {
                if p.phase == Phase::Verifying && blank.lock().unwrap().is_none() {
                    let head = read_bytes(&stick, 0, MIB as usize);
                    *blank.lock().unwrap() = Some(head.iter().all(|&b| b == 0));
                }
            })),
            ..FlashOptions::default()
        };
        let image =
            genpack_drive::Image::open(var("GENPACK_TEST_IMAGE")).map_err(|e| e.to_string())?;
        let report = flasher
            .write_image(&image, options)
            .map_err(|e| e.to_string())?;
        let blank = blank_while_verifying.lock().unwrap().unwrap_or(false);
        Ok(format!(
            "written {} verified {} blank-while-verifying {blank}",
            report.image_len, report.bytes_verified
        ))
    })();
    let line = match outcome {
        Ok(done) => format!("ok {done}"),
        Err(message) => format!("error {message}"),
    };
    std::fs::write(result, line).unwrap();
}

#[test]
fn a_user_flashes_a_stick_through_udisks_loop_needs_root() {
    use genpack_testbed::{rule_allowing, Daemons, Services, User, OPEN_DEVICE_SYSTEM};
    use std::os::unix::fs::PermissionsExt;
    if std::env::var_os("GENPACK_TEST_DEVICE").is_some() {
        return flash_as_child();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let image = dir.path().join("appliance.img");
    disk_image(&image, 32 * MIB, "dos", 7);
    let stick = dir.path().join("stick");
    filled_file(&stick, 64 * MIB, 0x5a);
    let lo = Loop::attach(&stick, &[]);
    let mut services = Services::start(Daemons::default()).unwrap();
    let user = User::create("gpdrive").unwrap();
    let results = dir.path().join("results");
    std::fs::create_dir(&results).unwrap();
    user.give(&results).unwrap();
    let address = services.address().to_string();
    let flash = |name: &str| -> String {
        let result = results.join(name);
        let out = user
            .command(std::env::current_exe().unwrap())
            .args([
                "a_user_flashes_a_stick_through_udisks_loop_needs_root",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .env("GENPACK_TEST_DEVICE", &lo.device)
            .env("GENPACK_TEST_STICK", &stick)
            .env("GENPACK_TEST_IMAGE", &image)
            .env("GENPACK_TEST_RESULT", &result)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&result).unwrap()
    };
    let untouched = std::fs::read(&stick).unwrap();

    // Refused by polkit: named action, nothing written.
    let refused = flash("refused");
    assert!(refused.starts_with("error "), "{refused}");
    assert!(refused.contains(OPEN_DEVICE_SYSTEM), "{refused}");
    assert!(refused.contains(lo.path()), "{refused}");
    assert!(
        std::fs::read(&stick).unwrap() == untouched,
        "the stick changed"
    );

    // Allowed for this user and this loop device: written, verified, partition table last.
    services
        .allow(
            "50-stick",
            &rule_allowing(&user.name, OPEN_DEVICE_SYSTEM, lo.path()),
        )
        .unwrap();
    let done = flash("allowed");
    assert_eq!(
        done,
        format!(
            "ok written {} verified {} blank-while-verifying true",
            32 * MIB,
            32 * MIB
        )
    );
    ok(
        "cmp",
        &[
            "-n",
            &(32 * MIB).to_string(),
            image.to_str().unwrap(),
            stick.to_str().unwrap(),
        ],
    );
    // Past the image, the old contents stay (only the last MiB was wiped).
    assert!(read_bytes(&stick, 40 * MIB, MIB as usize)
        .iter()
        .all(|&b| b == 0x5a));
}
