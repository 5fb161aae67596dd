//! Time zone names, for validation and for a searchable list in editors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The zoneinfo directory of this system.
pub const SYSTEM_ZONEINFO: &str = "/usr/share/zoneinfo";

/// Zone names bundled with this library (tzdata zones and links), used when no zoneinfo
/// directory is available.
const BUNDLED: &str = include_str!("../data/timezones.txt");

/// A set of known time zone names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownTimezones {
    names: BTreeSet<String>,
}

impl KnownTimezones {
    /// The zones of this system's /usr/share/zoneinfo, or the bundled list without it.
    pub fn system() -> Self {
        Self::from_zoneinfo(Path::new(SYSTEM_ZONEINFO)).unwrap_or_else(Self::bundled)
    }

    /// The bundled list.
    pub fn bundled() -> Self {
        Self {
            names: BUNDLED
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// The zones of a zoneinfo directory: from its `tzdata.zi` when present, else by walking
    /// it. None when the directory does not exist or holds no zones.
    pub fn from_zoneinfo(dir: &Path) -> Option<Self> {
        let mut names = BTreeSet::new();
        if let Ok(text) = std::fs::read_to_string(dir.join("tzdata.zi")) {
            for line in text.lines() {
                let mut fields = line.split_whitespace();
                match (fields.next(), fields.next(), fields.next()) {
                    (Some("Z"), Some(zone), _) => {
                        names.insert(zone.to_string());
                    }
                    (Some("L"), Some(_target), Some(link)) => {
                        names.insert(link.to_string());
                    }
                    _ => {}
                }
            }
        }
        if names.is_empty() {
            walk(dir, dir, &mut names);
        }
        (!names.is_empty()).then_some(Self { names })
    }

    /// Whether a name is a known zone.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// All names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.names.iter().cloned().collect()
    }

    /// Known names closest to a mistyped one (for "did you mean" hints), best first: names
    /// containing it (e.g. `tokyo` -> `Asia/Tokyo`), else the most similar spellings.
    pub fn suggestions(&self, name: &str, max: usize) -> Vec<String> {
        let lower = name.to_lowercase();
        let mut found: Vec<String> = self
            .names
            .iter()
            .filter(|n| n.to_lowercase().contains(&lower))
            .cloned()
            .collect();
        if found.is_empty() {
            let mut scored: Vec<(f64, &String)> = self
                .names
                .iter()
                .map(|n| (strsim::jaro_winkler(&n.to_lowercase(), &lower), n))
                .filter(|(score, _)| *score >= 0.85)
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            found = scored.into_iter().map(|(_, n)| n.clone()).collect();
        }
        found.truncate(max);
        found
    }
}

/// All time zone names for a searchable list: this system's zoneinfo, else the bundled list.
pub fn timezones() -> Vec<String> {
    KnownTimezones::system().names()
}

/// Whether a name has the shape of a zone name (a relative path without `..`), so that it
/// can be joined to a zoneinfo directory safely.
pub fn is_zone_name_shape(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c))
}

fn walk(root: &Path, dir: &Path, names: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().to_string();
        if rel == "posix" || rel == "right" || !is_zone_name_shape(&rel) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &path, names);
        } else if rel.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && is_tzif(&path) {
            names.insert(rel);
        }
    }
}

/// Compiled zone files start with the magic `TZif`.
fn is_tzif(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"TZif"
}
