//! Portage's installed-package database (`/var/db/pkg`) seen through [`PackageDb`].
//!
//! Portage decides what an image carries through its profile: the `@profile` packages of the
//! selected profile stack plus `@genpack-runtime`, followed through installed RDEPEND and
//! PDEPEND, leaving out packages that inherit `genpack-ignore` (see
//! [`genpack_portage::Vardb::runtime_closure`]). That closure is computed once when the
//! database is opened and its packages are reported as essential, so the shared upper step
//! carries exactly them; their dependencies are reported already resolved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genpack_portage::vardb::{InstalledPackage, Unresolved};
use genpack_portage::{Atom, ContentsKind, Cpv, Vardb};

use super::{Package, PackageDb};
use crate::error::{BuildError, Result};

/// The package database of a Gentoo lower.
pub struct PortageDb {
    vardb: Vardb,
    /// Package name (see [`PortageDb::name_of`]) to package.
    packages: BTreeMap<String, Package>,
    /// Package name to its cpv.
    cpvs: BTreeMap<String, Cpv>,
    /// Dependencies of the image closure that nothing installed satisfies.
    unresolved: Vec<Unresolved>,
}

impl PortageDb {
    /// Reads `/var/db/pkg` and the selected profile of the lower at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        let vardb = Vardb::open(root)?;
        let roots: Vec<Atom> = genpack_portage::profile::image_roots(root)?;
        let closure = vardb.runtime_closure(&roots);
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for package in vardb.packages() {
            *names.entry(package.cpv.key()).or_default() += 1;
        }
        let name_of = |package: &InstalledPackage| -> String {
            if names.get(&package.cpv.key()).copied().unwrap_or(0) > 1 {
                format!("{}:{}", package.cpv.key(), package.main_slot())
            } else {
                package.cpv.key()
            }
        };
        let mut packages = BTreeMap::new();
        let mut cpvs = BTreeMap::new();
        for package in vardb.packages() {
            let name = name_of(package);
            let depends = vardb
                .runtime_dependencies(package)
                .into_iter()
                .filter(|dep| dep.cpv != package.cpv && !dep.is_ignored())
                .map(|dep| vec![name_of(dep)])
                .collect();
            packages.insert(
                name.clone(),
                Package {
                    name: name.clone(),
                    version: package.cpv.version.to_string(),
                    description: package.description.clone(),
                    license: (!package.license.is_empty()).then(|| package.license.clone()),
                    depends,
                    provides: Vec::new(),
                    essential: closure
                        .packages
                        .iter()
                        .any(|entry| entry.cpv == package.cpv),
                },
            );
            cpvs.insert(name, package.cpv.clone());
        }
        Ok(Self {
            vardb,
            packages,
            cpvs,
            unresolved: closure.unresolved,
        })
    }

    /// The underlying database.
    pub fn vardb(&self) -> &Vardb {
        &self.vardb
    }

    /// Dependencies of the image's closure that no installed package satisfies.
    pub fn unresolved(&self) -> &[Unresolved] {
        &self.unresolved
    }

    fn name_for(&self, cpv: &Cpv) -> Option<&str> {
        self.cpvs
            .iter()
            .find(|(_, candidate)| *candidate == cpv)
            .map(|(name, _)| name.as_str())
    }
}

impl PackageDb for PortageDb {
    fn installed(&self) -> Vec<String> {
        self.packages.keys().cloned().collect()
    }

    fn package(&self, name: &str) -> Option<&Package> {
        self.packages.get(name)
    }

    /// A name of this database, else any cpv, `category/name` or atom the database satisfies.
    fn resolve(&self, name: &str) -> Option<&Package> {
        if let Some(package) = self.packages.get(name) {
            return Some(package);
        }
        let found = self.vardb.find(name)?;
        self.packages.get(self.name_for(&found.cpv)?)
    }

