//! An ordinary user builds and runs an image: the build runs in a user namespace over the
//! user's subordinate ids, so the image's files keep their owners (root, the system's groups,
//! the definition's user, a `chown` in build.d), QEMU runs as the user, and `genpack clean`
//! removes what the build left. A user without subordinate ids is told how to get them.
//!
//! The tests run as root (as CI does) and create the users they need, each with a name of its
//! own, deleted afterwards. genpack runs as the user from an installed layout
//! (`<prefix>/bin/genpack` with the boot programs prebuilt in `<prefix>/lib/genpack/boot/`), as
//! a user of the package has it: the user cannot reach root's Rust toolchain.
//! Needs root, Debian's package mirror, uidmap and QEMU (TCG); the Gentoo test also the
//! local Gentoo mirror of scripts/make-test-gentoo (built on first use, as for gentoo_emerge).

mod common;
#[path = "../../genpack-build/tests/mirror/mod.rs"]
mod mirror;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(command: &mut Command, what: &str) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// A user made for one test: a home of its own, and a subordinate id range when asked for.
/// Deleted (with its home and ranges) when dropped.
struct TestUser {
    name: String,
    uid: u32,
    home: PathBuf,
}

impl TestUser {
    fn create(tag: &str, subordinate: Option<u32>) -> Self {
        let name = format!("gp{tag}{}", std::process::id());
        let _ = Command::new("userdel").args(["-r", &name]).output();
        // No automatic ranges: this test decides whether the user has one.
        run(
            Command::new("useradd")
                .args(["--create-home", "--shell", "/bin/sh"])
                .args(["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"])
                .arg(&name),
            "useradd",
        );
        let mut user = TestUser {
            uid: 0,
            home: PathBuf::new(),
            name,
        };
        let id = run(Command::new("id").args(["-u", &user.name]), "id");
        user.uid = text(&id.stdout).trim().parse().unwrap();
        let passwd = run(
            Command::new("getent").args(["passwd", &user.name]),
            "getent",
        );
        user.home = PathBuf::from(text(&passwd.stdout).trim().split(':').nth(5).unwrap());
        if let Some(start) = subordinate {
            let range = format!("{start}-{}", start + 65535);
            run(
                Command::new("usermod")
                    .args(["--add-subuids", &range, "--add-subgids", &range])
                    .arg(&user.name),
                "usermod --add-subuids",
            );
        }
        user
    }

    /// `genpack args` as this user, in `dir`, with a plain login environment.
    fn genpack(&self, genpack: &Path, args: &[&str], dir: &Path) -> Output {
        self.command(genpack)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("setpriv runs (util-linux)")
    }

    /// `program` as this user (its ids and groups) with only a login's environment.
    fn command(&self, program: &Path) -> Command {
        self.command_with(program, &[])
    }

    /// [`TestUser::command`] with `extra` variables in the environment.
    fn command_with(&self, program: &Path, extra: &[&str]) -> Command {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid",
                &self.name,
                "--regid",
                &self.name,
                "--init-groups",
            ])
            .args(["--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("USER={}", self.name))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .arg("NO_COLOR=1")
            .args(extra)
            .arg(program);
        command
    }

    fn chown(&self, path: &Path) {
        run(
            Command::new("chown")
                .arg("-R")
                .arg(format!("{0}:{0}", self.name))
                .arg(path),
            "chown",
        );
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // The home holds files of the subordinate ids; root removes them all.
        let _ = Command::new("userdel").args(["-r", &self.name]).output();
        let _ = fs::remove_dir_all(&self.home);
        let _ = fs::remove_dir_all(format!("/tmp/genpack-{}", self.uid));
    }
}

/// genpack as a package installs it, under `prefix`: the program in `bin/`, the boot
/// programs prebuilt for this machine in `lib/genpack/boot/<arch>/`; readable by everyone.
fn install_genpack(prefix: &Path) -> PathBuf {
    let bin = prefix.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let genpack = bin.join("genpack");
    fs::copy(env!("CARGO_BIN_EXE_genpack"), &genpack).unwrap();
    let boot = prefix.join("lib/genpack/boot").join(std::env::consts::ARCH);
    fs::create_dir_all(&boot).unwrap();
    let cache = std::env::var_os(genpack_init::binaries::CACHE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("genpack-test-boot-binaries"));
    let built = genpack_init::boot_binaries_in(&cache, genpack_init::Profile::Dev)
        .expect("the boot programs build");
    fs::copy(&built.initramfs_init, boot.join("genpack-initramfs-init")).unwrap();
    fs::copy(&built.genpack_init, boot.join("genpack-init")).unwrap();
    for dir in [prefix, &bin, &prefix.join("lib"), &boot] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    genpack
}

