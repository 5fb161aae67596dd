//! The lower layer: built by the base provider into a staging directory, moved into place,
//! then stamped with the hash of its inputs. It is rebuilt only when those inputs change.

use std::collections::BTreeMap;
use std::path::Path;

use crate::base::{BaseProvider, LowerContext};
use crate::command::Runner;
use crate::error::{BuildError, Result};
use crate::fsutil::{file_digest, sha256_hex};
use crate::progress::{Phase, Progress};
use crate::recipe::Recipe;
use crate::workdir::{remove_tree, WorkDir};

/// Project folders whose content feeds a Gentoo lower (patches, kernel config...). A change
/// in any of them rebuilds the lower; `files/` only feeds the upper.
pub const GENTOO_LOWER_INPUT_DIRS: [&str; 5] =
    ["savedconfig", "patches", "kernel", "env", "overlay"];

/// Everything a lower is built from. Stored as JSON in `lower.stamp` so a rebuild can say
/// which input changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LowerInputs {
    /// Base provider name and its identity lines (suite, mirror, base set).
    pub base: Vec<String>,
    /// Target architecture.
    pub arch: String,
    /// Profile.
    pub profile: Option<String>,
    /// Runtime packages, sorted.
    pub packages: Vec<String>,
    /// Build-time packages, sorted.
    pub buildtime_packages: Vec<String>,
    /// SHA-256 of every file under the provider's
    /// [`BaseProvider::lower_input_dirs`], by relative path.
    pub files: BTreeMap<String, String>,
}

impl LowerInputs {
    /// Collects the inputs of `recipe` for `provider`.
    pub fn collect(provider: &dyn BaseProvider, recipe: &Recipe) -> Result<Self> {
        let mut base = vec![provider.name().to_string()];
        base.extend(provider.lower_identity(recipe));
        let mut packages = recipe.packages.clone();
        packages.sort();
        packages.dedup();
        let mut buildtime_packages = recipe.buildtime_packages.clone();
        buildtime_packages.sort();
        buildtime_packages.dedup();
        let mut files = BTreeMap::new();
        for dir in provider.lower_input_dirs() {
            hash_dir(
                &recipe.project_dir,
                &recipe.project_dir.join(dir),
                &mut files,
            )?;
        }
        Ok(Self {
            base,
            arch: recipe.arch.to_string(),
            profile: recipe.profile.clone(),
            packages,
            buildtime_packages,
            files,
        })
    }

    /// Hex SHA-256 of the canonical JSON form.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        sha256_hex(&json)
    }

    /// Human-readable differences from `old`, empty when equal.
    pub fn changes_since(&self, old: &LowerInputs) -> Vec<String> {
        let mut changes = Vec::new();
        if self.base != old.base {
            changes.push(format!(
                "base changed ({} -> {})",
                old.base.join(" "),
                self.base.join(" ")
            ));
        }
        if self.arch != old.arch {
            changes.push(format!(
                "architecture changed ({} -> {})",
                old.arch, self.arch
            ));
        }
        if self.profile != old.profile {
            changes.push(format!(
                "profile changed ({:?} -> {:?})",
                old.profile, self.profile
            ));
        }
        list_change(&mut changes, "packages", &old.packages, &self.packages);
        list_change(
            &mut changes,
            "buildtime_packages",
            &old.buildtime_packages,
            &self.buildtime_packages,
        );
        let changed_files: Vec<&String> = self
            .files
            .keys()
            .chain(old.files.keys())
            .filter(|k| self.files.get(*k) != old.files.get(*k))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !changed_files.is_empty() {
            let names: Vec<&str> = changed_files.iter().map(|s| s.as_str()).collect();
            changes.push(format!("files changed: {}", names.join(", ")));
        }
        changes
    }
}

fn list_change(changes: &mut Vec<String>, what: &str, old: &[String], new: &[String]) {
    let added: Vec<&str> = new
        .iter()
        .filter(|p| !old.contains(p))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old
        .iter()
        .filter(|p| !new.contains(p))
        .map(String::as_str)
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("+{}", added.join(" +")));
        }
        if !removed.is_empty() {
            parts.push(format!("-{}", removed.join(" -")));
        }
        changes.push(format!("{what} changed: {}", parts.join(" ")));
    }
}

