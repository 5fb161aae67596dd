//! The Gentoo base against a local stand-in mirror (see `standin/`): downloads with freshness
//! checks and resume, digest verification, the Portage files and the emerge pipeline in the
//! lower, the binary package cache, and rebuild decisions.
//!
//! Tests named `..._needs_root` run systemd-nspawn (or bubblewrap) and unpack archives with
//! their ownership, so they need root.

mod standin;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use genpack_build::download::{Downloader, Fetched};
use genpack_build::progress::discard;
use genpack_build::{
    BaseSettings, BuildError, BuildOptions, Builder, CancelToken, Phase, Progress, ProgressSink,
    Unit,
};
use genpack_def::{Arch, Project};
use standin::{Request, Server, CALLS_LOG};

/// A stand-in mirror served over HTTP, a project and a private cache.
struct Setup {
    _dir: tempfile::TempDir,
    mirror: PathBuf,
    scratch: PathBuf,
    project: PathBuf,
    cache: PathBuf,
    server: Server,
}

impl Setup {
    fn new(kernel: Option<&standin::KernelFixture>) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mirror = dir.path().join("mirror");
        let scratch = dir.path().join("scratch");
        let project = dir.path().join("project");
        let cache = dir.path().join("cache");
        standin::build_mirror(&mirror, &scratch, kernel);
        standin::write_project(&project);
        let server = Server::start(&mirror);
        Setup {
            _dir: dir,
            mirror,
            scratch,
            project,
            cache,
            server,
        }
    }

    fn builder(&self, arch: Arch) -> Builder {
        self.builder_reporting(arch, discard())
    }

    fn builder_reporting(&self, arch: Arch, progress: ProgressSink) -> Builder {
        let project = Project::load(&self.project).unwrap();
        let options = BuildOptions {
            arch: Some(arch),
            progress,
            ..BuildOptions::default()
        };
        let settings = BaseSettings {
            gentoo_mirror: self.server.url(),
            gentoo_overlay: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../overlay"),
            cache_root: self.cache.clone(),
        };
        Builder::with_settings(&project, options, settings).unwrap()
    }
}

