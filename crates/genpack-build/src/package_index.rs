//! Checks the package names of a definition against the package index of its base, so that a
//! typo ("ngnix") is reported on its line with "did you mean nginx?" before a build fails on it.
//!
//! - Debian: the apt index of the release the last build downloaded, kept in the cache folder
//!   (`<cache>/debian/lists/<suite>-<arch>/*_Packages`, copied out of the base layer by every
//!   Debian build). Names that a package `Provides` count as known.
//! - Gentoo: the ebuild trees of the project's base layer (`/var/db/repos/*` in
//!   `work/<arch>/lower`) and genpack's overlay.
//!
//! With no index on disk yet (nothing built for this release and architecture) nothing is
//! guessed: the result says the names are not checked yet.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use genpack_def::{diagnostic_at, Arch, Base, Diagnostic, Project, Segment, Severity};
use serde::Serialize;

use crate::workdir::WorkDir;

/// The folder holding the apt index a Debian build of `suite` for `arch` left in the cache.
pub fn debian_lists_dir(cache_root: &Path, suite: &str, arch: Arch) -> PathBuf {
    cache_root
        .join("debian")
        .join("lists")
        .join(format!("{suite}-{}", arch.debian_name()))
}

/// What a check of the package names found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PackageCheck {
    /// Whether an index was there to check against.
    pub state: IndexState,
    /// A diagnostic for every name the index does not have, at its place in the file.
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether the names could be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndexState {
    /// Checked against an index with this many names.
    Checked {
        /// Where the index is.
        source: PathBuf,
        /// How many package names it holds.
        names: usize,
    },
    /// No index on disk yet; the names are not checked.
    NotCheckedYet {
        /// Why, for people ("no Debian bookworm package index yet: build once").
        reason: String,
    },
}

/// A set of package names read from an index.
#[derive(Debug, Default)]
struct Names {
    names: HashSet<String>,
}

/// Indexes read before, by folder, with the newest modification time of their files: a Define
/// form checks on every edit, and a Debian index is tens of megabytes.
type Cache = Mutex<Vec<(PathBuf, SystemTime, Arc<Names>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

/// The `*_Packages` files of an apt lists folder.
fn packages_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().ends_with("_Packages"))
        })
        .collect();
    files.sort();
    files
}

/// The names of a Debian index (`Package:` and `Provides:` lines), read once per change.
fn debian_names(dir: &Path) -> Option<Arc<Names>> {
    let files = packages_files(dir);
    if files.is_empty() {
        return None;
    }
    let newest = files
        .iter()
        .filter_map(|f| f.metadata().and_then(|m| m.modified()).ok())
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut cached = cache().lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, _, names)) = cached
        .iter()
        .find(|(folder, time, _)| folder == dir && *time == newest)
    {
        return Some(names.clone());
    }
    let mut names = Names::default();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("Package: ") {
                names.names.insert(name.trim().to_string());
            } else if let Some(provided) = line.strip_prefix("Provides: ") {
                for entry in provided.split(',') {
                    if let Some(name) = entry.split_whitespace().next() {
                        names.names.insert(name.to_string());
                    }
                }
            }
        }
    }
    if names.names.is_empty() {
        return None;
    }
    let names = Arc::new(names);
    cached.retain(|(folder, _, _)| folder != dir);
    cached.push((dir.to_path_buf(), newest, names.clone()));
    Some(names)
}

/// The package name of a Debian package entry: `nginx`, `nginx=1.22*`, `nginx/bookworm`,
/// `nginx:amd64`.
fn debian_name(entry: &str) -> &str {
    let end = entry.find(['=', '/', ':']).unwrap_or(entry.len());
    &entry[..end]
}

/// The ebuild trees of a Gentoo project's base layer, and genpack's overlay.
fn gentoo_trees(project: &Path, arch: Arch) -> Vec<PathBuf> {
    let lower = WorkDir::new(project, arch.as_str(), None).lower();
    let mut trees: Vec<PathBuf> = std::fs::read_dir(lower.join("var/db/repos"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("profiles").is_dir())
                .collect()
        })
        .unwrap_or_default();
    trees.sort();
    if trees.is_empty() {
        return trees;
    }
    let overlay = crate::base::gentoo::default_overlay();
    if overlay.join("profiles").is_dir() {
        trees.push(overlay);
    }
    trees
}

