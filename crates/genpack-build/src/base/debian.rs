//! Debian as a base: the lower is made by mmdebstrap from a Debian mirror, with downloaded
//! `.deb` files cached across builds and projects.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::dpkg::DpkgDb;
use super::{BaseProvider, LowerContext, LowerStats, PackageDb};
use crate::error::{BuildError, Result};
use crate::progress::{Meter, Phase, Unit};
use crate::recipe::{Arch, Base, Recipe};

/// Default Debian mirror.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// Packages every Debian-based image carries, whatever the profile: init, device manager,
/// message bus, module loading, networking basics, account tools and the time zone database
/// (system.ini's `timezone` links /etc/localtime into it).
pub const COMMON_PACKAGES: [&str; 9] = [
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    "kmod",
    "iproute2",
    "passwd",
    "netbase",
    "tzdata",
];

/// The Debian base provider.
#[derive(Debug, Clone)]
pub struct Debian {
    suite: String,
    mirror: String,
}

impl Debian {
    /// Provider for `suite` from the default mirror.
    pub fn new(suite: &str) -> Self {
        Self {
            suite: suite.to_string(),
            mirror: DEFAULT_MIRROR.to_string(),
        }
    }

    /// Provider for the suite named by `base`, if it is a Debian base.
    pub fn for_base(base: &Base) -> Option<Self> {
        match base {
            Base::Debian { suite } => Some(Self::new(suite)),
            Base::Gentoo => None,
        }
    }

    /// Uses another mirror.
    pub fn with_mirror(mut self, mirror: &str) -> Self {
        self.mirror = mirror.to_string();
        self
    }

    /// The release mmdebstrap installs and its package sources. A suite named
    /// `<release>-backports` (e.g. `bookworm-backports`) is the release with its backports
    /// added as a second source.
    pub fn sources(&self) -> (String, Vec<String>) {
        match self.backports() {
            Some(release) => (
                release.to_string(),
                vec![
                    format!("deb {} {release} main", self.mirror),
                    format!("deb {} {release}-backports main", self.mirror),
                ],
            ),
            None => (self.suite.clone(), vec![self.mirror.clone()]),
        }
    }

    /// The release of a `<release>-backports` suite.
    fn backports(&self) -> Option<&str> {
        self.suite
            .strip_suffix("-backports")
            .filter(|release| !release.is_empty())
    }

    /// What mmdebstrap installs with `--include`, and the command a customize hook runs
    /// for the rest. With backports, the base set comes from the release and the
    /// definition's own packages are installed the way Debian documents for backports,
    /// `apt-get install -t <release>-backports`: from backports where it has them (with
    /// the newer dependencies they need), from the release otherwise.
    pub fn installs(&self, recipe: &Recipe) -> (Vec<String>, Option<String>) {
        let mut include: Vec<String> = self.base_packages(recipe);
        let mut own: Vec<String> = Vec::new();
        for package in recipe.packages.iter().chain(&recipe.buildtime_packages) {
            if !include.contains(package) && !own.contains(package) {
                own.push(package.clone());
            }
        }
        match self.backports() {
            Some(release) if !own.is_empty() => {
                let quoted: Vec<String> =
                    own.iter().map(|p| crate::command::shell_quote(p)).collect();
                let hook = format!(
                    "chroot \"$1\" env DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends -t {release}-backports {}",
                    quoted.join(" ")
                );
                (include, Some(hook))
            }
            _ => {
                include.extend(own);
                (include, None)
            }
        }
    }
}

/// Debian's kernel meta-package for `arch`: the cloud flavour (virtio drivers only, small) for
/// paravirtualised images, else the generic one.
pub fn kernel_package(arch: Arch, paravirt: bool) -> String {
    match (arch, paravirt) {
        (Arch::X86_64, true) => "linux-image-cloud-amd64".into(),
        (Arch::Aarch64, true) => "linux-image-cloud-arm64".into(),
        (Arch::I686, _) => "linux-image-686".into(),
        (arch, _) => format!("linux-image-{}", arch.debian_name()),
    }
}