fn hash_dir(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(BuildError::io("reading directory", dir)(err)),
    };
    for entry in entries {
        let entry = entry.map_err(BuildError::io("reading directory", dir))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(BuildError::io("reading", &path))?;
        let key = path
            .strip_prefix(base)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if kind.is_dir() {
            hash_dir(base, &path, out)?;
        } else if kind.is_symlink() {
            let target =
                std::fs::read_link(&path).map_err(BuildError::io("reading link", &path))?;
            out.insert(key, format!("link:{}", target.display()));
        } else {
            out.insert(key, file_digest(&path)?);
        }
    }
    Ok(())
}

/// Why the lower is (or is not) rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum LowerDecision {
    /// The stamp matches the inputs: nothing to do.
    UpToDate,
    /// Rebuild, with the reasons.
    Rebuild(Vec<String>),
}

/// What the lower phase did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LowerReport {
    /// Whether the lower was built in this run.
    pub rebuilt: bool,
    /// Why it was or was not rebuilt.
    pub reasons: Vec<String>,
    /// Packages fetched from the network (not found in the download cache).
    pub downloaded_packages: usize,
    /// Packages compiled from source (Gentoo).
    pub compiled_packages: usize,
    /// Packages installed from binary packages (Gentoo).
    pub binary_packages: usize,
    /// Hash of the inputs now stamped on the lower.
    pub inputs_hash: String,
}

