//! The stages of the image tree and their stamps.
//!
//! The image tree is made in stages, in this order: the package closure copied from the
//! lower, accounts, `files/`, `build.d` scripts, setup commands, services, package scripts,
//! the boot side and the `/.genpack` metadata. Each stage writes into its own layer
//! (`work/<arch>/stages/<stage>/`) and records what it was made from in a stamp next to it.
//! A stamp's hash covers the stage's own inputs and the hash of the stage before it, so a
//! change reruns the stage it feeds and every stage after it, and nothing before.
//!
//! The stamp keeps the inputs themselves, so a rerun can say what changed
//! (`files changed: etc/motd`, `services changed: +nginx`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{BuildError, Result};
use crate::fsutil::{sha256_hex, write_atomic};
use crate::workdir::WorkDir;

/// Bumped whenever what a stage writes changes in a way its inputs do not show.
pub const STAGE_FORMAT: u32 = 1;

/// One stage of the image tree.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The runtime closure copied from the lower, `/etc/hostname`, the linker cache and the
    /// package list of `/.genpack`.
    Packages,
    /// The scripts the overlays keep for the image's packages (`package-scripts/<cat>/<pn>/`),
    /// run right after the packages are copied up, as upstream genpack does.
    PackageScripts,
    /// Groups and users.
    Accounts,
    /// The project's `files/` merged over `/`.
    Files,
    /// The `build.d` scripts (and `/build`).
    #[serde(rename = "build.d")]
    BuildScripts,
    /// The definition's setup commands.
    Setup,
    /// Enabling the definition's services.
    Services,
    /// Kernel link, boot programs, system.ini schema and initramfs.
    Boot,
    /// `/.genpack`: architecture, profile, name, variant, timestamp.
    Metadata,
}

impl Stage {
    /// Every stage, in the order they run.
    pub const ALL: [Stage; 9] = [
        Stage::Packages,
        Stage::PackageScripts,
        Stage::Accounts,
        Stage::Files,
        Stage::BuildScripts,
        Stage::Setup,
        Stage::Services,
        Stage::Boot,
        Stage::Metadata,
    ];

    /// The stage's name: its layer, stamp and log are called after it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Packages => "packages",
            Stage::Accounts => "accounts",
            Stage::Files => "files",
            Stage::BuildScripts => "build.d",
            Stage::Setup => "setup",
            Stage::Services => "services",
            Stage::PackageScripts => "package-scripts",
            Stage::Boot => "boot",
            Stage::Metadata => "metadata",
        }
    }

    /// Position in [`Stage::ALL`].
    pub fn index(self) -> usize {
        Stage::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or_default()
    }

    /// Whether the stage runs commands in the image (on the lower, the layers below it and
    /// its own layer, so the lower's tools are at hand) rather than only writing files.
    pub fn sees_the_lower(self) -> bool {
        !matches!(self, Stage::Packages | Stage::Boot | Stage::Metadata)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Stage {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|s| s.name() == text || (text == "build-scripts" && *s == Stage::BuildScripts))
            .ok_or_else(|| {
                let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
                format!("unknown stage `{text}`: use one of {}", names.join(", "))
            })
    }
}

/// What a stage is made from, by name (`services`, `files`, ...).
pub type StageInputs = BTreeMap<String, Value>;

/// The stamp of a finished stage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageStamp {
    /// [`stage_hash`] of the inputs and the previous stage's hash.
    pub hash: String,
    /// The inputs, to name what changed next time.
    pub inputs: StageInputs,
    /// What the stage did (reported again when it is up to date).
    #[serde(default)]
    pub outcome: Value,
    /// Stage-specific data kept between runs (the digests of `files/`).
    #[serde(default)]
    pub cache: Value,
}

impl StageStamp {
    /// The stamp of `stage`, if it finished last time and its stamp is readable.
    pub fn read(work: &WorkDir, stage: Stage) -> Option<StageStamp> {
        let text = std::fs::read_to_string(work.stage_stamp(stage.name())).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the stamp of `stage` (atomically).
    pub fn write(&self, work: &WorkDir, stage: Stage) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| BuildError::Definition(e.to_string()))?;
        write_atomic(&work.stage_stamp(stage.name()), text.as_bytes())
    }
}

/// The hash of `stage` made from `inputs` on top of the stage hashed `previous`.
pub fn stage_hash(stage: Stage, previous: &str, inputs: &StageInputs) -> String {
    let json = serde_json::json!({
        "stage": stage.name(),
        "format": STAGE_FORMAT,
        "genpack": env!("CARGO_PKG_VERSION"),
        "previous": previous,
        "inputs": inputs,
    });
    sha256_hex(json.to_string().as_bytes())
}

