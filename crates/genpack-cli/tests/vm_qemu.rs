//! The Debian starter template, built and run with `genpack vm run --detach` as a user would:
//! it boots to a login prompt with the system.ini applied (hostname, time zone, SSH key), shows
//! up in `vm list`, answers a screenshot, and `vm stop` leaves nothing running. Its data disk
//! keeps what genpack-init wrote for the next boot.
//! Needs root, Debian's package mirror and QEMU (TCG).

mod common;
use common::genpack;
use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn debian_template_runs_in_a_vm_needs_root_network_qemu() {
    let parent = tempfile::tempdir().unwrap();
    ok(
        genpack(
            &["new", "vmtest", "--template", "debian-minimal"],
            parent.path(),
        ),
        "new",
    );
    let project = parent.path().join("vmtest");
    ok(genpack(&["build", "--arch", "x86_64"], &project), "build");
    let image = project.join("vmtest-x86_64.squashfs");
    assert!(image.is_file(), "no image at {}", image.display());

    let ini = project.join("vm-system.ini");
    fs::write(
        &ini,
        format!("hostname = cli-vm\ntimezone = Europe/Paris\nssh_pubkey = {SSH_KEY}\n"),
    )
    .unwrap();
    // The first boot is watched closely; the second shows that the data disk kept what
    // genpack-init wrote on the first: the key is already in authorized_keys, nothing is added.
    let data = project.join("data.img");
    let name = format!("clitest-{}", std::process::id());
    run_detached(&project, &image, &ini, &name, Some(&data));
    let guard = StopOnDrop(name.clone(), project.clone());

    let listed = ok(genpack(&["vm", "list", "--json"], &project), "vm list");
    let vms: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert!(
        vms.as_array()
            .unwrap()
            .iter()
            .any(|vm| vm["name"] == name.as_str()),
        "{listed}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(genpack(&["vm", "show", &name], &project), "vm show")).unwrap();
    let runtime_dir = Path::new(shown["runtime_dir"].as_str().unwrap()).to_path_buf();
    let pid = shown["details"]["pid"].as_u64().unwrap();

    // The serial console reaches the login prompt, named by the system.ini's hostname, and
    // genpack-init reports the time zone and the SSH key it applied.
    let console = wait_for_login(&runtime_dir.join("console.log"));
    assert!(
        console.contains("20timezone: link /etc/localtime") && console.contains("Europe/Paris"),
        "time zone not applied:\n{console}"
    );
    assert!(
        console.contains(KEY_ADDED_FOR_ROOT),
        "SSH key not applied:\n{console}"
    );

    let shot = project.join("shot.png");
    ok(
        genpack(
            &["vm", "screenshot", &name, "-o", shot.to_str().unwrap()],
            &project,
        ),
        "vm screenshot",
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let pixels = &pixels[..frame.buffer_size()];
    let first = &pixels[..3];
    assert!(
        pixels.chunks(3).any(|p| p != first),
        "the guest screen is blank"
    );

    ok(genpack(&["vm", "stop", &name], &project), "vm stop");
    drop(guard);
    let listed = ok(genpack(&["vm", "list", "--json"], &project), "vm list");
    assert!(!listed.contains(&name), "{listed}");
    assert!(!runtime_dir.exists(), "runtime folder left behind");
    let alive = fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false);
    assert!(!alive, "QEMU (pid {pid}) still running");

    let name = format!("clitest-again-{}", std::process::id());
    run_detached(&project, &image, &ini, &name, Some(&data));
    let guard = StopOnDrop(name.clone(), project.clone());
    let shown: serde_json::Value =
        serde_json::from_str(&ok(genpack(&["vm", "show", &name], &project), "vm show")).unwrap();
    let runtime_dir = Path::new(shown["runtime_dir"].as_str().unwrap()).to_path_buf();
    let console = wait_for_login(&runtime_dir.join("console.log"));
    assert!(
        !console.contains(KEY_ADDED_FOR_ROOT),
        "the second boot with the data disk added the key again:\n{console}"
    );
    ok(genpack(&["vm", "stop", &name], &project), "vm stop");
    drop(guard);
}

const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJh2O6xGZFp57d+ZC8ugP7dFzFlZVto1kH9x4QytLAwE test@genpack";
const KEY_ADDED_FOR_ROOT: &str = "1 key(s) added for root";

fn run_detached(project: &Path, image: &Path, ini: &Path, name: &str, data: Option<&Path>) {
    let mut args = vec![
        "vm",
        "run",
        image.to_str().unwrap(),
        "--name",
        name,
        "--system-ini",
        ini.to_str().unwrap(),
        "-m",
        "1024",
        "--detach",
    ];
    if let Some(data) = data {
        args.extend(["--data", data.to_str().unwrap(), "--data-size", "512M"]);
    }
    ok(genpack(&args, project), "vm run");
}

/// Waits for the login prompt on the serial console and returns what the console printed.
fn wait_for_login(console_log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = fs::read_to_string(console_log).unwrap_or_default();
        if text.contains("cli-vm login:") {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no login prompt on the serial console:\n{text}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Forces the VM off if the test fails half-way, so no QEMU outlives it.
struct StopOnDrop(String, std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = genpack(&["vm", "stop", "-f", &self.0], &self.1);
    }
}
