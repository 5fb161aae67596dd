//! The initramfs boot sequence.
//!
//! 1. Mount `/proc`, `/sys`, `/dev` (devtmpfs) and `/run` (tmpfs); load the bundled kernel
//!    modules.
//! 2. Read `root=` from the kernel command line:
//!    - `systemimg:<FAT volume id>` / `systemimg:auto`: wait (up to `rd.timeout`, default
//!      30 s) for the boot partition, mount it at `/run/initramfs/boot` (FAT read-write;
//!      rename `system.cur` to `system.old`; write `boottime.txt`); the image is its
//!      `system.img`.
//!    - `block:`: the image is the first virtio disk `/dev/vda`, data is `/dev/vdb`.
//!    - `virtiofs:<tag>` / `9p:<tag>`: the image is a directory tree the host shares (a
//!      build's image tree, booted without packing); data is `/dev/vda`.
//! 3. Writable layer at `/run/initramfs/rw`: the data partition (label `data-<id>`,
//!    `d-<id>`, `wbdata-<id>`, else partition 2 of the boot disk), else a virtiofs share
//!    tagged `fs`, else tmpfs (always tmpfs with `genpack.transient=1`).
//! 4. The image (or the data partition's `system` file, or the shared tree) is mounted
//!    read-only at `/run/initramfs/ro`; overlayfs (`rw/root` over `ro`, work dir
//!    `rw/work`) at `/sysroot`.
//! 5. The shutdown program is put at `/run/initramfs/shutdown` (see [`super::shutdown`]);
//!    `/run`, `/dev`, `/proc`, `/sys` move into the new root (so `/run/initramfs/*` stays
//!    visible), then switch_root into `/usr/bin/genpack-init` (else `/sbin/init`).
//!
//! Any failure prints what failed and what to check, then opens a shell if the initramfs
//! has one, else reboots after 30 s.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::mount::{mount, MountFlags};

use super::blockdev::{self, BlockDevice, Filesystem};
use super::cmdline::{self, BootOptions, RootSpec, TreeTransport};
use super::emergency::fail;
use super::{kmod, loopdev, switch_root};

/// Mount points inside the initramfs.
pub const BOOT: &str = "/run/initramfs/boot";
/// The read-only image.
pub const RO: &str = "/run/initramfs/ro";
/// The writable layer.
pub const RW: &str = "/run/initramfs/rw";
/// Where the new root is assembled.
pub const NEW_ROOT: &str = "/sysroot";
/// Programs started in the new root, in order.
pub const NEXT_INIT: &[&str] = &["/usr/bin/genpack-init", "/sbin/init"];

fn say(message: &str) {
    eprintln!("genpack: {message}");
}

/// Runs the whole sequence; never returns.
pub fn run() -> ! {
    mount_api_filesystems();
    for (module, err) in kmod::load_all(Path::new("/")) {
        // ENODEV: hardware-specific variants (e.g. CPU-accelerated crc32c) on other hardware.
        if err.raw_os_error() != Some(libc::ENODEV) {
            say(&format!("kernel module {module} not loaded: {err}"));
        }
    }
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let options = match cmdline::parse(&cmdline) {
        Ok(o) => o,
        Err(e) => fail(
            &e.to_string(),
            "the boot loader entry (grub.cfg) must pass root=systemimg:<UUID> or root=block:",
        ),
    };
    let image = match &options.root {
        RootSpec::Block => prepare_block(&options),
        RootSpec::SystemImg { .. } | RootSpec::SystemImgAuto => prepare_systemimg(&options),
        RootSpec::Tree { transport, tag } => prepare_tree(&options, *transport, tag),
    };
    match &image {
        Image::Tree { transport, tag } => mount_tree(*transport, tag, options.timeout),
        _ => mount_image(&image),
    }
    mount_overlay();
    if options.debug_shell {
        say("rd.break: stopping before switching root; the new root is at /sysroot");
        super::emergency::give_up("rd.break");
    }
    install_shutdown_program();
    move_into_new_root();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    for init in NEXT_INIT {
        let in_root = Path::new(NEW_ROOT).join(init.trim_start_matches('/'));
        if fs::symlink_metadata(&in_root).is_err() {
            continue;
        }
        say(&format!("switching to the system, starting {init}"));
        let err = switch_root::switch_root(Path::new(NEW_ROOT), Path::new(init), &args);
        fail(
            &format!("cannot switch to the system and start {init}: {err}"),
            "the image may be damaged; write it again",
        );
    }
    fail(
        "the system image has neither /usr/bin/genpack-init nor /sbin/init",
        "the image was not built as a bootable genpack image",
    )
}

