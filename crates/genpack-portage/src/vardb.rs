//! The installed-package database of a Gentoo tree (`/var/db/pkg/<category>/<name>-<version>/`):
//! package metadata, installed files (CONTENTS) and the runtime closure of a set of packages.
//! Which of those files go into an image is decided by the build (`genpack-build`'s `select`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use crate::atom::{Atom, Cpv};
use crate::depend::{DepNode, DepSpec};
use crate::error::{Error, ParseError, Result};

/// Where the database lives inside a root.
pub const VARDB_PATH: &str = "var/db/pkg";

/// Eclass that keeps a package (and what only it pulls in) out of images.
pub const IGNORE_ECLASS: &str = "genpack-ignore";

/// One installed package.
#[derive(Debug, Clone)]
pub struct InstalledPackage {
    /// Category, name and version.
    pub cpv: Cpv,
    /// Slot as recorded, with the sub-slot when there is one (`0`, `3.12/3.12`).
    pub slot: String,
    /// Repository the package came from (`gentoo`), when recorded.
    pub repository: Option<String>,
    /// USE flags the package was built with.
    pub use_flags: BTreeSet<String>,
    /// Flags the package knows (IUSE, without `+`/`-` defaults).
    pub iuse: BTreeSet<String>,
    /// Eclasses the ebuild inherited.
    pub inherited: BTreeSet<String>,
    /// One-line description.
    pub description: String,
    /// Licence expression.
    pub license: String,
    /// Home page(s).
    pub homepage: String,
    /// Runtime dependencies as installed.
    pub rdepend: DepSpec,
    /// Post-merge dependencies as installed.
    pub pdepend: DepSpec,
    dir: PathBuf,
}

impl InstalledPackage {
    /// The slot without the sub-slot.
    pub fn main_slot(&self) -> &str {
        self.slot
            .split_once('/')
            .map_or(self.slot.as_str(), |(slot, _)| slot)
    }

    /// Whether the package inherits the `genpack-ignore` eclass.
    pub fn is_ignored(&self) -> bool {
        self.inherited.contains(IGNORE_ECLASS)
    }

    /// The package's directory in the database.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `cpv[:slot]` as the image's package list shows it.
    pub fn label(&self) -> String {
        format!("{}:{}", self.cpv, self.slot)
    }

    fn satisfies(&self, atom: &Atom) -> bool {
        atom.matches(&self.cpv, Some(&self.slot))
            && atom
                .repo
                .as_deref()
                .is_none_or(|repo| self.repository.as_deref() == Some(repo))
            && atom.use_satisfied(&self.use_flags, &self.iuse, &BTreeSet::new())
    }
}

/// Kind of a CONTENTS entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentsKind {
    /// A regular file (`obj`).
    Obj,
    /// A symbolic link (`sym`).
    Sym,
    /// A directory (`dir`).
    Dir,
    /// A named pipe (`fif`).
    Fifo,
    /// A device node (`dev`).
    Device,
}

/// One line of a package's CONTENTS file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContentsEntry {
    /// What the path is.
    pub kind: ContentsKind,
    /// Absolute path inside the root.
    pub path: PathBuf,
    /// Link target of a `sym` entry.
    pub target: Option<PathBuf>,
    /// MD5 of an `obj` entry.
    pub md5: Option<String>,
    /// Modification time (seconds since the epoch) of `obj` and `sym` entries.
    pub mtime: Option<u64>,
}

/// One package of a runtime closure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClosurePackage {
    /// The package.
    #[serde(serialize_with = "serialize_display")]
    pub cpv: Cpv,
    /// Its slot (with sub-slot when recorded).
    pub slot: String,
    /// Packages (cpv) whose runtime dependencies pulled this one in; empty for a root.
    pub needed_by: Vec<String>,
}

/// A dependency that no installed package satisfies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unresolved {
    /// The atom as written.
    pub atom: String,
    /// The package that depends on it; `None` for a root.
    pub needed_by: Option<String>,
}

