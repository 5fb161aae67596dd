//! Downloads of the Gentoo base from a local mirror over HTTP: freshness and resume, digest
//! verification before anything is unpacked, the binfmt check before anything is downloaded,
//! and errors that name the URL. The mirror holds small files only (see `mirror/`); building a
//! lower with real Portage is tested in `gentoo_emerge.rs`.

mod mirror;

use std::path::{Path, PathBuf};

use genpack_build::download::{Downloader, Fetched};
use genpack_build::progress::discard;
use genpack_build::{BaseSettings, BuildError, BuildOptions, Builder, CancelToken, Phase};
use genpack_def::{Arch, Project};
use mirror::{Request, Server};

/// A download mirror served over HTTP, a project and a private cache.
struct Setup {
    _dir: tempfile::TempDir,
    mirror: PathBuf,
    project: PathBuf,
    cache: PathBuf,
    server: Server,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mirror = dir.path().join("mirror");
        let scratch = dir.path().join("scratch");
        let project = dir.path().join("project");
        let cache = dir.path().join("cache");
        mirror::build_download_mirror(&mirror, &scratch);
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(
            project.join("genpack.json5"),
            "{ name: \"downloads\", packages: [\"app-misc/hello\"] }\n",
        )
        .unwrap();
        let server = Server::start(&mirror);
        Setup {
            _dir: dir,
            mirror,
            project,
            cache,
            server,
        }
    }

    fn builder(&self, arch: Arch) -> Builder {
        let project = Project::load(&self.project).unwrap();
        let options = BuildOptions {
            arch: Some(arch),
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

#[test]
fn gentoo_aarch64_without_emulation_stops_before_downloading() {
    let setup = Setup::new();
    let handler = genpack_portage::binfmt::require_handler(
        Path::new(genpack_portage::binfmt::BINFMT_MISC_DIR),
        genpack_portage::Arch::Aarch64,
    );
    if handler.is_ok() {
        eprintln!("this machine runs aarch64 programs through binfmt_misc: nothing to check");
        return;
    }
    let err = setup.builder(Arch::Aarch64).lower().unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("binfmt_misc") && message.contains("aarch64"),
        "{message}"
    );
    assert!(message.contains("qemu-user"), "{message}");
    // Nothing is downloaded for a build that cannot run.
    assert!(setup.server.take_requests().is_empty());
}

#[test]
fn corrupt_stage3_from_local_mirror_is_rejected_by_its_digest() {
    let setup = Setup::new();
    let archive = setup.mirror.join(mirror::stage3_path("amd64", "amd64"));
    let published = "f".repeat(128);
    mirror::write_digests_with(&archive, &published);
    let err = setup.builder(Arch::X86_64).lower().unwrap_err();
    assert!(matches!(err, BuildError::Portage(_)), "{err:?}");
    let message = err.to_string();
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    assert!(message.contains(&name), "{message}");
    assert!(message.contains(&published), "{message}");
    assert!(!setup.project.join("work/x86_64/lower").exists());
}

#[test]
fn download_from_local_mirror_resumes_after_a_dropped_connection() {
    let setup = Setup::new();
    let relative = mirror::stage3_path("amd64", "amd64");
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
fn download_of_a_file_missing_on_the_local_mirror_names_url_and_status() {
    let setup = Setup::new();
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