fn mount_api_filesystems() {
    let mounts: [(&str, &str, &str, MountFlags); 4] = [
        (
            "proc",
            "/proc",
            "proc",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        ),
        (
            "sysfs",
            "/sys",
            "sysfs",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        ),
        ("devtmpfs", "/dev", "devtmpfs", MountFlags::NOSUID),
        (
            "tmpfs",
            "/run",
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
        ),
    ];
    for (source, target, fstype, flags) in mounts {
        let _ = fs::create_dir_all(target);
        let data = if fstype == "tmpfs" { c"mode=0755" } else { c"" };
        if let Err(e) = mount(source, target, fstype, flags, data) {
            if e != rustix::io::Errno::BUSY {
                say(&format!("mounting {target} failed: {e}"));
            }
        }
    }
    for dir in [BOOT, RO, RW, NEW_ROOT] {
        let _ = fs::create_dir_all(dir);
    }
}

/// Where the image comes from.
enum Image {
    /// A block device holding SquashFS directly.
    Device(PathBuf),
    /// A file to attach to a loop device.
    File(PathBuf),
    /// A directory tree shared by the host.
    Tree {
        /// virtio-fs or 9p.
        transport: TreeTransport,
        /// The share's mount tag.
        tag: String,
    },
}

fn wait_for<T>(what: &str, timeout: Duration, mut find: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    let mut announced = false;
    loop {
        if let Some(found) = find() {
            return Some(found);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        if !announced && start.elapsed() >= Duration::from_secs(1) {
            say(&format!("waiting up to {} s for {what}", timeout.as_secs()));
            announced = true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn prepare_block(options: &BootOptions) -> Image {
    let vda = PathBuf::from("/dev/vda");
    if wait_for("the system disk /dev/vda", options.timeout, || {
        vda.exists().then_some(())
    })
    .is_none()
    {
        fail(
            "the system disk /dev/vda did not appear",
            "root=block: expects the image as the first virtio disk (-drive if=virtio)",
        );
    }
    let data = BlockDevice {
        name: "vdb".into(),
        node: "/dev/vdb".into(),
        parent: None,
        partition: None,
    };
    if options.transient || !data.node.exists() {
        mount_tmpfs_rw(options.transient);
    } else if !mount_data(&data) {
        mount_tmpfs_rw(false);
    }
    Image::Device(vda)
}

fn prepare_tree(options: &BootOptions, transport: TreeTransport, tag: &str) -> Image {
    let data = BlockDevice {
        name: "vda".into(),
        node: "/dev/vda".into(),
        parent: None,
        partition: None,
    };
    if options.transient || !data.node.exists() {
        mount_tmpfs_rw(options.transient);
    } else if !mount_data(&data) {
        mount_tmpfs_rw(false);
    }
    Image::Tree {
        transport,
        tag: tag.to_string(),
    }
}

/// Mounts the shared tree read-only at [`RO`], waiting for its device to appear.
fn mount_tree(transport: TreeTransport, tag: &str, timeout: Duration) {
    let options: &std::ffi::CStr = match transport {
        TreeTransport::Virtiofs => c"",
        // Nothing changes the tree while it is booted: cache everything.
        TreeTransport::NineP => c"trans=virtio,version=9p2000.L,msize=512000,cache=loose",
    };
    let fstype = transport.fstype();
    let mut last_error = None;
    let mounted = wait_for(
        &format!("the shared image tree ({fstype} tag {tag})"),
        timeout,
        || match mount(tag, RO, fstype, MountFlags::RDONLY, options) {
            Ok(()) => Some(()),
            Err(e) => {
                last_error = Some(e);
                None
            }
        },
    );
    if mounted.is_none() {
        let error = last_error.map(|e| e.to_string()).unwrap_or_default();
        fail(
            &format!("cannot mount the shared image tree ({fstype} tag {tag}): {error}"),
            match transport {
                TreeTransport::Virtiofs => {
                    "the kernel needs virtiofs (the virtiofs module is in the initramfs list) and the host virtiofsd"
                }
                TreeTransport::NineP => {
                    "the kernel needs 9p and 9pnet_virtio (in the initramfs list); some kernels have neither"
                }
            },
        );
    }
    say(&format!(
        "image tree shared by the host ({fstype}) mounted read-only"
    ));
}

fn prepare_systemimg(options: &BootOptions) -> Image {
    let (boot, fs_found) = find_boot(options);
    let fstype = fs_found.mount_type();
    let (flags, data) = match fs_found {
        Filesystem::Fat { .. } => (
            MountFlags::NOSUID | MountFlags::NODEV,
            c"utf8,shortname=mixed,flush",
        ),
        _ => (MountFlags::RDONLY, c""),
    };
    if let Err(e) = mount(&boot.node, BOOT, fstype, flags, data) {
        fail(
            &format!(
                "cannot mount the boot partition {} ({fstype}): {e}",
                boot.node.display()
            ),
            "the boot partition may need a check (fsck.fat) on another computer",
        );
    }
    let boot_dir = Path::new(BOOT);
    if matches!(fs_found, Filesystem::Fat { .. }) {
        rotate(boot_dir);
        let _ = fs::write(boot_dir.join("boottime.txt"), boot_time_text());
        // FAT has no journal: the rename must be on the disk before the system starts, or a
        // power cut in the next seconds leaves a half-written folder and no image to roll back to.
        sync_filesystem(boot_dir);
    }
    let volume_id = match &fs_found {
        Filesystem::Fat { volume_id, .. } => Some(volume_id.clone()),
        _ => None,
    };
    let data = (!options.transient)
        .then(|| find_data(&boot, volume_id.as_deref()))
        .flatten();
    match data {
        Some(d) if mount_data(&d) => {}
        _ => mount_tmpfs_rw(options.transient),
    }
    let in_boot = boot_dir.join("system.img");
    if in_boot.exists() {
        return Image::File(in_boot);
    }
    let rw = Path::new(RW);
    rotate(rw);
    let in_rw = rw.join("system");
    if in_rw.exists() {
        return Image::File(in_rw);
    }
    fail(
        &format!(
            "no system.img on the boot partition {}",
            boot.node.display()
        ),
        "copy the image to the stick again (the file must be named system.img)",
    )
}

/// Finds the boot partition by volume id (or, for `auto`, the first one holding
/// system.img). After the timeout, the first FAT partition is used.
fn find_boot(options: &BootOptions) -> (BlockDevice, Filesystem) {
    let wanted = match &options.root {
        RootSpec::SystemImg { volume_id } => Some(volume_id.clone()),
        _ => None,
    };
    let description = match &wanted {
        Some(id) => format!("the boot partition with volume id {id}"),
        None => "a boot partition holding system.img".to_string(),
    };
    let found = wait_for(&description, options.timeout, || {
        blockdev::list().into_iter().find_map(|d| {
            let fs = blockdev::probe(&d)?;
            let hit = match (&wanted, &fs) {
                (Some(id), Filesystem::Fat { volume_id, .. }) => volume_id == id,
                (Some(_), _) => false,
                (None, Filesystem::Fat { .. } | Filesystem::Iso9660) => holds_system_img(&d, &fs),
                (None, _) => false,
            };
            hit.then_some((d, fs))
        })
    });
    if let Some(found) = found {
        return found;
    }
    if wanted.is_some() {
        if let Some(first) = blockdev::list().into_iter().find_map(|d| {
            blockdev::probe(&d)
                .filter(|f| matches!(f, Filesystem::Fat { .. }))
                .map(|f| (d, f))
        }) {
            say(&format!(
                "{description} was not found; using the first FAT partition {}",
                first.0.node.display()
            ));
            return first;
        }
    }
    fail(
        &format!(
            "{description} was not found within {} s",
            options.timeout.as_secs()
        ),
        &missing_boot_hint(wanted.is_none(), sata_driver_present()),
    )
}

/// What to check when the boot medium was not found. `any_medium`: the kernel was told to take
/// any medium holding system.img (as a CD or an ISO written to a stick boots), not one FAT
/// partition; `sata`: the kernel drives SATA (AHCI) controllers, which PCs, virt-manager and
/// GNOME Boxes give their CD drives.
fn missing_boot_hint(any_medium: bool, sata: bool) -> String {
    let slow = "Slow devices may need rd.timeout=60";
    match (any_medium, sata) {
        (false, _) => format!("is the USB stick or disk plugged in? {slow}"),
        (true, true) => format!("is the CD in the drive, or the USB stick plugged in? {slow}"),
        (true, false) => format!(
            "is the CD in the drive, or the USB stick plugged in? This image's kernel has no \
             SATA (AHCI) driver, and PCs and most virtual machines attach their CD drive that \
             way: write the image to a USB stick instead, or build it with the `baremetal` \
             profile, whose kernel has the driver. {slow}"
        ),
    }
}

/// Whether the running kernel drives AHCI controllers (loaded from the initramfs or built in).
fn sata_driver_present() -> bool {
    Path::new("/sys/module/ahci").exists()
        || fs::read_to_string(Path::new("/").join(super::kmod::LOAD_ORDER_FILE)).is_ok_and(
            |order| {
                order
                    .lines()
                    .any(|line| line.ends_with("/ahci.ko") || line.contains("/ahci.ko."))
            },
        )
}

fn holds_system_img(device: &BlockDevice, fs_found: &Filesystem) -> bool {
    let probe_dir = Path::new("/run/initramfs/probe");
    let _ = fs::create_dir_all(probe_dir);
    if mount(
        &device.node,
        probe_dir,
        fs_found.mount_type(),
        MountFlags::RDONLY,
        c"",
    )
    .is_err()
    {
        return false;
    }
    let found = probe_dir.join("system.img").exists();
    let _ = rustix::mount::unmount(probe_dir, rustix::mount::UnmountFlags::empty());
    found
}

/// The data partition: by label derived from the boot volume id, else partition 2 of the
/// boot disk.
fn find_data(boot: &BlockDevice, volume_id: Option<&str>) -> Option<BlockDevice> {
    let devices = blockdev::list();
    if let Some(id) = volume_id {
        let labels = [
            format!("data-{id}"),
            format!("d-{id}"),
            format!("wbdata-{id}"),
        ];
        for label in &labels {
            let hit = devices.iter().find(|d| {
                blockdev::probe(d)
                    .is_some_and(|f| f.label().is_some_and(|l| l.eq_ignore_ascii_case(label)))
            });
            if let Some(d) = hit {
                return Some(d.clone());
            }
        }
    }
    let parent = boot.parent.as_ref()?;
    devices
        .into_iter()
        .find(|d| d.parent.as_ref() == Some(parent) && d.partition == Some(2))
}

fn mount_data(device: &BlockDevice) -> bool {
    let Some(found) = blockdev::probe(device) else {
        say(&format!(
            "{} holds no known filesystem; not used as data partition",
            device.node.display()
        ));
        return false;
    };
    if matches!(found, Filesystem::Squashfs | Filesystem::Iso9660) {
        return false;
    }
    match mount(
        &device.node,
        RW,
        found.mount_type(),
        MountFlags::NOATIME,
        c"",
    ) {
        Ok(()) => {
            say(&format!("data partition {} mounted", device.node.display()));
            true
        }
        Err(e) => {
            say(&format!(
                "cannot mount the data partition {} ({}): {e}; changes will not be kept",
                device.node.display(),
                found.mount_type()
            ));
            false
        }
    }
}

/// The writable layer when no data partition was mounted: a host folder shared with the
/// virtual machine as virtiofs tag `fs`, else (and always in transient mode) a tmpfs.
fn mount_tmpfs_rw(transient: bool) {
    if transient {
        say("transient mode: changes are kept in memory only");
    } else if mount("fs", RW, "virtiofs", MountFlags::empty(), c"").is_ok() {
        say("shared folder (virtiofs tag fs) mounted as the writable layer");
        return;
    } else {
        say("no data partition: changes are kept in memory only");
    }
    if let Err(e) = mount(
        "tmpfs",
        RW,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        c"mode=0755",
    ) {
        fail(
            &format!("cannot mount a tmpfs at {RW}: {e}"),
            "the computer may not have enough memory",
        );
    }
}

/// `system.cur` becomes `system.old` (the previous image after an update).
fn rotate(dir: &Path) {
    let cur = dir.join("system.cur");
    if cur.exists() {
        let _ = fs::rename(&cur, dir.join("system.old"));
    }
}

/// Writes what is cached for the filesystem holding `dir` to its disk.
fn sync_filesystem(dir: &Path) {
    let synced =
        fs::File::open(dir).and_then(|folder| rustix::fs::syncfs(&folder).map_err(Into::into));
    if let Err(e) = synced {
        say(&format!(
            "cannot write {} to its disk now: {e}",
            dir.display()
        ));
    }
}

fn boot_time_text() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{now}\n")
}

fn mount_image(image: &Image) {
    let device = match image {
        Image::Device(d) => d.clone(),
        Image::Tree { .. } => return,
        Image::File(f) => match loopdev::attach_read_only(f) {
            Ok(d) => d,
            Err(e) => fail(
                &format!("cannot attach {} to a loop device: {e}", f.display()),
                "the kernel needs the loop module (it is in the initramfs module list)",
            ),
        },
    };
    if let Err(e) = mount(&device, RO, "squashfs", MountFlags::RDONLY, c"") {
        fail(
            &format!(
                "cannot mount the system image {} as SquashFS: {e}",
                device.display()
            ),
            "the image may be incomplete or damaged; write it again and compare its checksum",
        );
    }
}

fn mount_overlay() {
    let rw = Path::new(RW);
    let (upper, work) = if rw.join("rw/root").is_dir() {
        (rw.join("rw/root"), rw.join("rw/work"))
    } else {
        (rw.join("root"), rw.join("work"))
    };
    for dir in [&upper, &work] {
        if let Err(e) = fs::create_dir_all(dir) {
            fail(
                &format!("cannot create {}: {e}", dir.display()),
                "the data partition may be full or read-only",
            );
        }
    }
    // systemd treats the /usr mtime as the OS timestamp: keep the image's.
    if let (Ok(lower), true) = (
        fs::metadata(Path::new(RO).join("usr")),
        upper.join("usr").is_dir(),
    ) {
        if let Ok(mtime) = lower.modified() {
            let _ = fs::File::open(upper.join("usr")).and_then(|f| f.set_modified(mtime));
        }
    }
    let options = format!(
        "lowerdir={RO},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    let Ok(data) = std::ffi::CString::new(options.clone()) else {
        fail("the overlay options contain a NUL byte", "");
    };
    if let Err(e) = mount(
        "overlay",
        NEW_ROOT,
        "overlay",
        MountFlags::empty(),
        data.as_c_str(),
    ) {
        fail(
            &format!("cannot mount the overlay root ({options}): {e}"),
            "the data partition's filesystem must support overlayfs upper layers (ext4, btrfs, xfs)",
        );
    }
}

/// Puts the shutdown program at `/run/initramfs/shutdown`; a failure is said on the console
/// (the system still boots, but its shutdowns will look like crashes to the boot menu).
fn install_shutdown_program() {
    if let Err(e) = super::shutdown::install(Path::new(RO)) {
        say(&format!(
            "cannot install {}: {e}; a clean shutdown will look like a crash to the boot menu",
            super::shutdown::INSTALLED_AT
        ));
    }
}

fn move_into_new_root() {
    for dir in ["/run", "/dev", "/proc", "/sys"] {
        let target = Path::new(NEW_ROOT).join(dir.trim_start_matches('/'));
        let _ = fs::create_dir_all(&target);
        if let Err(e) = rustix::mount::mount_move(dir, &target) {
            fail(
                &format!("cannot move {dir} into the new root: {e}"),
                "the image must contain the directories /run, /dev, /proc and /sys",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_boot_medium_is_explained_for_the_medium_booted() {
        let stick = missing_boot_hint(false, false);
        assert!(
            stick.starts_with("is the USB stick or disk plugged in?"),
            "{stick}"
        );
        let cd = missing_boot_hint(true, true);
        assert!(cd.contains("is the CD in the drive"), "{cd}");
        assert!(!cd.contains("AHCI"), "{cd}");
        let no_sata = missing_boot_hint(true, false);
        assert!(no_sata.contains("no SATA (AHCI) driver"), "{no_sata}");
        assert!(no_sata.contains("`baremetal` profile"), "{no_sata}");
        assert!(no_sata.ends_with("rd.timeout=60"), "{no_sata}");
    }
}
