//! What a Gentoo build needs on this machine, said before it starts: how much the base
//! downloads, about how long the first build takes (from past builds here when there are
//! some, else an estimate) and which mirror it must reach.

use std::path::Path;

use genpack_def::Arch;
use genpack_portage::history::MergeHistory;
use serde::Serialize;

use crate::base::gentoo::{default_mirror, Gentoo, GentooSources};

/// Typical download of a systemd stage3 archive, in MiB (amd64 and arm64, 2025).
const STAGE3_MIB: u64 = 300;
/// Typical download of the Portage tree snapshot, in MiB.
const SNAPSHOT_MIB: u64 = 45;
/// Packages a Gentoo image compiles besides the ones its definition names (the kernel,
/// systemd's rebuild with the image's USE flags, their libraries), for the estimate.
const BASE_PACKAGES: u64 = 25;
/// Minutes one package takes to compile on a 2-core machine, for the estimate without history.
const MINUTES_PER_PACKAGE: u64 = 6;

/// What a Gentoo build of a definition needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct GentooNeeds {
    /// MiB the base still downloads (stage3 and Portage tree); 0 when both are cached.
    pub base_download_mib: u64,
    /// Both are in the download cache already.
    pub base_cached: bool,
    /// The mirror the base comes from (`GENPACK_GENTOO_MIRROR`, else Gentoo's).
    pub mirror: String,
    /// About how long the first build takes, in seconds.
    pub expected_s: u64,
    /// `expected_s` comes from past builds on this machine (else it is an estimate).
    pub from_history: bool,
}

/// What building a Gentoo definition of `packages` packages for `arch` needs, with the caches
/// in `cache_root` and `mirror` (the default mirror when `None`).
pub fn gentoo_needs(
    arch: Arch,
    packages: usize,
    cache_root: &Path,
    mirror: Option<&str>,
) -> GentooNeeds {
    let mirror = mirror
        .filter(|m| !m.trim().is_empty())
        .map_or_else(default_mirror, str::to_string);
    let gentoo = Gentoo::new(GentooSources::new(&mirror, &cache_root.join("gentoo")));
    let cached_stage3 = std::fs::read_dir(gentoo.downloads(arch))
        .map(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("stage3-") && name.ends_with(".tar.xz")
            })
        })
        .unwrap_or(false);
    let cached_snapshot = gentoo.snapshot().is_file();
    let base_download_mib =
        if cached_stage3 { 0 } else { STAGE3_MIB } + if cached_snapshot { 0 } else { SNAPSHOT_MIB };
    let history =
        MergeHistory::parse(&std::fs::read_to_string(gentoo.merge_log(arch)).unwrap_or_default());
    let count = u64::try_from(packages)
        .unwrap_or(u64::MAX)
        .saturating_add(BASE_PACKAGES);
    let (per_package, from_history) = match history.mean() {
        Some(mean) => (mean.as_secs().max(1), true),
        None => (MINUTES_PER_PACKAGE * 60, false),
    };
    GentooNeeds {
        base_download_mib,
        base_cached: cached_stage3 && cached_snapshot,
        mirror,
        expected_s: count.saturating_mul(per_package),
        from_history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_cache_downloads_the_base_and_estimates_the_time() {
        let cache = tempfile::tempdir().unwrap();
        let needs = gentoo_needs(Arch::X86_64, 5, cache.path(), Some("file:///srv/gentoo"));
        assert_eq!(needs.base_download_mib, STAGE3_MIB + SNAPSHOT_MIB);
        assert!(!needs.base_cached);
        assert!(!needs.from_history);
        assert_eq!(needs.mirror, "file:///srv/gentoo");
        assert_eq!(
            needs.expected_s,
            (5 + BASE_PACKAGES) * MINUTES_PER_PACKAGE * 60
        );
    }

    #[test]
    fn past_builds_and_cached_downloads_are_used() {
        let cache = tempfile::tempdir().unwrap();
        let gentoo = Gentoo::new(GentooSources::new("x", &cache.path().join("gentoo")));
        std::fs::create_dir_all(gentoo.downloads(Arch::X86_64)).unwrap();
        std::fs::write(
            gentoo
                .downloads(Arch::X86_64)
                .join("stage3-amd64-systemd-20250101T000000Z.tar.xz"),
            b"x",
        )
        .unwrap();
        std::fs::write(gentoo.snapshot(), b"x").unwrap();
        let log = gentoo.merge_log(Arch::X86_64);
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(
            &log,
            "100:  >>> emerge (1 of 1) app-misc/hello-1.0::gentoo to /\n160:  ::: completed emerge (1 of 1) app-misc/hello-1.0::gentoo to /\n",
        )
        .unwrap();
        let needs = gentoo_needs(Arch::X86_64, 5, cache.path(), None);
        assert_eq!(needs.base_download_mib, 0);
        assert!(needs.base_cached);
        assert!(needs.from_history);
        assert_eq!(needs.expected_s, (5 + BASE_PACKAGES) * 60);
    }
}
