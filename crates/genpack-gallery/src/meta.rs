//! `template.json5`: what the gallery shows about a template.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use genpack_def::{Protocol, ServicePort, WebScheme};

use crate::error::GalleryError;

/// The file in each template folder that describes it.
pub const META_FILE: &str = "template.json5";

/// Architectures a template may name in `arches`.
pub const KNOWN_ARCHES: &[&str] = &["x86_64", "aarch64", "riscv64", "i686"];

/// The gallery's sections, in the order the gallery lists them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
pub enum Category {
    /// Graphical desktops for people to sit in front of.
    Desktop,
    /// Network services: web applications, storage, backup.
    Server,
    /// Routers, VPNs and other plumbing.
    Network,
    /// Intrusion detection and other watchful appliances.
    Security,
    /// Cameras, streaming and recording.
    Media,
    /// Workstations and toolboxes for specialists.
    Tools,
    /// Small, plain starting points for your own appliance.
    Starter,
}

impl Category {
    /// Every category, in gallery order.
    pub const ALL: [Category; 7] = [
        Category::Desktop,
        Category::Server,
        Category::Network,
        Category::Security,
        Category::Media,
        Category::Tools,
        Category::Starter,
    ];

    /// The name as written in `template.json5`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Desktop => "Desktop",
            Category::Server => "Server",
            Category::Network => "Network",
            Category::Security => "Security",
            Category::Media => "Media",
            Category::Tools => "Tools",
            Category::Starter => "Starter",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a template's image is made, as the gallery card tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    /// Assembled from a distribution's binary packages (Debian): minutes to build.
    ReadyMade,
    /// Compiled from source to the definition's USE flags (Gentoo): hours, more control.
    Compiled,
}

/// Numbers measured by building and booting the template (`make test-appliances`), so the
/// gallery states them instead of guessing. Times are in seconds, on a 2-core machine with
/// QEMU TCG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Measured {
    /// First build of a new project with an empty package cache (downloads included).
    pub build_cold_s: u32,
    /// The same build again, with the base layer up to date.
    pub build_warm_s: u32,
    /// Size of the image file in MiB.
    pub image_mib: u32,
    /// From starting the VM to the appliance's service answering from the host.
    pub boot_to_service_s: u32,
    /// Day of the measurement, `YYYY-MM-DD`.
    pub date: String,
}

/// True for `gentoo` and `debian:<release>`.
fn is_known_base(base: &str) -> bool {
    match base.strip_prefix("debian:") {
        Some(release) => !release.is_empty(),
        None => base == "gentoo",
    }
}

/// The contents of a template's `template.json5`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct TemplateMeta {
    /// Display name, e.g. "Nextcloud server".
    pub title: String,
    /// One line for the gallery card.
    pub summary: String,
    /// A few sentences: what the appliance is for and who would use it.
    pub description: String,
    /// The gallery section it appears in.
    pub category: Category,
    /// Search keywords.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Path of the SVG icon, relative to the template folder.
    pub icon: String,
    /// The distribution the image is made from: `gentoo` or `debian:<release>`.
    pub base: String,
    /// Architectures the template is known to build for.
    pub arches: Vec<String>,
    /// Rough size of the built image, e.g. "350 MB".
    pub size: String,
    /// The definition's profile, shown as a hint (e.g. "paravirt").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The template whose card this one shares, as its other flavour (a ready-made Debian
    /// template names the compiled Gentoo one, or the other way round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavour_of: Option<String>,
    /// Why there is no ready-made flavour of this compiled template, for the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_ready_made: Option<String>,
    /// The services the appliance offers on the network: the definition's `ports` (filled in
    /// when the template is loaded; `template.json5` does not repeat them).
    #[serde(default, skip_deserializing, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// Build time, size and boot time, measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
}

impl TemplateMeta {
    /// Reads and checks a `template.json5`.
    pub fn load(path: &Path) -> Result<TemplateMeta, GalleryError> {
        let text = std::fs::read_to_string(path).map_err(|source| GalleryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks the text of a `template.json5`; `path` names the
    /// file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<TemplateMeta, GalleryError> {
        let meta: TemplateMeta =
            json5::from_str(text).map_err(|err| GalleryError::from_json5(path, &err))?;
        meta.check().map_err(|message| GalleryError::InvalidMeta {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(meta)
    }

    /// True when the image is made from Debian packages.
    pub fn is_debian(&self) -> bool {
        self.base.starts_with("debian:")
    }

    /// Ready-made (Debian packages) or compiled (Gentoo).
    pub fn flavour(&self) -> Flavour {
        if self.is_debian() {
            Flavour::ReadyMade
        } else {
            Flavour::Compiled
        }
    }

    fn check(&self) -> Result<(), String> {
        for (field, value) in [
            ("title", &self.title),
            ("summary", &self.summary),
            ("description", &self.description),
            ("icon", &self.icon),
            ("size", &self.size),
        ] {
            if value.trim().is_empty() {
                return Err(format!("`{field}` must not be empty"));
            }
        }
        if self.summary.contains('\n') {
            return Err("`summary` must be a single line".to_string());
        }
        if !is_known_base(&self.base) {
            return Err(format!(
                "`base` is {:?}; use \"gentoo\" or \"debian:<release>\" (e.g. \"debian:bookworm\")",
                self.base
            ));
        }
        if self.arches.is_empty() {
            return Err("`arches` must name at least one architecture".to_string());
        }
        for arch in &self.arches {
            if !KNOWN_ARCHES.contains(&arch.as_str()) {
                return Err(format!(
                    "unknown architecture {arch:?} in `arches`; known: {}",
                    KNOWN_ARCHES.join(", ")
                ));
            }
        }
        if self.no_ready_made.is_some() && self.flavour() == Flavour::ReadyMade {
            return Err(
                "`no_ready_made` explains why a compiled template has no ready-made flavour; this template is ready-made".to_string(),
            );
        }
        if self.no_ready_made.is_some() && self.flavour_of.is_some() {
            return Err(
                "`no_ready_made` and `flavour_of` contradict each other; keep one".to_string(),
            );
        }
        if let Some(measured) = &self.measured {
            let date = measured.date.as_bytes();
            let shaped = date.len() == 10
                && date.iter().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        *b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !shaped {
                return Err(format!(
                    "`measured.date` is {:?}; write the day as YYYY-MM-DD",
                    measured.date
                ));
            }
        }
        let icon = Path::new(&self.icon);
        if icon.is_absolute()
            || icon
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!(
                "`icon` is {:?}; it must be a path inside the template folder, like \"icon.svg\"",
                self.icon
            ));
        }
        Ok(())
    }
}