/// Compares the stamp of `work` with `inputs`.
pub fn decide(work: &WorkDir, inputs: &LowerInputs, force: bool) -> LowerDecision {
    if force {
        return LowerDecision::Rebuild(vec!["a base layer rebuild was requested".into()]);
    }
    if !work.lower().join("usr").is_dir() {
        return LowerDecision::Rebuild(vec!["this is its first build".into()]);
    }
    let stamp = match std::fs::read_to_string(work.lower_stamp()) {
        Ok(text) => text,
        Err(_) => {
            return LowerDecision::Rebuild(vec![
                "the base layer has no stamp (its last build did not finish)".into(),
            ])
        }
    };
    match serde_json::from_str::<Stamp>(&stamp) {
        Ok(old) if old.hash == inputs.hash() => LowerDecision::UpToDate,
        Ok(old) => {
            let mut reasons = inputs.changes_since(&old.inputs);
            if reasons.is_empty() {
                reasons.push("the stamp format changed".into());
            }
            LowerDecision::Rebuild(reasons)
        }
        Err(_) => LowerDecision::Rebuild(vec!["the base layer's stamp is unreadable".into()]),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stamp {
    hash: String,
    inputs: LowerInputs,
}

/// Builds the lower when needed. On success the new tree replaces the old one and the stamp
/// is written last; on failure or cancel the old lower and its stamp stay untouched (if the
/// old stamp no longer matches, the next build tries again).
pub(crate) fn ensure_lower(
    provider: &dyn BaseProvider,
    recipe: &Recipe,
    work: &WorkDir,
    runner: &Runner,
    cache_dir: &Path,
    force: bool,
) -> Result<LowerReport> {
    let inputs = LowerInputs::collect(provider, recipe)?;
    let hash = inputs.hash();
    let step = "lower";
    let reasons = match decide(work, &inputs, force) {
        LowerDecision::UpToDate => {
            let message = format!("base layer is up to date (inputs {})", &hash[..12]);
            runner.log_line(step, &message)?;
            (runner.progress())(Progress::Note {
                phase: Phase::Lower,
                message,
            });
            return Ok(LowerReport {
                rebuilt: false,
                reasons: vec!["inputs unchanged".into()],
                downloaded_packages: 0,
                compiled_packages: 0,
                binary_packages: 0,
                inputs_hash: hash,
            });
        }
        LowerDecision::Rebuild(reasons) => reasons,
    };
    let message = format!("making the base layer: {}", reasons.join("; "));
    runner.log_line(step, &message)?;
    (runner.progress())(Progress::Note {
        phase: Phase::Lower,
        message,
    });

    std::fs::create_dir_all(work.root()).map_err(BuildError::io("creating", work.root()))?;
    let staging = work.lower_staging();
    remove_tree(&staging)?;
    std::fs::create_dir_all(cache_dir).map_err(BuildError::io("creating cache", cache_dir))?;
    let ctx = LowerContext {
        recipe,
        target: &staging,
        project_dir: &recipe.project_dir,
        cache_dir,
        runner,
    };
    let stats = match provider.lower(&ctx) {
        Ok(stats) => stats,
        Err(err) => {
            // Leave no half-built tree (and no mount) behind; the old lower is untouched.
            let _ = remove_tree(&staging);
            return Err(err);
        }
    };
    let lower = work.lower();
    // Invalidate the old stamp before the old tree goes away.
    let _ = std::fs::remove_file(work.lower_stamp());
    remove_tree(&lower)?;
    std::fs::rename(&staging, &lower)
        .map_err(BuildError::io("moving the new lower into place", &lower))?;
    let stamp = serde_json::to_string_pretty(&Stamp {
        hash: hash.clone(),
        inputs,
    })
    .map_err(|e| BuildError::Definition(e.to_string()))?;
    crate::fsutil::write_atomic(&work.lower_stamp(), stamp.as_bytes())?;
    let downloaded_packages = stats.downloaded_packages;
    runner.log_line(
        step,
        &format!(
            "base layer done: {} packages installed, {downloaded_packages} downloaded",
            stats.installed_packages
        ),
    )?;
    Ok(LowerReport {
        rebuilt: true,
        reasons,
        downloaded_packages,
        compiled_packages: stats.compiled_packages,
        binary_packages: stats.binary_packages,
        inputs_hash: hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(packages: &[&str]) -> LowerInputs {
        LowerInputs {
            base: vec!["debian".into(), "bookworm".into()],
            arch: "x86_64".into(),
            profile: None,
            packages: packages.iter().map(|s| s.to_string()).collect(),
            buildtime_packages: vec![],
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn package_changes_are_named() {
        let old = inputs(&["a", "b"]);
        let new = inputs(&["b", "c"]);
        assert_ne!(old.hash(), new.hash());
        assert_eq!(new.changes_since(&old), vec!["packages changed: +c -a"]);
        assert!(old.changes_since(&old).is_empty());
    }

    #[test]
    fn stamp_decides_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let work = WorkDir::new(dir.path(), "x86_64", None);
        let i = inputs(&["a"]);
        assert!(matches!(
            decide(&work, &i, false),
            LowerDecision::Rebuild(_)
        ));
        std::fs::create_dir_all(work.lower().join("usr")).unwrap();
        assert!(
            matches!(decide(&work, &i, false), LowerDecision::Rebuild(r) if r[0].contains("no stamp"))
        );
        let stamp = serde_json::to_string(&Stamp {
            hash: i.hash(),
            inputs: i.clone(),
        })
        .unwrap();
        std::fs::write(work.lower_stamp(), stamp).unwrap();
        assert_eq!(decide(&work, &i, false), LowerDecision::UpToDate);
        assert!(matches!(decide(&work, &i, true), LowerDecision::Rebuild(_)));
        assert_eq!(
            decide(&work, &inputs(&["a", "z"]), false),
            LowerDecision::Rebuild(vec!["packages changed: +z".into()])
        );
    }

    #[test]
    fn input_dir_contents_feed_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = BTreeMap::new();
        std::fs::create_dir_all(dir.path().join("patches/x")).unwrap();
        std::fs::write(dir.path().join("patches/x/p.patch"), "1").unwrap();
        hash_dir(dir.path(), &dir.path().join("patches"), &mut a).unwrap();
        std::fs::write(dir.path().join("patches/x/p.patch"), "2").unwrap();
        let mut b = BTreeMap::new();
        hash_dir(dir.path(), &dir.path().join("patches"), &mut b).unwrap();
        assert_eq!(a.keys().collect::<Vec<_>>(), vec!["patches/x/p.patch"]);
        assert_ne!(a, b);
    }
}
