//! The installed-package database against a small root built on disk: metadata, the runtime
//! closure (choices, slots, blockers, ignored packages) and the list of files for the image.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use genpack_portage::{Atom, Cpv, Error, Vardb};

struct Pkg<'a> {
    cpv: &'a str,
    slot: &'a str,
    rdepend: &'a str,
    pdepend: &'a str,
    use_flags: &'a str,
    inherited: &'a str,
    contents: &'a [&'a str],
}

const EMPTY: Pkg<'static> = Pkg {
    cpv: "",
    slot: "0",
    rdepend: "",
    pdepend: "",
    use_flags: "",
    inherited: "",
    contents: &[],
};

fn install(root: &Path, pkg: &Pkg) {
    let (category, pf) = pkg.cpv.split_once('/').unwrap();
    let dir = root.join("var/db/pkg").join(category).join(pf);
    fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| fs::write(dir.join(name), format!("{text}\n")).unwrap();
    write("SLOT", pkg.slot);
    write("RDEPEND", pkg.rdepend);
    write("PDEPEND", pkg.pdepend);
    write("USE", pkg.use_flags);
    write("IUSE", "+ssl -X");
    write("INHERITED", pkg.inherited);
    write("DESCRIPTION", &format!("The {pf} package"));
    write("LICENSE", "GPL-2");
    write("HOMEPAGE", "https://example.org/");
    write("repository", "gentoo");
    write("CONTENTS", &pkg.contents.join("\n"));
}

fn touch(root: &Path, path: &str) {
    let full = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, b"x").unwrap();
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("usr/lib64")).unwrap();
    symlink("usr/lib64", root.join("lib64")).unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    for file in [
        "/usr/lib64/libc.so.6",
        "/usr/include/stdio.h",
        "/usr/lib64/libc.a",
        "/usr/share/man/man3/printf.3",
        "/usr/lib/systemd/systemd",
        "/var/cache/systemd/x",
        "/usr/lib/genpack/package-scripts/sys-apps/systemd/10-enable",
        "/usr/bin/ssh",
        "/usr/lib64/libssl.so.3",
        "/usr/bin/foo2",
        "/usr/bin/foo1",
        "/usr/bin/unrelated",
    ] {
        touch(root, file);
    }
    symlink("libc.so.6", root.join("usr/lib64/libc.so")).unwrap();

    let packages = [
        Pkg {
            cpv: "genpack/base-1",
            rdepend: ">=sys-apps/systemd-250 || ( net-misc/dropbear net-misc/openssh ) app-misc/foo:2 \
                      !app-misc/blocked ssl? ( dev-libs/openssl:0= ) X? ( app-misc/unrelated )",
            pdepend: "sys-kernel/dracut-genpack",
            use_flags: "ssl",
            ..EMPTY
        },
        Pkg {
            cpv: "sys-apps/systemd-256.5",
            rdepend: "sys-libs/glibc",
            contents: &[
                "dir /usr/lib/systemd",
                "obj /usr/lib/systemd/systemd 0123456789abcdef0123456789abcdef 1700000000",
                "dir /var/cache/systemd",
                "obj /var/cache/systemd/x 0123456789abcdef0123456789abcdef 1700000000",
                "obj /usr/lib/genpack/package-scripts/sys-apps/systemd/10-enable 0123456789abcdef0123456789abcdef 1700000000",
            ],
            ..EMPTY
        },
        Pkg {
            cpv: "sys-libs/glibc-2.40-r5",
            slot: "2.2",
            contents: &[
                "dir /usr",
                "dir /usr/lib64",
                "obj /lib64/libc.so.6 0123456789abcdef0123456789abcdef 1700000000",
                "sym /usr/lib64/libc.so -> libc.so.6 1700000000",
                "obj /usr/include/stdio.h 0123456789abcdef0123456789abcdef 1700000000",
                "obj /usr/lib64/libc.a 0123456789abcdef0123456789abcdef 1700000000",
                "obj /usr/share/man/man3/printf.3 0123456789abcdef0123456789abcdef 1700000000",
                "obj /usr/lib64/gone.so 0123456789abcdef0123456789abcdef 1700000000",
            ],
            ..EMPTY
        },
        // RDEPEND recorded against an older sub-slot of openssl: still resolved.
        Pkg {
            cpv: "net-misc/openssh-9.8_p1-r1",
            rdepend: "dev-libs/openssl:0/2= sys-libs/glibc",
            contents: &["obj /usr/bin/ssh 0123456789abcdef0123456789abcdef 1700000000"],
            ..EMPTY
        },
        Pkg {
            cpv: "dev-libs/openssl-3.3.2",
            slot: "0/3",
            contents: &["obj /usr/lib64/libssl.so.3 0123456789abcdef0123456789abcdef 1700000000"],
            ..EMPTY
        },
        Pkg { cpv: "app-misc/foo-1.0", slot: "1", contents: &["obj /usr/bin/foo1 0 1"], ..EMPTY },
        Pkg { cpv: "app-misc/foo-2.1", slot: "2", contents: &["obj /usr/bin/foo2 0 1"], ..EMPTY },
        Pkg {
            cpv: "sys-kernel/dracut-genpack-1",
            rdepend: "app-misc/only-for-dracut",
            inherited: "genpack-ignore",
            ..EMPTY
        },
        Pkg { cpv: "app-misc/only-for-dracut-1", ..EMPTY },
        Pkg { cpv: "app-misc/blocked-1", ..EMPTY },
        Pkg { cpv: "app-misc/unrelated-1", contents: &["obj /usr/bin/unrelated 0 1"], ..EMPTY },
    ];
    for pkg in &packages {
        install(root, pkg);
    }
    fs::create_dir_all(root.join("var/db/pkg/app-misc/-MERGING-half-1")).unwrap();
    dir
}

