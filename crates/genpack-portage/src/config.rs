//! The Portage configuration a definition turns into: package sets, `package.*` files,
//! repository entries and the profile to select. Produced as a list of files (path inside the
//! lower, contents) so the caller can write them, stream them into a container or show a diff.

use std::path::PathBuf;

use indexmap::IndexMap;

use crate::arch::Arch;
use crate::error::{Error, Result};

/// Name of our overlay repository.
pub const OVERLAY_NAME: &str = "genpack-overlay";
/// Where our overlay lives inside the lower.
pub const OVERLAY_LOCATION: &str = "/var/db/repos/genpack-overlay";
/// Name of the project's own overlay (the project's `overlay/` folder).
pub const LOCAL_OVERLAY_NAME: &str = "genpack-local-overlay";
/// Where the project's own overlay is copied inside the lower.
pub const LOCAL_OVERLAY_LOCATION: &str = "/var/db/repos/genpack-local-overlay";
/// Set holding the packages of the image.
pub const RUNTIME_SET: &str = "genpack-runtime";
/// Set holding packages needed only to build the image.
pub const BUILDTIME_SET: &str = "genpack-buildtime";

const HEADER: &str =
    "# Written by genpack from genpack.json5; changes here are replaced on the next build.\n";

/// What the Portage configuration is made from: the effective definition for one architecture
/// and variant, reduced to the fields Portage cares about. Per-package maps go from an atom to
/// `None` (the bare atom) or a space-separated value.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PortageConfigInput {
    /// Profile under our overlay's `genpack/<arch>/` (`paravirt`, `gnome/baremetal`), if any.
    pub profile: Option<String>,
    /// Packages of the image (`@genpack-runtime`).
    pub packages: Vec<String>,
    /// Packages needed only to build (`@genpack-buildtime`).
    pub buildtime_packages: Vec<String>,
    /// `package.use`: atom to flags (`"-X wayland VIDEO_CARDS: virgl"`).
    #[serde(rename = "use")]
    pub use_flags: IndexMap<String, Option<String>>,
    /// `package.accept_keywords`: atom to keywords (`None` accepts the testing keyword).
    pub accept_keywords: IndexMap<String, Option<String>>,
    /// `package.license`: atom to licence names.
    pub license: IndexMap<String, Option<String>>,
    /// `package.env`: atom to file names under `/etc/portage/env`.
    pub env: IndexMap<String, Option<String>>,
    /// `package.mask`: atoms.
    pub mask: Vec<String>,
    /// Whether the project has its own overlay (`overlay/` next to genpack.json5).
    pub local_overlay: bool,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigFile {
    /// Absolute path inside the lower.
    pub path: PathBuf,
    /// Full contents.
    pub contents: String,
}

impl ConfigFile {
    fn new(path: &str, contents: String) -> ConfigFile {
        ConfigFile {
            path: PathBuf::from(path),
            contents,
        }
    }
}

/// The profile to select with `eselect profile set`:
/// `genpack-overlay:genpack/<amd64|arm64|x86|riscv>[/<profile>]`.
pub fn profile_target(arch: Arch, profile: Option<&str>) -> Result<String> {
    let mut target = format!("{OVERLAY_NAME}:genpack/{}", arch.portage_arch());
    if let Some(profile) = profile
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        let valid = profile.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
        if !valid {
            return Err(Error::Config {
                field: "profile",
                message: format!("'{profile}' is not a profile path (expected names like 'paravirt' or 'gnome/baremetal')"),
            });
        }
        target.push('/');
        target.push_str(profile);
    }
    Ok(target)
}

/// Where `/etc/portage/make.profile` points for [`profile_target`]: a relative link into our
/// overlay's `profiles/` (what `eselect profile set` writes, without needing eselect).
pub fn profile_link(arch: Arch, profile: Option<&str>) -> Result<PathBuf> {
    let target = profile_target(arch, profile)?;
    let path = target
        .strip_prefix(&format!("{OVERLAY_NAME}:"))
        .unwrap_or(&target);
    Ok(PathBuf::from(format!(
        "../..{OVERLAY_LOCATION}/profiles/{path}"
    )))
}

/// Name of the binary package repository genpack writes for a binhost.
pub const BINHOST_NAME: &str = "genpack-binhost";
/// Where that repository is declared.
pub const BINREPOS_CONF: &str = "/etc/portage/binrepos.conf/genpack-binhost.conf";

/// A binary package host to take prebuilt packages from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct Binhost {
    /// Its URL (`http://builder:8080/`, or Gentoo's own binhost for the profile).
    pub url: String,
    /// Accept only packages signed by a key in Portage's keyring (`/etc/portage/gnupg`).
    pub verify_signature: bool,
}

