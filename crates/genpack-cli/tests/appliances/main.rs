//! Every ready-made appliance of the gallery, built and proven by doing its job.
//!
//! Each test does what a user does: `genpack new` from the template, `genpack build` (first
//! with an empty package cache, then again with the base layer up to date), then boots the
//! image in QEMU (TCG) with the template's own system.ini, a hostname the template does not
//! know and the appliance's settings, and checks from the host that the appliance does its
//! job through user-mode networking with host port forwards (the ports the template declares).
//!
//! `make test-appliances` runs them all and writes the numbers into docs/appliances.md, the
//! templates' `measured` blocks and the screenshots into docs/img/. All but one are
//! `#[ignore]`d here (each builds and boots a whole appliance, minutes each); the smallest,
//! the WireGuard hub (a genpack-init drop-in module reading system.ini, a UDP port forward, a
//! client in a network namespace), runs in `make test` too, or alone with
//! `cargo test -p genpack-cli --test appliances wireguard`.
//!
//! Needs root, deb.debian.org, QEMU, and on the host: wireguard-tools and wireguard-go,
//! smbclient, borgbackup, openssh-client, curl and busybox-static.

mod harness;
mod host;
mod qemu;

use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use harness::{build, eventually, system_ini, Measurement, Recorder, Vm};

/// How long a booting appliance may take to answer (TCG on two busy cores).
const BOOT_TIMEOUT: Duration = Duration::from_secs(900);

/// A hostname the templates do not use, so seeing it proves system.ini was applied.
fn held_out_hostname(template: &str) -> String {
    format!("proof-{}", template.trim_start_matches("debian-"))
}

