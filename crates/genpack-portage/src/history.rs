//! What Portage's `/var/log/emerge.log` tells: how long packages took to merge before, for the
//! build's ETA (a package merged before is expected to take about as long again), and which
//! packages a run compiled, installed from binary packages or downloaded from a binhost.

use std::collections::HashMap;
use std::time::Duration;

use crate::atom::Cpv;

/// Past merge times per package (`category/name`, any version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeHistory {
    seconds: HashMap<String, Vec<u64>>,
}

impl MergeHistory {
    /// Reads emerge.log's text: a merge starts with
    /// `<epoch>:  >>> emerge (n of m) cat/pkg-ver::repo to /` and ends with
    /// `<epoch>:  ::: completed emerge (n of m) cat/pkg-ver::repo to /`. Merges that never
    /// completed (failed or interrupted) and lines of another shape are left out.
    pub fn parse(log: &str) -> MergeHistory {
        let mut started: HashMap<String, u64> = HashMap::new();
        let mut history = MergeHistory::default();
        for line in log.lines() {
            let Some((stamp, message)) = line.split_once(':') else {
                continue;
            };
            let Ok(stamp) = stamp.trim().parse::<u64>() else {
                continue;
            };
            let message = message.trim_start();
            if let Some(rest) = message.strip_prefix(">>> emerge (") {
                if let Some(key) = package_key(rest) {
                    started.insert(key, stamp);
                }
            } else if let Some(rest) = message.strip_prefix("::: completed emerge (") {
                if let Some(key) = package_key(rest) {
                    if let Some(start) = started.remove(&key) {
                        history
                            .seconds
                            .entry(key)
                            .or_default()
                            .push(stamp.saturating_sub(start));
                    }
                }
            }
        }
        history
    }

    /// Whether no completed merge is known.
    pub fn is_empty(&self) -> bool {
        self.seconds.is_empty()
    }

    /// The typical (median) time `package` (`cat/pkg-ver` or `cat/pkg`) took, when it was
    /// merged before.
    pub fn typical(&self, package: &str) -> Option<Duration> {
        let key = Cpv::parse(package)
            .map(|cpv| cpv.key())
            .unwrap_or_else(|_| package.to_string());
        let mut times = self.seconds.get(&key)?.clone();
        times.sort_unstable();
        Some(Duration::from_secs(times[times.len() / 2]))
    }

    /// The mean of every package's typical time: the guess for packages never merged here.
    pub fn mean(&self) -> Option<Duration> {
        let typicals: Vec<Duration> = self
            .seconds
            .keys()
            .filter_map(|k| self.typical(k))
            .collect();
        let count = u32::try_from(typicals.len()).ok().filter(|n| *n > 0)?;
        Some(typicals.iter().sum::<Duration>() / count)
    }

    /// Time left when `package` (number `index` of `total`) has just started: its own typical
    /// time plus the mean for each package after it. `None` without any history.
    pub fn remaining(&self, package: &str, index: usize, total: usize) -> Option<Duration> {
        let mean = self.mean()?;
        let after = u32::try_from(total.saturating_sub(index)).unwrap_or(u32::MAX);
        Some(self.typical(package).unwrap_or(mean) + mean * after)
    }
}

/// How the packages of one or more emerge runs were installed, from emerge.log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeCounts {
    /// Packages built from source (`=== (n of m) Compiling/Packaging (cpv::...)`), in order.
    pub compiled: Vec<String>,
    /// Packages installed from a binary package (`=== (n of m) Merging Binary (cpv::...)`).
    pub binary: Vec<String>,
    /// Binary packages downloaded from a binhost first (`--- (n of m) Fetching Binary`).
    pub fetched: Vec<String>,
}

impl MergeCounts {
    /// Reads emerge.log's text.
    pub fn parse(log: &str) -> MergeCounts {
        let mut counts = MergeCounts::default();
        for line in log.lines() {
            let Some((_, message)) = line.split_once(':') else {
                continue;
            };
            let message = message.trim_start();
            let (list, rest) = if let Some(rest) = message.strip_prefix("=== (") {
                match rest.split_once(") ") {
                    Some((_, what)) if what.starts_with("Compiling/Packaging (") => {
                        (&mut counts.compiled, what)
                    }
                    Some((_, what)) if what.starts_with("Merging Binary (") => {
                        (&mut counts.binary, what)
                    }
                    _ => continue,
                }
            } else if let Some(rest) = message.strip_prefix("--- (") {
                match rest.split_once(") ") {
                    Some((_, what)) if what.starts_with("Fetching Binary (") => {
                        (&mut counts.fetched, what)
                    }
                    _ => continue,
                }
            } else {
                continue;
            };
            let Some(cpv) = rest
                .split_once('(')
                .and_then(|(_, inner)| inner.split("::").next())
            else {
                continue;
            };
            if Cpv::parse(cpv).is_err() {
                continue;
            }
            if !list.iter().any(|known| known == cpv) {
                list.push(cpv.to_string());
            }
            // Fetched in the background (parallel-fetch), a binhost's package is logged only
            // when it is merged, from the folder Portage keeps binhost downloads in.
            let from_binhost = rest.starts_with("Merging Binary (") && rest.contains(BINHOST_CACHE);
            if from_binhost && !counts.fetched.iter().any(|known| known == cpv) {
                counts.fetched.push(cpv.to_string());
            }
        }
        counts
    }
}

/// Where Portage keeps the packages it downloads from a binhost (`/var/cache/binhost/<repo>/`).
const BINHOST_CACHE: &str = "/var/cache/binhost/";

