//! `/.genpack`: what the image is, for installers, the VM runner and people.
//!
//! Files: `arch`, `profile`, `artifact`, `variant`, `timestamp` (the image's
//! `SOURCE_DATE_EPOCH`, seconds since the epoch, so the same inputs give the same image),
//! `packages` (one `name version` line per package followed by
//! `# DESCRIPTION:` and `# LICENSE:` lines) and `packages.json` (the same as a JSON array of
//! `{name, version, description, license}`).

use std::path::Path;

use crate::base::Package;
use crate::error::{BuildError, Result};
use crate::fsutil::write_atomic;
use crate::recipe::Recipe;

/// Directory name at the image root.
pub const METADATA_DIR: &str = ".genpack";

/// One package as recorded in `/.genpack/packages.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackageRecord {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Licence, when known.
    pub license: Option<String>,
}

/// Writes `/.genpack` into `root`.
pub fn write(root: &Path, recipe: &Recipe, packages: &[Package]) -> Result<()> {
    write_packages(root, packages)?;
    write_identity(root, recipe)
}

/// Writes `/.genpack/arch`, `profile`, `artifact`, `variant` and `timestamp`.
pub fn write_identity(root: &Path, recipe: &Recipe) -> Result<()> {
    let dir = root.join(METADATA_DIR);
    std::fs::create_dir_all(&dir).map_err(BuildError::io("creating", &dir))?;
    let fields = [
        ("arch", recipe.arch.to_string()),
        ("profile", recipe.profile_str().to_string()),
        ("artifact", recipe.name.clone()),
        ("variant", recipe.variant.clone().unwrap_or_default()),
        ("timestamp", recipe.source_date_epoch.to_string()),
    ];
    for (name, value) in fields {
        write_atomic(&dir.join(name), format!("{value}\n").as_bytes())?;
    }
    Ok(())
}

/// Writes `/.genpack/packages` and `/.genpack/packages.json`.
pub fn write_packages(root: &Path, packages: &[Package]) -> Result<()> {
    let dir = root.join(METADATA_DIR);
    std::fs::create_dir_all(&dir).map_err(BuildError::io("creating", &dir))?;
    let mut text = String::new();
    let mut records = Vec::new();
    for package in packages {
        text.push_str(&format!("{} {}\n", package.name, package.version));
        text.push_str(&format!("# DESCRIPTION: {}\n", package.description));
        if let Some(license) = &package.license {
            text.push_str(&format!("# LICENSE: {license}\n"));
        }
        records.push(PackageRecord {
            name: package.name.clone(),
            version: package.version.clone(),
            description: package.description.clone(),
            license: package.license.clone(),
        });
    }
    write_atomic(&dir.join("packages"), text.as_bytes())?;
    let json =
        serde_json::to_vec_pretty(&records).map_err(|e| BuildError::Definition(e.to_string()))?;
    write_atomic(&dir.join("packages.json"), &json)?;
    Ok(())
}
