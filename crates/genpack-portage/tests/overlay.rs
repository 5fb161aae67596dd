//! Structural checks of our Gentoo overlay (`overlay/` at the top of the repository): what
//! Portage would reject, or what would make `eselect profile set` or an emerge fail, found
//! without a Gentoo system.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use genpack_portage::config::profile_target;
use genpack_portage::{Arch, Atom, DepSpec, Version};

fn overlay() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../overlay")
        .canonicalize()
        .unwrap()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Non-empty, non-comment lines.
fn lines(path: &Path) -> Vec<String> {
    read(path)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn subdirs(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Every profile directory below `profiles/genpack` (including it).
fn profile_dirs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        out.push(dir.to_path_buf());
        for sub in subdirs(dir) {
            walk(&sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&overlay().join("profiles/genpack"), &mut out);
    out
}

/// Package directories: `<category>/<name>` holding at least one ebuild.
fn package_dirs() -> Vec<PathBuf> {
    let root = overlay();
    let mut out = Vec::new();
    for category in subdirs(&root) {
        let name = category.file_name().unwrap().to_str().unwrap();
        if ["metadata", "profiles", "eclass", "package-scripts"].contains(&name) {
            continue;
        }
        for package in subdirs(&category) {
            out.push(package);
        }
    }
    out
}

fn ebuilds(package: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(package)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ebuild"))
        .collect();
    out.sort();
    out
}

/// The value of a double-quoted ebuild variable (`RDEPEND="..."`), possibly spanning lines.
fn variable(ebuild: &str, name: &str) -> Option<String> {
    let start = ebuild.find(&format!("\n{name}=\""))? + name.len() + 3;
    let end = ebuild[start..].find('"')?;
    Some(ebuild[start..start + end].to_string())
}

/// Parses an XML file (Gentoo's metadata files carry a DOCTYPE) and returns its root element.
fn parse_xml(path: &Path) -> String {
    let text = read(path);
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let document = roxmltree::Document::parse_with_options(&text, options)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    document.root_element().tag_name().name().to_string()
}

#[test]
fn repository_metadata() {
    let root = overlay();
    let layout = lines(&root.join("metadata/layout.conf"));
    let masters = layout
        .iter()
        .find_map(|line| line.strip_prefix("masters"))
        .expect("layout.conf has masters");
    assert_eq!(
        masters
            .trim_start_matches([' ', '='])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["gentoo"]
    );
    assert_eq!(
        read(&root.join("profiles/repo_name")).trim(),
        "genpack-overlay"
    );
    let categories: BTreeSet<String> = lines(&root.join("profiles/categories"))
        .into_iter()
        .collect();
    assert!(categories.contains("genpack"));
}

#[test]
fn every_listed_profile_exists_and_every_arch_has_one() {
    let profiles = overlay().join("profiles");
    let mut listed = BTreeSet::new();
    for line in lines(&profiles.join("profiles.desc")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "profiles.desc line '{line}'");
        assert!(
            ["amd64", "arm64", "x86", "riscv"].contains(&fields[0]),
            "{line}"
        );
        assert!(["stable", "dev", "exp"].contains(&fields[2]), "{line}");
        assert!(
            fields[1].starts_with(&format!("genpack/{}", fields[0])),
            "{line}: path does not match the keyword"
        );
        assert!(
            profiles.join(fields[1]).join("eapi").is_file(),
            "{line}: no such profile"
        );
        listed.insert(fields[1].to_string());
    }
    for arch in Arch::ALL {
        for profile in [None, Some("paravirt"), Some("systemimg"), Some("baremetal")] {
            let target = profile_target(arch, profile).unwrap();
            let path = target.strip_prefix("genpack-overlay:").unwrap();
            assert!(
                listed.contains(path),
                "{target} is what the build selects but profiles.desc lacks it"
            );
        }
    }
    // Profiles the corpus definitions ask for.
    for path in [
        "genpack/amd64/gnome/baremetal",
        "genpack/amd64/weston/paravirt",
    ] {
        assert!(listed.contains(path), "{path}");
    }
}

#[test]
fn profile_parents_resolve_without_cycles() {
    let profiles = overlay().join("profiles");
    for dir in profile_dirs() {
        let name = dir.strip_prefix(&profiles).unwrap().display().to_string();
        assert_eq!(read(&dir.join("eapi")).trim(), "8", "{name}/eapi");
        let parent_file = dir.join("parent");
        if !parent_file.exists() {
            continue;
        }
        for parent in lines(&parent_file) {
            if let Some(external) = parent.strip_prefix("gentoo:") {
                assert!(
                    !external.is_empty() && !external.starts_with('/'),
                    "{name}: parent '{parent}'"
                );
                continue;
            }
            assert!(
                !parent.contains(':'),
                "{name}: parent '{parent}' names an unknown repository"
            );
            let target = dir
                .join(&parent)
                .canonicalize()
                .unwrap_or_else(|_| panic!("{name}: parent '{parent}' does not exist"));
            assert!(
                target.starts_with(&profiles),
                "{name}: parent '{parent}' leaves the overlay"
            );
            assert!(
                target.join("eapi").is_file(),
                "{name}: parent '{parent}' is not a profile"
            );
            assert_ne!(target, dir, "{name}: '{parent}' is the profile itself");
        }
    }
    // No profile reaches itself through its parents.
    fn reach(dir: &Path, start: &Path, depth: usize) {
        assert!(
            depth < 32,
            "{}: parent chain too deep (cycle?)",
            start.display()
        );
        let Ok(text) = fs::read_to_string(dir.join("parent")) else {
            return;
        };
        for parent in text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("gentoo:"))
        {
            let target = dir.join(parent).canonicalize().unwrap();
            assert_ne!(
                target,
                start,
                "{}: cycle through its parents",
                start.display()
            );
            reach(&target, start, depth + 1);
        }
    }
    for dir in profile_dirs() {
        reach(&dir, &dir, 0);
    }
    // Every architecture profile stacks on Gentoo's systemd profile of that architecture.
    for arch in ["amd64", "arm64", "x86", "riscv"] {
        let parents = lines(&profiles.join("genpack").join(arch).join("parent"));
        assert!(
            parents[0].starts_with(&format!("gentoo:default/linux/{arch}/23.0/")),
            "{arch}: {parents:?}"
        );
        assert!(parents[0].ends_with("/systemd"), "{arch}: {parents:?}");
        assert_eq!(parents[1], "..", "{arch} inherits the genpack root profile");
    }
}

