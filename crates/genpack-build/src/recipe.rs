//! What one build needs from the definition, for one architecture and variant.

use std::path::{Path, PathBuf};

pub use genpack_def::{Arch, Base, Compression, Group, SetupCommand, User};
use genpack_def::{Effective, Project};

use crate::error::BuildError;

/// The effective definition of one build (architecture and variant already merged), plus the
/// project folder it came from.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// The project folder (holds `genpack.json5`, `files/`, `work/`).
    pub project_dir: PathBuf,
    /// Image name (`ARTIFACT`).
    pub name: String,
    /// Base distribution.
    pub base: Base,
    /// Profile (`paravirt`, `baremetal`...), when set.
    pub profile: Option<String>,
    /// Target architecture.
    pub arch: Arch,
    /// Variant, when one is built.
    pub variant: Option<String>,
    /// Runtime packages.
    pub packages: Vec<String>,
    /// Packages installed in the lower only.
    pub buildtime_packages: Vec<String>,
    /// Accounts to create.
    pub users: Vec<User>,
    /// Groups to create (before the users).
    pub groups: Vec<Group>,
    /// Units to enable.
    pub services: Vec<String>,
    /// Shell commands run in the image after files and scripts.
    pub setup_commands: Vec<SetupCommand>,
    /// Output file name, relative to the project folder
    /// (`<name>[-<variant>]-<arch>.squashfs` unless the definition sets `outfile`).
    pub outfile: String,
    /// SquashFS compression.
    pub compression: Compression,
    /// Keep headers, static libraries and documentation.
    pub devel: bool,
    /// Timestamp written into the image (seconds since the epoch): `SOURCE_DATE_EPOCH` when
    /// set, else the definition file's modification time.
    pub source_date_epoch: u64,
    /// What only the Gentoo base reads: Portage configuration and the emerge run.
    pub portage: PortageRecipe,
}

/// The part of the definition that only Portage acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PortageRecipe {
    /// Sets, `package.*` files and repositories to write under `/etc/portage`.
    pub config: genpack_portage::config::PortageConfigInput,
    /// Circular dependency breakers and the build-time-first pass.
    pub plan: genpack_portage::emerge::PlanInput,
    /// Packages never taken from, nor stored into, the binary package cache.
    pub binpkg_excludes: Vec<String>,
    /// Keep binary packages in the lower instead of the shared per-architecture cache.
    pub independent_binpkgs: bool,
    /// The definition's binhost (`"gentoo"` or a URL); the build settings' one wins. Not part
    /// of the base layer's identity: where a package comes from does not change the layer.
    #[serde(skip)]
    pub binhost: Option<String>,
}

impl PortageRecipe {
    fn from_effective(project_dir: &Path, effective: &Effective) -> Self {
        Self {
            config: genpack_portage::config::PortageConfigInput {
                profile: effective.profile.clone(),
                packages: effective.packages.clone(),
                buildtime_packages: effective.buildtime_packages.clone(),
                use_flags: effective.use_flags.clone(),
                accept_keywords: effective.accept_keywords.clone(),
                license: effective.license.clone(),
                env: effective.env.clone(),
                mask: effective.mask.clone(),
                local_overlay: project_dir.join("overlay").is_dir(),
            },
            plan: genpack_portage::emerge::PlanInput {
                circulardep_breaker: effective.circulardep_breaker.as_ref().map(|breaker| {
                    genpack_portage::emerge::CircularDepBreaker {
                        packages: breaker.packages.clone(),
                        use_flags: breaker.use_flags.clone(),
                    }
                }),
                buildtime_packages_first: effective.buildtime_packages_first,
            },
            binpkg_excludes: effective.binpkg_excludes.clone(),
            independent_binpkgs: effective.independent_binpkgs,
            binhost: effective.binhost.clone(),
        }
    }
}

impl Recipe {
    /// The recipe of `project` for `arch` and `variant` (the definition's default variant
    /// when `None`).
    pub fn from_project(
        project: &Project,
        arch: Arch,
        variant: Option<&str>,
    ) -> Result<Self, BuildError> {
        let effective = project
            .effective(arch, variant)
            .map_err(|e| BuildError::Definition(e.to_string()))?;
        Ok(Self::from_effective(&project.dir, &project.file, effective))
    }

    /// The recipe of an effective definition read from `definition_file` in `project_dir`.
    pub fn from_effective(
        project_dir: &Path,
        definition_file: &Path,
        effective: Effective,
    ) -> Self {
        let portage = PortageRecipe::from_effective(project_dir, &effective);
        Self {
            portage,
            project_dir: project_dir.to_path_buf(),
            name: effective.name,
            base: effective.base,
            profile: effective.profile,
            arch: effective.arch,
            variant: effective.variant,
            packages: effective.packages,
            buildtime_packages: effective.buildtime_packages,
            users: effective.users,
            groups: effective.groups,
            services: effective.services,
            setup_commands: effective.setup_commands,
            outfile: effective.outfile,
            compression: effective.compression,
            devel: effective.devel,
            source_date_epoch: source_date_epoch(definition_file),
        }
    }

    /// Full path of the output file.
    pub fn output_path(&self) -> PathBuf {
        self.project_dir.join(&self.outfile)
    }

    /// The profile value, or an empty string (for the `PROFILE` environment variable).
    pub fn profile_str(&self) -> &str {
        self.profile.as_deref().unwrap_or("")
    }
}

/// `SOURCE_DATE_EPOCH` from the environment, else the mtime of `definition_file`, else 0.
pub fn source_date_epoch(definition_file: &Path) -> u64 {
    if let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return epoch;
    }
    std::fs::metadata(definition_file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