/// The installed packages a set of roots needs at run time.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Closure {
    /// The packages, sorted by cpv.
    pub packages: Vec<ClosurePackage>,
    /// Packages left out because they inherit `genpack-ignore`, sorted.
    pub ignored: Vec<String>,
    /// Roots and plain dependencies nothing installed satisfies.
    pub unresolved: Vec<Unresolved>,
}

impl Closure {
    /// Whether the closure contains a package with this `category/name`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.packages.iter().any(|package| package.cpv.key() == key)
    }
}

fn serialize_display<S: serde::Serializer>(value: &Cpv, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// The installed-package database of a root file system.
#[derive(Debug, Clone)]
pub struct Vardb {
    root: PathBuf,
    packages: Vec<InstalledPackage>,
    /// `category/name` to indexes into `packages`.
    by_key: BTreeMap<String, Vec<usize>>,
}

impl Vardb {
    /// Reads every package under `<root>/var/db/pkg`. Directories of interrupted merges
    /// (`-MERGING-*`) and hidden entries are skipped.
    pub fn open(root: impl AsRef<Path>) -> Result<Vardb> {
        let root = root.as_ref().to_path_buf();
        let base = root.join(VARDB_PATH);
        let mut packages = Vec::new();
        for category in sorted_dir(&base)? {
            let Some(category_name) = file_name(&category) else {
                continue;
            };
            if category_name.starts_with('.')
                || category_name.starts_with("-MERGING-")
                || !category.is_dir()
            {
                continue;
            }
            for dir in sorted_dir(&category)? {
                let Some(dir_name) = file_name(&dir) else {
                    continue;
                };
                if dir_name.starts_with('.') || dir_name.starts_with("-MERGING-") || !dir.is_dir() {
                    continue;
                }
                let cpv =
                    Cpv::from_parts(&category_name, &dir_name).map_err(|source| Error::Parse {
                        path: dir.clone(),
                        line: 0,
                        source,
                    })?;
                packages.push(read_package(cpv, dir)?);
            }
        }
        packages.sort_by(|a, b| a.cpv.cmp(&b.cpv));
        let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, package) in packages.iter().enumerate() {
            by_key.entry(package.cpv.key()).or_default().push(index);
        }
        Ok(Vardb {
            root,
            packages,
            by_key,
        })
    }

    /// The root the database was read from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every installed package, sorted by cpv.
    pub fn packages(&self) -> &[InstalledPackage] {
        &self.packages
    }

    /// The installed package with exactly this cpv.
    pub fn package(&self, cpv: &Cpv) -> Option<&InstalledPackage> {
        self.with_key(&cpv.key())
            .find(|package| &package.cpv == cpv)
    }

    /// Every installed version of `category/name`.
    pub fn with_key<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a InstalledPackage> + 'a {
        self.by_key
            .get(key)
            .into_iter()
            .flatten()
            .map(|&index| &self.packages[index])
    }

    /// Looks a package up by cpv (`dev-libs/foo-1.2`), `category/name` or atom; the highest
    /// matching version wins.
    pub fn find(&self, query: &str) -> Option<&InstalledPackage> {
        if let Ok(cpv) = Cpv::parse(query) {
            if let Some(package) = self.package(&cpv) {
                return Some(package);
            }
        }
        Atom::parse(query)
            .ok()
            .and_then(|atom| self.best_match(&atom))
    }

    /// The highest installed version satisfying `atom` (name, version, slot, repository and USE
    /// dependencies; conditional USE dependencies must have been evaluated, see
    /// [`DepSpec::evaluate`]). Blockers match nothing.
    pub fn best_match(&self, atom: &Atom) -> Option<&InstalledPackage> {
        if atom.blocker.is_some() {
            return None;
        }
        self.with_key(&atom.key())
            .filter(|package| package.satisfies(atom))
            .max_by(|a, b| a.cpv.version.cmp(&b.cpv.version))
    }

    /// Like [`Vardb::best_match`], but when nothing satisfies the atom exactly, accepts a
    /// package that differs only in USE dependencies or sub-slot. The recorded RDEPEND of an
    /// installed package can lag behind a rebuilt dependency; the dependency is still needed.
    fn lenient_match(&self, atom: &Atom) -> Option<&InstalledPackage> {
        self.best_match(atom).or_else(|| {
            let mut relaxed = atom.clone();
            relaxed.use_deps.clear();
            if let Some(slot) = &mut relaxed.slot {
                slot.subslot = None;
            }
            self.best_match(&relaxed)
        })
    }

    /// The installed packages `package` directly needs at run time (RDEPEND and PDEPEND,
    /// evaluated with its USE flags): for `|| ( ... )` the first alternative that is installed,
    /// blockers skipped.
    pub fn runtime_dependencies(&self, package: &InstalledPackage) -> Vec<&InstalledPackage> {
        let mut out = Vec::new();
        let mut unresolved = Vec::new();
        self.collect_dependencies(package, &mut out, &mut unresolved);
        let mut seen = BTreeSet::new();
        out.retain(|dep| seen.insert(dep.cpv.clone()));
        out
    }

    fn collect_dependencies<'a>(
        &'a self,
        package: &InstalledPackage,
        out: &mut Vec<&'a InstalledPackage>,
        unresolved: &mut Vec<String>,
    ) {
        for spec in [&package.rdepend, &package.pdepend] {
            let nodes = spec.evaluate(&package.use_flags);
            self.walk(&nodes, out, unresolved);
        }
    }

    fn walk<'a>(
        &'a self,
        nodes: &[DepNode],
        out: &mut Vec<&'a InstalledPackage>,
        unresolved: &mut Vec<String>,
    ) {
        for node in nodes {
            match node {
                DepNode::Atom(atom) if atom.blocker.is_some() => {}
                DepNode::Atom(atom) => match self.lenient_match(atom) {
                    Some(found) => out.push(found),
                    None => unresolved.push(atom.to_string()),
                },
                DepNode::AllOf(children) => self.walk(children, out, unresolved),
                DepNode::AnyOf(children) => {
                    if let Some(chosen) = children.iter().find(|child| self.installed(child)) {
                        self.walk(std::slice::from_ref(chosen), out, unresolved);
                    }
                }
                DepNode::Conditional { children, .. } => self.walk(children, out, unresolved),
            }
        }
    }

    /// Whether an (evaluated) dependency node is satisfied by installed packages.
    fn installed(&self, node: &DepNode) -> bool {
        match node {
            DepNode::Atom(atom) => atom.blocker.is_some() || self.best_match(atom).is_some(),
            DepNode::AllOf(children) | DepNode::Conditional { children, .. } => {
                children.iter().all(|child| self.installed(child))
            }
            DepNode::AnyOf(children) => {
                children.is_empty() || children.iter().any(|child| self.installed(child))
            }
        }
    }

    /// The packages `roots` need at run time, following installed RDEPEND and PDEPEND only.
    /// Packages inheriting `genpack-ignore` are left out together with the dependencies only
    /// they pull in.
    pub fn runtime_closure(&self, roots: &[Atom]) -> Closure {
        let mut needed_by: BTreeMap<Cpv, BTreeSet<String>> = BTreeMap::new();
        let mut ignored = BTreeSet::new();
        let mut unresolved = Vec::new();
        let mut queue = VecDeque::new();
        for root in roots.iter().filter(|root| root.blocker.is_none()) {
            match self.lenient_match(root) {
                Some(package) if package.is_ignored() => {
                    ignored.insert(package.cpv.to_string());
                }
                Some(package) => {
                    if !needed_by.contains_key(&package.cpv) {
                        needed_by.insert(package.cpv.clone(), BTreeSet::new());
                        queue.push_back(package);
                    }
                }
                None => unresolved.push(Unresolved {
                    atom: root.to_string(),
                    needed_by: None,
                }),
            }
        }
        while let Some(package) = queue.pop_front() {
            let mut deps = Vec::new();
            let mut missing = Vec::new();
            self.collect_dependencies(package, &mut deps, &mut missing);
            let parent = package.cpv.to_string();
            unresolved.extend(missing.into_iter().map(|atom| Unresolved {
                atom,
                needed_by: Some(parent.clone()),
            }));
            for dep in deps {
                if dep.cpv == package.cpv {
                    continue;
                }
                if dep.is_ignored() {
                    ignored.insert(dep.cpv.to_string());
                    continue;
                }
                match needed_by.get_mut(&dep.cpv) {
                    Some(parents) => {
                        parents.insert(parent.clone());
                    }
                    None => {
                        needed_by.insert(dep.cpv.clone(), BTreeSet::from([parent.clone()]));
                        queue.push_back(dep);
                    }
                }
            }
        }
        let packages = needed_by
            .into_iter()
            .map(|(cpv, parents)| {
                let slot = self
                    .package(&cpv)
                    .map(|package| package.slot.clone())
                    .unwrap_or_default();
                ClosurePackage {
                    cpv,
                    slot,
                    needed_by: parents.into_iter().collect(),
                }
            })
            .collect();
        Closure {
            packages,
            ignored: ignored.into_iter().collect(),
            unresolved,
        }
    }

    /// The CONTENTS of an installed package.
    pub fn contents(&self, cpv: &Cpv) -> Result<Vec<ContentsEntry>> {
        let package = self
            .package(cpv)
            .ok_or_else(|| Error::NotInstalled(cpv.to_string()))?;
        let path = package.dir.join("CONTENTS");
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io(path, error)),
        };
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(index, line)| {
                parse_contents_line(line).map_err(|source| Error::Parse {
                    path: path.clone(),
                    line: index + 1,
                    source,
                })
            })
            .collect()
    }

    /// The image's package list (`/.genpack/packages`): per package a `cpv:slot` line followed by
    /// `# NEEDED_BY:`, `# DESCRIPTION:`, `# USE:`, `# HOMEPAGE:` and `# LICENSE:` lines.
    pub fn package_list(&self, closure: &Closure) -> String {
        let mut out = String::new();
        for entry in &closure.packages {
            out.push_str(&format!("{}:{}\n", entry.cpv, entry.slot));
            out.push_str(&format!("# NEEDED_BY: {}\n", entry.needed_by.join(" ")));
            if let Some(package) = self.package(&entry.cpv) {
                let flags: Vec<&str> = package.use_flags.iter().map(String::as_str).collect();
                out.push_str(&format!("# DESCRIPTION: {}\n", package.description));
                out.push_str(&format!("# USE: {}\n", flags.join(" ")));
                out.push_str(&format!("# HOMEPAGE: {}\n", package.homepage));
                out.push_str(&format!("# LICENSE: {}\n", package.license));
            }
        }
        out
    }

    /// The paths a package installed (every CONTENTS entry, directories included), in file order.
    pub fn files(&self, cpv: &Cpv) -> Result<Vec<PathBuf>> {
        Ok(self
            .contents(cpv)?
            .into_iter()
            .map(|entry| entry.path)
            .collect())
    }
}