/// Human-readable differences between `old` and `new` inputs, empty when equal.
pub fn changes(old: &StageInputs, new: &StageInputs) -> Vec<String> {
    let mut changes = Vec::new();
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let (a, b) = (old.get(key), new.get(key));
        if a == b {
            continue;
        }
        changes.push(match (a, b) {
            (Some(Value::Array(a)), Some(Value::Array(b))) => list_change(key, a, b),
            (Some(Value::Object(a)), Some(Value::Object(b))) => map_change(key, a, b),
            _ => format!("{key} changed"),
        });
    }
    changes
}

fn short(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn list_change(key: &str, old: &[Value], new: &[Value]) -> String {
    let added: Vec<String> = new
        .iter()
        .filter(|v| !old.contains(v))
        .map(|v| format!("+{}", short(v)))
        .collect();
    let removed: Vec<String> = old
        .iter()
        .filter(|v| !new.contains(v))
        .map(|v| format!("-{}", short(v)))
        .collect();
    let parts: Vec<String> = added.into_iter().chain(removed).collect();
    if parts.is_empty() {
        format!("{key} changed (order)")
    } else {
        format!("{key} changed: {}", abbreviate(&parts))
    }
}

fn map_change(
    key: &str,
    old: &serde_json::Map<String, Value>,
    new: &serde_json::Map<String, Value>,
) -> String {
    let names: std::collections::BTreeSet<&String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .collect();
    // A new or changed folder is implied by the changed paths inside it: name those only.
    // The names are sorted, so a folder's first path inside, if any, is the first name from
    // "folder/" on.
    let innermost: Vec<String> = names
        .iter()
        .filter(|name| {
            let inside = format!("{name}/");
            !names
                .range::<&String, _>(&inside..)
                .next()
                .is_some_and(|next| next.starts_with(&inside))
        })
        .map(|name| name.to_string())
        .collect();
    format!("{key} changed: {}", abbreviate(&innermost))
}

/// At most five items, then how many more.
fn abbreviate(items: &[String]) -> String {
    const SHOWN: usize = 5;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..SHOWN].join(", "),
            items.len() - SHOWN
        )
    }
}

/// Whether a stage reruns in this build, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StageDecision {
    /// The stage.
    pub stage: Stage,
    /// The hash it has (or will have) in this build.
    pub hash: String,
    /// Its inputs in this build.
    #[serde(skip)]
    pub inputs: StageInputs,
    /// `None` when up to date, else why it reruns.
    pub rerun: Option<String>,
}

/// Which stages rerun: the first stage whose stamp does not match its inputs (or `from`,
/// when earlier), and every stage after it. `base` identifies what the first stage is made
/// from (the lower).
pub fn plan(
    work: &WorkDir,
    base: &str,
    inputs: Vec<(Stage, StageInputs)>,
    from: Option<Stage>,
) -> Vec<StageDecision> {
    let mut decisions = Vec::new();
    let mut previous = base.to_string();
    let mut earlier_rerun: Option<Stage> = None;
    for (stage, inputs) in inputs {
        let hash = stage_hash(stage, &previous, &inputs);
        let rerun = if let Some(earlier) = earlier_rerun {
            Some(format!("after {earlier}"))
        } else if from.is_some_and(|f| f <= stage) {
            Some("asked for".to_string())
        } else {
            match StageStamp::read(work, stage) {
                None => Some("not built yet".to_string()),
                Some(stamp) if stamp.hash == hash => {
                    if work.stage_layer(stage.name()).is_dir() {
                        None
                    } else {
                        Some("its layer is missing".to_string())
                    }
                }
                Some(stamp) => {
                    let named = changes(&stamp.inputs, &inputs);
                    Some(if named.is_empty() {
                        if stage == Stage::Packages {
                            "the base layer was rebuilt".to_string()
                        } else {
                            "genpack changed".to_string()
                        }
                    } else {
                        named.join("; ")
                    })
                }
            }
        };
        if rerun.is_some() && earlier_rerun.is_none() {
            earlier_rerun = Some(stage);
        }
        previous = hash.clone();
        decisions.push(StageDecision {
            stage,
            hash,
            inputs,
            rerun,
        });
    }
    decisions
}

