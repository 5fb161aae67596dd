//! The dpkg database (`/var/lib/dpkg/status` and `info/*.list`) as a [`PackageDb`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Package, PackageDb};
use crate::error::{BuildError, Result};

/// Installed packages of a Debian root, read from its dpkg database.
#[derive(Debug)]
pub struct DpkgDb {
    root: PathBuf,
    packages: BTreeMap<String, Package>,
    /// `info/<file>.list` stem per package (`libc6:amd64` for Multi-Arch: same).
    list_stems: BTreeMap<String, String>,
    /// Virtual name -> providers, in database order.
    providers: BTreeMap<String, Vec<String>>,
}

impl DpkgDb {
    /// Reads `<root>/var/lib/dpkg/status` and the licences from `/usr/share/doc/*/copyright`.
    pub fn open(root: &Path) -> Result<Self> {
        let status_path = root.join("var/lib/dpkg/status");
        let text = std::fs::read_to_string(&status_path)
            .map_err(BuildError::io("reading dpkg status", &status_path))?;
        let mut packages = BTreeMap::new();
        let mut list_stems = BTreeMap::new();
        let mut providers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for stanza in parse_stanzas(&text) {
            let field = |key: &str| {
                stanza
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.as_str())
            };
            let Some(name) = field("Package") else {
                continue;
            };
            let installed = field("Status")
                .map(|s| s.ends_with(" installed"))
                .unwrap_or(false);
            if !installed {
                continue;
            }
            let mut depends = Vec::new();
            for key in ["Pre-Depends", "Depends"] {
                if let Some(value) = field(key) {
                    depends.extend(parse_relations(value));
                }
            }
            let provides: Vec<String> = field("Provides")
                .map(|v| parse_relations(v).into_iter().flatten().collect())
                .unwrap_or_default();
            for virtual_name in &provides {
                providers
                    .entry(virtual_name.clone())
                    .or_default()
                    .push(name.to_string());
            }
            let multi_arch_same = field("Multi-Arch") == Some("same");
            let arch = field("Architecture").unwrap_or("all");
            let stem = if multi_arch_same {
                format!("{name}:{arch}")
            } else {
                name.to_string()
            };
            list_stems.insert(name.to_string(), stem);
            let description = field("Description")
                .and_then(|d| d.lines().next())
                .unwrap_or("")
                .trim()
                .to_string();
            let essential =
                field("Essential") == Some("yes") || field("Priority") == Some("required");
            packages.insert(
                name.to_string(),
                Package {
                    name: name.to_string(),
                    version: field("Version").unwrap_or("").to_string(),
                    description,
                    license: read_license(root, name),
                    depends,
                    provides,
                    essential,
                },
            );
        }
        if packages.is_empty() {
            return Err(BuildError::PackageDb {
                path: status_path,
                message: "no installed package".into(),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
            packages,
            list_stems,
            providers,
        })
    }
}

impl PackageDb for DpkgDb {
    fn installed(&self) -> Vec<String> {
        self.packages.keys().cloned().collect()
    }

    fn package(&self, name: &str) -> Option<&Package> {
        self.packages.get(name)
    }

    fn resolve(&self, name: &str) -> Option<&Package> {
        self.packages.get(name).or_else(|| {
            self.providers
                .get(name)?
                .iter()
                .find_map(|provider| self.packages.get(provider))
        })
    }

    fn files(&self, name: &str) -> Result<Vec<PathBuf>> {
        let Some(stem) = self.list_stems.get(name) else {
            return Ok(Vec::new());
        };
        let path = self
            .root
            .join("var/lib/dpkg/info")
            .join(format!("{stem}.list"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(BuildError::io("reading file list", path)(err)),
        };
        Ok(text
            .lines()
            .filter(|l| l.starts_with('/') && *l != "/.")
            .map(PathBuf::from)
            .collect())
    }
}

/// Splits a deb822 document into stanzas of (field, value); continuation lines are joined
/// with newlines.
pub(crate) fn parse_stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut stanzas = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
        } else if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, value)) = current.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        stanzas.push(current);
    }
    stanzas
}