pub use genpack_util::resolve_in_root;

fn parse_contents_line(line: &str) -> Result<ContentsEntry, ParseError> {
    let invalid = |why: &str| ParseError::new("CONTENTS line", line, why);
    let (kind, rest) = line
        .split_once(' ')
        .ok_or_else(|| invalid("expected '<kind> <path> ...'"))?;
    let mut entry = ContentsEntry {
        kind: ContentsKind::Dir,
        path: PathBuf::new(),
        target: None,
        md5: None,
        mtime: None,
    };
    match kind {
        "dir" | "fif" | "dev" => {
            entry.kind = match kind {
                "dir" => ContentsKind::Dir,
                "fif" => ContentsKind::Fifo,
                _ => ContentsKind::Device,
            };
            entry.path = PathBuf::from(rest);
        }
        "obj" => {
            let (rest, mtime) = rest
                .rsplit_once(' ')
                .ok_or_else(|| invalid("missing mtime"))?;
            let (path, md5) = rest
                .rsplit_once(' ')
                .ok_or_else(|| invalid("missing md5"))?;
            entry.kind = ContentsKind::Obj;
            entry.path = PathBuf::from(path);
            entry.md5 = Some(md5.to_string());
            entry.mtime = Some(
                mtime
                    .parse()
                    .map_err(|_| invalid("mtime is not a number"))?,
            );
        }
        "sym" => {
            let (rest, mtime) = rest
                .rsplit_once(' ')
                .ok_or_else(|| invalid("missing mtime"))?;
            let (path, target) = rest
                .split_once(" -> ")
                .ok_or_else(|| invalid("missing ' -> target'"))?;
            entry.kind = ContentsKind::Sym;
            entry.path = PathBuf::from(path);
            entry.target = Some(PathBuf::from(target));
            entry.mtime = Some(
                mtime
                    .parse()
                    .map_err(|_| invalid("mtime is not a number"))?,
            );
        }
        _ => {
            return Err(invalid(
                "unknown entry kind (expected obj, sym, dir, fif or dev)",
            ))
        }
    }
    if !entry.path.is_absolute() {
        return Err(invalid("path is not absolute"));
    }
    Ok(entry)
}

