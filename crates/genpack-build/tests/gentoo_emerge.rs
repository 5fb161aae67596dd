//! Gentoo images built with real Portage: the local mirror of `scripts/make-test-gentoo` (a
//! stage3 made from Debian packages with Portage from PyPI, a small ebuild tree whose ebuilds
//! compile or install real programs) served over HTTP on 127.0.0.1, and the real emerge
//! pipeline in the lower.
//!
//! `make test` runs the cold build, the unchanged rebuild and the located failures; `make
//! test-gentoo` also runs the ignored ones (USE change, binhost, distcc, QEMU boot), one at a time.
//! Tests named `..._needs_root` run systemd-nspawn and unpack archives with their ownership.

mod mirror;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use genpack_build::binhost::BinhostServer;
use genpack_build::{
    BaseSettings, Binhost, BuildError, BuildOptions, BuildReport, Builder, EmergeOptions, Progress,
    ProgressSink, Unit,
};
use genpack_def::{Arch, Project};
use genpack_image::Image;
use mirror::{Request, Server};

/// USE flags turning off genpack/base's optional tools, which the small tree does not have.
const BASE_USE: &str = "-audit -btrfs -cron -logrotate -sshd -strace -tcpdump -vi -wireguard -xfs";

/// Every test here runs emerge; one at a time keeps them from competing for the two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The mirror served over HTTP and a scratch folder, for the whole test binary.
struct Shared {
    dir: tempfile::TempDir,
    server: Server,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let mirror = mirror::test_gentoo_mirror();
        Shared {
            dir: tempfile::tempdir().unwrap(),
            server: Server::start(&mirror),
        }
    })
}

/// Writes the test project into `dir`: app-misc/hello (a C program, with a systemd unit that
/// the project's own package-script enables) built with `hello_use`.
fn write_project(dir: &Path, hello_use: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("genpack.json5"),
        format!(
            r#"{{
    name: "gentoo-emerge",
    packages: ["app-misc/hello"],
    // Installed in the lower only: slot 1 of a slotted package, and what USE=doc would pull in.
    buildtime_packages: ["sys-libs/hello-data:1", "app-misc/hello-doc"],
    use: {{
        "genpack/base": "{BASE_USE}",
        "app-misc/hello": "{hello_use}",
    }},
    license: {{ "app-misc/hello": "MIT" }},
}}
"#
        ),
    )
    .unwrap();
    let script = dir.join("overlay/package-scripts/app-misc/hello/50-enable");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(
        &script,
        "#!/bin/sh\nset -eu\nsystemctl enable hello.service\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn builder(
    project: &Path,
    cache: &Path,
    emerge: EmergeOptions,
    progress: Option<ProgressSink>,
) -> Builder {
    let project = Project::load(project).unwrap();
    let mut options = BuildOptions {
        arch: Some(Arch::X86_64),
        emerge,
        ..BuildOptions::default()
    };
    if let Some(progress) = progress {
        options.progress = progress;
    }
    let settings = BaseSettings {
        gentoo_mirror: shared().server.url(),
        gentoo_overlay: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../overlay"),
        cache_root: cache.to_path_buf(),
    };
    Builder::with_settings(&project, options, settings).unwrap()
}