impl Binhost {
    /// Gentoo's official binary packages for the 23.0 profiles of `arch`, signatures checked
    /// (the keyring comes with a stage3). `None` where Gentoo publishes none.
    pub fn gentoo(arch: Arch) -> Option<Binhost> {
        let path = match arch {
            Arch::X86_64 => "amd64/binpackages/23.0/x86-64",
            Arch::Aarch64 => "arm64/binpackages/23.0/arm64",
            _ => return None,
        };
        Some(Binhost {
            url: format!("{}releases/{path}/", crate::stage3::DEFAULT_MIRROR),
            verify_signature: true,
        })
    }
}

/// The `binrepos.conf` entry of `binhost`, preferred over any other binary repository.
pub fn binrepos_conf(binhost: &Binhost) -> Result<ConfigFile> {
    let url = binhost.url.trim();
    if url.is_empty() || url.contains(char::is_whitespace) || !url.contains("://") {
        return Err(Error::Config {
            field: "binhost",
            message: format!("'{url}' is not a URL (expected http://host:port/path/)"),
        });
    }
    let mut contents = format!("{HEADER}[{BINHOST_NAME}]\nsync-uri = {url}\npriority = 10\n");
    contents.push_str(if binhost.verify_signature {
        "verify-signature = true\n"
    } else {
        "verify-signature = false\n"
    });
    Ok(ConfigFile::new(BINREPOS_CONF, contents))
}

/// Every file the definition decides under `/etc/portage` (and the project overlay's metadata
/// when it has one), in a fixed order. Files are produced even when empty so that removing an
/// entry from the definition removes it from the lower.
pub fn files(input: &PortageConfigInput) -> Result<Vec<ConfigFile>> {
    let mut files = vec![
        ConfigFile::new(
            &format!("/etc/portage/sets/{RUNTIME_SET}"),
            set_file("packages", &input.packages)?,
        ),
        ConfigFile::new(
            &format!("/etc/portage/sets/{BUILDTIME_SET}"),
            set_file("buildtime_packages", &input.buildtime_packages)?,
        ),
        ConfigFile::new(
            "/etc/portage/package.use/genpack",
            package_file("use", &input.use_flags)?,
        ),
        ConfigFile::new(
            "/etc/portage/package.accept_keywords/genpack",
            package_file("accept_keywords", &input.accept_keywords)?,
        ),
        ConfigFile::new(
            "/etc/portage/package.license/genpack",
            package_file("license", &input.license)?,
        ),
        ConfigFile::new(
            "/etc/portage/package.mask/genpack",
            set_file("mask", &input.mask)?,
        ),
        ConfigFile::new("/etc/portage/package.env", package_file("env", &input.env)?),
        ConfigFile::new(
            &format!("/etc/portage/repos.conf/{OVERLAY_NAME}.conf"),
            repos_conf_entry(OVERLAY_NAME, OVERLAY_LOCATION),
        ),
    ];
    if input.local_overlay {
        files.push(ConfigFile::new(
            &format!("/etc/portage/repos.conf/{LOCAL_OVERLAY_NAME}.conf"),
            repos_conf_entry(LOCAL_OVERLAY_NAME, LOCAL_OVERLAY_LOCATION),
        ));
        files.push(ConfigFile::new(
            &format!("{LOCAL_OVERLAY_LOCATION}/metadata/layout.conf"),
            "masters = gentoo\n".into(),
        ));
        files.push(ConfigFile::new(
            &format!("{LOCAL_OVERLAY_LOCATION}/profiles/repo_name"),
            format!("{LOCAL_OVERLAY_NAME}\n"),
        ));
    }
    Ok(files)
}

/// A repos.conf entry for a repository that is never synced (its contents come with the build).
pub fn repos_conf_entry(name: &str, location: &str) -> String {
    format!("{HEADER}[{name}]\nlocation = {location}\nauto-sync = no\n")
}

fn check_entry(field: &'static str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.contains(['\n', '\r']) {
        return Err(Error::Config {
            field,
            message: format!("'{}' is not a single atom", text.escape_debug()),
        });
    }
    Ok(())
}

/// One entry per line. Entries starting with `#` stay as comments; everything else must be a
/// single word.
fn set_file(field: &'static str, entries: &[String]) -> Result<String> {
    let mut out = String::from(HEADER);
    for entry in entries {
        let entry = entry.trim();
        if entry.starts_with('#') {
            check_entry(field, entry)?;
        } else if entry.split_whitespace().count() != 1 {
            return Err(Error::Config {
                field,
                message: format!("'{entry}' is not a single atom"),
            });
        }
        out.push_str(entry);
        out.push('\n');
    }
    Ok(out)
}