// Not ignored: `make test` proves this one appliance at every run. It is the smallest (about
// three minutes from an empty package cache) and goes through what the others share: a
// template's genpack-init module reading its own system.ini key, a port forward, a client on
// the host.
#[test]
fn wireguard_hub_handshakes_with_a_peer_from_system_ini_needs_root_network_qemu() {
    let template = "debian-wireguard-hub";
    let recorder = Recorder::new(
        template,
        "a peer listed in system.ini handshakes from a network namespace; ping 10.86.0.1 through the tunnel",
    );
    let built = build(template);
    let hostname = held_out_hostname(template);

    // The client: a network namespace on the host with a userspace WireGuard interface.
    let ns = host::NetNs::with_link("wg");
    let client_key = host::must("wg", &["genkey"]);
    let client_pub = pipe("wg", &["pubkey"], &client_key);
    let ini = system_ini(
        &built,
        &hostname,
        &format!("wireguard_peers =\n    proof-client {client_pub} 10.86.0.2\n"),
    );
    // The hub's UDP port is forwarded from the host's end of the namespace's link.
    let udp_port = host::free_udp_port(ns.host_addr);
    let forwards = vec![format!("udp:{}:{udp_port}:51820", ns.host_addr)];
    let vm = Vm::run(&built, &ini, 768, &forwards);

    let console = vm.wait_for_console("WireGuard hub public key: ", BOOT_TIMEOUT);
    let hub_pub = console
        .split("WireGuard hub public key: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(hub_pub.len(), 44, "{hub_pub}");
    assert!(
        console.contains("peer proof-client (10.86.0.2) from system.ini"),
        "the drop-in did not take the peer:\n{}",
        harness::tail(&console, 60)
    );

    let key_file = built.work.path().join("client.key");
    std::fs::write(&key_file, &client_key).unwrap();
    // wireguard-go's control socket is named after the interface in /var/run/wireguard,
    // which every namespace shares: the name must be unique on the host.
    let wg = format!("wgp{}", std::process::id() % 100_000);
    ns.exec_ok(&[
        "env",
        "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1",
        "wireguard-go",
        &wg,
    ]);
    ns.exec_ok(&[
        "wg",
        "set",
        &wg,
        "private-key",
        key_file.to_str().unwrap(),
        "peer",
        &hub_pub,
        "endpoint",
        &format!("{}:{udp_port}", ns.host_addr),
        "allowed-ips",
        "10.86.0.0/24",
        "persistent-keepalive",
        "5",
    ]);
    ns.exec_ok(&["ip", "address", "add", "10.86.0.2/24", "dev", &wg]);
    ns.exec_ok(&["ip", "link", "set", &wg, "up"]);

    eventually(BOOT_TIMEOUT, "ping the hub through the tunnel", || {
        ns.exec(&["busybox", "ping", "-c", "1", "-W", "3", "10.86.0.1"])
    });
    let boot_to_service = vm.started.elapsed();
    let handshake = ns.exec_ok(&["wg", "show", &wg, "latest-handshakes"]);
    let seconds: u64 = handshake
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(seconds > 0, "no handshake recorded: {handshake}");
    finish(
        &vm,
        &built,
        recorder,
        &hostname,
        boot_to_service,
        "a peer listed in system.ini handshakes from a network namespace on the host; ping through the tunnel",
    );
}

/// Runs `program args` with `input` on stdin; returns its trimmed output.
fn pipe(program: &str, args: &[&str], input: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs the console's last checks and records the run: the hostname from system.ini is on the
/// login prompt, and the screen is not one flat colour.
fn finish(
    vm: &Vm,
    built: &harness::Built,
    recorder: Recorder,
    hostname: &str,
    boot_to_service: Duration,
    proof: &str,
) {
    vm.wait_for_console(&format!("{hostname} login:"), BOOT_TIMEOUT);
    let shot = built.work.path().join("screen.png");
    let screen = vm.screenshot(&shot);
    assert!(
        screen.distinct_colours() > 1,
        "the screen is one flat colour"
    );
    recorder.passed(
        &Measurement {
            cold: built.cold,
            warm: built.warm,
            image_bytes: built.image_bytes,
            boot_to_service,
            proof: proof.into(),
        },
        &shot,
    );
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn file_server_takes_and_gives_files_over_smb_needs_root_network_qemu() {
    let template = "debian-file-server";
    let proof = "smbclient lists both shares, puts and gets a file on the public share as a guest and on the private one with the password from system.ini; a wrong password is refused";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let password = "Proof-share-7341";
    let ini = system_ini(&built, &hostname, &format!("share_password = {password}\n"));
    let port = host::free_tcp_port();
    let vm = Vm::run(&built, &ini, 768, &[format!("{port}:445")]);
    let port = port.to_string();

    let listing = eventually(BOOT_TIMEOUT, "list the shares", || {
        let out = host::run("smbclient", &["-L", "127.0.0.1", "-p", &port, "-N"])?;
        if out.contains("public") && out.contains("private") {
            Ok(out)
        } else {
            Err(format!("shares missing: {out}"))
        }
    });
    let boot_to_service = vm.started.elapsed();
    assert!(
        listing.contains(&format!("{hostname} file server")),
        "the server string should carry the hostname from system.ini:\n{listing}"
    );

    let dir = built.work.path();
    let original = dir.join("original.txt");
    std::fs::write(&original, format!("written by the proof for {hostname}\n")).unwrap();
    let smb = |share: &str, auth: &[&str], commands: &str| -> Result<String, String> {
        let mut command = std::process::Command::new("smbclient");
        command
            .arg(format!("//127.0.0.1/{share}"))
            .args(["-p", &port])
            .args(auth)
            .args(["-c", commands])
            .current_dir(dir);
        host::run_with(&mut command, &format!("smbclient {share} {commands}"))
    };
    for (share, auth) in [
        ("public", vec!["-N"]),
        ("private", vec!["-U", &format!("share%{password}")]),
    ] {
        let back = format!("back-{share}.txt");
        smb(
            share,
            &auth,
            &format!("put original.txt proof.txt; get proof.txt {back}"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read(dir.join(&back)).unwrap(),
            std::fs::read(&original).unwrap(),
            "{share}: the file came back different"
        );
        let listed = smb(share, &auth, "ls").unwrap();
        assert!(listed.contains("proof.txt"), "{share}: {listed}");
    }
    let refused = smb("private", &["-U", "share%wrong-password"], "ls").unwrap_err();
    assert!(refused.contains("NT_STATUS_LOGON_FAILURE"), "{refused}");
    let refused = smb("private", &["-N"], "ls").unwrap_err();
    assert!(refused.contains("NT_STATUS_ACCESS_DENIED"), "{refused}");

    finish(&vm, &built, recorder, &hostname, boot_to_service, proof);
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn personal_cloud_keeps_files_and_calendars_behind_the_password_needs_root_network_qemu() {
    let template = "debian-personal-cloud";
    let proof = "the welcome page answers with its title; with the admin password from system.ini a file goes in and comes back over WebDAV and a calendar event over CalDAV; without it 401";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let password = "Proof-cloud-2290";
    let ini = system_ini(&built, &hostname, &format!("admin_password = {password}\n"));
    let port = host::free_tcp_port();
    let vm = Vm::run(&built, &ini, 768, &[format!("{port}:80")]);
    let base = format!("http://127.0.0.1:{port}");
    let auth = format!("admin:{password}");

    let page = eventually(BOOT_TIMEOUT, "the welcome page", || {
        host::run("curl", &["-fsS", "--max-time", "20", &format!("{base}/")])
    });
    let boot_to_service = vm.started.elapsed();
    assert!(page.contains("<title>Personal cloud</title>"), "{page}");

    let status = |args: &[&str]| -> String {
        let mut all = vec![
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "60",
        ];
        all.extend_from_slice(args);
        host::must("curl", &all)
    };
    assert_eq!(status(&[&format!("{base}/files/")]), "401");
    assert_eq!(
        status(&["-u", "admin:wrong", &format!("{base}/files/")]),
        "401"
    );

    let dir = built.work.path();
    let original = dir.join("notes.txt");
    std::fs::write(&original, format!("notes kept on {hostname}\n")).unwrap();
    assert_eq!(
        status(&[
            "-u",
            &auth,
            "-T",
            original.to_str().unwrap(),
            &format!("{base}/files/notes.txt")
        ]),
        "201"
    );
    let back = host::must(
        "curl",
        &["-fsS", "-u", &auth, &format!("{base}/files/notes.txt")],
    );
    assert_eq!(back, std::fs::read_to_string(&original).unwrap());
    let listing = host::must(
        "curl",
        &[
            "-fsS",
            "-u",
            &auth,
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 1",
            &format!("{base}/files/"),
        ],
    );
    assert!(listing.contains("notes.txt"), "{listing}");

    // Radicale starts after Apache and takes a while under TCG: until it listens, Apache
    // answers 503.
    let calendar = format!("{base}/dav/admin/proof/");
    eventually(BOOT_TIMEOUT, "a new calendar", || {
        match status(&["-u", &auth, "-X", "MKCALENDAR", &calendar]).as_str() {
            "201" => Ok(()),
            other => Err(format!("MKCALENDAR answered {other}")),
        }
    });
    let event = dir.join("event.ics");
    std::fs::write(
        &event,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//genpack//proof//EN\r\nBEGIN:VEVENT\r\nUID:proof-1@genpack\r\nDTSTAMP:20260101T090000Z\r\nDTSTART:20260102T090000Z\r\nDTEND:20260102T100000Z\r\nSUMMARY:Proof meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    assert_eq!(
        status(&[
            "-u",
            &auth,
            "-H",
            "Content-Type: text/calendar",
            "-T",
            event.to_str().unwrap(),
            &format!("{base}/dav/admin/proof/proof-1.ics"),
        ]),
        "201"
    );
    let stored = host::must(
        "curl",
        &[
            "-fsS",
            "-u",
            &auth,
            &format!("{base}/dav/admin/proof/proof-1.ics"),
        ],
    );
    assert!(stored.contains("SUMMARY:Proof meeting"), "{stored}");

    finish(&vm, &built, recorder, &hostname, boot_to_service, proof);
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn backup_server_takes_borg_and_restic_repositories_over_ssh_needs_root_network_qemu() {
    let template = "debian-backup-server";
    let proof = "a client key from system.ini may only run the backup tools; borg init/create/extract and restic init/backup/snapshots over SSH; the repositories are on the server";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let dir = built.work.path();
    let (admin_key, admin_pub) = host::ssh_key(dir, "admin");
    let (client_key, client_pub) = host::ssh_key(dir, "client");
    let ini = system_ini(
        &built,
        &hostname,
        &format!("ssh_pubkey = {admin_pub}\nbackup_client_keys =\n    {client_pub}\n"),
    );
    let port = host::free_tcp_port();
    let vm = Vm::run(&built, &ini, 1024, &[format!("{port}:22")]);

    // The client key is accepted, but only for the backup tools.
    let refused = eventually(
        BOOT_TIMEOUT,
        "the backups account over SSH",
        || match host::ssh(&client_key, port, "backups", "id") {
            Ok(out) => Ok(Err(out)),
            Err(e) if e.contains("only takes backups") => Ok(Ok(e)),
            Err(e) => Err(e),
        },
    );
    let boot_to_service = vm.started.elapsed();
    assert!(
        refused.is_ok(),
        "a client key ran a shell command: {refused:?}"
    );

    let data = dir.join("documents");
    std::fs::create_dir_all(data.join("letters")).unwrap();
    std::fs::write(data.join("letters/one.txt"), "first letter\n").unwrap();
    std::fs::write(data.join("photo.bin"), vec![7u8; 300_000]).unwrap();

    let rsh = format!(
        "ssh -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes",
        client_key.display()
    );
    let repo = format!("ssh://backups@127.0.0.1:{port}/./proof-laptop");
    let borg = |args: &[&str]| -> String {
        let mut command = std::process::Command::new("borg");
        command
            .args(args)
            .env("BORG_RSH", &rsh)
            .env("BORG_PASSPHRASE", "proof passphrase")
            .env("BORG_BASE_DIR", dir.join("borg-home"))
            .current_dir(dir);
        host::run_with(&mut command, &format!("borg {}", args.join(" ")))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    borg(&["init", "--encryption=repokey", &repo]);
    borg(&["create", &format!("{repo}::first"), "documents"]);
    let archives = borg(&["list", "--short", &repo]);
    assert_eq!(archives.trim(), "first");
    let restore = dir.join("restore");
    std::fs::create_dir_all(&restore).unwrap();
    let mut extract = std::process::Command::new("borg");
    extract
        .args(["extract", &format!("{repo}::first")])
        .env("BORG_RSH", &rsh)
        .env("BORG_PASSPHRASE", "proof passphrase")
        .env("BORG_BASE_DIR", dir.join("borg-home"))
        .current_dir(&restore);
    host::run_with(&mut extract, "borg extract").unwrap();
    assert_eq!(
        std::fs::read(restore.join("documents/letters/one.txt")).unwrap(),
        b"first letter\n"
    );
    assert_eq!(
        std::fs::read(restore.join("documents/photo.bin"))
            .unwrap()
            .len(),
        300_000
    );

    let sftp = format!("{rsh} -p {port} backups@127.0.0.1 -s sftp");
    let restic = |args: &[&str]| -> String {
        let mut command = std::process::Command::new("restic");
        command
            .args(["-r", "sftp:backups@127.0.0.1:restic/proof", "-o"])
            .arg(format!("sftp.command={sftp}"))
            .args(args)
            .env("RESTIC_PASSWORD", "proof password")
            .env("RESTIC_CACHE_DIR", dir.join("restic-cache"))
            .current_dir(dir);
        host::run_with(&mut command, &format!("restic {}", args.join(" ")))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    restic(&["init"]);
    restic(&["backup", "documents"]);
    let snapshots = restic(&["snapshots", "--json"]);
    assert!(snapshots.contains("documents"), "{snapshots}");

    // On the server, as the administrator: both repositories are there, owned by backups.
    let stored = host::ssh(&admin_key, port, "root", "hostname; stat -c '%U %n' /var/lib/backups/proof-laptop/config /var/lib/backups/restic/proof/config").unwrap();
    assert!(stored.starts_with(&format!("{hostname}\n")), "{stored}");
    assert_eq!(
        stored.matches("backups /var/lib/backups/").count(),
        2,
        "{stored}"
    );

    finish(&vm, &built, recorder, &hostname, boot_to_service, proof);
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn suricata_logs_an_alert_for_a_test_packet_needs_root_network_qemu() {
    let template = "debian-suricata-ids";
    let proof = "a UDP packet carrying the test signature is sent from the host; the analyst account reads its alert from eve.json over SSH";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let (key, public) = host::ssh_key(built.work.path(), "analyst");
    let ini = system_ini(&built, &hostname, &format!("ssh_pubkey = {public}\n"));
    let ssh_port = host::free_tcp_port();
    let udp_port = host::free_udp_port(Ipv4Addr::LOCALHOST);
    let vm = Vm::run(
        &built,
        &ini,
        1536,
        &[format!("{ssh_port}:22"), format!("udp:{udp_port}:9999")],
    );
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();

    let alert = eventually(BOOT_TIMEOUT, "an alert in eve.json", || {
        socket
            .send_to(
                b"hello GENPACK-IDS-TEST packet\n",
                (Ipv4Addr::LOCALHOST, udp_port),
            )
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_secs(2));
        let alerts = host::ssh(
            &key,
            ssh_port,
            "analyst",
            "jq -c 'select(.event_type==\"alert\")' /var/log/suricata/eve.json",
        )?;
        if alerts.contains("\"signature_id\":9000001") {
            Ok(alerts)
        } else {
            Err(format!("no alert yet: {alerts}"))
        }
    });
    let boot_to_service = vm.started.elapsed();
    assert!(alert.contains("GENPACK test signature"), "{alert}");
    assert!(alert.contains("\"dest_port\":9999"), "{alert}");

    finish(&vm, &built, recorder, &hostname, boot_to_service, proof);
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn web_kiosk_shows_the_page_from_system_ini_needs_root_network_qemu() {
    let template = "debian-web-kiosk";
    let proof = "the page named by kiosk_url in system.ini is fetched from a web server on the host and fills the screen (screenshot through the VM's display); while the server still answers 503 the kiosk keeps asking";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    // The dashboard's server is still starting when the kiosk first asks, as after a power cut
    // that both come back from.
    let page = host::PageServer::start_unavailable(
        KIOSK_PAGE.as_bytes().to_vec(),
        "text/html; charset=utf-8",
    );
    let ini = system_ini(
        &built,
        &hostname,
        &format!("kiosk_url = http://10.0.2.2:{}/dashboard\n", page.port),
    );
    let vm = Vm::run(&built, &ini, 2048, &[]);
    let shot = built.work.path().join("screen.png");
    let asked = |page: &host::PageServer| {
        page.requests()
            .iter()
            .filter(|r| r.starts_with("GET /dashboard "))
            .count()
    };
    eventually(
        BOOT_TIMEOUT,
        "the kiosk asking for the page",
        || match asked(&page) {
            0 => Err("no request yet".to_string()),
            _ => Ok(()),
        },
    );
    let refused = asked(&page);
    page.open();
    let screen = eventually(BOOT_TIMEOUT, "the page on the screen", || {
        let screen = vm.screenshot(&shot);
        let share = screen.share_of(KIOSK_COLOUR, 24);
        if share > 0.5 {
            Ok(screen)
        } else {
            Err(format!(
                "{:.0} % of the screen shows the page's colour; requests seen: {:?}",
                share * 100.0,
                page.requests()
            ))
        }
    });
    let boot_to_service = vm.started.elapsed();
    assert!(
        screen.distinct_colours() > 2,
        "only the background, no text"
    );
    assert!(
        asked(&page) > refused,
        "the page shows, but the kiosk never asked again after the 503: {:?}",
        page.requests()
    );
    // The hostname from system.ini, seen from inside: the kiosk has no login prompt on its
    // screen, but genpack-init's log on the serial console names it.
    vm.wait_for_console(&hostname, BOOT_TIMEOUT);
    recorder.passed(
        &Measurement {
            cold: built.cold,
            warm: built.warm,
            image_bytes: built.image_bytes,
            boot_to_service,
            proof: proof.into(),
        },
        &shot,
    );
}

/// The kiosk's proof page: one strong colour the screenshot can find.
const KIOSK_COLOUR: [u8; 3] = [0xc0, 0x26, 0xd3];
const KIOSK_PAGE: &str = "<!doctype html><html><head><title>Proof dashboard</title><style>html,body{margin:0;height:100%;background:#c026d3;color:#fff;font:bold 48px sans-serif}body{display:flex;align-items:center;justify-content:center}</style></head><body>Proof dashboard</body></html>";

#[test]
#[ignore = "slow: run by make test-appliances"]
fn router_leases_an_address_to_the_lan_and_forwards_to_the_wan_needs_root_network_qemu() {
    let template = "debian-router";
    let proof = "a LAN network namespace on a tap port gets a DHCP lease, resolves a name through the router and fetches a page from the WAN side through NAT; WAN port chosen by MAC in system.ini";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let wan_mac = "52:54:00:77:00:01";
    let ini = system_ini(&built, &hostname, &format!("wan_port = {wan_mac}\n"));
    let page = host::PageServer::start(b"reached through the router\n".to_vec(), "text/plain");

    let tap = format!("gptap{}", std::process::id() % 100_000);
    let _ = host::run("ip", &["tuntap", "del", &tap, "mode", "tap"]);
    host::must("ip", &["tuntap", "add", &tap, "mode", "tap"]);
    let _tap_guard = TapGuard(tap.clone());
    let dir = built.work.path();
    let mut vm = qemu::DirectVm::boot(
        &built.image,
        &ini,
        768,
        &[
            "-netdev".into(),
            "user,id=wan".into(),
            "-device".into(),
            format!("virtio-net-pci,netdev=wan,mac={wan_mac}"),
            "-netdev".into(),
            format!("tap,id=lan,ifname={tap},script=no,downscript=no"),
            "-device".into(),
            "virtio-net-pci,netdev=lan,mac=52:54:00:77:00:02".into(),
        ],
        dir,
    );
    // QEMU opens the tap by name in the host's namespace. Moved away before that, QEMU would
    // make a new tap of the same name here and the LAN would hang off a device no one uses.
    // The tap has carrier once QEMU holds it (its link must be up to read it).
    host::must("ip", &["link", "set", &tap, "up"]);
    let carrier = format!("/sys/class/net/{tap}/carrier");
    eventually(Duration::from_secs(120), "QEMU holding the LAN tap", || {
        let value = std::fs::read_to_string(&carrier).map_err(|e| format!("{carrier}: {e}"))?;
        if value.trim() == "1" {
            Ok(())
        } else {
            Err(format!("{carrier}: no carrier yet"))
        }
    });
    // The LAN: a namespace holding the tap device, as a PC plugged into a LAN port.
    let lan = host::NetNs::empty("lan");
    host::must("ip", &["link", "set", &tap, "netns", &lan.name]);
    lan.exec_ok(&["ip", "link", "set", &tap, "up"]);
    let script = dir.join("udhcpc.sh");
    let lease_file = dir.join("lease");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in bound|renew)\n  ip address flush dev \"$interface\"\n  ip address add \"$ip/$mask\" dev \"$interface\"\n  ip route replace default via \"${{router%% *}}\"\n  echo \"$ip $router $dns\" > {}\n;; esac\n",
            lease_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let lease = eventually(BOOT_TIMEOUT, "a DHCP lease on the LAN", || {
        lan.exec(&[
            "busybox",
            "udhcpc",
            "-i",
            &tap,
            "-n",
            "-q",
            "-t",
            "3",
            "-T",
            "3",
            "-s",
            script.to_str().unwrap(),
        ])?;
        std::fs::read_to_string(&lease_file).map_err(|e| e.to_string())
    });
    let boot_to_service = vm.started.elapsed();
    let fields: Vec<&str> = lease.split_whitespace().collect();
    let address: Ipv4Addr = fields[0].parse().unwrap();
    assert!(
        address.octets()[..3] == [192, 168, 77] && (100..=250).contains(&address.octets()[3]),
        "{lease}"
    );
    assert_eq!(fields[1], "192.168.77.1", "{lease}");

    let fetched = eventually(Duration::from_secs(120), "a page on the WAN side", || {
        lan.exec(&[
            "curl",
            "-fsS",
            "--max-time",
            "10",
            &format!("http://10.0.2.2:{}/", page.port),
        ])
    });
    assert_eq!(fetched, "reached through the router\n");
    let resolved = eventually(Duration::from_secs(120), "DNS through the router", || {
        lan.exec(&["busybox", "nslookup", "deb.debian.org", "192.168.77.1"])
    });
    assert!(resolved.contains("Address"), "{resolved}");

    vm.wait_for_console(&format!("{hostname} login:"), BOOT_TIMEOUT);
    let shot = dir.join("screen.png");
    vm.screenshot(&shot);
    assert!(harness::Screen::load(&shot).distinct_colours() > 1);
    recorder.passed(
        &Measurement {
            cold: built.cold,
            warm: built.warm,
            image_bytes: built.image_bytes,
            boot_to_service,
            proof: proof.into(),
        },
        &shot,
    );
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn gnome_desktop_logs_the_user_in_to_a_desktop_needs_root_network_qemu() {
    let template = "debian-gnome-desktop";
    let proof = "GDM logs the desktop user in by itself and the GNOME desktop fills the screen: thousands of colours of the wallpaper and the shell, not a console or a login screen";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let ini = system_ini(&built, &hostname, "");
    let vm = Vm::run(&built, &ini, 3072, &[]);
    let shot = built.work.path().join("screen.png");
    // GNOME under TCG, drawn by the CPU: give it twice the usual time.
    eventually(2 * BOOT_TIMEOUT, "the GNOME desktop on the screen", || {
        let screen = vm.screenshot(&shot);
        let colours = screen.distinct_colours();
        if colours > 2000 {
            Ok(())
        } else {
            Err(format!("{colours} colours on the screen"))
        }
    });
    let boot_to_service = vm.started.elapsed();
    vm.wait_for_console(&format!("{hostname} login:"), BOOT_TIMEOUT);
    recorder.passed(
        &Measurement {
            cold: built.cold,
            warm: built.warm,
            image_bytes: built.image_bytes,
            boot_to_service,
            proof: proof.into(),
        },
        &shot,
    );
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn motion_camera_records_what_moves_in_front_of_a_network_camera_needs_root_network_qemu() {
    let template = "debian-motion-camera";
    let proof = "camera_url in system.ini names an MJPEG camera on the host showing a square that jumps; motion records the event (its best picture appears under /recordings/) and the live view streams JPEG frames";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let dir = built.work.path();
    // Two pictures of the scene: a white square on the left, then on the right.
    let mut pictures = Vec::new();
    for (name, x) in [("left.jpg", 80), ("right.jpg", 400)] {
        let path = dir.join(name);
        host::must(
            "convert",
            &[
                "-size",
                "640x480",
                "xc:#1e3a8a",
                "-fill",
                "white",
                "-draw",
                &format!("rectangle {x},140 {},340", x + 160),
                path.to_str().unwrap(),
            ],
        );
        pictures.push(std::fs::read(&path).unwrap());
    }
    // Two seconds of the square jumping, then forty still: motion closes an event (and saves
    // its best picture) after 30 seconds without movement.
    let mut frames = Vec::new();
    for _ in 0..5 {
        frames.extend(pictures.iter().cloned());
    }
    frames.extend(std::iter::repeat_n(pictures[0].clone(), 200));
    let camera = host::MjpegCamera::start(frames);
    let ini = system_ini(
        &built,
        &hostname,
        &format!(
            "camera_url = http://10.0.2.2:{}/video.mjpg
",
            camera.port
        ),
    );
    let port = host::free_tcp_port();
    let vm = Vm::run(&built, &ini, 1024, &[format!("{port}:80")]);
    let base = format!("http://127.0.0.1:{port}");

    let picture = eventually(BOOT_TIMEOUT, "a recording of the movement", || {
        let days = host::run(
            "curl",
            &["-fsS", "--max-time", "20", &format!("{base}/recordings/")],
        )?;
        let day = days
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .find(|href| href.starts_with("20"))
            .ok_or_else(|| format!("no recordings yet (camera clients: {})", camera.clients()))?
            .to_string();
        let files = host::run(
            "curl",
            &[
                "-fsS",
                "--max-time",
                "20",
                &format!("{base}/recordings/{day}"),
            ],
        )?;
        let jpg = files
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .find(|href| href.ends_with(".jpg"))
            .ok_or_else(|| format!("no picture in {day} yet: {files}"))?
            .to_string();
        Ok(format!("{base}/recordings/{day}{jpg}"))
    });
    let boot_to_service = vm.started.elapsed();
    let saved = dir.join("event.jpg");
    host::must("curl", &["-fsS", "-o", saved.to_str().unwrap(), &picture]);
    assert_eq!(
        &std::fs::read(&saved).unwrap()[..2],
        &[0xff, 0xd8],
        "not a JPEG: {picture}"
    );

    // The live view: a multipart stream of JPEG frames (curl stops it after a few seconds).
    let live = dir.join("live.mjpg");
    let _ = host::run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "8",
            "-o",
            live.to_str().unwrap(),
            &format!("{base}/live"),
        ],
    );
    let stream = std::fs::read(&live).unwrap_or_default();
    assert!(
        stream.windows(2).any(|w| w == [0xff, 0xd8]),
        "no JPEG frame in {} bytes of the live view",
        stream.len()
    );

    finish(&vm, &built, recorder, &hostname, boot_to_service, proof);
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn streaming_workstation_opens_obs_on_the_desktop_needs_root_network_qemu() {
    let template = "debian-streaming-workstation";
    let proof = "GDM logs the streamer in and the session starts on the desktop with OBS Studio in front: OBS logs that it finished starting (its log is forwarded to the serial console) and its empty video canvas, a black area of 360 x 300 pixels or more, is on the screen; the key from system.ini reaches the streamer over SSH, where obs runs in the desktop session";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let (key, public) = host::ssh_key(built.work.path(), "crew");
    let ini = system_ini(&built, &hostname, &format!("ssh_pubkey = {public}\n"));
    let port = host::free_tcp_port();
    let vm = Vm::run_with(
        &built,
        &ini,
        4096,
        &[format!("{port}:22")],
        Some("systemd.journald.forward_to_console=1"),
    );
    let shot = built.work.path().join("screen.png");
    eventually(2 * BOOT_TIMEOUT, "OBS Studio on the desktop", || {
        let console = vm.console();
        if !console.contains("OBS 29") {
            return Err("OBS Studio has not logged its start yet".into());
        }
        // OBS logs this once its window, scenes and video output are up; a GPU it cannot
        // draw with stops it before (with a "Failed to initialize video" dialog).
        if !console.contains("==== Startup complete") {
            return Err("OBS Studio has not finished starting".into());
        }
        let screen = vm.screenshot(&shot);
        // OBS's flat dark theme with its text and meters: about 1,500 colours; a text
        // console: a few dozen.
        let colours = screen.distinct_colours();
        if colours <= 1000 {
            return Err(format!("{colours} colours on the screen"));
        }
        // In front, OBS's window shows its empty canvas large; as a thumbnail in the
        // Activities overview, or behind another window, it shows it small or not at all.
        if !screen.has_black_rectangle(360, 300) {
            return Err("OBS Studio's empty canvas is not on the screen at full size".into());
        }
        Ok(())
    });
    let boot_to_service = vm.started.elapsed();
    let console = vm.console();
    assert!(
        console.contains(&hostname),
        "{}",
        harness::tail(&console, 40)
    );
    // Remote help: the crew's key from system.ini logs in as the streamer, whose desktop
    // session runs OBS.
    let session = eventually(BOOT_TIMEOUT, "the streamer over SSH", || {
        host::ssh(&key, port, "streamer", "hostname; pgrep -u streamer -x obs")
    });
    let mut lines = session.lines();
    assert_eq!(lines.next(), Some(hostname.as_str()), "{session}");
    assert!(lines.next().is_some(), "obs is not running: {session}");
    recorder.passed(
        &Measurement {
            cold: built.cold,
            warm: built.warm,
            image_bytes: built.image_bytes,
            boot_to_service,
            proof: proof.into(),
        },
        &shot,
    );
}

/// Removes a tap device left in the root namespace (one moved into a namespace goes with it).
struct TapGuard(String);

impl Drop for TapGuard {
    fn drop(&mut self) {
        let _ = host::run("ip", &["tuntap", "del", &self.0, "mode", "tap"]);
    }
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn rescue_system_repairs_a_wiped_partition_table_needs_root_network_qemu() {
    let template = "debian-rescue";
    let proof = "a second disk whose primary GPT was wiped: over SSH, gdisk rebuilds it from the backup, the partition mounts and the file on it reads back";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let dir = built.work.path();
    let (key, public) = host::ssh_key(dir, "admin");
    let ini = system_ini(&built, &hostname, &format!("ssh_pubkey = {public}\n"));

    // The patient: a GPT disk with an ext4 partition holding one file; then its protective
    // MBR and primary GPT are overwritten with zeros.
    let patient = dir.join("patient.img");
    let content = dir.join("content");
    std::fs::create_dir_all(&content).unwrap();
    let token = format!("thesis draft kept safe for {hostname}\n");
    std::fs::write(content.join("thesis.txt"), &token).unwrap();
    host::must("truncate", &["-s", "64M", patient.to_str().unwrap()]);
    host::must(
        "sgdisk",
        &["-n", "1:2048:0", "-t", "1:8300", patient.to_str().unwrap()],
    );
    let info = host::must("sgdisk", &["-i", "1", patient.to_str().unwrap()]);
    let last: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("Last sector: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    host::must(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            "offset=1048576",
            "-d",
            content.to_str().unwrap(),
            patient.to_str().unwrap(),
            &format!("{}k", (last - 2047) / 2),
        ],
    );
    host::must(
        "dd",
        &[
            "if=/dev/zero",
            &format!("of={}", patient.display()),
            "bs=512",
            "count=34",
            "conv=notrunc",
        ],
    );

    let port = host::free_tcp_port();
    let mut vm = qemu::DirectVm::boot(
        &built.image,
        &ini,
        1024,
        &[
            "-netdev".into(),
            format!("user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22"),
            "-device".into(),
            "virtio-net-pci,netdev=net0".into(),
            "-drive".into(),
            format!("file={},format=raw,if=none,id=patient", patient.display()),
            "-device".into(),
            "virtio-blk-pci,drive=patient,serial=patient".into(),
        ],
        dir,
    );
    let damaged = eventually(BOOT_TIMEOUT, "SSH into the rescue system", || {
        host::ssh(
            &key,
            port,
            "root",
            "sgdisk -v /dev/disk/by-id/virtio-patient 2>&1 || true",
        )
    });
    let boot_to_service = vm.started.elapsed();
    assert!(damaged.contains("Main header: ERROR"), "{damaged}");
    let repaired = host::ssh(
        &key,
        port,
        "root",
        "set -e; disk=$(readlink -f /dev/disk/by-id/virtio-patient); printf 'r\\nb\\nc\\ny\\nw\\ny\\n' | gdisk \"$disk\" >/dev/null; partprobe \"$disk\"; udevadm settle; mkdir -p /mnt/patient; mount -o ro \"${disk}1\" /mnt/patient; cat /mnt/patient/thesis.txt; umount /mnt/patient; hostname",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(repaired, format!("{token}{hostname}\n"));
    let verified = host::ssh(
        &key,
        port,
        "root",
        "sgdisk -v /dev/disk/by-id/virtio-patient",
    )
    .unwrap();
    assert!(verified.contains("No problems found"), "{verified}");

    vm.wait_for_console(&format!("{hostname} login:"), BOOT_TIMEOUT);
    let shot = dir.join("screen.png");
    vm.screenshot(&shot);
    recorder.passed(
        &Measurement {
            cold: built.cold,
            warm: built.warm,
            image_bytes: built.image_bytes,
            boot_to_service,
            proof: proof.into(),
        },
        &shot,
    );
}

#[test]
#[ignore = "slow: run by make test-appliances"]
fn redmine_answers_and_takes_the_admin_password_from_system_ini_needs_root_network_qemu() {
    let template = "debian-redmine";
    let proof = "the start page answers over HTTP with Redmine's title; logging in as admin with the password from system.ini reaches the account page, a wrong password does not";
    let recorder = Recorder::new(template, proof);
    let built = build(template);
    let hostname = held_out_hostname(template);
    let password = "Proof-redmine-5512";
    let ini = system_ini(&built, &hostname, &format!("admin_password = {password}\n"));
    let port = host::free_tcp_port();
    let vm = Vm::run(&built, &ini, 1536, &[format!("{port}:80")]);
    let base = format!("http://127.0.0.1:{port}");

    let page = eventually(BOOT_TIMEOUT, "Redmine's start page", || {
        host::run("curl", &["-fsS", "--max-time", "60", &format!("{base}/")])
    });
    let boot_to_service = vm.started.elapsed();
    assert!(
        page.contains("<title>Redmine</title>"),
        "{}",
        harness::tail(&page, 20)
    );

    assert!(redmine_login(&base, built.work.path(), "admin", password).contains("My account"));
    let wrong = redmine_login(&base, built.work.path(), "admin", "wrong-password");
    assert!(
        wrong.contains("Invalid user or password"),
        "{}",
        harness::tail(&wrong, 30)
    );

    finish(&vm, &built, recorder, &hostname, boot_to_service, proof);
}

/// Logs in to Redmine with a browser's steps (form token, cookie) and returns the page
/// reached afterwards.
fn redmine_login(base: &str, dir: &Path, user: &str, password: &str) -> String {
    let jar = dir.join(format!("cookies-{password}"));
    let jar = jar.to_str().unwrap();
    let form = host::must(
        "curl",
        &["-fsS", "-c", jar, "-b", jar, &format!("{base}/login")],
    );
    let token = form
        .split("name=\"authenticity_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a login form with a token")
        .to_string();
    host::must(
        "curl",
        &[
            "-sS",
            "-L",
            "-c",
            jar,
            "-b",
            jar,
            "--data-urlencode",
            &format!("authenticity_token={token}"),
            "--data-urlencode",
            &format!("username={user}"),
            "--data-urlencode",
            &format!("password={password}"),
            "--data-urlencode",
            "back_url=/my/account",
            &format!("{base}/login"),
        ],
    )
}