fn read_package(cpv: Cpv, dir: PathBuf) -> Result<InstalledPackage> {
    let read = |name: &str| -> Result<String> {
        let path = dir.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text.trim().to_string()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(error) => Err(Error::io(path, error)),
        }
    };
    let words = |text: String| -> BTreeSet<String> {
        text.split_whitespace().map(str::to_string).collect()
    };
    let deps = |name: &str| -> Result<DepSpec> {
        DepSpec::parse(&read(name)?).map_err(|source| Error::Parse {
            path: dir.join(name),
            line: 0,
            source,
        })
    };
    let slot = read("SLOT")?;
    let repository = read("repository")?;
    Ok(InstalledPackage {
        slot: if slot.is_empty() { "0".into() } else { slot },
        repository: (!repository.is_empty()).then_some(repository),
        use_flags: words(read("USE")?),
        iuse: read("IUSE")?
            .split_whitespace()
            .map(|flag| flag.trim_start_matches(['+', '-']).to_string())
            .collect(),
        inherited: words(read("INHERITED")?),
        description: read("DESCRIPTION")?,
        license: read("LICENSE")?,
        homepage: read("HOMEPAGE")?,
        rdepend: deps("RDEPEND")?,
        pdepend: deps("PDEPEND")?,
        cpv,
        dir,
    })
}