fn atoms(list: &[&str]) -> Vec<Atom> {
    list.iter().map(|text| Atom::parse(text).unwrap()).collect()
}

#[test]
fn reads_package_metadata() {
    let dir = fixture();
    let db = Vardb::open(dir.path()).unwrap();
    assert_eq!(
        db.packages().len(),
        11,
        "the -MERGING- directory is skipped"
    );
    let openssl = db.find("dev-libs/openssl").unwrap();
    assert_eq!(openssl.cpv.to_string(), "dev-libs/openssl-3.3.2");
    assert_eq!((openssl.slot.as_str(), openssl.main_slot()), ("0/3", "0"));
    assert_eq!(openssl.description, "The openssl-3.3.2 package");
    assert_eq!(openssl.license, "GPL-2");
    assert_eq!(openssl.repository.as_deref(), Some("gentoo"));
    assert!(openssl.iuse.contains("ssl") && openssl.iuse.contains("X"));
    assert_eq!(
        db.find("app-misc/foo").unwrap().cpv.version.as_str(),
        "2.1",
        "highest version wins"
    );
    assert_eq!(
        db.find("app-misc/foo:1").unwrap().cpv.version.as_str(),
        "1.0"
    );
    assert_eq!(db.find("app-misc/foo-1.0").unwrap().slot, "1");
    assert!(db.find("app-misc/absent").is_none());
    assert!(db.find("sys-kernel/dracut-genpack").unwrap().is_ignored());
}