    /// CONTENTS paths; a directory the package installed into through a symbolic link
    /// (`dir /sbin` on a merged-/usr root) is given as the directory it really is
    /// (`/usr/sbin`), so the package owns that directory.
    fn files(&self, name: &str) -> Result<Vec<PathBuf>> {
        let cpv = self.cpvs.get(name).ok_or_else(|| BuildError::PackageDb {
            path: self.vardb.root().join(genpack_portage::vardb::VARDB_PATH),
            message: format!("{name} is not installed"),
        })?;
        let root = self.vardb.root();
        Ok(self
            .vardb
            .contents(cpv)?
            .into_iter()
            .map(|entry| match entry.kind {
                ContentsKind::Dir => genpack_portage::vardb::resolve_in_root(root, &entry.path),
                _ => entry.path,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, contents: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn install(root: &Path, cpv: &str, slot: &str, rdepend: &str, inherited: &str) {
        let dir = format!("var/db/pkg/{cpv}");
        write(root, &format!("{dir}/SLOT"), slot);
        write(root, &format!("{dir}/RDEPEND"), rdepend);
        write(root, &format!("{dir}/INHERITED"), inherited);
        write(root, &format!("{dir}/LICENSE"), "MIT");
        write(
            root,
            &format!("{dir}/CONTENTS"),
            &format!("obj /usr/share/{cpv} 00000000000000000000000000000000 1\n"),
        );
    }

    #[test]
    fn the_profile_and_runtime_set_closure_is_essential() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        install(root, "app-misc/a-1", "0", "dev-libs/b", "");
        install(root, "dev-libs/b-1", "0", "", "");
        install(root, "dev-libs/b-2", "2", "", "");
        install(
            root,
            "genpack/helpers-1",
            "0",
            "dev-libs/c",
            "genpack-ignore",
        );
        install(root, "dev-libs/c-1", "0", "", "");
        install(root, "dev-util/build-1", "0", "", "");
        write(
            root,
            "var/db/repos/gentoo/profiles/image/packages",
            "genpack/helpers\n",
        );
        std::fs::create_dir_all(root.join("etc/portage")).unwrap();
        std::os::unix::fs::symlink(
            "../../var/db/repos/gentoo/profiles/image",
            root.join("etc/portage/make.profile"),
        )
        .unwrap();
        write(root, "etc/portage/sets/genpack-runtime", "app-misc/a\n");

        let db = PortageDb::open(root).unwrap();
        let essential: Vec<&str> = db
            .installed()
            .iter()
            .filter_map(|name| db.package(name))
            .filter(|package| package.essential)
            .map(|package| package.name.as_str())
            .collect();
        // The newest dev-libs/b satisfies the unslotted dependency; the helpers inherit
        // genpack-ignore, so they and what only they need stay out.
        assert_eq!(essential, ["app-misc/a", "dev-libs/b:2"]);
        assert_eq!(db.resolve("dev-libs/b").unwrap().name, "dev-libs/b:2");
        assert_eq!(db.resolve("=dev-libs/b-1").unwrap().name, "dev-libs/b:0");
        assert_eq!(
            db.package("app-misc/a").unwrap().depends,
            [["dev-libs/b:2"]]
        );
        assert_eq!(
            db.files("app-misc/a").unwrap(),
            [PathBuf::from("/usr/share/app-misc/a-1")]
        );
        assert!(db.files("dev-libs/none").is_err());

        // A directory installed into through a merged-/usr link is the real directory.
        std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
        std::os::unix::fs::symlink("usr/sbin", root.join("sbin")).unwrap();
        write(
            root,
            "var/db/pkg/app-misc/a-1/CONTENTS",
            "dir /sbin\nsym /sbin/init -> ../bin/busybox 1\n",
        );
        let db = PortageDb::open(root).unwrap();
        assert_eq!(
            db.files("app-misc/a").unwrap(),
            [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin/init")]
        );
    }
}