/// `category/name` of every package in the trees.
fn gentoo_names(trees: &[PathBuf]) -> Names {
    let mut names = Names::default();
    for tree in trees {
        let Ok(categories) = std::fs::read_dir(tree) else {
            continue;
        };
        for category in categories.flatten() {
            let category_name = category.file_name().to_string_lossy().into_owned();
            if !genpack_portage::atom::is_category_name(&category_name) {
                continue;
            }
            let Ok(packages) = std::fs::read_dir(category.path()) else {
                continue;
            };
            for package in packages.flatten() {
                if package.file_type().is_ok_and(|t| t.is_dir()) {
                    names.names.insert(format!(
                        "{category_name}/{}",
                        package.file_name().to_string_lossy()
                    ));
                }
            }
        }
    }
    names
}

/// The closest known name to `word` within a few edits, for "did you mean …?".
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate.len().abs_diff(word.len()) > limit {
            continue;
        }
        let distance = edit_distance(word, candidate);
        if distance <= limit && best.is_none_or(|(d, c)| (distance, candidate) < (d, c)) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters ("ngnix" → "nginx" is one).
pub fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// Checks the package lists of the definition `source` (the text of `project`'s definition
/// file, saved or not) for `arch` against the index of its base in `cache_root`.
pub fn check_packages(
    project: &Project,
    source: &str,
    arch: Arch,
    cache_root: &Path,
) -> PackageCheck {
    let definition = &project.definition;
    let (names, source_dir, what) = match &definition.base {
        Base::Debian { suite } => {
            let dir = debian_lists_dir(cache_root, suite, arch);
            match debian_names(&dir) {
                Some(names) => (names, dir, format!("Debian {suite}")),
                None => {
                    return PackageCheck {
                        state: IndexState::NotCheckedYet {
                            reason: format!(
                                "package names are not checked yet: there is no Debian {suite} package index for {arch} until the first build downloads it"
                            ),
                        },
                        diagnostics: Vec::new(),
                    }
                }
            }
        }
        Base::Gentoo => {
            let trees = gentoo_trees(&project.dir, arch);
            let names = gentoo_names(&trees);
            if names.names.is_empty() {
                return PackageCheck {
                    state: IndexState::NotCheckedYet {
                        reason: format!(
                            "package names are not checked yet: there is no Gentoo ebuild tree for {arch} until the first build unpacks it"
                        ),
                    },
                    diagnostics: Vec::new(),
                };
            }
            let dir = trees.first().cloned().unwrap_or_default();
            (Arc::new(names), dir, "Gentoo".to_string())
        }
    };
    let debian = matches!(definition.base, Base::Debian { .. });
    let mut diagnostics = Vec::new();
    for (list, entries) in [
        ("packages", &definition.packages),
        ("buildtime_packages", &definition.buildtime_packages),
    ] {
        for (index, entry) in entries.iter().enumerate() {
            if entry.starts_with('-') || entry.starts_with('@') {
                continue;
            }
            let name = if debian {
                debian_name(entry).to_string()
            } else {
                match genpack_portage::atom::Atom::parse(entry) {
                    Ok(atom) => atom.key(),
                    // The reader reports atoms that do not parse.
                    Err(_) => continue,
                }
            };
            if names.names.contains(&name) {
                continue;
            }
            let suggestion = closest(&name, names.names.iter().map(String::as_str));
            let message = format!("{what} has no package named {name}");
            let help = match suggestion {
                Some(close) => Some(format!("did you mean {close}?")),
                None if debian => {
                    Some("look the name up with `apt search` or on packages.debian.org".to_string())
                }
                None => Some("look the name up on packages.gentoo.org".to_string()),
            };
            let path = [Segment::key(list), Segment::Index(index)];
            if let Some(diagnostic) =
                diagnostic_at(source, &project.file, &path, Severity::Error, message, help)
            {
                diagnostics.push(diagnostic);
            }
        }
    }
    PackageCheck {
        state: IndexState::Checked {
            source: source_dir,
            names: names.names.len(),
        },
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_one_edit_away() {
        assert_eq!(edit_distance("ngnix", "nginx"), 1);
        assert_eq!(edit_distance("nginx", "nginx"), 0);
        assert_eq!(edit_distance("apache", "apache2"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let names = ["nginx", "nginx-common", "ngircd", "apache2"];
        assert_eq!(closest("ngnix", names.into_iter()), Some("nginx"));
        assert_eq!(closest("postgresql", names.into_iter()), None);
    }

    #[test]
    fn debian_entries_name_their_package() {
        assert_eq!(debian_name("nginx"), "nginx");
        assert_eq!(debian_name("nginx=1.22.1-9"), "nginx");
        assert_eq!(debian_name("nginx/bookworm-backports"), "nginx");
        assert_eq!(debian_name("libc6:i386"), "libc6");
    }

    fn project(dir: &Path, text: &str) -> (Project, String) {
        std::fs::write(dir.join("genpack.json5"), text).unwrap();
        (Project::load(dir).unwrap(), text.to_string())
    }

    #[test]
    fn a_debian_typo_is_reported_on_its_line_with_the_close_name() {
        let work = tempfile::tempdir().unwrap();
        let cache = work.path().join("cache");
        let project_dir = work.path().join("web");
        std::fs::create_dir_all(&project_dir).unwrap();
        let text = "{\n  name: \"web\",\n  base: \"debian:bookworm\",\n  packages: [\n    \"openssh-server\",\n    \"ngnix\",\n    \"mail-transport-agent\",\n  ],\n}\n";
        let (project, source) = project(&project_dir, text);

        // Nothing built yet: nothing is guessed.
        let check = check_packages(&project, &source, Arch::X86_64, &cache);
        assert!(check.diagnostics.is_empty());
        let IndexState::NotCheckedYet { reason } = &check.state else {
            panic!("{check:?}")
        };
        assert!(reason.contains("not checked yet"), "{reason}");

        let lists = debian_lists_dir(&cache, "bookworm", Arch::X86_64);
        std::fs::create_dir_all(&lists).unwrap();
        std::fs::write(
            lists.join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"),
            "Package: nginx\nVersion: 1.22.1-9\n\nPackage: openssh-server\nVersion: 1:9.2p1-2\n\nPackage: exim4-daemon-light\nProvides: mail-transport-agent, exim4-localscanapi-6.0\n\n",
        )
        .unwrap();
        let check = check_packages(&project, &source, Arch::X86_64, &cache);
        assert!(
            matches!(check.state, IndexState::Checked { names: 5, .. }),
            "{:?}",
            check.state
        );
        assert_eq!(check.diagnostics.len(), 1, "{:?}", check.diagnostics);
        let typo = &check.diagnostics[0];
        assert_eq!(typo.message, "Debian bookworm has no package named ngnix");
        assert_eq!(typo.help.as_deref(), Some("did you mean nginx?"));
        assert_eq!((typo.line, typo.column), (6, 5));
        assert_eq!(typo.path, "packages[1]");
    }

    #[test]
    fn gentoo_atoms_are_checked_against_the_ebuild_tree_when_there_is_one() {
        let work = tempfile::tempdir().unwrap();
        let project_dir = work.path().join("g");
        std::fs::create_dir_all(&project_dir).unwrap();
        let text = "{ name: \"g\", packages: [\"app-misc/screen\", \">=www-servers/ngnix-1.2\"] }";
        let (project, source) = project(&project_dir, text);
        let check = check_packages(&project, &source, Arch::X86_64, work.path());
        assert!(matches!(check.state, IndexState::NotCheckedYet { .. }));

        let repo = WorkDir::new(&project_dir, "x86_64", None)
            .lower()
            .join("var/db/repos/gentoo");
        for dir in ["profiles", "app-misc/screen", "www-servers/nginx"] {
            std::fs::create_dir_all(repo.join(dir)).unwrap();
        }
        let check = check_packages(&project, &source, Arch::X86_64, work.path());
        assert!(matches!(check.state, IndexState::Checked { .. }));
        assert_eq!(check.diagnostics.len(), 1, "{:?}", check.diagnostics);
        assert_eq!(
            check.diagnostics[0].message,
            "Gentoo has no package named www-servers/ngnix"
        );
        assert_eq!(
            check.diagnostics[0].help.as_deref(),
            Some("did you mean www-servers/nginx?")
        );
    }
}