fn requests(list: &[Request]) -> Vec<String> {
    list.iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn calls(lower: &Path) -> Vec<String> {
    std::fs::read_to_string(lower.join(CALLS_LOG))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

const EMERGE: &str = "emerge FEATURES= -bk --binpkg-respect-use=y";

#[test]
fn gentoo_lower_against_local_standin_mirror_needs_root() {
    let setup = Setup::new(None);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let progress: ProgressSink = Arc::new(move |event| sink.lock().unwrap().push(event));
    let builder = setup.builder_reporting(Arch::X86_64, progress);
    let report = builder.lower().unwrap();
    assert!(report.rebuilt);
    assert_eq!(report.reasons, vec!["there is no lower layer yet"]);

    // Progress: downloads in bytes, one step per emerge command, packages counted from
    // emerge's own output.
    let events = events.lock().unwrap().clone();
    let steps: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Progress::Step { name, .. } => Some(name.as_str()),
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
    let amount = |unit: Unit, done: u64, total: u64| {
        events.iter().any(|e| {
            matches!(e, Progress::Amount { unit: u, done: d, total: Some(t), .. }
                if *u == unit && *d == done && *t == total)
        })
    };
    assert!(amount(Unit::Packages, 5, 5), "world merged 5 packages");
    let snapshot_size = std::fs::metadata(setup.mirror.join("snapshots/portage-latest.tar.xz"))
        .unwrap()
        .len();
    assert!(amount(Unit::Bytes, snapshot_size, snapshot_size));

    // Every file is checked with HEAD, then fetched; the stage3 path comes from the list.
    let stage3 = format!(
        "/gentoo/releases/amd64/autobuilds/{}/stage3-amd64-systemd-{}.tar.xz",
        standin::BUILD_STAMP,
        standin::BUILD_STAMP
    );
    let list = "/gentoo/releases/amd64/autobuilds/latest-stage3-amd64-systemd.txt";
    assert_eq!(
        requests(&setup.server.take_requests()),
        vec![
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

    // The pipeline ran in order inside the lower.
    let lower = builder.work_dir().lower();
    assert_eq!(
        calls(&lower),
        vec![
            "eselect FEATURES= profile set genpack-overlay:genpack/amd64/paravirt".to_string(),
            "ebuild FEATURES= /var/db/repos/genpack-local-overlay/app-misc/local/local-1.ebuild manifest".into(),
            format!("{EMERGE} --oneshot --update --nodeps genpack/genpack-progs"),
            format!("{EMERGE} -uDN --keep-going @world @genpack-runtime @genpack-buildtime"),
            format!("{EMERGE} @preserved-rebuild"),
            "genpack-unmerge-masked-packages FEATURES= -- emerge -bk --binpkg-respect-use=y -uDN --with-bdeps=y --keep-going @world".to_string(),
            format!("{EMERGE} --depclean"),
            "etc-update FEATURES= --automode -5".into(),
            "eclean-dist FEATURES= -d".into(),
            "eclean-pkg FEATURES= ".into(),
        ]
    );

    // The Portage configuration of the definition.
    let read = |path: &str| std::fs::read_to_string(lower.join(path)).unwrap();
    let entries = |path: &str| -> Vec<String> {
        read(path)
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        entries("etc/portage/sets/genpack-runtime"),
        ["app-misc/hello"]
    );
    assert_eq!(
        entries("etc/portage/sets/genpack-buildtime"),
        ["dev-util/buildtool"]
    );
    assert_eq!(
        entries("etc/portage/package.use/genpack"),
        ["app-misc/hello -doc static"]
    );
    assert_eq!(
        entries("etc/portage/package.accept_keywords/genpack"),
        ["app-misc/hello"]
    );
    assert_eq!(
        entries("etc/portage/package.license/genpack"),
        ["app-misc/hello MIT"]
    );
    assert_eq!(
        entries("etc/portage/package.mask/genpack"),
        [">=app-misc/hello-2"]
    );
    assert!(read("etc/portage/repos.conf/genpack-overlay.conf")
        .contains("location = /var/db/repos/genpack-overlay"));
    assert!(read("etc/portage/repos.conf/genpack-local-overlay.conf")
        .contains("location = /var/db/repos/genpack-local-overlay"));
    assert_eq!(
        read("var/db/repos/genpack-local-overlay/metadata/layout.conf"),
        "masters = gentoo\n"
    );
    assert_eq!(
        read("var/db/repos/genpack-local-overlay/profiles/repo_name"),
        "genpack-local-overlay\n"
    );
    assert!(lower
        .join("var/db/repos/genpack-local-overlay/app-misc/local/local-1.ebuild")
        .is_file());
    assert!(lower
        .join("etc/portage/patches/app-misc/hello/fix.patch")
        .is_file());
    assert_eq!(
        read("var/db/repos/genpack-overlay/profiles/repo_name"),
        "genpack-overlay\n"
    );
    assert_eq!(
        read("var/db/repos/gentoo/metadata/timestamp.chk"),
        "initial\n"
    );
    assert!(lower.join("var/db/pkg/app-misc/hello-1/CONTENTS").is_file());
    assert!(lower.join("usr/bin/hello").is_file());

    // Binary packages went to the shared per-architecture cache, not into the lower.
    let packages =
        std::fs::read_to_string(setup.cache.join("gentoo/x86_64/binpkgs/Packages")).unwrap();
    assert!(
        packages.lines().any(|l| l == "app-misc/hello-1"),
        "{packages}"
    );
    assert!(!lower.join("var/cache/binpkgs/Packages").exists());
    // The merge times are kept per architecture for the next build's ETA.
    let merge_log = std::fs::read_to_string(setup.cache.join("gentoo/x86_64/emerge.log")).unwrap();
    let history = genpack_portage::history::MergeHistory::parse(&merge_log);
    assert!(
        history.typical("app-misc/hello-1").is_some(),
        "no merge time for app-misc/hello:\n{merge_log}"
    );
    // Source archives are shared too, writable by the lower's portage account.
    let distfiles = std::fs::metadata(setup.cache.join("gentoo/archives")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((distfiles.uid(), distfiles.gid()), (250, 250));

    // Second build: only HEAD requests, no emerge.
    let calls_before = calls(&lower);
    let report = setup.builder(Arch::X86_64).lower().unwrap();
    assert!(!report.rebuilt);
    let second = setup.server.take_requests();
    assert!(!second.is_empty());
    assert!(
        second.iter().all(|r| r.method == "HEAD"),
        "{:?}",
        requests(&second)
    );
    assert_eq!(calls(&lower), calls_before);
    let log = std::fs::read_to_string(builder.work_dir().logs().join("lower.log")).unwrap();
    assert!(
        log.contains("latest-stage3-amd64-systemd.txt: cached copy is current"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "stage3-amd64-systemd-{0}.tar.xz: SHA512 matches stage3-amd64-systemd-{0}.tar.xz.DIGESTS",
            standin::BUILD_STAMP
        )),
        "{log}"
    );
    assert!(log.contains("lower layer is up to date"), "{log}");

    // A new snapshot on the mirror: downloaded again (alone) and the log says why.
    standin::write_snapshot(&setup.mirror, &setup.scratch, "updated snapshot");
    let report = setup.builder(Arch::X86_64).lower().unwrap();
    assert!(report.rebuilt);
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.contains("portage-snapshot=")),
        "{:?}",
        report.reasons
    );
    let third = requests(&setup.server.take_requests());
    let gets: Vec<&String> = third.iter().filter(|r| r.starts_with("GET")).collect();
    assert_eq!(gets, ["GET /gentoo/snapshots/portage-latest.tar.xz"]);
    assert_eq!(
        read("var/db/repos/gentoo/metadata/timestamp.chk"),
        "updated snapshot\n"
    );
    let log = std::fs::read_to_string(builder.work_dir().logs().join("lower.log")).unwrap();
    assert!(
        log.contains("rebuilding the lower layer: base changed"),
        "{log}"
    );
}

#[test]
fn gentoo_aarch64_lower_against_local_standin_mirror_needs_root() {
    let setup = Setup::new(None);
    let handler = genpack_portage::binfmt::require_handler(
        Path::new(genpack_portage::binfmt::BINFMT_MISC_DIR),
        genpack_portage::Arch::Aarch64,
    );
    let result = setup.builder(Arch::Aarch64).lower();
    match handler {
        Err(_) => {
            let err = result.unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("binfmt_misc") && message.contains("aarch64"),
                "{message}"
            );
            assert!(message.contains("qemu-user"), "{message}");
            // Nothing is downloaded for a build that cannot run.
            assert!(setup.server.take_requests().is_empty());
        }
        Ok(_) => {
            result.unwrap();
            let requested = requests(&setup.server.take_requests());
            assert!(requested
                .iter()
                .any(|r| r
                    == "GET /gentoo/releases/arm64/autobuilds/latest-stage3-arm64-systemd.txt"));
            let lower = setup.builder(Arch::Aarch64).work_dir().lower();
            let calls = calls(&lower);
            assert_eq!(
                calls[0],
                "eselect FEATURES=-pid-sandbox profile set genpack-overlay:genpack/arm64/paravirt"
            );
            assert!(calls.iter().any(|c| c.starts_with(
                "emerge FEATURES=-pid-sandbox -bk --binpkg-respect-use=y -uDN --keep-going @world"
            )));
        }
    }
}

#[test]
fn corrupt_stage3_from_standin_mirror_is_rejected_by_its_digest() {
    let setup = Setup::new(None);
    let archive = setup.mirror.join(standin::stage3_path("amd64", "amd64"));
    let published = "f".repeat(128);
    standin::write_digests_with(&archive, &published);
    let err = setup.builder(Arch::X86_64).lower().unwrap_err();
    assert!(matches!(err, BuildError::Portage(_)), "{err:?}");
    let message = err.to_string();
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    assert!(message.contains(&name), "{message}");
    assert!(message.contains(&published), "{message}");
    assert!(!setup.project.join("work/x86_64/lower").exists());
}

#[test]
fn download_from_standin_mirror_resumes_after_a_dropped_connection() {
    let setup = Setup::new(None);
    let relative = standin::stage3_path("amd64", "amd64");
    let original = std::fs::read(setup.mirror.join(&relative)).unwrap();
    setup
        .server
        .drop_once
        .lock()
        .unwrap()
        .push(relative.clone());
    let dest = setup.cache.join("stage3.tar.xz");
    let downloader = Downloader::new(discard(), CancelToken::new(), Phase::Lower);
    let url = format!("{}{relative}", setup.server.url());
    let fetched = downloader.fetch(&url, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), original);
    let half = original.len() / 2;
    assert_eq!(
        fetched,
        Fetched::Downloaded {
            bytes: original.len() as u64
        }
    );
    let gets: Vec<Request> = setup
        .server
        .take_requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[0].range, None);
    assert_eq!(gets[1].range, Some(format!("bytes={half}-")));
    // Fetching again transfers nothing.
    assert_eq!(downloader.fetch(&url, &dest).unwrap(), Fetched::Current);

    // With the mirror gone the complete cached copy still serves; a file never downloaded fails.
    let Setup { server, cache, .. } = setup;
    let missing = format!("{}snapshots/portage-latest.tar.xz", server.url());
    drop(server);
    assert!(matches!(
        downloader.fetch(&url, &dest).unwrap(),
        Fetched::Offline { .. }
    ));
    assert_eq!(std::fs::read(&dest).unwrap(), original);
    let err = downloader
        .fetch(&missing, &cache.join("portage-latest.tar.xz"))
        .unwrap_err();
    assert!(err.to_string().contains(&missing), "{err}");
}