/// One line for the log: which stages are up to date and which rerun, and why.
pub fn summary(decisions: &[StageDecision]) -> String {
    let Some(first) = decisions.iter().position(|d| d.rerun.is_some()) else {
        return "image tree is up to date (every stage's inputs are unchanged)".to_string();
    };
    let names = |ds: &[StageDecision]| -> String {
        ds.iter()
            .map(|d| d.stage.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reason = decisions[first].rerun.clone().unwrap_or_default();
    let rerun = names(&decisions[first..]);
    if first == 0 {
        format!("rerunning every stage ({reason}): {rerun}", reason = reason)
    } else {
        format!(
            "up to date: {}; {} reruns ({reason}), then {}",
            names(&decisions[..first]),
            decisions[first].stage,
            if first + 1 < decisions.len() {
                names(&decisions[first + 1..])
            } else {
                "nothing else".to_string()
            }
        )
    }
}

/// The layers of the stages before `stage`, top first (the order overlayfs stacks them).
pub fn layers_below(work: &WorkDir, stage: Stage) -> Vec<std::path::PathBuf> {
    Stage::ALL[..stage.index()]
        .iter()
        .rev()
        .map(|s| work.stage_layer(s.name()))
        .filter(|layer| !is_empty_dir(layer))
        .collect()
}

/// Every stage layer, bottom first.
pub fn all_layers(work: &WorkDir) -> Vec<std::path::PathBuf> {
    Stage::ALL
        .iter()
        .map(|s| work.stage_layer(s.name()))
        .collect()
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs(pairs: &[(&str, Value)]) -> StageInputs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn names_round_trip() {
        for stage in Stage::ALL {
            assert_eq!(stage.name().parse::<Stage>(), Ok(stage));
            assert_eq!(Stage::ALL[stage.index()], stage);
        }
        assert!("nope".parse::<Stage>().unwrap_err().contains("build.d"));
    }

    #[test]
    fn changes_name_what_changed() {
        let old = inputs(&[
            ("services", json!(["ssh", "networkd"])),
            (
                "files",
                json!({"etc/motd": "f 644 aa", "etc/x": "f 644 bb"}),
            ),
            ("hostname", json!("a")),
        ]);
        let new = inputs(&[
            ("services", json!(["ssh", "nginx"])),
            (
                "files",
                json!({"etc/motd": "f 644 cc", "etc/x": "f 644 bb"}),
            ),
            ("hostname", json!("b")),
        ]);
        assert_eq!(
            changes(&old, &new),
            vec![
                "files changed: etc/motd",
                "hostname changed",
                "services changed: +nginx, -networkd"
            ]
        );
        assert!(changes(&old, &old).is_empty());
    }

    #[test]
    fn new_folders_are_named_by_the_files_in_them() {
        let old = inputs(&[("files", json!({"etc/motd": "f 644 aa"}))]);
        let new = inputs(&[(
            "files",
            json!({
                "etc/motd": "f 644 aa",
                "etc/dconf": "d 755",
                "etc/dconf/profile": "d 755",
                "etc/dconf/profile/user": "f 644 bb",
                "etc/dconf/db": "d 755",
                "etc/dconf/db/local.d": "d 755",
                "etc/dconf-old": "f 644 cc",
            }),
        )]);
        assert_eq!(
            changes(&old, &new),
            vec!["files changed: etc/dconf-old, etc/dconf/db/local.d, etc/dconf/profile/user"]
        );
    }

    #[test]
    fn a_change_reruns_its_stage_and_every_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let work = WorkDir::new(dir.path(), "x86_64", None);
        std::fs::create_dir_all(work.stages()).unwrap();
        let all = |services: &str| -> Vec<(Stage, StageInputs)> {
            Stage::ALL
                .iter()
                .map(|s| {
                    let i = if *s == Stage::Services {
                        inputs(&[("services", json!([services]))])
                    } else {
                        StageInputs::new()
                    };
                    (*s, i)
                })
                .collect()
        };
        let first = plan(&work, "lower-1", all("ssh"), None);
        assert!(first.iter().all(|d| d.rerun.is_some()));
        for d in &first {
            std::fs::create_dir_all(work.stage_layer(d.stage.name())).unwrap();
            StageStamp {
                hash: d.hash.clone(),
                inputs: d.inputs.clone(),
                outcome: Value::Null,
                cache: Value::Null,
            }
            .write(&work, d.stage)
            .unwrap();
        }
        let same = plan(&work, "lower-1", all("ssh"), None);
        assert!(same.iter().all(|d| d.rerun.is_none()), "{same:?}");
        assert!(summary(&same).contains("up to date"));

        let changed = plan(&work, "lower-1", all("nginx"), None);
        let rerun: Vec<Stage> = changed
            .iter()
            .filter(|d| d.rerun.is_some())
            .map(|d| d.stage)
            .collect();
        assert_eq!(rerun, vec![Stage::Services, Stage::Boot, Stage::Metadata]);
        assert_eq!(
            changed[Stage::Services.index()].rerun.as_deref(),
            Some("services changed: +nginx, -ssh")
        );
        assert_eq!(
            changed[Stage::Boot.index()].rerun.as_deref(),
            Some("after services")
        );
        let line = summary(&changed);
        assert!(
            line.contains("services reruns (services changed: +nginx, -ssh)"),
            "{line}"
        );

        let new_lower = plan(&work, "lower-2", all("ssh"), None);
        assert_eq!(
            new_lower[0].rerun.as_deref(),
            Some("the base layer was rebuilt")
        );
        let forced = plan(&work, "lower-1", all("ssh"), Some(Stage::Files));
        assert!(forced[..Stage::Files.index()]
            .iter()
            .all(|d| d.rerun.is_none()));
        assert_eq!(
            forced[Stage::Files.index()].rerun.as_deref(),
            Some("asked for")
        );
    }
}