#[test]
fn profile_files_name_packages_that_exist() {
    let root = overlay();
    let mut checked = 0;
    for dir in profile_dirs() {
        for file in [
            "packages",
            "package.use",
            "package.mask",
            "package.accept_keywords",
        ] {
            let path = dir.join(file);
            if !path.exists() {
                continue;
            }
            for line in lines(&path) {
                let first = line.split_whitespace().next().unwrap();
                let text = if file == "packages" {
                    first.trim_start_matches(['*', '-'])
                } else {
                    first
                };
                let atom =
                    Atom::parse(text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                if atom.category == "genpack" {
                    let package = root.join(&atom.category).join(&atom.name);
                    assert!(
                        !ebuilds(&package).is_empty(),
                        "{}: {} has no ebuild in the overlay",
                        path.display(),
                        atom.key()
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "only {checked} profile entries found");
    let root_packages = lines(&root.join("profiles/genpack/packages"));
    assert!(
        root_packages.contains(&"genpack/base".to_string()),
        "the root profile pulls in genpack/base"
    );
    let mask = lines(&root.join("profiles/genpack/package.mask"));
    assert!(mask.contains(&">=dev-lang/python-3.15".to_string()));
}

#[test]
fn ebuilds_are_well_formed() {
    let root = overlay();
    let eclasses: BTreeSet<String> = fs::read_dir(root.join("eclass"))
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .trim_end_matches(".eclass")
                .to_string()
        })
        .collect();
    let mut count = 0;
    for package in package_dirs() {
        let name = package.file_name().unwrap().to_str().unwrap();
        let category = package
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let list = ebuilds(&package);
        assert!(!list.is_empty(), "{category}/{name}: no ebuild");
        assert_eq!(parse_xml(&package.join("metadata.xml")), "pkgmetadata");
        for ebuild in list {
            let file = ebuild.file_name().unwrap().to_str().unwrap();
            let version = file
                .strip_suffix(".ebuild")
                .and_then(|stem| stem.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix('-'))
                .unwrap_or_else(|| {
                    panic!("{category}/{name}/{file}: not named {name}-<version>.ebuild")
                });
            Version::parse(version)
                .unwrap_or_else(|error| panic!("{category}/{name}/{file}: {error}"));
            let text = read(&ebuild);
            assert!(
                text.lines().any(|line| line == "EAPI=8"),
                "{file}: EAPI=8 missing"
            );
            let description = variable(&text, "DESCRIPTION")
                .unwrap_or_else(|| panic!("{file}: DESCRIPTION missing"));
            assert!(
                !description.is_empty() && description.len() <= 80,
                "{file}: DESCRIPTION should be one short line"
            );
            for key in ["SLOT", "LICENSE", "HOMEPAGE"] {
                assert!(variable(&text, key).is_some(), "{file}: {key} missing");
            }
            for line in text.lines().filter(|line| line.starts_with("inherit ")) {
                for eclass in line.split_whitespace().skip(1) {
                    assert!(
                        eclasses.contains(eclass),
                        "{file}: inherits unknown eclass {eclass}"
                    );
                }
            }
            for key in ["RDEPEND", "DEPEND", "BDEPEND", "PDEPEND"] {
                let Some(deps) = variable(&text, key) else {
                    continue;
                };
                let spec =
                    DepSpec::parse(&deps).unwrap_or_else(|error| panic!("{file}: {key}: {error}"));
                for atom in spec.atoms() {
                    if atom.category == "genpack" || atom.key() == "sys-apps/genpack-init" {
                        let target = root.join(&atom.category).join(&atom.name);
                        assert!(
                            !ebuilds(&target).is_empty(),
                            "{file}: {key} names {} which has no ebuild",
                            atom.key()
                        );
                    }
                }
            }
            count += 1;
        }
    }
    assert!(count >= 9, "only {count} ebuilds");
    for meta in [
        "base",
        "systemimg",
        "paravirt",
        "wireless",
        "gnome",
        "weston",
        "devel",
    ] {
        assert!(
            !ebuilds(&root.join("genpack").join(meta)).is_empty(),
            "genpack/{meta} missing"
        );
    }
    let progs = read(&ebuilds(&root.join("genpack/genpack-progs"))[0]);
    assert!(
        progs.lines().any(|line| line == "inherit genpack-ignore"),
        "genpack-progs must stay out of images"
    );
    let eclass = read(&root.join("eclass/genpack-ignore.eclass"));
    assert!(eclass.contains("# @ECLASS: genpack-ignore.eclass"));
    assert_eq!(parse_xml(&root.join("genpack/metadata.xml")), "catmetadata");
}

#[test]
fn package_scripts_are_executable_shell() {
    let scripts = overlay().join("package-scripts");
    let mut count = 0;
    for category in subdirs(&scripts) {
        for package in subdirs(&category) {
            let key = format!(
                "{}/{}",
                category.file_name().unwrap().to_str().unwrap(),
                package.file_name().unwrap().to_str().unwrap()
            );
            Atom::parse(&key).unwrap_or_else(|error| panic!("package-scripts/{key}: {error}"));
            for entry in fs::read_dir(&package).unwrap() {
                let path = entry.unwrap().path();
                let mode = fs::metadata(&path).unwrap().permissions().mode();
                assert!(mode & 0o111 != 0, "{}: not executable", path.display());
                assert!(
                    read(&path).starts_with("#!/bin/sh\n"),
                    "{}: not a /bin/sh script",
                    path.display()
                );
                let status = Command::new("sh").arg("-n").arg(&path).status().unwrap();
                assert!(status.success(), "{}: shell syntax error", path.display());
                count += 1;
            }
        }
    }
    for key in [
        "net-misc/openssh",
        "sys-apps/systemd",
        "dev-db/mysql",
        "app-containers/docker",
        "mail-mta/postfix",
        "virtual/dist-kernel",
    ] {
        assert!(scripts.join(key).is_dir(), "no package-scripts for {key}");
    }
    assert!(count >= 6);
}
