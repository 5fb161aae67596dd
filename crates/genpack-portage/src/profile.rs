//! The selected Portage profile of a root (`/etc/portage/make.profile` and its `parent` chain)
//! and the package sets that decide an image's runtime closure.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::atom::Atom;
use crate::config::RUNTIME_SET;
use crate::error::{Error, ParseError, Result};
use crate::vardb::resolve_in_root;

/// Repository names to their locations (inside the root), from `/etc/portage/repos.conf`.
/// `gentoo` defaults to `/var/db/repos/gentoo` when not declared.
pub fn repositories(root: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut repos = BTreeMap::new();
    let conf = root.join("etc/portage/repos.conf");
    let mut files = Vec::new();
    if conf.is_dir() {
        for entry in fs::read_dir(&conf).map_err(|error| Error::io(&conf, error))? {
            let path = entry.map_err(|error| Error::io(&conf, error))?.path();
            if path.is_file()
                && !path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with('.'))
            {
                files.push(path);
            }
        }
        files.sort();
    } else if conf.is_file() {
        files.push(conf);
    }
    for path in files {
        let text = fs::read_to_string(&path).map_err(|error| Error::io(&path, error))?;
        let mut section: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if let Some(name) = line
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                section = Some(name.trim().to_string());
            } else if let (Some(name), Some((key, value))) = (&section, line.split_once('=')) {
                if key.trim() == "location" {
                    repos.insert(name.clone(), PathBuf::from(value.trim()));
                }
            }
        }
    }
    repos
        .entry("gentoo".to_string())
        .or_insert_with(|| PathBuf::from("/var/db/repos/gentoo"));
    Ok(repos)
}

/// The packages the profile stack declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePackages {
    /// `*atom` entries: the `@system` set.
    pub system: Vec<Atom>,
    /// Plain entries: the `@profile` set.
    pub profile: Vec<Atom>,
}

/// The profile stack selected in a root, most general first.
#[derive(Debug, Clone)]
pub struct ProfileStack {
    root: PathBuf,
    /// Profile directories (absolute inside the root), parents before children.
    pub dirs: Vec<PathBuf>,
}

impl ProfileStack {
    /// Follows `/etc/portage/make.profile` and every `parent` file below it.
    pub fn load(root: &Path) -> Result<ProfileStack> {
        let repos = repositories(root)?;
        let start = resolve_in_root(root, Path::new("/etc/portage/make.profile"));
        let mut dirs = Vec::new();
        collect(root, &repos, &start, &mut dirs, 0)?;
        Ok(ProfileStack {
            root: root.to_path_buf(),
            dirs,
        })
    }

    /// The `packages` entries of the whole stack, with `-atom` and `-*atom` removals applied.
    pub fn packages(&self) -> Result<ProfilePackages> {
        let mut entries: Vec<(bool, Atom)> = Vec::new();
        for dir in &self.dirs {
            let path = on_disk(&self.root, &dir.join("packages"));
            let Some(lines) = read_lines(&path)? else {
                continue;
            };
            for (number, line) in lines {
                let parse = |text: &str| {
                    Atom::parse(text).map_err(|source| Error::Parse {
                        path: path.clone(),
                        line: number,
                        source,
                    })
                };
                if let Some(removed) = line.strip_prefix('-') {
                    let atom = parse(removed.trim_start_matches('*'))?;
                    entries.retain(|(_, existing)| existing != &atom);
                } else if let Some(system) = line.strip_prefix('*') {
                    entries.push((true, parse(system)?));
                } else {
                    entries.push((false, parse(&line)?));
                }
            }
        }
        let mut packages = ProfilePackages::default();
        for (system, atom) in entries {
            if system {
                packages.system.push(atom);
            } else {
                packages.profile.push(atom);
            }
        }
        Ok(packages)
    }
}