impl BaseProvider for Debian {
    fn name(&self) -> &'static str {
        "debian"
    }

    fn lower_identity(&self, recipe: &Recipe) -> Vec<String> {
        let mut identity = vec![
            format!("suite={}", self.suite),
            format!("mirror={}", self.mirror),
        ];
        identity.push(format!("base-set={}", self.base_packages(recipe).join(",")));
        identity
    }

    fn lower_input_dirs(&self) -> &'static [&'static str] {
        &[]
    }

    fn base_packages(&self, recipe: &Recipe) -> Vec<String> {
        let profile = recipe.profile_str();
        let paravirt = profile.split('/').any(|p| p == "paravirt");
        let baremetal = profile.split('/').any(|p| p == "baremetal");
        let mut packages: Vec<String> = COMMON_PACKAGES.iter().map(|s| s.to_string()).collect();
        packages.push(kernel_package(recipe.arch, paravirt));
        if baremetal {
            packages.push("firmware-linux-free".into());
        }
        packages
    }

    fn lower(&self, ctx: &LowerContext<'_>) -> Result<LowerStats> {
        let recipe = ctx.recipe;
        let (include, backports_install) = self.installs(recipe);
        let cache = ctx.cache_dir.to_string_lossy().into_owned();
        let (release, sources) = self.sources();
        let mut cmd = Command::new("mmdebstrap");
        cmd.arg("--verbose")
            .arg("--variant=apt")
            .arg(format!("--arch={}", recipe.arch.debian_name()))
            .arg(format!("--include={}", include.join(",")))
            // Keep the downloaded archives until the customize hook has copied them out.
            .arg("--skip=essential/unlink")
            .arg("--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/")
            .arg(format!(
                "--setup-hook=sync-in {} /var/cache/apt/archives/",
                crate::command::shell_quote(&cache)
            ));
        if let Some(hook) = &backports_install {
            cmd.arg(format!("--customize-hook={hook}"));
        }
        // Keep the package index apt downloaded, so that package names can be checked
        // against it before the next build (crate::package_index): right after the essential
        // packages, before the definition's own are installed (a name apt does not know fails
        // that step, and the index is worth most then).
        if let Some(lists) = ctx
            .cache_dir
            .parent()
            .and_then(Path::parent)
            .map(|root| crate::package_index::debian_lists_dir(root, &self.suite, recipe.arch))
        {
            std::fs::create_dir_all(&lists).map_err(BuildError::io("creating", &lists))?;
            cmd.arg(format!(
                "--essential-hook=sync-out /var/lib/apt/lists {}",
                crate::command::shell_quote(&lists.to_string_lossy())
            ));
        }
        cmd.arg(format!(
            "--customize-hook=sync-out /var/cache/apt/archives {}",
            crate::command::shell_quote(&cache)
        ))
        .arg(&release)
        .arg(ctx.target)
        .args(&sources);
        // The image boots with genpack's own initramfs: skip Debian's initramfs-tools run.
        cmd.env("INITRD", "No");
        cmd.env("ARTIFACT", &recipe.name);
        cmd.env("PROFILE", recipe.profile_str());
        cmd.env("VARIANT", recipe.variant.as_deref().unwrap_or(""));

        let sink = ctx.runner.progress().clone();
        let mut meter = Meter::new(Phase::Lower, Unit::Packages, None);
        let mut total = 0u64;
        let mut done = 0u64;
        let mut stats = LowerStats::default();
        ctx.runner.run("lower", &mut cmd, "mmdebstrap", |line| {
            if let Some(count) = newly_installed(line) {
                total += 2 * count;
                meter.set_total(Some(total));
            } else if line.starts_with("Unpacking ") || line.starts_with("Setting up ") {
                done += 1;
                if line.starts_with("Setting up ") {
                    stats.installed_packages += 1;
                }
                meter.report(&sink, done, false);
            } else if is_package_download(line) {
                stats.downloaded_packages += 1;
            }
        })?;
        meter.report(&sink, done, true);
        Ok(stats)
    }

    fn download_cache_mount(&self) -> &'static str {
        "/var/cache/apt/archives"
    }

    fn package_db(&self, root: &Path) -> Result<Box<dyn PackageDb>> {
        Ok(Box::new(DpkgDb::open(root)?))
    }

    fn kernel(&self, root: &Path) -> Result<Option<PathBuf>> {
        let boot = root.join("boot");
        let entries = match std::fs::read_dir(&boot) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(BuildError::io("reading", boot)(err)),
        };
        let mut kernels: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("vmlinuz-") || name.starts_with("vmlinux-"))
            .collect();
        kernels.sort_by(|a, b| version_cmp(a, b));
        Ok(kernels.pop().map(|name| PathBuf::from("/boot").join(name)))
    }
}

