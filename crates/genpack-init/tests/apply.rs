//! `genpack-init apply --root` on temporary trees, one module at a time.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMPPzPZ78AKXLWvq1whIPYOvPeNWwWsbcKde+R0Wr99P test@example";
const ED25519_OTHER_COMMENT: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMPPzPZ78AKXLWvq1whIPYOvPeNWwWsbcKde+R0Wr99P renamed";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("root")).unwrap();
    fs::create_dir_all(root.join("home/alice")).unwrap();
    fs::create_dir_all(root.join("home/bob")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n\
         daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
         alice:x:1000:1000:Alice:/home/alice:/bin/bash\n\
         bob:x:1001:1001:Bob:/home/bob:/usr/sbin/nologin\n\
         carol:x:1002:1002:Carol:/home/carol:/bin/sh\n",
    )
    .unwrap();
    let zone = root.join("usr/share/zoneinfo/Europe");
    fs::create_dir_all(&zone).unwrap();
    fs::write(zone.join("Berlin"), b"TZif2 test zone").unwrap();
    dir
}

fn apply(root: &Path, ini: &str, extra: &[&str]) -> Run {
    let ini_file = tempfile::NamedTempFile::new().unwrap();
    fs::write(ini_file.path(), ini).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genpack-init"))
        .arg("apply")
        .arg("--root")
        .arg(root)
        .arg("--ini")
        .arg(ini_file.path())
        .args(extra)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn hostname_timezone_and_locale_are_applied_once() {
    let t = tree();
    let root = t.path();
    let ini = "# kiosk\nhostname = kiosk-1\ntimezone = Europe/Berlin\nlocale = de_DE.UTF-8\n";
    let run = apply(root, ini, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(read(root, "etc/hostname"), "kiosk-1\n");
    assert_eq!(
        fs::read_link(root.join("etc/localtime")).unwrap(),
        Path::new("../usr/share/zoneinfo/Europe/Berlin")
    );
    assert_eq!(read(root, "etc/locale.conf"), "LANG=de_DE.UTF-8\n");
    assert!(run.stdout.contains("/etc/hostname"), "{}", run.stdout);

    let again = apply(root, ini, &[]);
    assert!(
        !again.stdout.contains("/etc/hostname"),
        "second run changes nothing: {}",
        again.stdout
    );
}

#[test]
fn bad_values_are_reported_and_skipped() {
    let t = tree();
    let root = t.path();
    let ini = "hostname = my_box\ntimezone = Mars/Olympus\nlocale = de DE\nautologin = maybe\nssh_pubkey = 50%off\n";
    let run = apply(root, ini, &[]);
    assert_eq!(run.code, 0, "bad values are not fatal: {}", run.stderr);
    assert!(!root.join("etc/hostname").exists());
    assert!(fs::symlink_metadata(root.join("etc/localtime")).is_err());
    assert!(!root.join("etc/locale.conf").exists());
    for expected in ["hostname", "Mars/Olympus", "locale", "maybe", "%%"] {
        assert!(
            run.stderr.contains(expected),
            "missing {expected:?} in {}",
            run.stderr
        );
    }
}

#[test]
fn dry_run_reports_but_changes_nothing() {
    let t = tree();
    let root = t.path();
    let run = apply(root, "hostname = h\nautologin = yes\n", &["--dry-run"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("would write /etc/hostname"),
        "{}",
        run.stdout
    );
    assert!(!root.join("etc/hostname").exists());
    assert!(!root.join("etc/systemd").exists());
}

#[test]
fn ssh_keys_are_added_for_root_and_login_users_once_needs_root() {
    let t = tree();
    let root = t.path();
    fs::create_dir_all(root.join("root/.ssh")).unwrap();
    fs::write(
        root.join("root/.ssh/authorized_keys"),
        format!("{ED25519_OTHER_COMMENT}\n"),
    )
    .unwrap();
    let ini = format!("ssh_pubkey = {ED25519}\n    # a comment\n    ssh-rsa AAAA broken\n");
    let run = apply(root, &ini, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("ssh_pubkey line 2"),
        "bad key reported: {}",
        run.stderr
    );

    assert_eq!(
        read(root, "root/.ssh/authorized_keys").lines().count(),
        1,
        "same key not added twice"
    );
    let alice = read(root, "home/alice/.ssh/authorized_keys");
    assert_eq!(alice, format!("{ED25519}\n"));
    let meta = fs::metadata(root.join("home/alice/.ssh/authorized_keys")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
    let dir = fs::metadata(root.join("home/alice/.ssh")).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    assert!(
        !root.join("home/bob/.ssh").exists(),
        "nologin users are skipped"
    );
    assert!(
        !root.join("home/carol").exists(),
        "users without a home are skipped"
    );
}

#[test]
fn autologin_yes_then_no() {
    let t = tree();
    let root = t.path();
    let tty1 = "etc/systemd/system/getty@tty1.service.d/genpack-autologin.conf";
    let serial = "etc/systemd/system/serial-getty@ttyS0.service.d/genpack-autologin.conf";
    apply(root, "autologin = yes\n", &[]);
    assert!(read(root, tty1).contains("--autologin root"));
    assert!(read(root, serial).contains("--autologin root"));
    apply(root, "hostname = x\n", &[]);
    assert!(root.join(tty1).exists(), "unset leaves it alone");
    apply(root, "autologin = no\n", &[]);
    assert!(!root.join(tty1).exists() && !root.join(serial).exists());
}

#[test]
fn swapfile_is_skipped_without_a_data_partition() {
    let t = tree();
    let run = apply(t.path(), "swapfile = yes\n", &[]);
    assert_eq!(run.code, 0);
    assert!(!t.path().join("run/initramfs/rw/swapfile").exists());
    let listed = Command::new(env!("CARGO_BIN_EXE_genpack-init"))
        .args(["modules", "--root"])
        .arg(t.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("60swapfile"));
}

#[test]
fn wifi_writes_supplicant_network_and_country_with_escaping() {
    let t = tree();
    let root = t.path();
    let unit_dir = root.join("usr/lib/systemd/system");
    fs::create_dir_all(&unit_dir).unwrap();
    fs::write(
        unit_dir.join("wpa_supplicant.service"),
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    let ini = "wifi_ssid = Café \"5G\"*\nwifi_key = pa\"ss 100%% sure\nwifi_country = DE\nwifi_ignore_dns = yes\n";
    let run = apply(root, ini, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let wpa = read(root, "etc/wpa_supplicant/wpa_supplicant.conf");
    let hex: String = "Café \"5G\"*".bytes().map(|b| format!("{b:02x}")).collect();
    assert!(wpa.contains(&format!("ssid={hex}\n")), "{wpa}");
    assert!(wpa.contains("psk=\"pa\"ss 100% sure\"\n"), "{wpa}");
    assert!(wpa.contains("country=DE\n"));
    let mode = fs::metadata(root.join("etc/wpa_supplicant/wpa_supplicant.conf"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the password file is private");
    let net = read(root, "etc/systemd/network/54-wlan.network");
    assert!(net.contains("SSID=\"Café \\\"5G\\\"\\\\*\"\n"), "{net}");
    assert!(net.contains("[DHCPv4]\nUseDNS=no"), "{net}");
    assert!(net.contains("MulticastDNS=yes"));
    assert_eq!(
        read(root, "etc/modprobe.d/ieee80211_regdom.conf")
            .lines()
            .last(),
        Some("options cfg80211 ieee80211_regdom=DE")
    );
    assert_eq!(
        fs::read_link(
            root.join("etc/systemd/system/multi-user.target.wants/wpa_supplicant.service")
        )
        .unwrap(),
        Path::new("/usr/lib/systemd/system/wpa_supplicant.service")
    );
}

#[test]
fn wifi_with_bad_values_is_not_configured() {
    let t = tree();
    let run = apply(t.path(), "wifi_ssid = home\nwifi_key = short\n", &[]);
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("8 to 63"), "{}", run.stderr);
    assert!(!t
        .path()
        .join("etc/wpa_supplicant/wpa_supplicant.conf")
        .exists());
}

#[test]
fn wired_network_defaults_to_dhcp_and_takes_static_addresses() {
    let t = tree();
    let root = t.path();
    let file = "etc/systemd/network/50-default.network";
    apply(root, "hostname = h\n", &[]);
    assert!(read(root, file).contains("DHCP=yes"));

    let run = apply(root, "ip_address = 192.168.1.10/24\nip_gateway = 192.168.1.1\ndns = 1.1.1.1, 9.9.9.9\nip6_address = 2001:db8::10/64\n", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = read(root, file);
    for line in [
        "DHCP=no",
        "Address=192.168.1.10/24",
        "Address=2001:db8::10/64",
        "Gateway=192.168.1.1",
        "DNS=1.1.1.1",
        "DNS=9.9.9.9",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }

    let bad = apply(root, "ip_address = 192.168.1.10\n", &[]);
    assert!(bad.stderr.contains("ip_address"), "{}", bad.stderr);
    assert!(
        read(root, file).contains("DHCP=yes"),
        "invalid static address falls back to DHCP"
    );
}

#[test]
fn dhcp_default_steps_aside_for_other_network_files() {
    let t = tree();
    let root = t.path();
    fs::create_dir_all(root.join("etc/systemd/network")).unwrap();
    fs::write(
        root.join("etc/systemd/network/10-bridge.network"),
        "[Match]\nName=br0\n",
    )
    .unwrap();
    apply(root, "hostname = h\n", &[]);
    assert!(!root.join("etc/systemd/network/50-default.network").exists());
}

#[test]
fn drop_in_modules_run_in_order_and_failures_do_not_stop_the_rest() {
    let t = tree();
    let root = t.path();
    let dir = root.join("usr/lib/genpack-init");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("20custom.py"),
        "import genpack_init\n\
         def configure(ini):\n\
         \x20   name = ini.get('_default', 'hostname', fallback='none')\n\
         \x20   extra = ini.get('app', 'Color', fallback='?')\n\
         \x20   genpack_init.root_path('etc', 'custom-marker').write_text(name + ' ' + extra + '\\n')\n\
         \x20   assert str(genpack_init.rw_path('/x')).endswith('run/initramfs/rw/x')\n\
         \x20   assert genpack_init.get_mount_info('/')['mountpoint'] == '/'\n\
         \x20   print('custom module ran')\n",
    )
    .unwrap();
    fs::write(
        dir.join("30broken.py"),
        "def configure():\n    raise RuntimeError('deliberate failure')\n",
    )
    .unwrap();
    let script = dir.join("40shell");
    fs::write(&script, "#!/bin/sh\ngrep -q kiosk \"$GENPACK_INIT_INI\" && echo ok > \"$GENPACK_INIT_ROOT/etc/shell-marker\"\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        dir.join("hostname.py"),
        "raise SystemExit('must not run')\n",
    )
    .unwrap();

    let run = apply(root, "hostname = kiosk\n[app]\ncolor = blue\n", &[]);
    assert_eq!(run.code, 1, "one module failed: {}", run.stderr);
    assert_eq!(read(root, "etc/custom-marker"), "kiosk blue\n");
    assert!(run.stdout.contains("custom module ran"), "{}", run.stdout);
    assert!(run.stdout.contains("deliberate failure") || run.stderr.contains("deliberate failure"));
    assert_eq!(
        read(root, "etc/shell-marker"),
        "ok\n",
        "modules after a failing one still run"
    );
    assert!(
        run.stderr.lines().any(|l| l.starts_with("hostname.py") && l.contains("not run: built into genpack-init")),
        "{}",
        run.stderr
    );
    assert_eq!(read(root, "etc/hostname"), "kiosk\n");
}

/// Unmounts on drop so a failing assertion does not leave the mount behind.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn swapfile_is_created_and_removed_on_a_data_partition_needs_root() {
    let t = tree();
    let root = t.path();
    let image = root.join("data.img");
    let file = fs::File::create(&image).unwrap();
    file.set_len(1 << 30).unwrap();
    let mkfs = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&image)
        .status()
        .unwrap();
    assert!(mkfs.success());
    let rw = root.join("run/initramfs/rw");
    fs::create_dir_all(&rw).unwrap();
    let mount = Command::new("mount")
        .args(["-o", "loop"])
        .arg(&image)
        .arg(&rw)
        .status()
        .unwrap();
    assert!(mount.success(), "mounting a loop device needs root");
    let _mounted = Mounted(rw.clone());

    let run = apply(root, "hostname = h\n", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let swap = rw.join("swapfile");
    let meta = fs::metadata(&swap).expect("swapfile created by default");
    assert!(
        meta.len() >= 64 << 20 && meta.len() <= (1 << 30) / 10,
        "size {}",
        meta.len()
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let mut signature = vec![0u8; 4096];
    use std::io::Read;
    fs::File::open(&swap)
        .unwrap()
        .read_exact(&mut signature)
        .unwrap();
    assert_eq!(&signature[4086..4096], b"SWAPSPACE2", "formatted by mkswap");

    let run = apply(root, "swapfile = no\n", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!swap.exists());
}

#[test]
fn schema_includes_drop_in_fragments() {
    let t = tree();
    let dir = t.path().join("usr/lib/genpack-init");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("wg.schema.json"),
        r#"{"keys": [{"section": "wg-walbrix", "key": "address", "title": "Address", "kind": {"type": "ipv6_cidr"}, "help": "VPN address", "module": "wg-walbrix.py", "group": "VPN"}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genpack-init"))
        .args(["schema", "--root"])
        .arg(t.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let schema = genpack_ini::Schema::from_json(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert!(schema.find("wg-walbrix", "address").is_some());
    assert!(schema.find("_default", "hostname").is_some());

    fs::write(dir.join("broken.schema.json"), "{").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genpack-init"))
        .args(["schema", "--root"])
        .arg(t.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.schema.json"));
}

#[test]
fn get_prints_one_value_for_shell_drop_ins() {
    let t = tempfile::tempdir().unwrap();
    let ini = t.path().join("system.ini");
    fs::write(
        &ini,
        "hostname = hub\nwireguard_peers =\n    laptop AAAA= 10.86.0.2\n    phone BBBB= 10.86.0.3\nempty =\n[app]\nColor = blue\n",
    )
    .unwrap();
    let get = |args: &[&str], env_ini: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_genpack-init"));
        command.arg("get").args(args).env_remove("GENPACK_INIT_INI");
        if let Some(path) = env_ini {
            command.env("GENPACK_INIT_INI", path);
        }
        let out = command.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        get(&["hostname"], Some(&ini)),
        (Some(0), "hub\n".to_string(), String::new())
    );
    assert_eq!(
        get(&["wireguard_peers"], Some(&ini)).1,
        "laptop AAAA= 10.86.0.2\nphone BBBB= 10.86.0.3\n"
    );
    let ini_arg = ini.to_str().unwrap();
    assert_eq!(
        get(&["color", "--section", "app", "--ini", ini_arg], None).1,
        "blue\n"
    );
    // Unset and empty keys exit with 1 and print nothing.
    assert_eq!(
        get(&["timezone"], Some(&ini)),
        (Some(1), String::new(), String::new())
    );
    assert_eq!(get(&["empty"], Some(&ini)).0, Some(1));
    // No file to read is a usage error that says what to pass.
    let (code, _, stderr) = get(&["hostname"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("GENPACK_INIT_INI"), "{stderr}");
    let (code, _, stderr) = get(&["hostname", "--ini", "/nonexistent/system.ini"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/nonexistent/system.ini"), "{stderr}");
}