/// `cat/pkg` from `n of m) cat/pkg-ver::repo to /`.
fn package_key(rest: &str) -> Option<String> {
    let (_, after) = rest.split_once(") ")?;
    let cpv = after.split_whitespace().next()?;
    let cpv = cpv.split("::").next()?;
    Cpv::parse(cpv).ok().map(|cpv| cpv.key())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
1700000000: Started emerge on: Nov 14, 2023 22:13:20
1700000000:  *** emerge --oneshot dev-libs/foo
1700000010:  >>> emerge (1 of 3) dev-libs/foo-1.2::gentoo to /
1700000070:  ::: completed emerge (1 of 3) dev-libs/foo-1.2::gentoo to /
1700000080:  >>> emerge (2 of 3) sys-apps/bar-2.0-r1::gentoo to /
1700000380:  ::: completed emerge (2 of 3) sys-apps/bar-2.0-r1::gentoo to /
1700000390:  >>> emerge (3 of 3) app-misc/broken-1::gentoo to /
1700000400:  *** exiting unsuccessfully with status '1'.
1700001000:  >>> emerge (1 of 1) dev-libs/foo-1.3::gentoo to /
1700001100:  ::: completed emerge (1 of 1) dev-libs/foo-1.3::gentoo to /
1700002000:  >>> emerge (1 of 1) dev-libs/foo-1.4::gentoo to /
1700002080:  ::: completed emerge (1 of 1) dev-libs/foo-1.4::gentoo to /
";

    #[test]
    fn completed_merges_give_typical_times_per_package_across_versions() {
        let history = MergeHistory::parse(LOG);
        // foo took 60, 100 and 80 s: the median is 80 s, whatever version is asked about.
        assert_eq!(
            history.typical("dev-libs/foo-9.9"),
            Some(Duration::from_secs(80))
        );
        assert_eq!(
            history.typical("dev-libs/foo"),
            Some(Duration::from_secs(80))
        );
        assert_eq!(
            history.typical("sys-apps/bar-2.0-r1"),
            Some(Duration::from_secs(300))
        );
        // The failed merge never completed: no time for it.
        assert_eq!(history.typical("app-misc/broken-1"), None);
    }

    #[test]
    fn remaining_time_adds_the_mean_for_packages_still_to_come() {
        let history = MergeHistory::parse(LOG);
        // Mean of foo (80 s) and bar (300 s) is 190 s.
        assert_eq!(history.mean(), Some(Duration::from_secs(190)));
        // bar starting as 2 of 4: its own 300 s, then two more at 190 s each.
        assert_eq!(
            history.remaining("sys-apps/bar-2.1", 2, 4),
            Some(Duration::from_secs(300 + 2 * 190))
        );
        // A package never seen counts as the mean.
        assert_eq!(
            history.remaining("x11-libs/new-1", 4, 4),
            Some(Duration::from_secs(190))
        );
    }

    #[test]
    fn compiled_binary_and_fetched_packages_are_told_apart() {
        let log = "\
1796190938:  === (1 of 3) Compiling/Packaging (app-misc/hello-1.0::/var/db/repos/gentoo/app-misc/hello/hello-1.0.ebuild)
1796190942:  === (1 of 3) Merging (app-misc/hello-1.0::/var/db/repos/gentoo/app-misc/hello/hello-1.0.ebuild)
1796190944:  --- (2 of 3) Fetching Binary (sys-apps/busybox-1.35.0::/var/cache/binpkgs/sys-apps/busybox/busybox-1.35.0-1.gpkg.tar)
1796190945:  === (2 of 3) Merging Binary (sys-apps/busybox-1.35.0::/var/cache/binpkgs/sys-apps/busybox/busybox-1.35.0-1.gpkg.tar)
1796190946:  === (3 of 3) Merging Binary (sys-libs/hello-data-2.0::/var/cache/binpkgs/sys-libs/hello-data/hello-data-2.0-1.gpkg.tar)
1796190947:  === (3 of 3) Merging Binary (sys-libs/hello-data-2.0::/var/cache/binpkgs/sys-libs/hello-data/hello-data-2.0-1.gpkg.tar)
";
        let counts = MergeCounts::parse(log);
        assert_eq!(counts.compiled, ["app-misc/hello-1.0"]);
        assert_eq!(
            counts.binary,
            ["sys-apps/busybox-1.35.0", "sys-libs/hello-data-2.0"]
        );
        assert_eq!(counts.fetched, ["sys-apps/busybox-1.35.0"]);
    }

    #[test]
    fn binhost_packages_fetched_in_the_background_count_as_downloaded() {
        // What a real emerge with --getbinpkg logged: no "Fetching Binary" line for these.
        let log = "\
1796207708:  === (1 of 2) Merging Binary (sys-apps/busybox-1.35.0::/var/cache/binhost/genpack-binhost/sys-apps/busybox/busybox-1.35.0-1.gpkg.tar)
1796207709:  === (2 of 2) Merging Binary (sys-libs/hello-data-2.0::/var/cache/binpkgs/sys-libs/hello-data/hello-data-2.0-1.gpkg.tar)
";
        let counts = MergeCounts::parse(log);
        assert_eq!(counts.binary.len(), 2);
        assert_eq!(counts.fetched, ["sys-apps/busybox-1.35.0"]);
    }

    #[test]
    fn no_history_means_no_estimate() {
        let history = MergeHistory::parse("garbage\n12: not a merge\n");
        assert!(history.is_empty());
        assert_eq!(history.remaining("dev-libs/foo-1", 1, 2), None);
    }
}