/// `N` of apt's "0 upgraded, N newly installed, ..." summary.
fn newly_installed(line: &str) -> Option<u64> {
    let (before, _) = line.split_once(" newly installed")?;
    before.rsplit(", ").next()?.trim().parse().ok()
}

/// apt's `Get:` line for a package (index downloads have fewer fields).
fn is_package_download(line: &str) -> bool {
    line.starts_with("Get:") && line.split_whitespace().count() >= 8
}

/// Compares file names by their embedded numbers, so `6.1.0-10` sorts after `6.1.0-9`.
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(s: &str) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut num = String::new();
        let mut text = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                if !text.is_empty() {
                    out.push((0, std::mem::take(&mut text)));
                }
                num.push(c);
            } else {
                if !num.is_empty() {
                    out.push((num.parse().unwrap_or(0), String::new()));
                    num.clear();
                }
                text.push(c);
            }
        }
        if !num.is_empty() {
            out.push((num.parse().unwrap_or(0), String::new()));
        }
        if !text.is_empty() {
            out.push((0, text));
        }
        out
    }
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_output_is_understood() {
        assert_eq!(
            newly_installed("0 upgraded, 89 newly installed, 0 to remove and 0 not upgraded."),
            Some(89)
        );
        assert_eq!(newly_installed("Setting up foo"), None);
        assert!(is_package_download("Get:1 http://deb.debian.org/debian bookworm/main amd64 less amd64 590-2.1~deb12u2 [132 kB]"));
        assert!(!is_package_download(
            "Get:2 http://deb.debian.org/debian bookworm/main amd64 Packages [8790 kB]"
        ));
        assert!(!is_package_download(
            "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]"
        ));
    }

    #[test]
    fn newest_kernel_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("boot")).unwrap();
        for name in [
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-10-amd64",
            "config-6.1.0-10-amd64",
        ] {
            std::fs::write(dir.path().join("boot").join(name), "").unwrap();
        }
        let kernel = Debian::new("bookworm").kernel(dir.path()).unwrap();
        assert_eq!(kernel, Some(PathBuf::from("/boot/vmlinuz-6.1.0-10-amd64")));
    }

    #[test]
    fn a_backports_suite_adds_backports_to_its_release() {
        assert_eq!(
            Debian::new("bookworm").sources(),
            ("bookworm".to_string(), vec![DEFAULT_MIRROR.to_string()])
        );
        assert_eq!(
            Debian::new("bookworm-backports")
                .with_mirror("http://mirror.example/debian")
                .sources(),
            (
                "bookworm".to_string(),
                vec![
                    "deb http://mirror.example/debian bookworm main".to_string(),
                    "deb http://mirror.example/debian bookworm-backports main".to_string(),
                ]
            )
        );
    }

    fn recipe(base: &str) -> Recipe {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("genpack.json5"),
            format!(
                "{{ name: \"ids\", base: \"{base}\", profile: \"paravirt\", packages: [\"suricata\", \"jq\", \"kmod\"] }}"
            ),
        )
        .unwrap();
        let project = genpack_def::Project::load(dir.path()).unwrap();
        Recipe::from_project(&project, Arch::X86_64, None).unwrap()
    }

    #[test]
    fn backports_install_the_definitions_own_packages_with_apt_get_t() {
        let plain = Debian::new("bookworm").installs(&recipe("debian:bookworm"));
        assert!(plain
            .0
            .ends_with(&["suricata".to_string(), "jq".to_string()]));
        assert_eq!(plain.1, None);

        let (include, hook) =
            Debian::new("bookworm-backports").installs(&recipe("debian:bookworm-backports"));
        assert!(include.contains(&"linux-image-cloud-amd64".to_string()));
        assert!(include.contains(&"kmod".to_string()), "base packages stay");
        assert!(!include.contains(&"suricata".to_string()));
        let hook = hook.unwrap();
        assert!(
            hook.ends_with(
                "apt-get install --yes --no-install-recommends -t bookworm-backports suricata jq"
            ),
            "{hook}"
        );
        assert!(hook.starts_with("chroot \"$1\" "), "{hook}");
    }

    #[test]
    fn profile_selects_the_kernel_flavour() {
        assert_eq!(
            kernel_package(Arch::X86_64, true),
            "linux-image-cloud-amd64"
        );
        assert_eq!(kernel_package(Arch::X86_64, false), "linux-image-amd64");
        assert_eq!(kernel_package(Arch::Aarch64, false), "linux-image-arm64");
    }
}
