//! A stand-in Gentoo mirror for the tests: a busybox stage3 whose `emerge`, `eselect` and
//! friends are shell scripts that record their calls and fill `/var/db/pkg` from fixture
//! metadata, a Portage snapshot with the parent profiles genpack's overlay names, DIGESTS files,
//! and a small HTTP server on 127.0.0.1 (GET with Range, HEAD) that records every request.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Timestamp folder of the stand-in stage3.
pub const BUILD_STAMP: &str = "20260101T000000Z";
/// Where the stand-in tools record their calls (inside the lower).
pub const CALLS_LOG: &str = "var/log/standin-calls.log";

/// `(mirror folder, stage3 flavour)` of the architectures the stand-in serves.
pub const ARCHES: [(&str, &str); 2] = [("amd64", "amd64"), ("arm64", "arm64")];

/// Path of the stand-in stage3 under the mirror.
pub fn stage3_path(dir: &str, flavour: &str) -> String {
    format!("releases/{dir}/autobuilds/{BUILD_STAMP}/stage3-{flavour}-systemd-{BUILD_STAMP}.tar.xz")
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
}

/// The HTTP side: serves `root` until dropped.
pub struct Server {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    /// Paths whose next GET sends half the body and closes the connection.
    pub drop_once: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let drop_once = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (root, log, drops, stopping) = (
            root.to_path_buf(),
            requests.clone(),
            drop_once.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            // Bounded: at most 2000 connections and 20 minutes, then the server stops by itself.
            let started = Instant::now();
            let mut served = 0;
            while !stopping.load(Ordering::SeqCst)
                && served < 2000
                && started.elapsed() < Duration::from_secs(1200)
            {
                match listener.accept() {
                    Ok((stream, _)) => {
                        served += 1;
                        stream.set_nonblocking(false).unwrap();
                        let _ = handle(stream, &root, &log, &drops);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            requests,
            drop_once,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/gentoo/", self.port)
    }

    /// Requests so far, and forgets them.
    pub fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Joined, so the port is closed once the server is dropped.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(
    stream: TcpStream,
    root: &Path,
    log: &Mutex<Vec<Request>>,
    drops: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    log.lock().unwrap().push(Request {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
    });
    let mut out = stream;
    let relative = path.strip_prefix("/gentoo/").unwrap_or("");
    let file = root.join(relative);
    if relative.contains("..") || !file.is_file() {
        out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    let body = std::fs::read(&file)?;
    let modified = std::fs::metadata(&file)?
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let etag = format!("\"{:x}-{:x}\"", body.len(), modified.as_nanos());
    let common = format!(
        "ETag: {etag}\r\nLast-Modified: @{}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        modified.as_secs()
    );
    if method == "HEAD" {
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{common}\r\n",
            body.len()
        )?;
        return Ok(());
    }
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let drop_now = {
        let mut drops = drops.lock().unwrap();
        match drops.iter().position(|p| p == relative) {
            Some(index) => {
                drops.remove(index);
                true
            }
            None => false,
        }
    };
    match start {
        Some(start) if start < body.len() => {
            write!(
                out,
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\n{common}\r\n",
                body.len() - start,
                body.len() - 1,
                body.len()
            )?;
            out.write_all(&body[start..])?;
        }
        _ => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{common}\r\n",
                body.len()
            )?;
            if drop_now {
                out.write_all(&body[..body.len() / 2])?;
                out.flush()?;
                return Ok(());
            }
            out.write_all(&body)?;
        }
    }
    out.flush()
}

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn write_script(path: &Path, contents: &str) {
    write(path, contents);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap();
    assert!(status.success(), "{cmd:?} failed");
}

/// Records every call, with the FEATURES the step was given.
const RECORD: &str =
    "echo \"$(basename \"$0\") FEATURES=${FEATURES:-} $*\" >> /var/log/standin-calls.log\n";

/// The stand-in `emerge`: `--nodeps genpack/genpack-progs` installs the helpers, the main
/// `@world @genpack-runtime @genpack-buildtime` pass merges every fixture package (files and
/// /var/db/pkg entry) and leaves a binary package index in PKGDIR.
const EMERGE: &str = r#"set -e
case " $* " in
  *" --nodeps "*genpack/genpack-progs*) pkgs="genpack/genpack-progs-1"
    cp /usr/share/standin/helpers/* /usr/bin/ ;;
  *" @world @genpack-runtime @genpack-buildtime"*) pkgs=$(cd /usr/share/standin/vardb && ls -d */* | grep -v genpack-progs) ;;
  *) pkgs="" ;;
