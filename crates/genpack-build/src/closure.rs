//! The runtime closure: the packages whose files make up the image.

use std::collections::{BTreeSet, VecDeque};

use crate::base::PackageDb;

/// Result of [`runtime_closure`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    /// Package names in the closure, sorted.
    pub packages: BTreeSet<String>,
    /// Requested roots that are not installed (neither as a package nor as a provided name).
    pub missing_roots: Vec<String>,
    /// Dependencies no installed package satisfies, as `package: a | b`.
    pub unsatisfied: Vec<String>,
}

/// Follows runtime dependencies (Depends and Pre-Depends) from `roots` plus every essential
/// package. In an alternative group `a | b` the first alternative that is installed (or
/// provided by an installed package) wins.
pub fn runtime_closure(db: &dyn PackageDb, roots: &[String]) -> Closure {
    let mut closure = Closure::default();
    let mut queue: VecDeque<String> = VecDeque::new();
    for root in roots {
        match db.resolve(root) {
            Some(package) => queue.push_back(package.name.clone()),
            None => closure.missing_roots.push(root.clone()),
        }
    }
    for name in db.installed() {
        if db.package(&name).map(|p| p.essential).unwrap_or(false) {
            queue.push_back(name);
        }
    }
    while let Some(name) = queue.pop_front() {
        if !closure.packages.insert(name.clone()) {
            continue;
        }
        let Some(package) = db.package(&name) else {
            continue;
        };
        for group in &package.depends {
            match group.iter().find_map(|alt| db.resolve(alt)) {
                Some(dep) => {
                    if !closure.packages.contains(&dep.name) {
                        queue.push_back(dep.name.clone());
                    }
                }
                None => closure
                    .unsatisfied
                    .push(format!("{name}: {}", group.join(" | "))),
            }
        }
    }
    closure
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Package;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    struct FakeDb(BTreeMap<String, Package>);

    impl PackageDb for FakeDb {
        fn installed(&self) -> Vec<String> {
            self.0.keys().cloned().collect()
        }
        fn package(&self, name: &str) -> Option<&Package> {
            self.0.get(name)
        }
        fn resolve(&self, name: &str) -> Option<&Package> {
            self.0.get(name).or_else(|| {
                self.0
                    .values()
                    .find(|p| p.provides.iter().any(|v| v == name))
            })
        }
        fn files(&self, _: &str) -> crate::Result<Vec<PathBuf>> {
            Ok(Vec::new())
        }
    }

    fn pkg(
        name: &str,
        depends: &[&[&str]],
        provides: &[&str],
        essential: bool,
    ) -> (String, Package) {
        (
            name.to_string(),
            Package {
                name: name.into(),
                version: "1".into(),
                description: String::new(),
                license: None,
                depends: depends
                    .iter()
                    .map(|g| g.iter().map(|s| s.to_string()).collect())
                    .collect(),
                provides: provides.iter().map(|s| s.to_string()).collect(),
                essential,
            },
        )
    }

    #[test]
    fn follows_dependencies_first_installed_alternative_and_essentials() {
        let db = FakeDb(BTreeMap::from([
            pkg("app", &[&["libx"], &["notinstalled", "virt"]], &[], false),
            pkg("libx", &[&["libc"]], &[], false),
            pkg("libc", &[], &[], false),
            pkg("provider", &[], &["virt"], false),
            pkg("other-provider", &[], &["virt"], false),
            pkg("bash", &[], &[], true),
            pkg("buildtool", &[&["libc"]], &[], false),
        ]));
        let closure = runtime_closure(&db, &["app".into(), "ghost".into()]);
        let names: Vec<&str> = closure.packages.iter().map(String::as_str).collect();
        assert_eq!(names, vec!["app", "bash", "libc", "libx", "other-provider"]);
        assert_eq!(closure.missing_roots, vec!["ghost"]);
        assert!(closure.unsatisfied.is_empty());
    }
}