/// Parses a relation field (`a (>= 1) | b:any, c`) into groups of package names.
pub(crate) fn parse_relations(value: &str) -> Vec<Vec<String>> {
    value
        .split(',')
        .map(|group| {
            group
                .split('|')
                .filter_map(|alt| {
                    let name = alt
                        .trim()
                        .split(|c: char| c.is_whitespace() || c == '(' || c == '[' || c == '<')
                        .next()?;
                    let name = name.split(':').next()?.trim();
                    (!name.is_empty()).then(|| name.to_string())
                })
                .collect::<Vec<_>>()
        })
        .filter(|group| !group.is_empty())
        .collect()
}

/// Distinct `License:` short names of a machine-readable copyright file, joined with " and ".
fn read_license(root: &Path, name: &str) -> Option<String> {
    let mut doc = root.join("usr/share/doc").join(name);
    // Doc directories are often relative symlinks to a sibling; an absolute one must not
    // escape into the host.
    if let Ok(target) = std::fs::read_link(&doc) {
        if target.is_absolute() {
            doc = root.join(target.strip_prefix("/").ok()?);
        }
    }
    let text = std::fs::read_to_string(doc.join("copyright")).ok()?;
    let mut licenses: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("License:") {
            let short = rest.trim();
            if !short.is_empty() && !licenses.iter().any(|l| l == short) {
                licenses.push(short.to_string());
            }
        }
    }
    (!licenses.is_empty()).then(|| licenses.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_keep_alternatives_in_order_and_drop_versions_and_arch() {
        assert_eq!(
            parse_relations(
                "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any, foo [amd64]"
            ),
            vec![
                vec!["libc6".to_string()],
                vec!["debconf".into(), "debconf-2.0".into()],
                vec!["python3".into()],
                vec!["foo".into()]
            ]
        );
    }

    fn fake_root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let dpkg = dir.path().join("var/lib/dpkg/info");
        std::fs::create_dir_all(&dpkg).unwrap();
        std::fs::write(
            dir.path().join("var/lib/dpkg/status"),
            "Package: a\nStatus: install ok installed\nPriority: optional\nVersion: 1.0\nDepends: virt | b\nDescription: first\n long text\n\n\
             Package: c\nStatus: install ok installed\nProvides: virt\nVersion: 2\nMulti-Arch: same\nArchitecture: amd64\nDescription: provider\n\n\
             Package: gone\nStatus: deinstall ok config-files\nVersion: 3\n\n\
             Package: e\nStatus: install ok installed\nEssential: yes\nVersion: 4\n",
        )
        .unwrap();
        std::fs::write(dpkg.join("c:amd64.list"), "/.\n/usr\n/usr/lib/c.so\n").unwrap();
        std::fs::create_dir_all(dir.path().join("usr/share/doc/a")).unwrap();
        std::fs::write(
            dir.path().join("usr/share/doc/a/copyright"),
            "Files: *\nLicense: GPL-2+\n\nLicense: GPL-2+\n text\nLicense: MIT\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn status_file_gives_installed_packages_with_metadata() {
        let root = fake_root();
        let db = DpkgDb::open(root.path()).unwrap();
        assert_eq!(db.installed(), vec!["a", "c", "e"]);
        let a = db.package("a").unwrap();
        assert_eq!(a.description, "first");
        assert_eq!(a.license.as_deref(), Some("GPL-2+ and MIT"));
        assert!(!a.essential);
        assert!(db.package("e").unwrap().essential);
        assert_eq!(db.resolve("virt").unwrap().name, "c");
        assert_eq!(
            db.files("c").unwrap(),
            vec![PathBuf::from("/usr"), PathBuf::from("/usr/lib/c.so")]
        );
        assert!(db.files("a").unwrap().is_empty());
    }
}