fn collect(
    root: &Path,
    repos: &BTreeMap<String, PathBuf>,
    dir: &Path,
    out: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<()> {
    let on_disk_dir = on_disk(root, dir);
    if depth > 64 {
        return Err(Error::Parse {
            path: on_disk_dir,
            line: 0,
            source: ParseError::new(
                "profile",
                &dir.display().to_string(),
                "parent chain too deep (a cycle?)",
            ),
        });
    }
    if !on_disk_dir.is_dir() {
        return Err(Error::io(
            on_disk_dir,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let parent_file = on_disk_dir.join("parent");
    if let Some(lines) = read_lines(&parent_file)? {
        for (number, line) in lines {
            let parent = match line.split_once(':') {
                Some((repo, path)) => {
                    let location = repos.get(repo).ok_or_else(|| Error::Parse {
                        path: parent_file.clone(),
                        line: number,
                        source: ParseError::new(
                            "profile parent",
                            &line,
                            format!("unknown repository '{repo}'"),
                        ),
                    })?;
                    location.join("profiles").join(path)
                }
                None => dir.join(&line),
            };
            let parent = resolve_in_root(root, &parent);
            collect(root, repos, &parent, out, depth + 1)?;
        }
    }
    out.push(dir.to_path_buf());
    Ok(())
}

fn on_disk(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Non-empty, non-comment lines with their 1-based numbers; `None` when the file is absent.
fn read_lines(path: &Path) -> Result<Option<Vec<(usize, String)>>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(
            text.lines()
                .enumerate()
                .map(|(index, line)| {
                    (
                        index + 1,
                        line.split('#').next().unwrap_or("").trim().to_string(),
                    )
                })
                .filter(|(_, line)| !line.is_empty())
                .collect(),
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::io(path, error)),
    }
}

/// The atoms of a set file `/etc/portage/sets/<name>` (comments and blank lines skipped).
pub fn read_set(root: &Path, name: &str) -> Result<Vec<Atom>> {
    let path = root.join("etc/portage/sets").join(name);
    let lines = read_lines(&path)?
        .ok_or_else(|| Error::io(&path, std::io::Error::from(std::io::ErrorKind::NotFound)))?;
    lines
        .into_iter()
        .map(|(number, line)| {
            Atom::parse(&line).map_err(|source| Error::Parse {
                path: path.clone(),
                line: number,
                source,
            })
        })
        .collect()
}

/// The roots of an image's runtime closure: the `@profile` packages of the selected profile
/// stack followed by `@genpack-runtime`.
pub fn image_roots(root: &Path) -> Result<Vec<Atom>> {
    let mut roots = ProfileStack::load(root)?.packages()?.profile;
    for atom in read_set(root, RUNTIME_SET)? {
        if !roots.contains(&atom) {
            roots.push(atom);
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }

    #[test]
    fn follows_the_stack_across_repositories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "etc/portage/repos.conf/genpack-overlay.conf",
            "[genpack-overlay]\nlocation = /var/db/repos/genpack-overlay\nauto-sync = no\n",
        );
        write(
            root,
            "var/db/repos/gentoo/profiles/base/packages",
            "*sys-apps/baselayout\n*sys-devel/gcc\n*app-editors/nano\n",
        );
        write(
            root,
            "var/db/repos/gentoo/profiles/default/linux/amd64/23.0/systemd/parent",
            "../../../../../base\n",
        );
        write(
            root,
            "var/db/repos/gentoo/profiles/default/linux/amd64/23.0/systemd/packages",
            "*sys-apps/systemd\n",
        );
        let overlay = "var/db/repos/genpack-overlay/profiles/genpack";
        write(
            root,
            &format!("{overlay}/packages"),
            "# root\n*genpack/genpack-progs\ngenpack/base\n-*app-editors/nano\n",
        );
        write(
            root,
            &format!("{overlay}/amd64/parent"),
            "gentoo:default/linux/amd64/23.0/systemd\n..\n",
        );
        write(
            root,
            &format!("{overlay}/paravirt/packages"),
            "genpack/paravirt\n",
        );
        write(
            root,
            &format!("{overlay}/amd64/paravirt/parent"),
            "..\n../../paravirt\n",
        );
        symlink(
            "../../var/db/repos/genpack-overlay/profiles/genpack/amd64/paravirt",
            root.join("etc/portage/make.profile"),
        )
        .unwrap();
        write(
            root,
            "etc/portage/sets/genpack-runtime",
            "# Written by genpack\ngenpack/base\napp-misc/screen\n",
        );

        let stack = ProfileStack::load(root).unwrap();
        let names: Vec<String> = stack
            .dirs
            .iter()
            .map(|dir| dir.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/var/db/repos/gentoo/profiles/base",
                "/var/db/repos/gentoo/profiles/default/linux/amd64/23.0/systemd",
                "/var/db/repos/genpack-overlay/profiles/genpack",
                "/var/db/repos/genpack-overlay/profiles/genpack/amd64",
                "/var/db/repos/genpack-overlay/profiles/genpack/paravirt",
                "/var/db/repos/genpack-overlay/profiles/genpack/amd64/paravirt",
            ]
        );
        let packages = stack.packages().unwrap();
        let system: Vec<String> = packages.system.iter().map(Atom::to_string).collect();
        assert_eq!(
            system,
            [
                "sys-apps/baselayout",
                "sys-devel/gcc",
                "sys-apps/systemd",
                "genpack/genpack-progs"
            ]
        );
        let roots: Vec<String> = image_roots(root)
            .unwrap()
            .iter()
            .map(Atom::to_string)
            .collect();
        assert_eq!(
            roots,
            ["genpack/base", "genpack/paravirt", "app-misc/screen"]
        );
    }

    #[test]
    fn unknown_repository_is_reported_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "profiles/p/parent", "nowhere:foo\n");
        fs::create_dir_all(root.join("etc/portage")).unwrap();
        symlink("/profiles/p", root.join("etc/portage/make.profile")).unwrap();
        let error = ProfileStack::load(root).unwrap_err().to_string();
        assert!(error.contains("profiles/p/parent:1"), "{error}");
        assert!(error.contains("unknown repository 'nowhere'"), "{error}");
    }
}
