//! Base distributions. Each one implements [`BaseProvider`] (how to build the lower layer and
//! which packages every image of a profile carries) and [`PackageDb`] (what is installed in a
//! lower, with files and runtime dependencies). Everything after the lower — the upper, the
//! pack, install and boot — is shared and only talks to these traits.

pub mod debian;
pub mod dpkg;
pub mod gentoo;
pub mod vardb;

use std::path::{Path, PathBuf};

use crate::command::Runner;
use crate::error::Result;
use crate::recipe::Recipe;
use crate::CancelToken;

/// One installed package as the package database records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Package {
    /// Package name (`systemd`, `sys-apps/systemd`).
    pub name: String,
    /// Installed version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Licence expression, when the database records one.
    pub license: Option<String>,
    /// Runtime dependencies: each inner list is a group of alternatives (`a | b`), in order.
    pub depends: Vec<Vec<String>>,
    /// Virtual names this package provides.
    pub provides: Vec<String>,
    /// Part of the distribution's always-present set (Debian `Essential: yes` or
    /// `Priority: required`).
    pub essential: bool,
}

/// Read access to the package database of a lower tree.
pub trait PackageDb {
    /// Names of every installed package, sorted.
    fn installed(&self) -> Vec<String>;

    /// The installed package `name`.
    fn package(&self, name: &str) -> Option<&Package>;

    /// The installed package satisfying `name`: the package itself, else the first installed
    /// provider of that virtual name.
    fn resolve(&self, name: &str) -> Option<&Package>;

    /// Paths (absolute, as seen inside the lower) the package installed.
    fn files(&self, name: &str) -> Result<Vec<PathBuf>>;
}

/// Counts reported by [`BaseProvider::lower`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LowerStats {
    /// Packages fetched from the network (absent from the download cache; for Gentoo, binary
    /// packages downloaded from a binhost).
    pub downloaded_packages: usize,
    /// Packages installed in the lower.
    pub installed_packages: usize,
    /// Packages compiled from source (Gentoo).
    pub compiled_packages: usize,
    /// Packages installed from binary packages (Gentoo: the local cache or a binhost).
    pub binary_packages: usize,
}

/// Inputs a base provider needs to build a lower.
pub struct LowerContext<'a> {
    /// The definition being built.
    pub recipe: &'a Recipe,
    /// Directory to build the lower in (empty or absent; replaced into place by the caller).
    pub target: &'a Path,
    /// The project folder (bound at `/mnt/host`).
    pub project_dir: &'a Path,
    /// Shared download cache of this base (`~/.cache/genpack/<base>/...`).
    pub cache_dir: &'a Path,
    /// Runs the commands, logs them and handles cancellation.
    pub(crate) runner: &'a Runner,
}

/// Inputs of [`BaseProvider::prepare`].
pub struct PrepareContext<'a> {
    /// The definition being built.
    pub recipe: &'a Recipe,
    /// Cancellation flag for long downloads.
    pub cancel: &'a CancelToken,
    /// Logs decisions and reports progress.
    pub(crate) runner: &'a Runner,
}

/// A base distribution (mkosi-style: one interface every distribution implements).
pub trait BaseProvider {
    /// Short name used for caches and messages (`debian`).
    fn name(&self) -> &'static str;

    /// Everything besides the definition's package lists that decides the lower's content
    /// (suite, mirror, base set...). Part of the lower stamp.
    fn lower_identity(&self, recipe: &Recipe) -> Vec<String>;

    /// Project folders whose files feed the lower (their content is part of the lower
    /// stamp). Gentoo reads `savedconfig/ patches/ kernel/ env/ overlay/`
    /// ([`crate::lower::GENTOO_LOWER_INPUT_DIRS`]); Debian reads none.
    fn lower_input_dirs(&self) -> &'static [&'static str];

    /// Packages every image of this base and profile contains (kernel, init, udev...).
    fn base_packages(&self, recipe: &Recipe) -> Vec<String>;

    /// Fetches (or checks the freshness of) what the lower is made from, before its inputs are
    /// compared with the stamp: a changed download then shows in
    /// [`BaseProvider::lower_identity`] and rebuilds the lower. Nothing to do by default.
    fn prepare(&self, ctx: &PrepareContext<'_>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Builds the lower into `ctx.target`: base system, [`BaseProvider::base_packages`], the
    /// definition's packages and buildtime packages.
    fn lower(&self, ctx: &LowerContext<'_>) -> Result<LowerStats>;

    /// Opens the package database of a built lower.
    fn package_db(&self, root: &Path) -> Result<Box<dyn PackageDb>>;

    /// Where the package manager keeps downloads inside the lower; shells in the lower get
    /// the shared download cache bound there.
    fn download_cache_mount(&self) -> &'static str;

    /// Path (inside the lower) of the kernel image to boot, when one is installed.
    fn kernel(&self, root: &Path) -> Result<Option<PathBuf>>;

    /// `package-scripts` folders whose scripts finish the image's packages
    /// ([`crate::package_scripts`]), later ones replacing scripts of the same name. None by
    /// default.
    fn package_script_dirs(&self, recipe: &Recipe) -> Vec<PathBuf> {
        let _ = recipe;
        Vec::new()
    }
}