#[test]
fn gentoo_full_build_against_local_standin_mirror_needs_root() {
    let kernel = standin::KernelFixture::host()
        .expect("the running kernel's image in /boot (apt-get install linux-image-amd64)");
    let setup = Setup::new(Some(&kernel));
    let report = setup.builder(Arch::X86_64).build().unwrap();
    assert!(report.lower.rebuilt);
    assert!(report.pack.bytes > 0);
    let image = genpack_image::Image::open(&report.pack.output).unwrap();

    let meta = image.metadata().unwrap();
    assert_eq!(meta.artifact, "standin");
    let names: Vec<&str> = meta.packages.iter().map(|p| p.name.as_str()).collect();
    for expected in [
        "app-misc/hello",
        "genpack/base",
        "genpack/paravirt",
        "sys-apps/busybox",
        "sys-kernel/standin-kernel",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // Build helpers (genpack-ignore) and build-time packages stay out of the image.
    assert!(!names.contains(&"genpack/genpack-progs"), "{names:?}");
    assert!(!names.contains(&"dev-util/buildtool"), "{names:?}");
    assert!(image.entry("/usr/bin/hello").is_some());
    assert!(image.entry("/bin/busybox").is_some());
    assert!(image.entry("/usr/bin/buildtool").is_none());
    assert!(image.entry("/usr/bin/emerge").is_none());
    assert_eq!(
        image
            .read(&format!("/boot/vmlinuz-{}", kernel.release))
            .unwrap(),
        std::fs::read(&kernel.image).unwrap()
    );
    assert!(image.entry("/boot/kernel").is_some());
    assert!(image.entry("/boot/initramfs").is_some());
}

#[test]
fn download_of_a_file_missing_on_the_standin_mirror_names_url_and_status() {
    let setup = Setup::new(None);
    let downloader = Downloader::new(discard(), CancelToken::new(), Phase::Lower);
    let url = format!("{}releases/riscv/autobuilds/latest.txt", setup.server.url());
    let err = downloader
        .fetch(&url, &setup.cache.join("latest.txt"))
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("404"), "{message}");
    assert_eq!(
        setup.server.take_requests().len(),
        1,
        "no retries of a refusal"
    );
    assert!(!setup.cache.join("latest.txt").exists());
}