fn sorted_dir(path: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(path).map_err(|error| Error::io(path, error))? {
        entries.push(entry.map_err(|error| Error::io(path, error))?.path());
    }
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_contents_lines_with_spaces() {
        let entry = parse_contents_line(
            "obj /usr/share/a file.txt d41d8cd98f00b204e9800998ecf8427e 1700000000",
        )
        .unwrap();
        assert_eq!(entry.kind, ContentsKind::Obj);
        assert_eq!(entry.path, PathBuf::from("/usr/share/a file.txt"));
        assert_eq!(
            entry.md5.as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(entry.mtime, Some(1_700_000_000));
        let link = parse_contents_line("sym /usr/lib/libz.so -> libz.so.1.3 1700000001").unwrap();
        assert_eq!(link.target, Some(PathBuf::from("libz.so.1.3")));
        assert_eq!(
            parse_contents_line("dir /usr/share/my dir").unwrap().path,
            PathBuf::from("/usr/share/my dir")
        );
        assert!(parse_contents_line("obj /usr/bin/x 123").is_err());
        assert!(parse_contents_line("sym /a b 12").is_err());
        assert!(parse_contents_line("foo /a").is_err());
        assert!(parse_contents_line("dir relative").is_err());
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("usr/lib64")).unwrap();
        fs::create_dir_all(root.join("var")).unwrap();
        std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
        std::os::unix::fs::symlink("/run", root.join("var/run")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("usr/escape")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/lib64/security")),
            PathBuf::from("/usr/lib64/security")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/var/run/lock")),
            PathBuf::from("/run/lock")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/usr/escape/x")),
            PathBuf::from("/etc/x"),
            "'..' stops at the root"
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/usr/../lib64")),
            PathBuf::from("/usr/lib64")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/loop/x")),
            PathBuf::from("/loop/x"),
            "link loops give up"
        );
    }
}