/// The Debian packages root's builds downloaded, for the user's cache: no second download.
fn share_package_cache(user: &TestUser) {
    let ours = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
        .join(".cache/genpack/debian/archives");
    let theirs = user.home.join(".cache/genpack/debian/archives");
    fs::create_dir_all(&theirs).unwrap();
    if let Ok(entries) = fs::read_dir(&ours) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "deb") {
                let _ = fs::copy(&path, theirs.join(entry.file_name()));
            }
        }
    }
    user.chown(&user.home.join(".cache"));
}

/// `unsquashfs -lln` of `image`: path (inside the image) -> (mode text, uid, gid).
fn listing(image: &Path) -> Vec<(String, String, u32, u32)> {
    let out = run(
        Command::new("unsquashfs").arg("-lln").arg(image),
        "unsquashfs",
    );
    text(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let mode = fields.next()?.to_string();
            let (uid, gid) = fields.next()?.split_once('/')?;
            let path = line.split("squashfs-root").nth(1)?;
            let path = path.split(" -> ").next()?;
            let path = if path.is_empty() { "/" } else { path };
            Some((path.to_string(), mode, uid.parse().ok()?, gid.parse().ok()?))
        })
        .collect()
}

fn owner<'a>(list: &'a [(String, String, u32, u32)], path: &str) -> &'a (String, String, u32, u32) {
    list.iter()
        .find(|entry| entry.0 == path)
        .unwrap_or_else(|| panic!("{path} is not in the image"))
}

