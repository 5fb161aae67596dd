//! How long this project's builds took on this machine, kept in its work folder so the next
//! build can say beforehand about how long it will take.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::workdir::WorkDir;

/// The last build times of one work folder (one architecture and variant), in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct BuildTimes {
    /// The last build that made the base layer (every package), from start to packed image.
    pub with_base_layer_s: Option<f64>,
    /// The last build that reused the base layer and remade the image contents.
    pub base_layer_reused_s: Option<f64>,
}

impl BuildTimes {
    /// `work/<arch>/build-times[-<variant>].json`.
    pub fn file(work: &WorkDir) -> PathBuf {
        work.build_times()
    }

    /// The recorded times; none when nothing was built yet (or the file is unreadable, which
    /// only costs the estimate).
    pub fn read(work: &WorkDir) -> Self {
        std::fs::read(Self::file(work))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Records a finished build that did work (`seconds` in all, `base_layer_s` of them making
    /// the base layer, zero when it was reused); a build with nothing to do says nothing about
    /// the next one. Until a build reuses the base layer, the part of a full build after the
    /// base layer stands in for one. Failing to keep the time never fails the build.
    pub(crate) fn record(work: &WorkDir, seconds: f64, base_layer_s: f64) {
        let mut times = Self::read(work);
        if base_layer_s > 0.0 {
            times.with_base_layer_s = Some(seconds);
            if times.base_layer_reused_s.is_none() {
                times.base_layer_reused_s = Some((seconds - base_layer_s).max(1.0));
            }
        } else {
            times.base_layer_reused_s = Some(seconds);
        }
        if let Ok(json) = serde_json::to_vec_pretty(&times) {
            let _ = genpack_util::write_atomic(&Self::file(work), &json);
        }
    }

    /// About how long the next build takes: a build that makes the base layer when there is
    /// none yet (`base_layer_ready` false), else one that reuses it.
    pub fn estimate(&self, base_layer_ready: bool) -> Option<f64> {
        if base_layer_ready {
            self.base_layer_reused_s
        } else {
            self.with_base_layer_s
        }
    }
}

/// Whether the work folder holds a base layer (it may still be out of date).
pub fn base_layer_exists(work: &WorkDir) -> bool {
    work.lower().join("usr").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_kept_per_kind_of_build_and_estimate_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let work = WorkDir::new(dir.path(), "x86_64", None);
        assert_eq!(BuildTimes::read(&work), BuildTimes::default());
        assert_eq!(BuildTimes::read(&work).estimate(false), None);
        std::fs::create_dir_all(work.root()).unwrap();
        BuildTimes::record(&work, 300.0, 240.0);
        // Before any build reused the base layer, the rest of the full build stands in.
        assert_eq!(BuildTimes::read(&work).estimate(true), Some(60.0));
        BuildTimes::record(&work, 40.0, 0.0);
        BuildTimes::record(&work, 35.5, 0.0);
        BuildTimes::record(&work, 320.0, 250.0);
        let times = BuildTimes::read(&work);
        assert_eq!(times.with_base_layer_s, Some(320.0));
        assert_eq!(times.estimate(false), Some(320.0));
        assert_eq!(times.estimate(true), Some(35.5));
        // Another variant has its own times.
        let other = WorkDir::new(dir.path(), "x86_64", Some("big"));
        assert_eq!(BuildTimes::read(&other), BuildTimes::default());
        assert!(!base_layer_exists(&work));
        std::fs::create_dir_all(work.lower().join("usr")).unwrap();
        assert!(base_layer_exists(&work));
    }
}