esac
total=$(echo $pkgs | wc -w)
mkdir -p /var/log
i=0
for p in $pkgs; do
  i=$((i+1))
  echo ">>> Emerging binary ($i of $total) $p::gentoo"
  echo "$(date +%s):  >>> emerge ($i of $total) $p::gentoo to /" >> /var/log/emerge.log
  if [ -d /usr/share/standin/image/$p ]; then cp -a /usr/share/standin/image/$p/. /; fi
  mkdir -p /var/db/pkg/${p%/*}
  cp -a /usr/share/standin/vardb/$p /var/db/pkg/${p%/*}/
  echo "$p" >> /var/cache/binpkgs/Packages
  echo "$(date +%s):  ::: completed emerge ($i of $total) $p::gentoo to /" >> /var/log/emerge.log
  echo ">>> Completed ($i of $total) $p::gentoo"
done
"#;

/// The stand-in `eselect profile set REPO:PATH`: links make.profile like eselect does.
const ESELECT: &str = r#"[ "$1 $2" = "profile set" ] || exit 0
repo=${3%%:*}
dir=/var/db/repos/$repo/profiles/${3#*:}
[ -d "$dir" ] || { echo "!!! no profile $3" >&2; exit 1; }
ln -sfn "../..$dir" /etc/portage/make.profile
"#;

/// A fixture package: `(category/name-version, RDEPEND, INHERITED, CONTENTS, files to install)`.
type Fixture<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

const PACKAGES: [Fixture<'static>; 6] = [
    ("genpack/genpack-progs-1", "", "genpack-ignore", "", &[]),
    ("genpack/base-1", "sys-apps/busybox", "", "", &[]),
    ("genpack/paravirt-1", "genpack/base", "", "", &[]),
    (
        "sys-apps/busybox-1.36.1",
        "",
        "",
        "dir /bin\nobj /bin/busybox 00000000000000000000000000000000 1\nsym /bin/sh -> busybox 1\n",
        &[],
    ),
    (
        "app-misc/hello-1",
        "sys-apps/busybox",
        "",
        "dir /usr\ndir /usr/bin\nobj /usr/bin/hello 00000000000000000000000000000000 1\n",
        &[("usr/bin/hello", "#!/bin/sh\necho hello from the stand-in\n")],
    ),
    (
        "dev-util/buildtool-1",
        "",
        "",
        "dir /usr\ndir /usr/bin\nobj /usr/bin/buildtool 00000000000000000000000000000000 1\n",
        &[("usr/bin/buildtool", "#!/bin/sh\necho build\n")],
    ),
];

/// Builds the stand-in stage3 root for one architecture folder.
fn stage3_root(root: &Path, kernel: Option<&KernelFixture>) {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" && !bin.join(applet).exists() {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    for dir in [
        "lib/modules",
        "usr/bin",
        "usr/sbin",
        "etc/portage",
        "var/log",
        "var/db",
        "tmp",
        "proc",
        "sys",
        "dev",
        "run",
        "root",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let os_release = "NAME=\"Gentoo stand-in\"\nID=gentoo\n";
    write(&root.join("etc/os-release"), os_release);
    write(&root.join("usr/lib/os-release"), os_release);
    write(
        &root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nportage:x:250:250:portage:/var/lib/portage/home:/bin/false\n",
    );
    write(&root.join("etc/group"), "root:x:0:\nportage:x:250:\n");
    write(&root.join("etc/shadow"), "root:*:1::::::\n");
    write_script(
        &root.join("usr/bin/emerge"),
        &format!("#!/bin/sh\n{RECORD}{EMERGE}"),
    );
    write_script(
        &root.join("usr/bin/eselect"),
        &format!("#!/bin/sh\n{RECORD}{ESELECT}"),
    );
    for tool in [
        "equery",
        "portageq",
        "etc-update",
        "eclean-dist",
        "eclean-pkg",
        "ebuild",
    ] {
        write_script(
            &root.join("usr/bin").join(tool),
            &format!("#!/bin/sh\n{RECORD}"),
        );
    }
    write_script(
        &root.join("usr/share/standin/helpers/genpack-unmerge-masked-packages"),
        &format!("#!/bin/sh\n{RECORD}"),
    );
    // Like a real stage3, the package manager's own files are owned by an installed package.
    let mut portage = String::from("dir /usr\ndir /usr/bin\n");
    for tool in [
        "emerge",
        "eselect",
        "equery",
        "portageq",
        "etc-update",
        "eclean-dist",
        "eclean-pkg",
        "ebuild",
    ] {
        portage.push_str(&format!(
            "obj /usr/bin/{tool} 00000000000000000000000000000000 1\n"
        ));
    }
    let installed = root.join("var/db/pkg/sys-apps/portage-3.0.70");
    write(&installed.join("SLOT"), "0\n");
    write(
        &installed.join("DESCRIPTION"),
        "the stand-in package manager\n",
    );
    write(&installed.join("CONTENTS"), &portage);
    for (cpv, rdepend, inherited, contents, files) in PACKAGES {
        let dir = root.join("usr/share/standin/vardb").join(cpv);
        write(&dir.join("SLOT"), "0\n");
        write(&dir.join("repository"), "gentoo\n");
        write(&dir.join("DESCRIPTION"), &format!("stand-in {cpv}\n"));
        write(&dir.join("LICENSE"), "MIT\n");
        write(&dir.join("RDEPEND"), &format!("{rdepend}\n"));
        write(&dir.join("INHERITED"), &format!("{inherited}\n"));
        write(&dir.join("CONTENTS"), contents);
        for (path, body) in files {
            write_script(
                &root.join("usr/share/standin/image").join(cpv).join(path),
                body,
            );
        }
    }
    if let Some(kernel) = kernel {
        let cpv = "sys-kernel/standin-kernel-1";
        let dir = root.join("usr/share/standin/vardb").join(cpv);
        let image = format!("/boot/vmlinuz-{}", kernel.release);
        let modules = format!("/lib/modules/{}", kernel.release);
        let image_root = root.join("usr/share/standin/image").join(cpv);
        let mut contents = format!("dir /lib\ndir /lib/modules\ndir {modules}\ndir /boot\n");
        contents.push_str(&format!("obj {image} 00000000000000000000000000000000 1\n"));
        // The module index files, and the modules the initramfs takes with their dependencies.
        for index in [
            "modules.dep",
            "modules.order",
            "modules.builtin",
            "modules.alias",
        ] {
            let host = Path::new(&modules).join(index);
            if host.is_file() {
                let copy = image_root.join(&modules[1..]).join(index);
                std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
                std::fs::copy(&host, copy).unwrap();
                contents.push_str(&format!(
                    "obj {modules}/{index} 00000000000000000000000000000000 1\n"
                ));
            }
        }
        for module in initramfs_modules(&modules) {
            let copy = image_root.join(&modules[1..]).join(&module);
            std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
            std::fs::copy(Path::new(&modules).join(&module), copy).unwrap();
            let mut dir = Path::new(&module).parent();
            while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
                contents.push_str(&format!("dir {modules}/{}\n", d.display()));
                dir = d.parent();
            }
            contents.push_str(&format!(
                "obj {modules}/{module} 00000000000000000000000000000000 1\n"
            ));
        }
        write(&dir.join("SLOT"), "0\n");
        write(&dir.join("DESCRIPTION"), "the host kernel\n");
        write(&dir.join("CONTENTS"), &contents);
        let target = root
            .join("usr/share/standin/image")
            .join(cpv)
            .join(&image[1..]);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&kernel.image, target).unwrap();
        let paravirt = root.join("usr/share/standin/vardb/genpack/paravirt-1/RDEPEND");
        write(&paravirt, "genpack/base sys-kernel/standin-kernel\n");
    }
}

/// Paths (relative to `modules`) of the default initramfs modules and their dependencies,
/// from the host's modules.dep.
fn initramfs_modules(modules: &str) -> Vec<String> {
    let dep = std::fs::read_to_string(Path::new(modules).join("modules.dep")).unwrap_or_default();
    let name_of = |path: &str| -> String {
        let file = path.rsplit('/').next().unwrap_or(path);
        file.split(".ko").next().unwrap_or(file).replace('-', "_")
    };
    let table: Vec<(String, Vec<String>)> = dep
        .lines()
        .filter_map(|line| {
            let (path, deps) = line.split_once(':')?;
            Some((
                path.to_string(),
                deps.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect();
    let mut wanted: Vec<String> = table
        .iter()
        .filter(|(path, _)| {
            genpack_init::DEFAULT_MODULES
                .iter()
                .any(|m| name_of(path) == m.replace('-', "_"))
        })
        .map(|(path, _)| path.clone())
        .collect();
    let mut index = 0;
    while index < wanted.len() {
        if let Some((_, deps)) = table.iter().find(|(path, _)| *path == wanted[index]) {
            for dep in deps {
                if !wanted.contains(dep) {
                    wanted.push(dep.clone());
                }
            }
        }
        index += 1;
    }
    wanted
}

/// The host kernel, copied into the stand-in as the `sys-kernel/standin-kernel` package.
pub struct KernelFixture {
    pub release: String,
    pub image: PathBuf,
}

impl KernelFixture {
    /// The newest kernel image installed in the host's /boot (`vmlinuz-<release>`).
    pub fn host() -> Option<KernelFixture> {
        let mut releases: Vec<String> = std::fs::read_dir("/boot")
            .ok()?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_prefix("vmlinuz-").map(str::to_string)
            })
            .collect();
        releases.sort();
        let release = releases.pop()?;
        let image = PathBuf::from(format!("/boot/vmlinuz-{release}"));
        Some(KernelFixture { release, image })
    }
}

/// Writes the whole mirror (stage3 + DIGESTS + latest list per architecture, Portage
/// snapshot) into `mirror`, using `scratch` for the trees.
pub fn build_mirror(mirror: &Path, scratch: &Path, kernel: Option<&KernelFixture>) {
    for (dir, flavour) in ARCHES {
        let root = scratch.join(format!("stage3-{dir}"));
        stage3_root(&root, kernel);
        let relative = stage3_path(dir, flavour);
        let archive = mirror.join(&relative);
        std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
        run(Command::new("tar")
            .env("XZ_OPT", "-0")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-cJf"])
            .arg(&archive)
            .arg("-C")
            .arg(&root)
            .arg("."));
        write_digests(&archive);
        let size = std::fs::metadata(&archive).unwrap().len();
        let latest = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n# Latest as of Thu, 01 Jan 2026 00:00:00 +0000\n# ts=1767225600\n{} {size}\n-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQ\n=abcd\n-----END PGP SIGNATURE-----\n",
            relative.split_once("autobuilds/").unwrap().1
        );
        write(
            &mirror.join(format!(
                "releases/{dir}/autobuilds/latest-stage3-{flavour}-systemd.txt"
            )),
            &latest,
        );
    }
    write_snapshot(mirror, scratch, "initial");
}

/// (Re)writes the Portage snapshot; `marker` ends up in `metadata/timestamp.chk`.
pub fn write_snapshot(mirror: &Path, scratch: &Path, marker: &str) {
    let tree = scratch.join("snapshot/portage");
    write(&tree.join("profiles/repo_name"), "gentoo\n");
    write(&tree.join("metadata/layout.conf"), "masters =\n");
    write(&tree.join("metadata/timestamp.chk"), &format!("{marker}\n"));
    for arch in ["amd64", "arm64"] {
        write(
            &tree.join(format!("profiles/default/linux/{arch}/23.0/systemd/eapi")),
            "8\n",
        );
    }
    let archive = mirror.join("snapshots/portage-latest.tar.xz");
    std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
    run(Command::new("tar")
        .env("XZ_OPT", "-0")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cJf"])
        .arg(&archive)
        .arg("-C")
        .arg(scratch.join("snapshot"))
        .arg("portage"));
}

/// Writes `<archive>.DIGESTS` with the archive's SHA512, clear-signed like the real ones.
pub fn write_digests(archive: &Path) {
    let out = Command::new("sha512sum").arg(archive).output().unwrap();
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.split_whitespace().next().unwrap().to_string();
    write_digests_with(archive, &hash);
}

/// Writes `<archive>.DIGESTS` claiming `sha512` for the archive.
pub fn write_digests_with(archive: &Path, sha512: &str) {
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    let text = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n# BLAKE2B HASH\n{}  {name}\n# SHA512 HASH\n{sha512}  {name}\n# SHA512 HASH\n{}  {name}.CONTENTS.gz\n-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQ\n=abcd\n-----END PGP SIGNATURE-----\n",
        "0".repeat(128),
        "1".repeat(128)
    );
    let mut path = archive.as_os_str().to_os_string();
    path.push(".DIGESTS");
    std::fs::write(PathBuf::from(path), text).unwrap();
}

/// Writes a Gentoo project using the stand-in packages into `dir`.
pub fn write_project(dir: &Path) {
    write(
        &dir.join("genpack.json5"),
        r#"{
    name: "standin",
    profile: "paravirt",
    packages: ["app-misc/hello"],
    buildtime_packages: ["dev-util/buildtool"],
    use: { "app-misc/hello": "-doc static" },
    accept_keywords: { "app-misc/hello": null },
    license: { "app-misc/hello": "MIT" },
    mask: [">=app-misc/hello-2"],
}
"#,
    );
    write(
        &dir.join("overlay/app-misc/local/local-1.ebuild"),
        "EAPI=8\n",
    );
    write(
        &dir.join("patches/app-misc/hello/fix.patch"),
        "--- a\n+++ b\n",
    );
}