fn requests(list: &[Request]) -> Vec<String> {
    list.iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The first (cold) build and an unchanged second one, shared by the tests of this binary.
struct Cold {
    project: PathBuf,
    cache: PathBuf,
    first: BuildReport,
    first_time: Duration,
    first_requests: Vec<String>,
    events: Vec<Progress>,
    second: BuildReport,
    second_requests: Vec<Request>,
    second_lower_log: String,
}

fn cold() -> &'static Cold {
    static COLD: OnceLock<Cold> = OnceLock::new();
    COLD.get_or_init(|| {
        let shared = shared();
        let project = shared.dir.path().join("project");
        let cache = shared.dir.path().join("cache");
        write_project(&project, "-shout");
        shared.server.take_requests();

        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let progress: ProgressSink = Arc::new(move |event| sink.lock().unwrap().push(event));
        let started = Instant::now();
        let first = builder(&project, &cache, EmergeOptions::default(), Some(progress))
            .build()
            .unwrap();
        let first_time = started.elapsed();
        eprintln!("cold Gentoo build: {:.1} s", first_time.as_secs_f64());
        let first_requests = requests(&shared.server.take_requests());

        let second = builder(&project, &cache, EmergeOptions::default(), None)
            .build()
            .unwrap();
        let second_requests = shared.server.take_requests();
        let second_lower_log =
            std::fs::read_to_string(project.join("work/x86_64/logs/lower.log")).unwrap();
        let events = events.lock().unwrap().clone();
        Cold {
            project,
            cache,
            first,
            first_time,
            first_requests,
            events,
            second,
            second_requests,
            second_lower_log,
        }
    })
}

fn names(image: &Image) -> Vec<String> {
    image
        .metadata()
        .unwrap()
        .packages
        .iter()
        .map(|p| p.name.clone())
        .collect()
}