/// `atom value...` lines; a missing value gives the bare atom.
fn package_file(field: &'static str, entries: &IndexMap<String, Option<String>>) -> Result<String> {
    let mut out = String::from(HEADER);
    for (atom, value) in entries {
        let atom = atom.trim();
        if atom.split_whitespace().count() != 1 {
            return Err(Error::Config {
                field,
                message: format!("'{atom}' is not a single atom"),
            });
        }
        out.push_str(atom);
        if let Some(value) = value {
            if value.contains(['\n', '\r']) {
                return Err(Error::Config {
                    field,
                    message: format!("the value for '{atom}' spans several lines"),
                });
            }
            let words: Vec<&str> = value.split_whitespace().collect();
            if !words.is_empty() {
                out.push(' ');
                out.push_str(&words.join(" "));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn profile_targets_per_arch() {
        assert_eq!(
            profile_target(Arch::X86_64, None).unwrap(),
            "genpack-overlay:genpack/amd64"
        );
        assert_eq!(
            profile_target(Arch::I686, Some("paravirt")).unwrap(),
            "genpack-overlay:genpack/x86/paravirt"
        );
        assert_eq!(
            profile_target(Arch::Aarch64, Some("systemimg")).unwrap(),
            "genpack-overlay:genpack/arm64/systemimg"
        );
        assert_eq!(
            profile_target(Arch::Riscv64, Some("gnome/baremetal")).unwrap(),
            "genpack-overlay:genpack/riscv/gnome/baremetal"
        );
        assert_eq!(
            profile_target(Arch::X86_64, Some("")).unwrap(),
            "genpack-overlay:genpack/amd64"
        );
        assert!(profile_target(Arch::X86_64, Some("../../etc")).is_err());
        assert!(profile_target(Arch::X86_64, Some("a b")).is_err());
    }

    #[test]
    fn profile_links_point_into_the_overlay() {
        assert_eq!(
            profile_link(Arch::X86_64, Some("paravirt")).unwrap(),
            Path::new("../../var/db/repos/genpack-overlay/profiles/genpack/amd64/paravirt")
        );
        assert_eq!(
            profile_link(Arch::Aarch64, None).unwrap(),
            Path::new("../../var/db/repos/genpack-overlay/profiles/genpack/arm64")
        );
        assert!(profile_link(Arch::X86_64, Some("../x")).is_err());
    }

    #[test]
    fn binhost_entries_name_the_url_and_the_signature_rule() {
        let file = binrepos_conf(&Binhost {
            url: "http://127.0.0.1:8080/".into(),
            verify_signature: true,
        })
        .unwrap();
        assert_eq!(file.path, Path::new(BINREPOS_CONF));
        assert!(file
            .contents
            .contains("[genpack-binhost]\nsync-uri = http://127.0.0.1:8080/\n"));
        assert!(file.contents.contains("verify-signature = true"));
        for bad in ["", "builder:8080", "http://a b/"] {
            assert!(
                binrepos_conf(&Binhost {
                    url: bad.into(),
                    verify_signature: false
                })
                .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_entries_that_would_break_the_files() {
        let input = PortageConfigInput {
            packages: vec!["a/b c/d".into()],
            ..Default::default()
        };
        assert!(matches!(
            files(&input),
            Err(Error::Config {
                field: "packages",
                ..
            })
        ));
        let mut input = PortageConfigInput::default();
        input.use_flags.insert("a/b".into(), Some("x\ny".into()));
        assert!(matches!(
            files(&input),
            Err(Error::Config { field: "use", .. })
        ));
    }

    #[test]
    fn local_overlay_adds_its_repository() {
        let input = PortageConfigInput {
            local_overlay: true,
            ..Default::default()
        };
        let files = files(&input).unwrap();
        let paths: Vec<String> = files
            .iter()
            .map(|file| file.path.display().to_string())
            .collect();
        assert!(paths.contains(&"/etc/portage/repos.conf/genpack-local-overlay.conf".to_string()));
        let layout = files
            .iter()
            .find(|file| file.path.ends_with("metadata/layout.conf"))
            .unwrap();
        assert_eq!(layout.contents, "masters = gentoo\n");
        let name = files
            .iter()
            .find(|file| file.path.ends_with("profiles/repo_name"))
            .unwrap();
        assert_eq!(name.contents, "genpack-local-overlay\n");
    }
}
