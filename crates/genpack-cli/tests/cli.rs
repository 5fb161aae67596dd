//! The `genpack` command as a user runs it: exit codes, messages, and files on disk.

mod common;
use common::genpack;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn corpus_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/artifacts");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("the corpus should be at {}: {e}", root.display()))
        .map(|entry| entry.expect("readable corpus entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 7, "expected the 7 corpus definitions");
    dirs
}

#[test]
fn every_corpus_definition_validates() {
    let dirs = corpus_dirs();
    let mut args = vec!["validate"];
    let dir_strings: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    args.extend(dir_strings.iter().map(String::as_str));
    let out = genpack(&args, Path::new("."));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert_eq!(stdout.matches(": ok (").count(), dirs.len(), "{stdout}");
}

#[test]
fn show_prints_the_effective_definition_for_every_arch_and_variant_of_the_corpus() {
    for dir in corpus_dirs() {
        let source = fs::read_to_string(dir.join("genpack.json5")).expect("readable corpus file");
        let arches: Vec<&str> = ["x86_64", "aarch64", "i686", "riscv64"]
            .into_iter()
            .filter(|arch| source.contains(arch))
            .collect();
        let arches = if arches.is_empty() {
            vec!["x86_64"]
        } else {
            arches
        };
        for arch in arches {
            let out = genpack(&["show", "--arch", arch], &dir);
            assert!(
                out.status.success(),
                "{} {arch}: {}",
                dir.display(),
                text(&out.stderr)
            );
            let value: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("show prints JSON");
            assert_eq!(value["arch"], arch, "{}", dir.display());
            assert!(value["packages"].is_array(), "{}", dir.display());

            // The JSON5 form is a definition of its own: saved as genpack.json5 it validates
            // and merges to the same result.
            let json5 = genpack(&["show", "--arch", arch, "--format", "json5"], &dir);
            assert!(json5.status.success(), "{}", text(&json5.stderr));
            let copy = tempfile::tempdir().unwrap();
            fs::write(copy.path().join("genpack.json5"), &json5.stdout).unwrap();
            let validated = genpack(&["validate"], copy.path());
            assert!(
                validated.status.success(),
                "{} {arch}: the shown JSON5 does not validate:\n{}\n{}",
                dir.display(),
                text(&json5.stdout),
                text(&validated.stderr)
            );
            let again = genpack(&["show", "--arch", arch], copy.path());
            let mut reread: serde_json::Value =
                serde_json::from_slice(&again.stdout).expect("show prints JSON");
            let mut original = value.clone();
            // The variant chosen is folded into the shown definition.
            original["variant"] = serde_json::Value::Null;
            reread["variant"] = serde_json::Value::Null;
            assert_eq!(reread, original, "{} {arch}", dir.display());
        }
    }
}

#[test]
fn show_applies_arch_blocks_and_variants() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("genpack.json5"),
        r#"{
  name: "demo",
  packages: ["app-misc/a", "app-misc/b"],
  use: { "app-misc/a": "x  y" },
  arch: { "aarch64": { packages: ["app-misc/arm-only"] } },
  variants: {
    small: {
      packages: ["-app-misc/b"],
      arch: { "x86_64|aarch64": { packages: ["-app-misc/a"] } },
    },
  },
}"#,
    )
    .unwrap();
    let out = genpack(&["show", "--arch", "aarch64"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        value["packages"],
        serde_json::json!(["app-misc/a", "app-misc/b", "app-misc/arm-only"])
    );
    assert_eq!(value["use"]["app-misc/a"], "x y");

    let out = genpack(
        &["show", "--arch", "aarch64", "--variant", "small"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["packages"], serde_json::json!(["app-misc/arm-only"]));
    assert_eq!(value["variant"], "small");

    let out = genpack(&["show", "--variant", "nope"], dir.path());
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("small"), "{}", text(&out.stderr));

    let out = genpack(
        &["show", "--format", "json5", "--arch", "x86_64"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("packages: ["));
}

#[test]
fn validate_reports_file_line_and_column_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("genpack.json5"),
        "{\n  name: \"x\",\n  pakages: [\"app-misc/a\"],\n}\n",
    )
    .unwrap();
    let out = genpack(&["validate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("genpack.json5:3:3:"),
        "location missing: {stderr}"
    );
    assert!(stderr.contains("packages"), "no suggestion: {stderr}");
}