/// Runs the image's (static) hello program on this machine and returns what it printed.
fn run_hello(image: &Image) -> String {
    let dir = tempfile::tempdir().unwrap();
    let hello = dir.path().join("hello");
    std::fs::write(&hello, image.read("/usr/bin/hello").unwrap()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hello, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(&hello).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn real_emerge_builds_a_gentoo_image_needs_root_network() {
    let _serial = serial();
    let cold = cold();
    let first = &cold.first;
    assert!(first.lower.rebuilt);
    assert_eq!(first.lower.reasons, ["this is its first build"]);
    // Everything was compiled: nothing was in the binary package cache.
    assert!(
        first.lower.compiled_packages >= 10,
        "{} compiled",
        first.lower.compiled_packages
    );
    assert_eq!(first.lower.binary_packages, 0);

    // Downloads: each file checked with HEAD, then fetched; the stage3 path comes from the
    // clear-signed list. Portage fetched the source archives from the mirror's distfiles/.
    let stage3 = format!(
        "/gentoo/releases/amd64/autobuilds/{0}/stage3-amd64-systemd-{0}.tar.xz",
        mirror::BUILD_STAMP
    );
    let list = "/gentoo/releases/amd64/autobuilds/latest-stage3-amd64-systemd.txt";
    assert_eq!(
        cold.first_requests[..8],
        [
            format!("HEAD {list}"),
            format!("GET {list}"),
            format!("HEAD {stage3}.DIGESTS"),
            format!("GET {stage3}.DIGESTS"),
            format!("HEAD {stage3}"),
            format!("GET {stage3}"),
            "HEAD /gentoo/snapshots/portage-latest.tar.xz".to_string(),
            "GET /gentoo/snapshots/portage-latest.tar.xz".to_string(),
        ]
    );
    for distfile in ["hello-1.0.tar.gz", "genpack-buildtool-1.0.tar.gz"] {
        assert!(
            cold.first_requests
                .iter()
                .any(|r| r == &format!("GET /gentoo/distfiles/{distfile}")),
            "{distfile} not fetched: {:?}",
            cold.first_requests
        );
    }

    // Progress: one step per command of the pipeline, packages counted from emerge's output.
    let steps: Vec<&str> = cold
        .events
        .iter()
        .filter_map(|e| match e {
            Progress::Step { name, .. } if name.starts_with("emerge-") => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            "emerge-genpack-progs",
            "emerge-break-circular-deps",
            "emerge-world",
            "emerge-module-rebuild",
            "emerge-preserved-rebuild",
            "emerge-unmerge-masked",
            "emerge-depclean",
            "emerge-etc-update",
            "emerge-eclean-dist",
            "emerge-eclean-pkg"
        ]
    );
    let package_totals: Vec<u64> = cold
        .events
        .iter()
        .filter_map(|e| match e {
            Progress::Amount {
                unit: Unit::Packages,
                done,
                total: Some(total),
                ..
            } if done == total => Some(*total),
            _ => None,
        })
        .collect();
    assert!(
        package_totals.iter().any(|total| *total >= 10),
        "no finished merge list of the world step: {package_totals:?}"
    );

    // The lower: every package merged by emerge, each also kept as a GPKG binary package in
    // the shared per-architecture cache, with the index a binhost serves.
    let lower = cold.project.join("work/x86_64/lower");
    for installed in [
        "app-misc/hello-1.0",
        "app-misc/hello-doc-1.0",
        "dev-util/genpack-buildtool-1.0",
        "sys-libs/hello-data-1.0",
        "sys-libs/hello-data-2.0",
        "sys-apps/genpack-init-9999",
        "genpack/genpack-progs-1",
    ] {
        assert!(
            lower
                .join("var/db/pkg")
                .join(installed)
                .join("CONTENTS")
                .is_file(),
            "{installed} is not installed in the lower"
        );
    }
    let binpkgs = cold.cache.join("gentoo/x86_64/binpkgs");
    let index = std::fs::read_to_string(binpkgs.join("Packages")).unwrap();
    assert!(index.contains("CPV: app-misc/hello-1.0"), "{index}");
    let gpkg = std::fs::read_dir(binpkgs.join("app-misc/hello"))
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().ends_with(".gpkg.tar"));
    assert!(gpkg, "no GPKG binary package of app-misc/hello");
    let history = std::fs::read_to_string(cold.cache.join("gentoo/x86_64/emerge.log")).unwrap();
    assert!(
        genpack_portage::history::MergeHistory::parse(&history)
            .typical("app-misc/hello")
            .is_some(),
        "no merge time of app-misc/hello kept for the next ETA"
    );

    // The image: the runtime closure read from the real /var/db/pkg.
    let image = Image::open(&first.pack.output).unwrap();
    let names = names(&image);
    for expected in [
        "app-misc/hello",
        "genpack/base",
        "sys-apps/genpack-init",
        "sys-apps/busybox",
        "sys-apps/systemd",
        "virtual/dist-kernel",
        "sys-kernel/gentoo-kernel-bin",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    // Build helpers (genpack-ignore), build-only dependencies, the other slot and what an
    // unset USE flag would pull in stay out.
    for left_out in [
        "genpack/genpack-progs",
        "dev-util/genpack-buildtool",
        "app-misc/hello-doc",
    ] {
        assert!(
            !names.iter().any(|n| n == left_out),
            "{left_out} in {names:?}"
        );
    }
    assert_eq!(run_hello(&image), "hello from a real emerge");
    assert!(image.entry("/usr/share/hello-data-2/greeting").is_some());
    assert!(image.entry("/usr/share/hello-data-1/greeting").is_none());
    assert!(image.entry("/usr/bin/genpack-greeting").is_none());
    assert!(image
        .entry("/usr/bin/genpack-unmerge-masked-packages")
        .is_none());
    assert!(image.entry("/usr/bin/emerge").is_none());
    assert!(image.entry("/usr/share/hello/README").is_none());
    assert!(image.entry("/usr/bin/genpack-init").is_some());
    // Package-scripts: the project's enabled hello.service, genpack's (sys-apps/systemd)
    // enabled networkd, and the kernel links.
    let wants = "/etc/systemd/system/multi-user.target.wants";
    for unit in ["hello.service", "systemd-networkd.service"] {
        assert!(
            image.entry(&format!("{wants}/{unit}")).is_some(),
            "{unit} is not enabled in the image"
        );
    }
    assert!(image.entry("/var/tmp/genpack-package-scripts").is_none());
    let upper_log =
        std::fs::read_to_string(cold.project.join("work/x86_64/logs/package-scripts.log")).unwrap();
    let app = upper_log.find("running app-misc/hello/50-enable").unwrap();
    let systemd = upper_log
        .find("running sys-apps/systemd/50-network-services")
        .unwrap();
    assert!(
        app < systemd,
        "package-scripts ran out of order:\n{upper_log}"
    );
    let kernel = std::fs::read_dir("/boot")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("vmlinuz-"))
        .max()
        .unwrap();
    assert_eq!(
        image.kernel().unwrap(),
        std::fs::read(Path::new("/boot").join(&kernel)).unwrap()
    );
    assert!(image.initramfs().is_ok());

    // An unchanged definition: no emerge at all, the downloads only checked.
    assert!(!cold.second.lower.rebuilt);
    assert!(!cold.second_requests.is_empty());
    assert!(
        cold.second_requests.iter().all(|r| r.method == "HEAD"),
        "{:?}",
        requests(&cold.second_requests)
    );
    assert!(
        cold.second_lower_log.contains("base layer is up to date"),
        "{}",
        cold.second_lower_log
    );
}

/// A project whose only package is `packages`, with an overlay ebuild that fails to compile.
fn write_failing_project(dir: &Path, packages: &str) {
    std::fs::create_dir_all(dir.join("overlay/app-misc/broken")).unwrap();
    std::fs::write(
        dir.join("genpack.json5"),
        format!(
            "{{ name: \"broken\", packages: [{packages}], use: {{ \"genpack/base\": \"{BASE_USE}\" }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("overlay/app-misc/broken/broken-1.ebuild"),
        r#"EAPI=8

DESCRIPTION="A package whose compiler fails"
HOMEPAGE="https://example.invalid"
S="${WORKDIR}"
LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64"

src_compile() {
	echo "broken.c:1:10: error: expected ';' before '}' token"
	die "the compiler failed"
}
"#,
    )
    .unwrap();
}

#[test]
fn emerge_failures_are_located_needs_root_network() {
    let _serial = serial();
    let cold = cold();

    // A package that fails to compile: named with its phase, the end of its build log and
    // where the whole log is kept.
    let project = shared().dir.path().join("broken");
    write_failing_project(&project, "\"app-misc/broken\"");
    let err = builder(&project, &cold.cache, EmergeOptions::default(), None)
        .lower()
        .unwrap_err();
    match &err {
        BuildError::PackageFailed {
            package,
            phase,
            log,
            tail,
        } => {
            assert_eq!(package, "app-misc/broken-1");
            assert_eq!(phase, "compile");
            assert!(tail.contains("error: expected ';'"), "{tail}");
            assert!(tail.contains("the compiler failed"), "{tail}");
            assert!(
                std::fs::read_to_string(log)
                    .unwrap()
                    .contains(">>> Compiling source"),
                "{}",
                log.display()
            );
        }
        other => panic!("expected a located package failure, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("app-misc/broken-1 in phase compile"),
        "{message}"
    );
    // The failed lower is not kept, nor stamped.
    assert!(!project.join("work/x86_64/lower.stamp").exists());

    // An atom the tree does not have: Portage's own explanation, no Python backtrace.
    let project = shared().dir.path().join("unknown");
    write_failing_project(&project, "\"app-misc/no-such-package\"");
    let err = builder(&project, &cold.cache, EmergeOptions::default(), None)
        .lower()
        .unwrap_err()
        .to_string();
    assert!(err.contains("emerge-world"), "{err}");
    assert!(
        err.contains("there are no ebuilds to satisfy \"app-misc/no-such-package\""),
        "{err}"
    );
    assert!(!err.contains("Traceback"), "{err}");

    // USE flags the package does not allow together: Portage's REQUIRED_USE explanation.
    let project = shared().dir.path().join("conflict");
    std::fs::create_dir_all(project.join("overlay/app-misc/picky")).unwrap();
    std::fs::write(
        project.join("genpack.json5"),
        format!(
            "{{ name: \"conflict\", packages: [\"app-misc/picky\"], use: {{ \"genpack/base\": \"{BASE_USE}\", \"app-misc/picky\": \"gtk qt\" }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        project.join("overlay/app-misc/picky/picky-1.ebuild"),
        r#"EAPI=8

DESCRIPTION="A package that takes one toolkit, not both"
HOMEPAGE="https://example.invalid"
S="${WORKDIR}"
LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64"
IUSE="gtk qt"
REQUIRED_USE="^^ ( gtk qt )"

src_install() {
	dodir /usr/share/picky
}
"#,
    )
    .unwrap();
    let err = builder(&project, &cold.cache, EmergeOptions::default(), None)
        .lower()
        .unwrap_err()
        .to_string();
    assert!(err.contains("app-misc/picky"), "{err}");
    assert!(
        err.contains("REQUIRED_USE flag constraints are unsatisfied"),
        "{err}"
    );
    assert!(err.contains("exactly-one-of ( gtk qt )"), "{err}");
    assert!(!err.contains("Traceback"), "{err}");
}

#[test]
#[ignore = "slow (several emerge runs and a QEMU boot): make test-gentoo"]
fn use_change_binhost_and_boot_needs_root_network_qemu() {
    let _serial = serial();
    let cold = cold();

    // One USE flag changed: only that package is compiled, the rest come from binary packages.
    write_project(&cold.project, "shout");
    let started = Instant::now();
    let rebuilt = builder(&cold.project, &cold.cache, EmergeOptions::default(), None)
        .build()
        .unwrap();
    let use_change_time = started.elapsed();
    assert!(rebuilt.lower.rebuilt);
    let log = std::fs::read_to_string(cold.project.join("work/x86_64/logs/lower.log")).unwrap();
    let compiled: Vec<&str> = log
        .lines()
        .filter_map(|line| line.split_once("compiled: ").map(|(_, cpv)| cpv))
        .collect();
    assert_eq!(compiled, ["app-misc/hello-1.0"], "{log}");
    assert!(rebuilt.lower.binary_packages >= 10, "{log}");
    let image = Image::open(&rebuilt.pack.output).unwrap();
    assert_eq!(run_hello(&image), "hello from a real emerge!");

    // The image made through real emerge boots (TCG) and applies system.ini's hostname.
    boot(&rebuilt.pack.output, "realemerge");

    // A second builder with an empty cache takes every package from the first one's cache,
    // served over HTTP and named by its definition's `binhost` key: nothing is compiled.
    let served = BinhostServer::start(
        &cold.cache.join("gentoo/x86_64/binpkgs"),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let other = shared().dir.path().join("other-builder");
    write_project(&other, "shout");
    let definition = other.join("genpack.json5");
    let text = std::fs::read_to_string(&definition).unwrap().replacen(
        "name: \"gentoo-emerge\",",
        &format!(
            "name: \"gentoo-emerge\",\n    binhost: \"{}\",",
            served.url()
        ),
        1,
    );
    std::fs::write(&definition, text).unwrap();
    let empty_cache = shared().dir.path().join("other-cache");
    let started = Instant::now();
    let from_binhost = builder(&other, &empty_cache, EmergeOptions::default(), None)
        .build()
        .unwrap();
    let binhost_time = started.elapsed();
    assert_eq!(from_binhost.lower.compiled_packages, 0);
    assert!(from_binhost.lower.downloaded_packages >= 10);
    assert!(served.requests_served() >= 10);
    let conf = std::fs::read_to_string(
        other.join("work/x86_64/lower/etc/portage/binrepos.conf/genpack-binhost.conf"),
    )
    .unwrap();
    assert!(
        conf.contains(&format!("sync-uri = {}", served.url())),
        "{conf}"
    );
    let image = Image::open(&from_binhost.pack.output).unwrap();
    assert_eq!(run_hello(&image), "hello from a real emerge!");

    let ratio = |t: Duration| t.as_secs_f64() / cold.first_time.as_secs_f64();
    eprintln!(
        "Gentoo build times: cold {:.1} s; after one USE change {:.1} s ({:.2}x); from a binhost with an empty cache {:.1} s ({:.2}x)",
        cold.first_time.as_secs_f64(),
        use_change_time.as_secs_f64(),
        ratio(use_change_time),
        binhost_time.as_secs_f64(),
        ratio(binhost_time)
    );
}

#[test]
#[ignore = "slow (an emerge run with two distcc servers): make test-gentoo"]
fn distcc_servers_take_the_compile_jobs_needs_root_network() {
    let _serial = serial();
    let cold = cold();
    let dir = shared().dir.path().join("distcc");
    std::fs::create_dir_all(&dir).unwrap();
    // Two distcc servers on this machine, each logging the jobs it ran.
    let mut servers = Vec::new();
    let mut hosts = Vec::new();
    for index in 0..2 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join(format!("distccd-{index}.log"));
        let child = std::process::Command::new("distccd")
            .args([
                "--daemon",
                "--no-detach",
                "--log-stderr",
                "--log-level",
                "info",
            ])
            .args([
                "--listen",
                "127.0.0.1",
                "--allow",
                "127.0.0.1",
                "--jobs",
                "2",
            ])
            .args(["--port", &port.to_string()])
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("distccd must be installed (apt-get install distcc)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "distccd did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        servers.push(child);
        hosts.push(format!("127.0.0.1:{port}/2"));
    }

    // A USE combination not built before: app-misc/hello is compiled, by the servers.
    let project = shared().dir.path().join("distcc-project");
    write_project(&project, "doc");
    let emerge = EmergeOptions {
        jobs: Some(2),
        distcc_hosts: hosts,
        ..EmergeOptions::default()
    };
    let report = builder(&project, &cold.cache, emerge, None).lower();
    for mut server in servers {
        let _ = server.kill();
        let _ = server.wait();
    }
    let report = report.unwrap();
    assert_eq!(report.compiled_packages, 1);
    let jobs: Vec<String> = (0..2)
        .map(|index| std::fs::read_to_string(dir.join(format!("distccd-{index}.log"))).unwrap())
        .collect();
    let compiled: usize = jobs
        .iter()
        .map(|log| log.lines().filter(|l| l.contains("COMPILE_OK")).count())
        .sum();
    assert!(
        compiled >= 1,
        "no compile job reached the distcc servers:\n{}",
        jobs.join("\n---\n")
    );
    assert!(
        jobs.iter().any(|log| log.contains("hello.c")),
        "{}",
        jobs.join("\n---\n")
    );
    eprintln!("distcc servers ran {compiled} compile jobs");
}

/// Runs gpg with `home` as its home, returning stdout.
fn gpg(home: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args(["--batch", "--no-tty"])
        .args(args)
        .output()
        .expect("gpg must be installed (apt-get install gnupg)");
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A new signing key in its own GnuPG home: (home, fingerprint, exported public key file).
fn signing_key(dir: &Path, name: &str) -> (PathBuf, String, PathBuf) {
    let home = dir.join(format!("{name}-gnupg"));
    std::fs::create_dir_all(&home).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    gpg(
        &home,
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            &format!("{name} <{name}@genpack.invalid>"),
            "ed25519",
            "sign",
            "never",
        ],
    );
    let fingerprint = gpg(&home, &["--with-colons", "--fingerprint"])
        .lines()
        .find_map(|line| line.strip_prefix("fpr:"))
        .and_then(|rest| rest.split(':').find(|field| field.len() >= 40))
        .unwrap()
        .to_string();
    let public = dir.join(format!("{name}.asc"));
    std::fs::write(&public, gpg(&home, &["--armor", "--export", &fingerprint])).unwrap();
    (home, fingerprint, public)
}

#[test]
#[ignore = "slow (three emerge runs): make test-gentoo"]
fn signed_binhost_packages_are_checked_needs_root_network() {
    let _serial = serial();
    cold();
    let dir = shared().dir.path().join("signed");
    std::fs::create_dir_all(&dir).unwrap();
    let (home, fingerprint, public) = signing_key(&dir, "binhost");
    let (_, _, stranger) = signing_key(&dir, "stranger");

    // The builder signs every binary package it makes.
    let cache = dir.join("builder-cache");
    let project = dir.join("builder");
    write_project(&project, "-shout");
    let signing = EmergeOptions {
        sign_binpkgs: Some(genpack_build::SigningKey {
            gnupg_home: home.clone(),
            key: fingerprint.clone(),
        }),
        ..EmergeOptions::default()
    };
    let built = builder(&project, &cache, signing, None).lower().unwrap();
    assert!(built.compiled_packages >= 10);
    let hello = std::fs::read_dir(cache.join("gentoo/x86_64/binpkgs/app-misc/hello"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".gpkg.tar"))
        .unwrap();
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&hello)
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    assert!(
        listing.lines().any(|l| l.ends_with(".sig")),
        "unsigned: {listing}"
    );
    let served = BinhostServer::start(
        &cache.join("gentoo/x86_64/binpkgs"),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();

    // A builder that trusts the key takes every package, checked.
    let trusting = EmergeOptions {
        binhost: Some(Binhost {
            url: served.url(),
            verify_signature: true,
        }),
        binhost_keys: vec![public.clone()],
        ..EmergeOptions::default()
    };
    let other = dir.join("trusting");
    write_project(&other, "-shout");
    let report = builder(&other, &dir.join("trusting-cache"), trusting, None)
        .lower()
        .unwrap();
    assert_eq!(report.compiled_packages, 0);
    assert!(report.downloaded_packages >= 10);

    // A builder that trusts another key does not install them.
    let wary = EmergeOptions {
        binhost: Some(Binhost {
            url: served.url(),
            verify_signature: true,
        }),
        binhost_keys: vec![stranger],
        ..EmergeOptions::default()
    };
    let third = dir.join("wary");
    write_project(&third, "-shout");
    match builder(&third, &dir.join("wary-cache"), wary, None).lower() {
        Ok(report) => assert_eq!(
            report.downloaded_packages, 0,
            "packages signed by an untrusted key were installed"
        ),
        Err(error) => eprintln!("a builder trusting another key refused the packages: {error}"),
    }
}

/// Boots `image` with QEMU's direct kernel boot and a system.ini naming the machine `host`,
/// until busybox's getty greets with `<host> login:`.
fn boot(image: &Path, host: &str) {
    let opened = Image::open(image).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("kernel");
    let initramfs = dir.path().join("initramfs");
    std::fs::write(&kernel, opened.kernel().unwrap()).unwrap();
    std::fs::write(&initramfs, opened.initramfs().unwrap()).unwrap();
    let ini = dir.path().join("system.ini");
    std::fs::write(&ini, format!("hostname = {host}\n")).unwrap();
    let mut child = std::process::Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg",
            "-m",
            "1024",
            "-nographic",
            "-no-reboot",
            "-nodefaults",
        ])
        .args(["-serial", "stdio", "-kernel"])
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initramfs)
        .args([
            "-append",
            "console=ttyS0,115200 root=block: panic=-1",
            "-drive",
        ])
        .arg(format!(
            "file={},format=raw,if=virtio,readonly=on",
            image.display()
        ))
        .arg("-fw_cfg")
        .arg(format!(
            "name=opt/genpack/system.ini,file={}",
            ini.display()
        ))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("qemu-system-x86_64 must be installed");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let wanted = format!("{host} login:");
    let started = Instant::now();
    let mut console = String::new();
    while started.elapsed() < Duration::from_secs(600) && !console.contains(&wanted) {
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(500)) {
            console.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let tail: Vec<&str> = console.lines().rev().take(40).collect();
    assert!(
        console.contains(&wanted),
        "no '{wanted}' after {:?}:\n{}",
        started.elapsed(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    eprintln!(
        "real-emerge image booted to its login prompt in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