#[test]
fn an_ordinary_user_builds_debian_with_real_owners_and_boots_it_needs_root_network_qemu() {
    let prefix = tempfile::Builder::new()
        .prefix("genpack-prefix")
        .tempdir()
        .unwrap();
    let genpack = install_genpack(prefix.path());
    // A range far from the ones useradd gives, unique to this run.
    let start = 300_000_000 + (std::process::id() % 1000) * 65536;
    let user = TestUser::create("b", Some(start));
    share_package_cache(&user);

    // The project as the user would have it: made from the template, in the user's home,
    // with a build.d script that gives a file to a user and group of the image.
    let parent = tempfile::tempdir().unwrap();
    run(
        Command::new(env!("CARGO_BIN_EXE_genpack"))
            .args(["new", "owners", "--template", "debian-minimal"])
            .current_dir(parent.path())
            .env(
                "GENPACK_TEMPLATES",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates"),
            ),
        "genpack new",
    );
    let project = user.home.join("owners");
    run(
        Command::new("cp")
            .arg("-a")
            .arg(parent.path().join("owners"))
            .arg(&project),
        "cp",
    );
    let scripts = project.join("files/build.d");
    fs::create_dir_all(&scripts).unwrap();
    fs::write(
        scripts.join("10-owner"),
        "#!/bin/sh\nset -e\nmkdir -p /srv/shared\nchown admin:systemd-journal /srv/shared\n",
    )
    .unwrap();
    fs::set_permissions(scripts.join("10-owner"), fs::Permissions::from_mode(0o755)).unwrap();
    user.chown(&project);

    let out = user.genpack(&genpack, &["build", "--arch", "x86_64"], &project);
    assert!(
        out.status.success(),
        "build as {} failed:\nstdout:\n{}\nstderr:\n{}",
        user.name,
        text(&out.stdout),
        text(&out.stderr)
    );
    let image = project.join("owners-x86_64.squashfs");
    assert_eq!(
        fs::metadata(&image).unwrap().uid(),
        user.uid,
        "the image belongs to the user"
    );

    // Owners as they are on a Debian system, not the builder's ids.
    let list = listing(&image);
    assert!(list.len() > 1000, "{} entries", list.len());
    for path in ["/", "/usr", "/usr/bin/bash", "/etc/passwd"] {
        let (_, _, uid, gid) = owner(&list, path);
        assert_eq!((*uid, *gid), (0, 0), "{path}");
    }
    let group = |name: &str| -> u32 {
        let group_file = run(
            Command::new("unsquashfs")
                .args(["-cat"])
                .arg(&image)
                .arg("/etc/group"),
            "unsquashfs -cat",
        );
        text(&group_file.stdout)
            .lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .and_then(|l| l.split(':').nth(2))
            .and_then(|g| g.parse().ok())
            .unwrap_or_else(|| panic!("no group {name} in the image"))
    };
    let (mode, uid, gid) = {
        let entry = owner(&list, "/etc/shadow");
        (entry.1.clone(), entry.2, entry.3)
    };
    assert_eq!(
        (uid, gid),
        (0, group("shadow")),
        "/etc/shadow is root:shadow ({mode})"
    );
    let journal = group("systemd-journal");
    assert_ne!(journal, 0);
    let (_, _, uid, gid) = owner(&list, "/home/admin");
    assert_eq!(
        (*uid, *gid),
        (1000, 1000),
        "the definition's user owns its home"
    );
    let (_, _, uid, gid) = owner(&list, "/srv/shared");
    assert_eq!(
        (*uid, *gid),
        (1000, journal),
        "build.d's chown to admin:systemd-journal"
    );
    // No id of the builder's world leaked in: every owner is an id of the image's own.
    let stray: Vec<_> = list
        .iter()
        .filter(|(_, _, uid, gid)| *uid >= 65536 || *gid >= 65536)
        .take(5)
        .collect();
    assert!(
        stray.is_empty(),
        "owners outside the image's ids: {stray:?}"
    );

    // The studio builds the same way from a child process of its own binary (the build
    // worker); here the same protocol through the genpack binary, as the same user, rerunning
    // the stages from build.d.
    let mut worker = user
        .command_with(&genpack, &["GENPACK_BUILD_WORKER=1"])
        .current_dir(&project)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = worker.stdin.take().unwrap();
    let request = serde_json::json!({
        "project_dir": project,
        "arch": "x86_64",
        "variant": null,
        "force_lower": false,
        "rerun_from": "build.d",
        "emerge": {},
    });
    writeln!(input, "{request}").unwrap();
    let mut phases = 0;
    let mut result = None;
    for line in BufReader::new(worker.stdout.take().unwrap()).lines() {
        let message: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if message["progress"]["kind"] == "phase" {
            phases += 1;
        }
        if message.get("done").is_some() || message.get("failed").is_some() {
            result = Some(message);
        }
    }
    drop(input);
    assert!(worker.wait().unwrap().success());
    let result = result.expect("the worker reported a result");
    let report = &result["done"];
    assert!(report.is_object(), "the worker's build failed: {result}");
    assert_eq!(phases, 3, "lower, upper and pack were reported");
    let rerun: Vec<&str> = report["upper"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|stage| !stage["rerun"].is_null())
        .map(|stage| stage["stage"].as_str().unwrap())
        .collect();
    assert_eq!(rerun.first(), Some(&"build.d"), "{rerun:?}");
    assert_eq!(report["pack"]["up_to_date"], false);
    let (_, _, uid, gid) = owner(&listing(&image), "/srv/shared").clone();
    assert_eq!(
        (uid, gid),
        (1000, journal),
        "build.d's chown, from the worker"
    );

    // QEMU runs as the user (emulated when /dev/kvm is not the user's to open) to the login.
    let ini = project.join("vm-system.ini");
    fs::write(&ini, "hostname = rootless-vm\n").unwrap();
    user.chown(&ini);
    let name = format!("rootless-{}", std::process::id());
    let vm = StopOnDrop {
        user: &user,
        genpack: &genpack,
        name: name.clone(),
        dir: project.clone(),
    };
    let out = user.genpack(
        &genpack,
        &[
            "vm",
            "run",
            image.to_str().unwrap(),
            "--name",
            &name,
            "--system-ini",
            ini.to_str().unwrap(),
            "-m",
            "1024",
            "--detach",
        ],
        &project,
    );
    assert!(out.status.success(), "vm run: {}", text(&out.stderr));
    let shown = user.genpack(&genpack, &["vm", "show", &name], &project);
    assert!(shown.status.success(), "vm show: {}", text(&shown.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let runtime_dir = PathBuf::from(shown["runtime_dir"].as_str().unwrap());
    let pid = shown["details"]["pid"].as_u64().unwrap();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let qemu_uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    assert_eq!(qemu_uid, user.uid.to_string(), "QEMU runs as the user");
    let console = runtime_dir.join("console.log");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let log = fs::read_to_string(&console).unwrap_or_default();
        if log.contains("rootless-vm login:") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no login prompt on the serial console:\n{log}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    drop(vm);

    // What the build left belongs partly to the subordinate ids: the user cannot delete it
    // directly, `genpack clean` can.
    let work = project.join("work");
    let rm = user
        .command(Path::new("rm"))
        .arg("-rf")
        .arg(work.join("x86_64/upper/home/admin"))
        .output()
        .unwrap();
    assert!(
        !rm.status.success(),
        "the user could remove a root-only folder of the image without the namespace"
    );
    let out = user.genpack(&genpack, &["clean"], &project);
    assert!(out.status.success(), "clean: {}", text(&out.stderr));
    assert!(!work.exists(), "genpack clean left {}", work.display());
    assert!(image.is_file(), "clean keeps the image");
}

/// genpack's Gentoo overlay where a package installs it (`<prefix>/share/genpack/overlay`).
fn install_overlay(prefix: &Path) {
    let share = prefix.join("share/genpack");
    fs::create_dir_all(&share).unwrap();
    run(
        Command::new("cp")
            .arg("-r")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../overlay"))
            .arg(share.join("overlay")),
        "cp overlay",
    );
    run(
        Command::new("chmod").arg("-R").arg("a+rX").arg(prefix),
        "chmod",
    );
}

#[test]
fn an_ordinary_user_builds_gentoo_with_real_emerge_needs_root_network() {
    let gentoo = mirror::Server::start(&mirror::test_gentoo_mirror());
    let prefix = tempfile::Builder::new()
        .prefix("genpack-prefix")
        .tempdir()
        .unwrap();
    let genpack = install_genpack(prefix.path());
    install_overlay(prefix.path());
    let start = 310_000_000 + (std::process::id() % 1000) * 65536;
    let user = TestUser::create("g", Some(start));

    // hello (a C program from the mirror's tree) with the project's package-script that
    // enables its unit, and a package of the project's own overlay that compiles a program and
    // gives a folder to nobody:nogroup (65534, the top of the ids a build needs).
    let project = user.home.join("emerged");
    let script = project.join("overlay/package-scripts/app-misc/hello/50-enable");
    fs::create_dir_all(script.parent().unwrap()).unwrap();
    fs::write(
        &script,
        "#!/bin/sh\nset -eu\nsystemctl enable hello.service\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let ebuild = project.join("overlay/app-misc/owned/owned-1.ebuild");
    fs::create_dir_all(ebuild.parent().unwrap()).unwrap();
    fs::write(
        &ebuild,
        r#"EAPI=8

DESCRIPTION="A program compiled by Portage's user, and a folder given to nobody"
HOMEPAGE="https://example.invalid"
S="${WORKDIR}"
LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64"

src_compile() {
	echo 'int main(void) { return 0; }' > owned.c || die
	${CC:-gcc} ${CFLAGS} ${LDFLAGS} -o owned owned.c || die "the compiler failed"
}

src_install() {
	dobin owned
	keepdir /var/lib/owned
	fowners nobody:nogroup /var/lib/owned
	fperms 0750 /var/lib/owned
}
"#,
    )
    .unwrap();
    fs::write(
        project.join("genpack.json5"),
        r#"{
    name: "emerged",
    packages: ["app-misc/hello", "app-misc/owned"],
    use: { "genpack/base": "-audit -btrfs -cron -logrotate -sshd -strace -tcpdump -vi -wireguard -xfs" },
    license: { "app-misc/hello": "MIT" },
}
"#,
    )
    .unwrap();
    user.chown(&project);

    let url = gentoo.url();
    let out = user.genpack(
        &genpack,
        &["build", "--arch", "x86_64", "--mirror", &url],
        &project,
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "Gentoo build as {} failed:\nstdout:\n{stdout}\nstderr:\n{}",
        user.name,
        text(&out.stderr)
    );
    // emerge compiled the packages, inside the user's namespace.
    let compiled: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Packages: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no package count in:\n{stdout}"));
    assert!(compiled >= 10, "{compiled} packages compiled:\n{stdout}");
    let image = project.join("emerged-x86_64.squashfs");
    assert_eq!(fs::metadata(&image).unwrap().uid(), user.uid);

    let list = listing(&image);
    for path in [
        "/",
        "/usr/bin/hello",
        "/usr/bin/owned",
        "/usr/bin/genpack-init",
    ] {
        let (_, _, uid, gid) = owner(&list, path);
        assert_eq!((*uid, *gid), (0, 0), "{path}");
    }
    let (mode, uid, gid) = {
        let entry = owner(&list, "/var/lib/owned");
        (entry.1.clone(), entry.2, entry.3)
    };
    assert_eq!((uid, gid), (65534, 65534), "fowners nobody:nogroup");
    assert_eq!(mode, "drwxr-x---", "fperms 0750");
    owner(
        &list,
        "/etc/systemd/system/multi-user.target.wants/hello.service",
    );
    let stray: Vec<_> = list
        .iter()
        .filter(|(_, _, uid, gid)| *uid >= 65536 || *gid >= 65536)
        .take(5)
        .collect();
    assert!(
        stray.is_empty(),
        "owners outside the image's ids: {stray:?}"
    );

    // Unchanged: no emerge at all.
    let out = user.genpack(
        &genpack,
        &["build", "--arch", "x86_64", "--mirror", &url],
        &project,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("up to date"),
        "{}",
        text(&out.stdout)
    );

    // The lower holds files of Portage's account (a subordinate id outside): clean removes it.
    let out = user.genpack(&genpack, &["clean"], &project);
    assert!(out.status.success(), "clean: {}", text(&out.stderr));
    assert!(!project.join("work").exists(), "genpack clean left work/");
}

#[test]
fn a_user_without_subordinate_ids_is_told_how_to_get_them_needs_root() {
    let prefix = tempfile::Builder::new()
        .prefix("genpack-prefix")
        .tempdir()
        .unwrap();
    let bin = prefix.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let genpack = bin.join("genpack");
    fs::copy(env!("CARGO_BIN_EXE_genpack"), &genpack).unwrap();
    for dir in [prefix.path(), &bin] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let user = TestUser::create("n", None);
    let parent = tempfile::tempdir().unwrap();
    let out = common::genpack(
        &["new", "plain", "--template", "debian-minimal"],
        parent.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let project = user.home.join("plain");
    run(
        Command::new("cp")
            .arg("-a")
            .arg(parent.path().join("plain"))
            .arg(&project),
        "cp",
    );
    user.chown(&project);

    let out = user.genpack(&genpack, &["build"], &project);
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(
        error.contains(&format!(
            "/etc/subuid has no range of subordinate ids for the user {}",
            user.name
        )),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}",
            user.name
        )),
        "{error}"
    );
    assert!(error.contains("genpack doctor"), "{error}");
    assert!(!project.join("work").exists(), "a refused build made work/");

    // The doctor names the same problem and its fix, and fails.
    let out = user.genpack(&genpack, &["doctor"], &project);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    let line = report
        .lines()
        .find(|l| l.contains("/etc/subuid"))
        .unwrap_or_else(|| panic!("no /etc/subuid check:\n{report}"));
    assert!(line.trim_start().starts_with("missing"), "{report}");
    assert!(
        report.contains(&format!(
            "usermod --add-subuids 100000-165535 {}",
            user.name
        )),
        "{report}"
    );
    let out = user.genpack(&genpack, &["doctor", "--json"], &project);
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let subgid = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "/etc/subgid")
        .unwrap();
    assert_eq!(subgid["status"], "missing");
    assert_eq!(subgid["area"], "build");
}

/// Stops the user's VM when the test ends or fails half-way, so no QEMU outlives it.
struct StopOnDrop<'a> {
    user: &'a TestUser,
    genpack: &'a Path,
    name: String,
    dir: PathBuf,
}

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let out = self
            .user
            .genpack(self.genpack, &["vm", "stop", "-f", &self.name], &self.dir);
        if !std::thread::panicking() {
            assert!(out.status.success(), "vm stop: {}", text(&out.stderr));
        }
    }
}