#[test]
fn validate_reports_a_syntax_error_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("genpack.json5"),
        "{\n  name: \"x\"\n  packages: []\n}\n",
    )
    .unwrap();
    let out = genpack(&["validate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    // The comma is missing right after `"x"` on line 2.
    assert!(stderr.contains("genpack.json5:2:12:"), "{stderr}");
    assert!(stderr.contains("expected `,`"), "{stderr}");
}

#[test]
fn validate_without_a_definition_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = genpack(&["validate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("genpack.json5"));
}

#[test]
fn new_creates_a_valid_project_from_every_template() {
    let listing = genpack(&["templates", "--json"], Path::new("."));
    assert!(listing.status.success(), "{}", text(&listing.stderr));
    let templates: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let ids: Vec<String> = templates
        .as_array()
        .expect("a list of templates")
        .iter()
        .map(|t| t["id"].as_str().expect("template id").to_string())
        .collect();
    assert!(ids.len() >= 14, "{ids:?}");

    let parent = tempfile::tempdir().unwrap();
    for id in &ids {
        let name = format!("my-{id}");
        let out = genpack(&["new", &name, "--template", id], parent.path());
        assert!(out.status.success(), "{id}: {}", text(&out.stderr));
        let project = parent.path().join(&name);
        let source = fs::read_to_string(project.join("genpack.json5")).unwrap();
        assert!(source.contains(&name), "{id}: name not set");
        let out = genpack(&["validate"], &project);
        assert!(out.status.success(), "{id}: {}", text(&out.stderr));
    }
    // A second `new` into the same folder must not overwrite the user's work.
    let out = genpack(
        &["new", "my-debian-minimal", "--template", "debian-minimal"],
        parent.path(),
    );
    assert!(!out.status.success());
}

#[test]
fn new_refuses_a_name_with_the_name_to_use_instead() {
    let parent = tempfile::tempdir().unwrap();
    let out = genpack(
        &["new", "My Web Server", "--template", "debian-web"],
        parent.path(),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("try \"my-web-server\""), "{err}");
    assert!(
        err.contains("hint: genpack new my-web-server --template debian-web"),
        "{err}"
    );
    assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 0);
}

#[test]
fn archive_holds_the_definition_and_its_folders() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("genpack.json5"), "{ name: \"box\" }\n").unwrap();
    fs::create_dir_all(dir.path().join("files/etc")).unwrap();
    fs::write(dir.path().join("files/etc/motd"), "hello\n").unwrap();
    fs::create_dir_all(dir.path().join("work/x86_64")).unwrap();
    fs::write(dir.path().join("work/x86_64/big"), "not archived").unwrap();
    let out = genpack(&["archive"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let archive = dir.path().join("genpack-box.tar.gz");
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(&archive)
        .output()
        .expect("tar runs");
    let names = text(&listing.stdout);
    assert!(names.lines().any(|l| l == "genpack.json5"), "{names}");
    assert!(names.lines().any(|l| l == "files/etc/motd"), "{names}");
    assert!(!names.contains("work"), "{names}");
}

#[test]
fn help_is_available_for_every_command() {
    for command in ["validate", "show", "new", "templates", "archive"] {
        let out = genpack(&[command, "--help"], Path::new("."));
        assert!(out.status.success(), "{command}");
        assert!(text(&out.stdout).contains("Usage"), "{command}");
    }
}

/// A loop device over `file` (standing in for a USB stick), detached when dropped.
struct LoopDevice(String);

impl LoopDevice {
    fn attach(file: &Path, read_only: bool) -> Self {
        let mut command = Command::new("losetup");
        if read_only {
            command.arg("--read-only");
        }
        let out = command
            .args(["--find", "--show"])
            .arg(file)
            .output()
            .expect("losetup runs (util-linux)");
        assert!(out.status.success(), "losetup: {}", text(&out.stderr));
        Self(text(&out.stdout).trim().to_string())
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn install_lists_an_attached_stick_and_refuses_a_read_only_one_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stick.img");
    fs::write(&file, vec![0u8; 8 << 20]).unwrap();
    let writable = LoopDevice::attach(&file, false);
    let locked = LoopDevice::attach(&file, true);

    let out = genpack(&["install", "image.squashfs", "--disk", "list"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let line = listing
        .lines()
        .find(|l| l.starts_with(&format!("{}\t", writable.0)))
        .unwrap_or_else(|| panic!("{} is not listed:\n{listing}", writable.0));
    assert!(line.contains("stick.img, 8.0 MiB"), "{line}");
    assert!(
        !listing.contains(&format!("{}\t", locked.0)),
        "a read-only device is offered:\n{listing}"
    );

    // The drive is checked before the image is even looked at, and nothing is written.
    let out = genpack(
        &["install", "image.squashfs", "--disk", &locked.0, "-y"],
        dir.path(),
    );
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(error.contains("refusing to write"), "{error}");
    assert!(error.contains("read-only"), "{error}");
    assert!(error.contains(&locked.0), "{error}");

    // Without a terminal and without -y, the drive is named and nothing is written.
    let out = genpack(
        &["install", "image.squashfs", "--disk", &writable.0],
        dir.path(),
    );
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(
        error.contains("stick.img, 8.0 MiB") && error.contains("would be erased"),
        "{error}"
    );
    assert!(fs::read(&file).unwrap().iter().all(|b| *b == 0));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `genpack show | true`: the reader is gone before anything is written.
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("genpack.json5"),
        r#"{ name: "piped", base: "debian:bookworm", packages: ["less"] }"#,
    )
    .unwrap();
    for args in [&["show"][..], &["validate"][..], &["templates"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_genpack"))
            .args(args)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
}

#[test]
fn binhost_serve_publishes_a_binary_package_cache_until_interrupted() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("binpkgs");
    fs::create_dir_all(cache.join("app-misc/hello")).unwrap();
    fs::write(
        cache.join("Packages"),
        "PACKAGES: 1\n\nCPV: app-misc/hello-1.0\n",
    )
    .unwrap();
    fs::write(cache.join("app-misc/hello/hello-1.0-1.gpkg.tar"), "gpkg").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_genpack"))
        .args(["binhost", "serve", "--port", "0"])
        .arg(&cache)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    assert!(
        first.starts_with(&format!("Serving {} at http://127.0.0.1:", cache.display())),
        "{first}"
    );
    let builders = lines.next().unwrap().unwrap();
    assert!(
        builders.contains("genpack build --binhost http://127.0.0.1:"),
        "{builders}"
    );
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .write_all(b"GET /Packages HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(
        response.ends_with("CPV: app-misc/hello-1.0\n"),
        "{response}"
    );
    // Ctrl-C stops it cleanly.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("Stopped after 1 requests")),
        "{rest:?}"
    );

    // A folder that is not a binary package cache is refused with what to serve instead.
    let out = genpack(
        &[
            "binhost",
            "serve",
            "--port",
            "0",
            &dir.path().display().to_string(),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Packages") && stderr.contains("binpkgs"),
        "{stderr}"
    );
}

#[test]
fn build_refuses_unusable_emerge_options_before_building() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("genpack.json5"),
        "{ name: \"flags\", packages: [\"app-misc/hello\"] }\n",
    )
    .unwrap();
    let out = genpack(
        &["build", "--arch", "riscv64", "--binhost", "gentoo"],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Gentoo publishes no binary packages for riscv64"),
        "{stderr}"
    );
    assert!(stderr.contains("--binhost with the URL"), "{stderr}");
    assert!(!dir.path().join("work").exists());

    let out = genpack(&["build", "--jobs", "0"], dir.path());
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--jobs must be at least 1"));
}

/// A disk image of `len` bytes: pseudo-random bytes (barely compressible, like a real one)
/// under an MBR made by sfdisk.
fn random_disk_image(path: &Path, len: usize, seed: u64) {
    let mut state = seed | 1;
    let mut bytes = vec![0u8; len];
    for chunk in bytes.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    fs::write(path, bytes).unwrap();
    let mut sfdisk = Command::new("sfdisk")
        .args(["-q", "--wipe", "never"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    sfdisk
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\nstart=2048, type=c\n")
        .unwrap();
    assert!(sfdisk.wait().unwrap().success());
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn install_checks_the_sum_and_writes_a_compressed_image_to_several_sticks_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("appliance.img");
    random_disk_image(&raw, 24 << 20, 7);
    assert!(Command::new("xz")
        .args(["-q", "-k", "-0", "-T0"])
        .arg(&raw)
        .status()
        .unwrap()
        .success());
    let packed = dir.path().join("appliance.img.xz");
    let sum = sha256_of(&packed);

    let first = dir.path().join("first");
    let last = dir.path().join("last");
    fs::write(&first, vec![0x11u8; 32 << 20]).unwrap();
    fs::write(&last, vec![0x22u8; 32 << 20]).unwrap();
    // A stick that fails mid-write: its backing file sits on an 8 MiB tmpfs.
    let small = dir.path().join("tmpfs");
    fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "none"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(small.clone());
    let broken = small.join("broken");
    fs::File::create(&broken)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    let sticks = [
        LoopDevice::attach(&first, false),
        LoopDevice::attach(&broken, false),
        LoopDevice::attach(&last, false),
    ];
    let image = packed.to_str().unwrap();
    let mut args = vec!["install", image, "-y"];
    for stick in &sticks {
        args.extend(["--disk", stick.0.as_str()]);
    }

    // A sum file beside the image that does not match: nothing is written anywhere.
    let beside = dir.path().join("appliance.img.xz.sha256");
    fs::write(&beside, format!("{}  appliance.img.xz\n", "0".repeat(64))).unwrap();
    let out = genpack(&args, dir.path());
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(
        error.contains("SHA-256") && error.contains("nothing was written"),
        "{error}"
    );
    assert!(fs::read(&first).unwrap().iter().all(|&b| b == 0x11));
    assert!(fs::read(&last).unwrap().iter().all(|&b| b == 0x22));

    // The sum given on the command line, right this time: two sticks written, one failed.
    fs::write(&beside, format!("{sum}  appliance.img.xz\n")).unwrap();
    args.extend(["--sha256", sum.as_str()]);
    let out = genpack(&args, dir.path());
    let report = text(&out.stdout);
    assert!(
        !out.status.success(),
        "a failed stick must fail the command:\n{report}"
    );
    let line = |device: &str| {
        report
            .lines()
            .find(|l| l.contains(&format!("({device})")))
            .unwrap_or_else(|| panic!("no line for {device}:\n{report}"))
            .to_string()
    };
    for stick in [&sticks[0], &sticks[2]] {
        assert!(line(&stick.0).starts_with("ok "), "{report}");
    }
    assert!(line(&sticks[1].0).starts_with("FAILED "), "{report}");
    let image_bytes = fs::read(&raw).unwrap();
    for file in [&first, &last] {
        let written = fs::read(file).unwrap();
        assert!(
            written[..image_bytes.len()] == image_bytes[..],
            "{}",
            file.display()
        );
    }
}

/// A small genpack image: placeholders for the kernel and initramfs, the metadata the
/// installer checks, and a few MiB of payload.
fn small_genpack_image(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("boot")).unwrap();
    fs::create_dir_all(tree.join(".genpack")).unwrap();
    fs::write(tree.join("boot/kernel"), "kernel placeholder\n").unwrap();
    fs::write(tree.join("boot/initramfs"), "initramfs placeholder\n").unwrap();
    fs::write(tree.join(".genpack/artifact"), "exports\n").unwrap();
    fs::write(tree.join(".genpack/arch"), "x86_64\n").unwrap();
    let payload: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(tree.join("payload"), payload).unwrap();
    let image = dir.join("exports-x86_64.squashfs");
    let status = Command::new("mksquashfs")
        .arg(&tree)
        .arg(&image)
        .args(["-noappend", "-quiet", "-no-progress"])
        .status()
        .expect("mksquashfs runs (squashfs-tools)");
    assert!(status.success());
    image
}

#[test]
fn install_writes_our_zip_and_iso_exports_to_sticks_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let image = small_genpack_image(dir.path());
    let ini = dir.path().join("system.ini");
    fs::write(&ini, "hostname=from-the-zip\n").unwrap();
    let image_arg = image.to_str().unwrap();
    let out = genpack(
        &[
            "install",
            image_arg,
            "--zip",
            "exports.zip",
            "--cdrom",
            "exports.iso",
            "--system-ini",
            ini.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let stick_file = dir.path().join("stick");
    fs::write(&stick_file, vec![0x5au8; 96 << 20]).unwrap();
    let stick = LoopDevice::attach(&stick_file, false);

    // The ZIP (its sum checked first): its image laid out on the stick with its settings.
    let sum = sha256_of(&dir.path().join("exports.zip"));
    let out = genpack(
        &[
            "install",
            "exports.zip",
            "--disk",
            &stick.0,
            "-y",
            "--sha256",
            &sum,
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = text(&out.stdout);
    assert!(report.starts_with("ok "), "{report}");
    assert!(report.contains("MBR, boots with BIOS and UEFI"), "{report}");
    let table = Command::new("sfdisk")
        .arg("-d")
        .arg(&stick.0)
        .output()
        .unwrap();
    let table = text(&table.stdout);
    let start: u64 = table
        .lines()
        .find(|line| {
            line.starts_with(&format!("{}p1", stick.0))
                || line.starts_with(&format!("{}1", stick.0))
        })
        .and_then(|line| line.split("start=").nth(1))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no first partition:\n{table}"));
    let at = format!("{}@@{}", stick.0, start * 512);
    let ini_on_stick = Command::new("mtype")
        .args(["-i", &at, "::/system.ini"])
        .output()
        .unwrap();
    assert_eq!(text(&ini_on_stick.stdout), "hostname=from-the-zip\n");
    let img_on_stick = Command::new("mdir")
        .args(["-b", "-i", &at, "::/"])
        .output()
        .unwrap();
    assert!(text(&img_on_stick.stdout)
        .to_lowercase()
        .contains("system.img"));

    // The ISO: written as it is, byte for byte.
    let out = genpack(
        &["install", "exports.iso", "--disk", &stick.0, "-y"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("disk image and read it back"),
        "{}",
        text(&out.stdout)
    );
    let iso = fs::read(dir.path().join("exports.iso")).unwrap();
    assert!(fs::read(&stick_file).unwrap()[..iso.len()] == iso[..]);

    // A ZIP export cannot become another file: that is what the .squashfs is for.
    let out = genpack(
        &["install", "exports.zip", "--zip", "again.zip"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is a ZIP export"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_misspelt_debian_package_fails_validate_and_build_with_the_close_name() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let project = work.path().join("web");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("genpack.json5"),
        "{\n  name: \"web\",\n  base: \"debian:bookworm\",\n  packages: [\"ngnix\"],\n}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_genpack"))
            .args(args)
            .args(["--arch", "x86_64"])
            .current_dir(&project)
            .env("NO_COLOR", "1")
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .expect("the genpack binary runs")
    };
    // No index yet: nothing is guessed.
    let out = run(&["validate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("note: package names are not checked yet"),
        "{}",
        text(&out.stdout)
    );

    // The index a Debian build keeps in the cache.
    let lists = cache.join("genpack/debian/lists/bookworm-amd64");
    fs::create_dir_all(&lists).unwrap();
    fs::write(
        lists.join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"),
        "Package: nginx\nVersion: 1.22.1-9\n\nPackage: curl\nVersion: 7.88.1-10\n",
    )
    .unwrap();
    for command in ["validate", "build"] {
        let out = run(&[command]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = text(&out.stderr);
        assert!(
            stderr
                .contains("genpack.json5:4:14: error: Debian bookworm has no package named ngnix"),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("did you mean nginx?"),
            "{command}: {stderr}"
        );
    }
}
