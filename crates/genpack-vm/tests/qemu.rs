//! End-to-end tests against real QEMU (TCG): a tiny busybox system packed as a genpack-style
//! SquashFS (kernel and initramfs under /boot, reached through symlinks) is booted directly.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use genpack_vm::{
    Accel, AccelPolicy, Boot, Display, FirmwareKind, InputBus, Network, RunState, ScreenSession,
    StopOptions, StopOutcome, ViewerBridge, VmSpec,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

const MARKER: &str = "genpack-test login:";

/// A VM name unique to this test process.
fn vm_name(role: &str) -> String {
    format!("t{}-{role}", std::process::id())
}

/// Kills the VM and removes its runtime folder if a test fails before stopping it.
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(runtime) = genpack_vm::RuntimeDir::for_name(&self.0) {
            if let Some(pid) = runtime.live_pid() {
                // SAFETY: plain signal delivery.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            let _ = runtime.remove();
        }
    }
}

fn host_kernel() -> PathBuf {
    genpack_vm::accel::host_kernel().expect("a kernel in /boot (apt install linux-image-amd64)")
}

fn host_has_hw_virt() -> bool {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    cpuinfo
        .split_whitespace()
        .any(|flag| flag == "vmx" || flag == "svm")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The guest side of spice-vdagent's clipboard, as far as the test needs it: on the
/// com.redhat.spice.0 port, announce the clipboard-by-demand capability, then keep asking for
/// the clipboard's UTF-8 text and print the first `clip-...` word that arrives. Messages are a
/// VDIChunkHeader (port 1, size) and a VDAgentMessage (protocol 1, type, opaque 0, size),
/// little-endian: type 6 announces capabilities (bit 5, by demand), type 8 requests type 1.
const CLIPBOARD_AGENT: &str = r#"
for i in 1 2 3 4 5 6 7 8 9 10; do
    port=$(grep -l com.redhat.spice.0 /sys/class/virtio-ports/*/name 2>/dev/null | head -1 | cut -d/ -f5)
    [ -n "$port" ] && [ -e "/dev/$port" ] && break
    sleep 1
done
if [ -z "$port" ]; then
    echo "clipboard agent: no com.redhat.spice.0 port: $(ls /sys/class/virtio-ports 2>&1)"
    exit 0
fi
# Whole messages go out with one write each (cat), never piecemeal.
printf '\001\000\000\000\034\000\000\000\001\000\000\000\006\000\000\000\000\000\000\000\000\000\000\000\010\000\000\000\000\000\000\000\040\000\000\000' >/tmp/announce.bin
printf '\001\000\000\000\030\000\000\000\001\000\000\000\010\000\000\000\000\000\000\000\000\000\000\000\004\000\000\000\001\000\000\000' >/tmp/request.bin
exec 3<>"/dev/$port"
cat <&3 >/tmp/agent.in &
sleep 1
cat /tmp/announce.bin >&3
echo "clipboard agent: on /dev/$port"
while true; do
    cat /tmp/request.bin >&3
    text=$(tr -c 'a-z0-9-' '\n' </tmp/agent.in | grep '^clip-' | head -1)
    if [ -n "$text" ]; then
        echo "guest clipboard: $text"
        exit 0
    fi
    sleep 1
done
"#;

/// Builds `<dir>/system.squashfs`: /boot/kernel -> vmlinuz-test, /boot/initramfs ->
/// initramfs-test.img (a busybox initramfs whose /init prints MARKER and runs a shell on the
/// serial console).
fn build_image(dir: &Path) -> PathBuf {
    let initroot = dir.join("initroot");
    for sub in [
        "bin",
        "proc",
        "sys",
        "dev",
        "mods",
        "etc/acpi/PWRF",
        "var/log",
        "var/run",
        "tmp",
    ] {
        std::fs::create_dir_all(initroot.join(sub)).unwrap();
    }
    std::fs::copy("/bin/busybox", initroot.join("bin/busybox")).unwrap();
    // Modules of the host kernel so the guest can see its virtio disks, fw_cfg and the power
    // button (the order is the load order).
    let modules = host_kernel_modules();
    let mut loads = String::new();
    for (i, module) in modules.iter().enumerate() {
        let name = format!("{i:02}.ko");
        std::fs::copy(module, initroot.join("mods").join(&name)).unwrap();
        loads.push_str(&format!("insmod /mods/{name} 2>/dev/null\n"));
    }
    std::fs::write(
        initroot.join("etc/acpi/PWRF/00000080"),
        "#!/bin/sh\npoweroff -f\n",
    )
    .unwrap();
    std::fs::write(
        initroot.join("init"),
        format!(
            "#!/bin/busybox sh\n\
             /bin/busybox --install -s /bin\n\
             mount -t proc proc /proc\n\
             mount -t sysfs sys /sys\n\
             mount -t devtmpfs dev /dev\n\
             {loads}\
             sleep 1\n\
             acpid -c /etc/acpi\n\
             echo \"cmdline=$(cat /proc/cmdline)\"\n\
             echo \"vda-ro=$(cat /sys/block/vda/ro)\"\n\
             echo \"vdb-ro=$(cat /sys/block/vdb/ro) vdb-sectors=$(cat /sys/block/vdb/size)\"\n\
             echo \"system.ini=$(cat /sys/firmware/qemu_fw_cfg/by_name/opt/genpack/system.ini/raw)\"\n\
             echo\n\
             setsid sh -c 'exec sh </dev/tty1 >/dev/tty1 2>&1' &\n\
             sh /clipboard-agent.sh >/dev/console 2>&1 &\n\
             echo '{MARKER}'\n\
             exec sh </dev/console >/dev/console 2>&1\n"
        ),
    )
    .unwrap();
    std::fs::write(initroot.join("clipboard-agent.sh"), CLIPBOARD_AGENT).unwrap();
    run(Command::new("chmod")
        .arg("755")
        .arg(initroot.join("init"))
        .arg(initroot.join("etc/acpi/PWRF/00000080")));

    let root = dir.join("root");
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::copy(host_kernel(), root.join("boot/vmlinuz-test")).unwrap();
    run(Command::new("sh").arg("-c").arg(format!(
        "cd '{}' && find . | cpio --quiet -o -H newc | gzip -1 > '{}'",
        initroot.display(),
        root.join("boot/initramfs-test.img").display()
    )));
    // What the kernel drives, as an installed kernel records it: the host kernel's built-in
    // list, and the virtio input module the initramfs loads.
    let modules = root.join("lib/modules/test");
    std::fs::create_dir_all(modules.join("kernel/drivers/virtio")).unwrap();
    let release = host_kernel_release();
    std::fs::copy(
        Path::new("/lib/modules")
            .join(&release)
            .join("modules.builtin"),
        modules.join("modules.builtin"),
    )
    .unwrap();
    if let Some(virtio_input) = host_kernel_modules()
        .iter()
        .find(|m| m.ends_with("virtio_input.ko"))
    {
        std::fs::copy(
            virtio_input,
            modules.join("kernel/drivers/virtio/virtio_input.ko"),
        )
        .unwrap();
    }
    // The clipboard agent of desktop images (only its presence matters here).
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(root.join("usr/bin/spice-vdagent"), "").unwrap();
    std::os::unix::fs::symlink("vmlinuz-test", root.join("boot/kernel")).unwrap();
    std::os::unix::fs::symlink("/boot/initramfs-test.img", root.join("boot/initramfs")).unwrap();

    let image = dir.join("system.squashfs");
    run(Command::new("mksquashfs").arg(&root).arg(&image).args([
        "-noappend",
        "-quiet",
        "-no-progress",
        "-comp",
        "zstd",
    ]));
    image
}

/// The release of the host kernel the test image boots.
fn host_kernel_release() -> String {
    host_kernel()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string()
}

/// How many modules [`host_kernel_modules`] returns when the host kernel has them all.
const ALL_MODULES: usize = 16;

/// The host kernel's modules for virtio disks, fw_cfg, the ACPI power button, virtio input,
/// virtio serial ports and the virtio GPU, in load order.
fn host_kernel_modules() -> Vec<PathBuf> {
    let dir = Path::new("/lib/modules")
        .join(host_kernel_release())
        .join("kernel/drivers");
    [
        "virtio/virtio_ring.ko",
        "virtio/virtio.ko",
        "virtio/virtio_pci_modern_dev.ko",
        "virtio/virtio_pci_legacy_dev.ko",
        "virtio/virtio_pci.ko",
        "block/virtio_blk.ko",
        "firmware/qemu_fw_cfg.ko",
        "acpi/button.ko",
        "input/evdev.ko",
        "virtio/virtio_input.ko",
        "char/virtio_console.ko",
        "virtio/virtio_dma_buf.ko",
        "gpu/drm/drm.ko",
        "gpu/drm/drm_kms_helper.ko",
        "gpu/drm/drm_shmem_helper.ko",
        "gpu/drm/virtio/virtio-gpu.ko",
    ]
    .iter()
    .map(|m| dir.join(m))
    .filter(|m| m.is_file())
    .collect()
}

/// Waits until `path` contains `needle`.
fn wait_for_text(path: &Path, needle: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Reads the console until `needle` appears (true) or a minute passes (false).
fn read_until(console: &mut UnixStream, needle: &str) -> bool {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let mut buf = [0u8; 1024];
        if let Ok(n) = console.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
        // Skip the terminal's echo of the command line itself.
        if String::from_utf8_lossy(&seen)
            .lines()
            .any(|l| l.trim() == needle)
        {
            return true;
        }
    }
    eprintln!("console said: {}", String::from_utf8_lossy(&seen));
    false
}

/// Local TCP ports in LISTEN state (IPv4).
fn listening_ports() -> Vec<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(3) == Some(&"0A"))
                .then(|| u16::from_str_radix(fields[1].rsplit(':').next()?, 16).ok())
                .flatten()
        })
        .collect()
}

async fn ws_connect(
    url: &str,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, WsError> {
    let request = url.into_client_request()?;
    let port = request.uri().port_u16().unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(WsError::Io)?;
    tokio_tungstenite::client_async(request, tcp)
        .await
        .map(|(ws, _)| ws)
}

fn assert_forbidden(result: Result<impl Sized, WsError>, what: &str) {
    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403, "{what}"),
        Err(other) => panic!("{what}: expected HTTP 403, got {other}"),
        Ok(_) => panic!("{what}: the bridge accepted it"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn squashfs_boots_to_console_screenshot_viewer_and_stops_qemu() {
    let name = vm_name("main");
    let _guard = KillOnDrop(name.clone());
    let work = tempfile::tempdir().unwrap();
    let image = build_image(work.path());
    let ini = work.path().join("system.ini");
    std::fs::write(&ini, "hostname = itest\n").unwrap();

    let mut spec = VmSpec::new(
        name.clone(),
        Boot::Squashfs {
            image: image.clone(),
        },
    );
    spec.memory_mib = 256;
    spec.system_ini = Some(ini);
    spec.network = Network::User {
        forwards: vec!["127.0.0.1:0:22".parse().unwrap()],
    };
    spec.display = Display::Vnc;
    let data = work.path().join("data.img");
    spec.data = genpack_vm::DataDisk::File {
        path: data.clone(),
        size_bytes: 64 << 20,
    };

    let started = Instant::now();
    let mut phases = Vec::new();
    let handle = genpack_vm::launch_with_progress(&spec, |e| phases.push(e.phase))
        .await
        .unwrap();
    let launched = started.elapsed();
    assert_eq!(phases.last(), Some(&genpack_vm::StartPhase::Ready));
    eprintln!("accelerator: {:?}", handle.accel());
    if !host_has_hw_virt() {
        assert_eq!(
            handle.accel().accel,
            Accel::Tcg,
            "{}",
            handle.accel().reason
        );
    }
    let runtime = handle.runtime_dir().clone();
    drop(handle); // The VM keeps running, detached.

    // list and show see it.
    let vms = genpack_vm::list().unwrap();
    let me = vms.iter().find(|v| v.name == name).expect("listed");
    assert_eq!(me.status.state, RunState::Running);
    let details = me.details.as_ref().unwrap();
    assert_eq!(details.memory_mib, 256);
    assert_eq!(details.image, image);
    let shown = serde_json::to_value(genpack_vm::show(&name).unwrap()).unwrap();
    assert_eq!(shown["details"]["accel"], serde_json::json!(details.accel));

    // The serial console reaches the marker.
    assert!(
        wait_for_text(&runtime.console_log(), MARKER, Duration::from_secs(180)),
        "no marker; console:\n{}",
        std::fs::read_to_string(runtime.console_log()).unwrap_or_default()
    );
    eprintln!(
        "launch {:.1} s, marker after {:.1} s ({})",
        launched.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        details.accel
    );
    let log = std::fs::read_to_string(runtime.console_log()).unwrap();
    let cmdline = log.lines().find(|l| l.starts_with("cmdline=")).unwrap();
    assert!(cmdline.contains("root=block:"), "{cmdline}");
    assert!(cmdline.contains("console=ttyS0"), "{cmdline}");
    assert!(!cmdline.contains("genpack.transient"), "{cmdline}");
    assert_eq!(std::fs::metadata(&data).unwrap().len(), 64 << 20);
    if host_kernel_modules().len() == ALL_MODULES {
        // The image is the first virtio disk, read-only, and system.ini arrived via fw_cfg.
        assert!(log.contains("vda-ro=1"), "{log}");
        // The data disk is the second one, writable, created with the requested size.
        assert!(log.contains("vdb-ro=0 vdb-sectors=131072"), "{log}");
        assert!(log.contains("system.ini=hostname = itest"), "{log}");
    }

    // Typing through console.sock runs a command in the guest.
    let mut console = UnixStream::connect(runtime.console_socket()).unwrap();
    console
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    console.write_all(b"echo hello-$((20+22))\n").unwrap();
    assert!(
        read_until(&mut console, "hello-42"),
        "console log:\n{}",
        std::fs::read_to_string(runtime.console_log()).unwrap_or_default()
    );

    // A grown data file reaches the guest through expand (QMP block_resize).
    assert_eq!(
        genpack_vm::allocate(&data, 128 << 20).unwrap(),
        genpack_vm::Allocation::Grown
    );
    let resized = genpack_vm::expand(&name).await.unwrap();
    assert_eq!(resized.len(), 1, "{resized:?}");
    assert_eq!(resized[0].device, "data");
    assert_eq!(
        (resized[0].old_size, resized[0].new_size),
        (64 << 20, 128 << 20)
    );
    if host_kernel_modules().len() == ALL_MODULES {
        console
            .write_all(b"echo vdb-now-$(cat /sys/block/vdb/size)\n")
            .unwrap();
        assert!(read_until(&mut console, "vdb-now-262144"));
    }
    drop(console);

    // Keys typed on the screen reach the guest: its kernel drives the PS/2 keyboard and
    // virtio input (the image says so), so no USB keyboard swallows the keys.
    if host_kernel_modules().len() == ALL_MODULES {
        let input = details
            .input
            .expect("the screen's input devices are recorded");
        assert_eq!(input.keyboard, Some(InputBus::Ps2), "{input:?}");
        assert_eq!(input.pointer, Some(InputBus::Virtio), "{input:?}");
        let screen = ScreenSession::connect(&runtime.vnc_socket()).await.unwrap();
        screen
            .type_text("echo typed-on-screen-$((6*7)) > /dev/ttyS0\n")
            .await
            .unwrap();
        assert!(
            wait_for_text(
                &runtime.console_log(),
                "typed-on-screen-42",
                Duration::from_secs(60)
            ),
            "keys typed on the screen did not reach the guest; console:\n{}",
            std::fs::read_to_string(runtime.console_log()).unwrap_or_default()
        );
    }

    // The viewer's clipboard reaches the guest's clipboard agent through QEMU's vdagent
    // channel (the image has spice-vdagent), and a viewer's new size reaches the guest's
    // display as its preferred mode.
    if host_kernel_modules().len() == ALL_MODULES {
        assert!(
            details.clipboard,
            "an image with spice-vdagent gets the clipboard channel"
        );
        let screen = ScreenSession::connect(&runtime.vnc_socket()).await.unwrap();
        screen.send_clipboard("clip-from-host-42").await.unwrap();
        assert!(
            wait_for_text(
                &runtime.console_log(),
                "guest clipboard: clip-from-host-42",
                Duration::from_secs(60)
            ),
            "the clipboard did not reach the guest; console:\n{}",
            std::fs::read_to_string(runtime.console_log()).unwrap_or_default()
        );

        screen.request_size(1024, 768).await.unwrap();
        let mut console = UnixStream::connect(runtime.console_socket()).unwrap();
        console
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        console
            .write_all(b"echo preferred-$(head -1 /sys/class/drm/card*-Virtual-1/modes)\n")
            .unwrap();
        assert!(read_until(&mut console, "preferred-1024x768"));
    }

    // A screenshot is a PNG with more than one colour.
    let png_bytes = genpack_vm::screenshot(&name).await.unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let bpp = frame.color_type.samples();
    let first = &pixels[..bpp];
    assert!(frame.width >= 320 && frame.height >= 200);
    assert!(
        pixels[..frame.buffer_size()]
            .chunks(bpp)
            .any(|px| px != first),
        "the screen is a single colour"
    );

    // The viewer bridge: only the right token, only once, loopback only.
    let mut bridge = ViewerBridge::for_vm(&name).await.unwrap();
    let addr = bridge.local_addr();
    assert!(addr.ip().is_loopback());
    assert!(bridge
        .url()
        .starts_with(&format!("ws://127.0.0.1:{}/vnc/", addr.port())));
    assert_forbidden(
        ws_connect(&format!("ws://{addr}/")).await,
        "connection without token",
    );
    assert_forbidden(
        ws_connect(&format!("ws://{addr}/vnc/{}", "0".repeat(48))).await,
        "connection with a wrong token",
    );
    let mut ws = ws_connect(bridge.url()).await.unwrap();
    let greeting = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        greeting.into_data().starts_with(b"RFB 003.00"),
        "not an RFB greeting"
    );
    assert_forbidden(
        ws_connect(&format!("ws://{addr}/?token={}", bridge.token())).await,
        "reused token",
    );
    drop(ws);
    tokio::time::timeout(Duration::from_secs(10), bridge.finished())
        .await
        .expect("bridge did not close after the session");
    assert!(!listening_ports().contains(&addr.port()));

    // Stop: the power button reaches the guest's acpid, which powers off.
    let pid = genpack_vm::show(&name).unwrap().details.unwrap().pid;
    let stopping = Instant::now();
    let outcome = genpack_vm::stop(
        &name,
        StopOptions {
            force: false,
            timeout: Duration::from_secs(60),
        },
    )
    .await
    .unwrap();
    eprintln!(
        "stop: {outcome:?} after {:.1} s",
        stopping.elapsed().as_secs_f64()
    );
    if host_kernel_modules().len() == ALL_MODULES {
        assert_eq!(outcome, StopOutcome::PoweredOff);
    } else {
        assert_eq!(outcome, StopOutcome::Quit);
    }
    assert!(!genpack_vm::runtime::process_alive(pid));
    assert!(!runtime.path().exists());
    assert!(genpack_vm::list().unwrap().iter().all(|v| v.name != name));
    assert!(!listening_ports().contains(&addr.port()));
}

#[tokio::test]
async fn kvm_is_used_only_when_a_trial_boot_works_qemu() {
    let cache = tempfile::tempdir().unwrap();
    let qemu = genpack_vm::firmware::qemu_binary(genpack_vm::Arch::X86_64).unwrap();
    let kernel = host_kernel();
    let verdict = genpack_vm::accel::choose(
        AccelPolicy::Auto,
        &qemu,
        genpack_vm::Arch::X86_64,
        Some(&kernel),
        cache.path(),
    )
    .await;
    if !host_has_hw_virt() {
        assert_eq!(verdict.accel, Accel::Tcg, "{}", verdict.reason);
    }
    // The verdict is cached for this boot of the host.
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let cached = cache.path().join(format!("accel-{}.json", boot_id.trim()));
    let text = std::fs::read_to_string(&cached).unwrap();
    assert!(text.contains(&format!("\"{}\"", verdict.accel)));
    let again = genpack_vm::accel::choose(
        AccelPolicy::Auto,
        &qemu,
        genpack_vm::Arch::X86_64,
        Some(&kernel),
        cache.path(),
    )
    .await;
    assert_eq!(again, verdict);
}

#[tokio::test]
async fn empty_disk_boots_into_uefi_firmware_and_force_stop_quits_qemu() {
    let name = vm_name("uefi");
    let _guard = KillOnDrop(name.clone());
    let work = tempfile::tempdir().unwrap();
    let disk = work.path().join("blank.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let mut spec = VmSpec::new(
        name.clone(),
        Boot::Disk {
            image: disk,
            firmware: FirmwareKind::Uefi,
            read_only: true,
        },
    );
    spec.memory_mib = 256;
    spec.network = Network::None;
    spec.display = Display::None;
    spec.accel = AccelPolicy::Tcg;
    let started = Instant::now();
    let handle = genpack_vm::launch(&spec).await.unwrap();
    let runtime = handle.runtime_dir().clone();
    // OVMF mirrors its console to the serial port: the boot manager reports the disk it tried.
    assert!(
        wait_for_text(&runtime.console_log(), "BdsDxe", Duration::from_secs(120)),
        "OVMF printed nothing; console:\n{}",
        std::fs::read_to_string(runtime.console_log()).unwrap_or_default()
    );
    eprintln!(
        "OVMF boot manager after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let outcome = genpack_vm::stop(
        &name,
        StopOptions {
            force: true,
            timeout: Duration::from_secs(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(outcome, StopOutcome::Quit);
    assert!(!runtime.path().exists());
    let status = handle.wait().await.unwrap();
    assert!(status.success(), "QEMU exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_ini_service_runs_in_the_foreground_until_stopped_qemu() {
    let name = vm_name("svc");
    let _guard = KillOnDrop(name.clone());
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(&name);
    std::fs::create_dir(&dir).unwrap();
    let image = build_image(parent.path());
    std::fs::rename(&image, dir.join("system")).unwrap();
    std::fs::write(
        dir.join("vm.ini"),
        "memory = 256\ncpu = 1\naccel = tcg\nappend = genpack.test=1\n\n[net0]\nhostfwd = 127.0.0.1:0:22\n",
    )
    .unwrap();

    let service_dir = dir.clone();
    let service = tokio::spawn(async move {
        genpack_vm::run_service(&service_dir, &genpack_vm::ServiceOptions::default()).await
    });
    let runtime = genpack_vm::RuntimeDir::for_name(&name).unwrap();
    let log = runtime.console_log();
    let booted =
        tokio::task::spawn_blocking(move || wait_for_text(&log, MARKER, Duration::from_secs(180)))
            .await
            .unwrap();
    assert!(booted, "the service VM did not boot");
    let text = std::fs::read_to_string(runtime.console_log()).unwrap();
    assert!(
        text.contains("genpack.test=1"),
        "append from vm.ini missing"
    );
    let status = genpack_vm::status(&name).unwrap();
    assert_eq!(status.state, RunState::Running);
    assert_eq!(status.memory_mib, Some(256));
    assert_eq!(status.accel, Some(Accel::Tcg));

    genpack_vm::stop(&name, StopOptions::default())
        .await
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(60), service)
        .await
        .expect("run_service did not return after stop")
        .unwrap()
        .unwrap();
    assert!(exit.success(), "QEMU exited with {exit}");
    assert!(!runtime.path().exists());
}

/// A boot sector that writes "genpack-bios-ok" to the first serial port and halts.
fn serial_boot_sector() -> Vec<u8> {
    let mut sector = vec![
        0xFA, // cli
        0x31, 0xC0, // xor ax, ax
        0x8E, 0xD8, // mov ds, ax
        0xBE, 0x16, 0x7C, // mov si, 0x7c16 (the message)
        0xBA, 0xF8, 0x03, // mov dx, 0x3f8
        0xAC, // next: lodsb
        0x84, 0xC0, // test al, al
        0x74, 0x03, // jz done
        0xEE, // out dx, al
        0xEB, 0xF8, // jmp next
        0xF4, // done: hlt
        0xEB, 0xFD, // jmp done
    ];
    sector.extend_from_slice(b"genpack-bios-ok\r\n\0");
    sector.resize(510, 0);
    sector.extend_from_slice(&[0x55, 0xAA]);
    sector
}

#[tokio::test]
async fn disk_image_boots_through_seabios_qemu() {
    let name = vm_name("bios");
    let _guard = KillOnDrop(name.clone());
    let work = tempfile::tempdir().unwrap();
    let disk = work.path().join("disk.img");
    let mut bytes = serial_boot_sector();
    bytes.resize(1 << 20, 0);
    std::fs::write(&disk, bytes).unwrap();
    let mut spec = VmSpec::new(
        name.clone(),
        Boot::Disk {
            image: disk,
            firmware: FirmwareKind::Bios,
            read_only: false,
        },
    );
    spec.memory_mib = 128;
    spec.network = Network::None;
    spec.display = Display::None;
    spec.accel = AccelPolicy::Tcg;
    let handle = genpack_vm::launch(&spec).await.unwrap();
    let runtime = handle.runtime_dir().clone();
    assert!(
        wait_for_text(
            &runtime.console_log(),
            "genpack-bios-ok",
            Duration::from_secs(60)
        ),
        "the boot sector did not run; console:\n{}",
        std::fs::read_to_string(runtime.console_log()).unwrap_or_default()
    );
    let outcome = genpack_vm::stop(
        &name,
        StopOptions {
            force: true,
            timeout: Duration::from_secs(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(outcome, StopOutcome::Quit);
    assert!(handle.wait().await.unwrap().success());
}

#[tokio::test]
async fn iso_is_offered_to_uefi_as_a_cd_rom_qemu() {
    let name = vm_name("iso");
    let _guard = KillOnDrop(name.clone());
    let work = tempfile::tempdir().unwrap();
    let content = work.path().join("content");
    std::fs::create_dir(&content).unwrap();
    std::fs::write(content.join("README"), "data only\n").unwrap();
    let iso = work.path().join("data.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-o"])
        .arg(&iso)
        .arg(&content));
    let mut spec = VmSpec::new(
        name.clone(),
        Boot::Iso {
            image: iso,
            firmware: FirmwareKind::Uefi,
        },
    );
    spec.memory_mib = 256;
    spec.network = Network::None;
    spec.display = Display::None;
    spec.accel = AccelPolicy::Tcg;
    let handle = genpack_vm::launch(&spec).await.unwrap();
    let runtime = handle.runtime_dir().clone();
    // OVMF's boot manager tries the CD-ROM (and finds nothing bootable on a data ISO).
    assert!(
        wait_for_text(&runtime.console_log(), "CD-ROM", Duration::from_secs(120)),
        "OVMF did not see a CD-ROM; console:\n{}",
        std::fs::read_to_string(runtime.console_log()).unwrap_or_default()
    );
    genpack_vm::stop(
        &name,
        StopOptions {
            force: true,
            timeout: Duration::from_secs(1),
        },
    )
    .await
    .unwrap();
    assert!(handle.wait().await.unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_vms_started_at_the_same_moment_get_their_own_ssh_port_qemu() {
    let work = tempfile::tempdir().unwrap();
    let disk = work.path().join("blank.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let names = [vm_name("race-a"), vm_name("race-b")];
    let _guards = names.clone().map(KillOnDrop);
    // Both described before either starts, as two `genpack vm run` started together would be.
    let specs = names.clone().map(|name| {
        let mut spec = VmSpec::new(
            name,
            Boot::Disk {
                image: disk.clone(),
                firmware: FirmwareKind::Bios,
                read_only: true,
            },
        );
        spec.memory_mib = 128;
        spec.display = Display::None;
        spec.accel = AccelPolicy::Tcg;
        spec
    });
    let (a, b) = tokio::join!(genpack_vm::launch(&specs[0]), genpack_vm::launch(&specs[1]));
    let (a, b) = (a.unwrap(), b.unwrap());
    let ssh_port = |handle: &genpack_vm::VmHandle| {
        let forwards = &handle.state().forwards;
        assert_eq!(forwards.len(), 1, "{forwards:?}");
        assert_eq!(forwards[0].guest_port, 22);
        forwards[0].host_port
    };
    let (port_a, port_b) = (ssh_port(&a), ssh_port(&b));
    assert_ne!(port_a, port_b);
    let listening = listening_ports();
    assert!(listening.contains(&port_a) && listening.contains(&port_b));
    // vm.json, which `genpack vm show` and the studio read, has the port really used.
    assert_eq!(
        genpack_vm::show(&names[0])
            .unwrap()
            .details
            .unwrap()
            .forwards[0]
            .host_port,
        port_a
    );
    for name in &names {
        let options = StopOptions {
            force: true,
            timeout: Duration::from_secs(1),
        };
        genpack_vm::stop(name, options).await.unwrap();
    }
}