#[test]
fn runtime_closure_follows_installed_dependencies() {
    let dir = fixture();
    let db = Vardb::open(dir.path()).unwrap();
    let closure = db.runtime_closure(&atoms(&[
        "genpack/base",
        "app-misc/not-installed",
        "!app-misc/blocked",
    ]));
    let names: Vec<String> = closure
        .packages
        .iter()
        .map(|package| package.cpv.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "app-misc/foo-2.1",
            "dev-libs/openssl-3.3.2",
            "genpack/base-1",
            "net-misc/openssh-9.8_p1-r1",
            "sys-apps/systemd-256.5",
            "sys-libs/glibc-2.40-r5",
        ]
    );
    let openssl = &closure.packages[1];
    assert_eq!(openssl.slot, "0/3");
    assert_eq!(
        openssl.needed_by,
        ["genpack/base-1", "net-misc/openssh-9.8_p1-r1"]
    );
    assert!(
        closure.packages[2].needed_by.is_empty(),
        "a root is needed by nothing"
    );
    assert_eq!(closure.ignored, ["sys-kernel/dracut-genpack-1"]);
    assert!(
        !closure.contains_key("app-misc/only-for-dracut"),
        "only the ignored package needed it"
    );
    assert!(
        !closure.contains_key("app-misc/blocked"),
        "blockers are not dependencies"
    );
    assert!(!closure.contains_key("app-misc/unrelated"), "X is disabled");
    assert_eq!(closure.unresolved.len(), 1);
    assert_eq!(closure.unresolved[0].atom, "app-misc/not-installed");

    let base = db.find("genpack/base").unwrap();
    let direct: Vec<String> = db
        .runtime_dependencies(base)
        .iter()
        .map(|package| package.cpv.key())
        .collect();
    assert_eq!(
        direct,
        [
            "sys-apps/systemd",
            "net-misc/openssh",
            "app-misc/foo",
            "dev-libs/openssl",
            "sys-kernel/dracut-genpack"
        ]
    );
}

#[test]
fn any_of_takes_the_first_installed_alternative() {
    let dir = fixture();
    install(
        dir.path(),
        &Pkg {
            cpv: "net-misc/dropbear-2024.86",
            ..EMPTY
        },
    );
    let db = Vardb::open(dir.path()).unwrap();
    let closure = db.runtime_closure(&atoms(&["genpack/base"]));
    assert!(closure.contains_key("net-misc/dropbear"));
    assert!(!closure.contains_key("net-misc/openssh"));
}

#[test]
fn package_list_describes_each_package() {
    let dir = fixture();
    let db = Vardb::open(dir.path()).unwrap();
    let closure = db.runtime_closure(&atoms(&["net-misc/openssh"]));
    assert_eq!(
        db.package_list(&closure),
        "dev-libs/openssl-3.3.2:0/3\n\
         # NEEDED_BY: net-misc/openssh-9.8_p1-r1\n\
         # DESCRIPTION: The openssl-3.3.2 package\n\
         # USE: \n\
         # HOMEPAGE: https://example.org/\n\
         # LICENSE: GPL-2\n\
         net-misc/openssh-9.8_p1-r1:0\n\
         # NEEDED_BY: \n\
         # DESCRIPTION: The openssh-9.8_p1-r1 package\n\
         # USE: \n\
         # HOMEPAGE: https://example.org/\n\
         # LICENSE: GPL-2\n\
         sys-libs/glibc-2.40-r5:2.2\n\
         # NEEDED_BY: net-misc/openssh-9.8_p1-r1\n\
         # DESCRIPTION: The glibc-2.40-r5 package\n\
         # USE: \n\
         # HOMEPAGE: https://example.org/\n\
         # LICENSE: GPL-2\n"
    );
}

#[test]
fn contents_entries_are_typed() {
    let dir = fixture();
    let db = Vardb::open(dir.path()).unwrap();
    let entries = db
        .contents(&Cpv::parse("sys-libs/glibc-2.40-r5").unwrap())
        .unwrap();
    assert_eq!(entries.len(), 8);
    assert_eq!(entries[3].target, Some(PathBuf::from("libc.so.6")));
    assert!(matches!(
        db.contents(&Cpv::parse("a/b-1").unwrap()),
        Err(Error::NotInstalled(_))
    ));
}

#[test]
fn malformed_metadata_names_the_file() {
    let dir = fixture();
    fs::write(
        dir.path().join("var/db/pkg/app-misc/foo-2.1/RDEPEND"),
        "|| ( app-misc/x\n",
    )
    .unwrap();
    let error = Vardb::open(dir.path()).unwrap_err().to_string();
    assert!(error.contains("app-misc/foo-2.1/RDEPEND"), "{error}");
    assert!(error.contains("without a matching ')'"), "{error}");
}

#[test]
fn missing_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = Vardb::open(dir.path()).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error}");
}
