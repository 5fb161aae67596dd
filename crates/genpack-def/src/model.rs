//! The typed model of a `genpack.json5` file.
//!
//! The types mirror the file: field names are the keys users write, and the doc comments
//! (with the `title` attributes) become the help text of the JSON Schema the studio builds its
//! forms from, so they are written for people who have never used Gentoo.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use indexmap::IndexMap;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize, Serializer};

/// A target CPU architecture of an image.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Arch {
    /// 64-bit PC (Intel and AMD).
    #[serde(rename = "x86_64")]
    X86_64,
    /// 64-bit ARM (Raspberry Pi 4/5, ARM servers, Apple silicon VMs).
    #[serde(rename = "aarch64")]
    Aarch64,
    /// 32-bit PC.
    #[serde(rename = "i686")]
    I686,
    /// 64-bit RISC-V.
    #[serde(rename = "riscv64")]
    Riscv64,
}

impl Arch {
    /// Every architecture genpack builds for, in a stable order.
    pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::Aarch64, Arch::I686, Arch::Riscv64];

    /// The name used in definitions, file names and `uname -m`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::I686 => "i686",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// The architecture of the machine running this program, when genpack supports it.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            "x86" => Some(Arch::I686),
            "riscv64" => Some(Arch::Riscv64),
            _ => None,
        }
    }

    /// Gentoo's name for the architecture (profiles, keywords): amd64, arm64, x86, riscv.
    pub fn gentoo_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
            Arch::I686 => "x86",
            Arch::Riscv64 => "riscv",
        }
    }

    /// Debian's name for the architecture: amd64, arm64, i386, riscv64.
    pub fn debian_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
            Arch::I686 => "i386",
            Arch::Riscv64 => "riscv64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An architecture name that genpack does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown architecture `{0}`: expected one of x86_64, aarch64, i686, riscv64")]
pub struct UnknownArch(pub String);

impl FromStr for Arch {
    type Err = UnknownArch;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|arch| arch.as_str() == s)
            .ok_or_else(|| UnknownArch(s.to_string()))
    }
}

/// The distribution an image is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Base {
    /// Gentoo: stage3, Portage and the genpack overlay; everything can be tuned with USE flags.
    #[default]
    Gentoo,
    /// Debian: binary packages from a Debian suite such as `bookworm`.
    Debian {
        /// The Debian release, like `bookworm` or `trixie`.
        suite: String,
    },
}

impl Base {
    /// The Debian suite used when `base` is just `"debian"`.
    pub const DEFAULT_DEBIAN_SUITE: &'static str = "bookworm";

    /// True for a Debian base.
    pub fn is_debian(&self) -> bool {
        matches!(self, Base::Debian { .. })
    }
}

impl fmt::Display for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base::Gentoo => f.write_str("gentoo"),
            Base::Debian { suite } => write!(f, "debian:{suite}"),
        }
    }
}

/// A `base` value that is not `gentoo`, `debian` or `debian:<suite>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown base `{0}`: expected \"gentoo\", \"debian\" or \"debian:<suite>\" like \"debian:bookworm\"")]
pub struct UnknownBase(pub String);

impl FromStr for Base {
    type Err = UnknownBase;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gentoo" => Ok(Base::Gentoo),
            "debian" => Ok(Base::Debian {
                suite: Base::DEFAULT_DEBIAN_SUITE.to_string(),
            }),
            _ => match s.strip_prefix("debian:") {
                Some(suite)
                    if suite.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && suite
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') =>
                {
                    Ok(Base::Debian {
                        suite: suite.to_string(),
                    })
                }
                _ => Err(UnknownBase(s.to_string())),
            },
        }
    }
}

impl Serialize for Base {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Base {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Base {
    fn schema_name() -> Cow<'static, str> {
        "Base".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // The bases offered as a choice come first; any other Debian release is accepted too.
        json_schema!({
            "type": "string",
            "pattern": "^(gentoo|debian(:[a-z][a-z0-9-]*)?)$",
            "examples": ["gentoo", "debian", "debian:bookworm"],
            "default": "gentoo",
            "anyOf": [
                {
                    "const": "debian:bookworm",
                    "title": "Debian 12 (bookworm)",
                    "description": "Ready-made Debian packages: a build takes minutes. Packages are named as Debian names them, like `nginx`."
                },
                {
                    "const": "gentoo",
                    "title": "Gentoo",
                    "description": "Compiled from source: every package can be tuned with USE flags; a first build takes hours. Packages are written `category/name`, like `www-servers/nginx`."
                },
                {
                    "pattern": "^debian(:[a-z][a-z0-9-]*)?$",
                    "description": "Another Debian release, written `debian:<release>` (`debian` alone means bookworm)."
                }
            ]
        })
    }
}

/// How the finished image file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Fast to build, medium size (the default).
    #[default]
    Gzip,
    /// Smallest image, slowest to build.
    Xz,
    /// Fast to read, larger image.
    Lzo,
    /// Good size and very fast to read.
    Zstd,
    /// Fastest, largest compressed image.
    Lz4,
    /// No compression at all.
    None,
}

impl Compression {
    /// Whether GRUB 2.06 (Debian 12's) reads SquashFS compressed this way: it has gzip, xz
    /// and lzo decoders only, so sticks, disks and ISOs of other images do not boot.
    pub fn grub_reads_it(self) -> bool {
        matches!(
            self,
            Compression::Gzip | Compression::Xz | Compression::Lzo | Compression::None
        )
    }

    /// Every compression method, in a stable order.
    pub const ALL: [Compression; 6] = [
        Compression::Gzip,
        Compression::Xz,
        Compression::Lzo,
        Compression::Zstd,
        Compression::Lz4,
        Compression::None,
    ];

    /// The name used in definitions and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Lzo => "lzo",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
            Compression::None => "none",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compression name genpack does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression `{0}`: expected one of gzip, xz, lzo, zstd, lz4, none")]
pub struct UnknownCompression(pub String);

impl FromStr for Compression {
    type Err = UnknownCompression;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compression::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCompression(s.to_string()))
    }
}

/// The value of one entry of `use`, `accept_keywords`, `license` or `env`: one string of
/// space-separated words, or a list of strings. `null` (no value) is modelled as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Setting {
    /// Words separated by spaces, like `"-X wayland VIDEO_CARDS: virgl"`.
    Text(String),
    /// One word (or group of words) per entry.
    List(Vec<String>),
}

impl Setting {
    /// The words of the setting joined by single spaces.
    pub fn joined(&self) -> String {
        let text = match self {
            Setting::Text(text) => text.clone(),
            Setting::List(items) => items.join(" "),
        };
        crate::useflags::normalize_flags(&text)
    }
}

/// Per-package settings: a package atom (or `*/*`) to its value.
pub type PackageMap = IndexMap<String, Option<Setting>>;

/// Schema helper: a string or a list of strings.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

/// Schema helper: a user given as just a name, or with details.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum UserEntry {
    Name(String),
    Details(User),
}

/// Schema helper: a group given as just a name, or with a fixed group id.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum GroupEntry {
    Name(String),
    Details(Group),
}

/// A login account created in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    /// Login name: lower-case letters, digits, `_` and `-`, at most 32 characters.
    #[schemars(title = "User name")]
    pub name: String,
    /// Numeric user id. Leave it out to let the system pick one; 1000 is the usual first
    /// person account.
    #[schemars(title = "User ID")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Free text shown as the person's full name.
    #[schemars(title = "Full name")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Home directory; by default `/home/<name>`.
    #[schemars(title = "Home directory")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Login shell, like `/bin/bash`; `/sbin/nologin` makes an account nobody can log in to.
    #[schemars(title = "Login shell")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// The main group of the account; by default a new group with the user's name.
    #[schemars(title = "Primary group")]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "initial-group"
    )]
    pub initial_group: Option<String>,
    /// Extra groups, which grant access: `wheel` (may use sudo), `audio`, `video`, `input`,
    /// `usb`, `docker` and so on.
    #[schemars(title = "Extra groups", with = "StringOrList")]
    #[serde(default, alias = "additional-groups")]
    pub additional_groups: Vec<String>,
    /// Create the home directory (default: yes).
    #[schemars(title = "Create home directory")]
    #[serde(default = "yes", alias = "create-home")]
    pub create_home: bool,
    /// Allow logging in without a password. Handy for kiosks and test VMs; unsafe anywhere
    /// people you do not trust can reach the machine.
    #[schemars(title = "Empty password")]
    #[serde(default, alias = "empty-password")]
    pub empty_password: bool,
}

fn yes() -> bool {
    true
}

impl User {
    /// A user with just a name and every default.
    pub fn named(name: impl Into<String>) -> Self {
        User {
            name: name.into(),
            uid: None,
            comment: None,
            home: None,
            shell: None,
            initial_group: None,
            additional_groups: Vec::new(),
            create_home: true,
            empty_password: false,
        }
    }
}

/// The transport protocol of a [`ServicePort`].
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

/// How a browser opens a [`ServicePort`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum WebScheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
}

/// A network service the appliance offers: a VM run forwards a host port to it, and front
/// ends show how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ServicePort {
    /// The port inside the appliance, e.g. 80.
    #[schemars(title = "Port", range(min = 1, max = 65535))]
    pub port: u16,
    /// `tcp` (the default) or `udp`.
    #[schemars(title = "Protocol")]
    #[serde(default)]
    pub protocol: Protocol,
    /// What answers there, for people: "Web site", "SMB file sharing".
    #[schemars(title = "Service name")]
    pub name: String,
    /// Set when a browser can open it: `http` or `https`.
    #[schemars(title = "Web page")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebScheme>,
    /// The page to open, starting with `/` (default `/`).
    #[schemars(title = "Page path")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A group created in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Group name: lower-case letters, digits, `_` and `-`.
    #[schemars(title = "Group name")]
    pub name: String,
    /// Numeric group id; leave it out to let the system pick one.
    #[schemars(title = "Group ID")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// A command run while the image is being put together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SetupCommand {
    /// A shell command line, run with `sh -c` inside the image as root.
    Shell(String),
    /// A structured command. Its fields have no defined meaning yet; it is kept as written.
    Structured(serde_json::Map<String, serde_json::Value>),
}

/// Packages that are built first, with special USE flags, to break a dependency cycle.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircularDepBreaker {
    /// Packages to build first.
    #[schemars(title = "Packages")]
    #[serde(default)]
    pub packages: Vec<String>,
    /// USE flags used only for that first build, like `-truetype -harfbuzz`.
    #[schemars(title = "Temporary USE flags")]
    #[serde(default, rename = "use")]
    pub use_flags: String,
}

/// Settings that apply only when building for some architectures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchBlock {
    /// Extra packages for these architectures. An entry starting with `-` removes a package
    /// listed earlier.
    #[schemars(title = "Packages")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// Extra packages needed only while building.
    #[schemars(title = "Build-time packages")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buildtime_packages: Vec<String>,
    /// Per-package acceptance of testing versions (see the top-level field).
    #[schemars(title = "Accept testing versions")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub accept_keywords: PackageMap,
    /// Per-package feature switches (see the top-level field).
    #[schemars(title = "Package features (USE flags)")]
    #[serde(default, rename = "use", skip_serializing_if = "IndexMap::is_empty")]
    pub use_flags: PackageMap,
    /// Package versions never to install (see the top-level field).
    #[schemars(title = "Blocked packages")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
    /// Per-package license acceptance (see the top-level field).
    #[schemars(title = "Accepted licenses")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub license: PackageMap,
    /// Per-package build environment files (see the top-level field).
    #[schemars(title = "Build environment files")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: PackageMap,
    /// Packages always built from source (see the top-level field).
    #[schemars(title = "Always build from source", with = "StringOrList")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binpkg_excludes: Vec<String>,
    /// Extra commands run while the image is put together.
    #[schemars(title = "Setup commands")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup_commands: Vec<SetupCommand>,
    /// Extra services started at boot.
    #[schemars(title = "Services")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

/// A named flavour of the image, built from the same definition with some changes.
///
/// Unlike the original genpack, a variant's `profile`, `outfile` and `compression` take
/// effect, and so do its `setup_commands`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Replaces the top-level profile for this variant.
    #[schemars(title = "Profile")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Replaces the output file name for this variant.
    #[schemars(title = "Output file")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outfile: Option<String>,
    /// Replaces the compression for this variant.
    #[schemars(title = "Compression")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
    /// Extra packages; an entry starting with `-` removes a package listed earlier, like
    /// `-x11-drivers/nvidia-drivers`.
    #[schemars(title = "Packages")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// Extra packages needed only while building.
    #[schemars(title = "Build-time packages")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buildtime_packages: Vec<String>,
    /// Replaces the top-level `buildtime_packages_first` for this variant.
    #[schemars(title = "Build the build-time packages first")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildtime_packages_first: Option<bool>,
    /// Per-package acceptance of testing versions; replaces top-level entries for the same package.
    #[schemars(title = "Accept testing versions")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub accept_keywords: PackageMap,
    /// Per-package feature switches; replaces top-level entries for the same package.
    #[schemars(title = "Package features (USE flags)")]
    #[serde(default, rename = "use", skip_serializing_if = "IndexMap::is_empty")]
    pub use_flags: PackageMap,
    /// Package versions never to install.
    #[schemars(title = "Blocked packages")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
    /// Per-package license acceptance; replaces top-level entries for the same package.
    #[schemars(title = "Accepted licenses")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub license: PackageMap,
    /// Per-package build environment files; replaces top-level entries for the same package.
    #[schemars(title = "Build environment files")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: PackageMap,
    /// Packages always built from source.
    #[schemars(title = "Always build from source", with = "StringOrList")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binpkg_excludes: Vec<String>,
    /// Extra login accounts.
    #[schemars(title = "Users", with = "Vec<UserEntry>")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    /// Extra groups.
    #[schemars(title = "Groups", with = "Vec<GroupEntry>")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Extra services started at boot.
    #[schemars(title = "Services")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Extra commands run while the image is put together.
    #[schemars(title = "Setup commands")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup_commands: Vec<SetupCommand>,
    /// Settings for this variant on some architectures only.
    #[schemars(title = "Per-architecture settings")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub arch: IndexMap<String, ArchBlock>,
}

/// A whole `genpack.json5` file: what goes into the image and how it is built.
///
/// Read files with [`crate::parse_definition`] or [`crate::Project::load`], which accept every
/// spelling the format allows and report problems with their location. Serde serializes the
/// normalized model (lists are always lists, users are always objects), and deserializes
/// exactly that form.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "genpack image definition",
    description = "Describes an appliance image: the software in it, its accounts and services, and how it is built. Only `packages` is needed for a first image."
)]
pub struct Definition {
    /// Name of the image. It becomes part of the output file name
    /// (`<name>-<arch>.squashfs`). When left out, the folder name is used.
    #[schemars(title = "Name")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which Linux distribution the image is built from: `gentoo` (default; every package
    /// can be tuned) or `debian` / `debian:<release>` (ready-made packages, faster builds).
    #[schemars(title = "Base system")]
    #[serde(default)]
    pub base: Base,
    /// A ready-made starting configuration: `paravirt` for virtual machines, `baremetal` for
    /// real hardware, or a desktop flavour such as `gnome/baremetal` or `weston/paravirt`.
    #[schemars(title = "Profile", extend("examples" = ["paravirt", "baremetal", "gnome/baremetal", "weston/paravirt"]))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The software to install, one package per entry, written as `category/name` such as
    /// `app-misc/screen` (on a Debian base, Debian package names such as `screen`). A
    /// version can be pinned with an operator, as in `=sys-fs/fuse-2.9.9-r2`.
    #[schemars(title = "Packages")]
    #[serde(default)]
    pub packages: Vec<String>,
    /// Packages needed only while the image is built (compilers, download tools); they are
    /// not copied into the finished image.
    #[schemars(title = "Build-time packages")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buildtime_packages: Vec<String>,
    /// Install the build-time packages in a separate step before everything else. Turn this
    /// on only if a build fails because a build tool was not ready in time.
    #[schemars(title = "Build the build-time packages first")]
    #[serde(default)]
    pub buildtime_packages_first: bool,
    /// Gentoo marks new package versions as "testing" until they are proven. List a package
    /// here to accept its testing versions. The value is usually empty (null); `"**"` also
    /// accepts versions that are not marked for any architecture.
    #[schemars(title = "Accept testing versions")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub accept_keywords: PackageMap,
    /// Optional features of each package, switched on or off by name ("USE flags"): `wayland`
    /// turns a feature on, `-X` turns one off. Groups are written as a capitalised name and a
    /// colon, like `VIDEO_CARDS: virgl zink`. The key `*/*` applies to every package.
    #[schemars(title = "Package features (USE flags)")]
    #[serde(default, rename = "use", skip_serializing_if = "IndexMap::is_empty")]
    pub use_flags: PackageMap,
    /// Some packages have licenses that must be accepted explicitly, like firmware or
    /// proprietary drivers. The value names the license, such as `linux-fw-redistributable`.
    #[schemars(title = "Accepted licenses")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub license: PackageMap,
    /// Package versions that must never be installed, like `>=dev-lang/python-3.13`.
    #[schemars(title = "Blocked packages")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
    /// Special build settings for some packages: the value names files in the definition's
    /// `env/` folder, such as `debug.conf`.
    #[schemars(title = "Build environment files")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: PackageMap,
    /// Packages that are always built from source instead of reusing ready-built copies, for
    /// example because local patches apply to them.
    #[schemars(title = "Always build from source", with = "StringOrList")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binpkg_excludes: Vec<String>,
    /// Login accounts created in the image. An entry can be just a name, or an object with
    /// details such as `uid`, `additional_groups` and `empty_password`.
    #[schemars(title = "Users", with = "Vec<UserEntry>")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    /// Groups created in the image, as names or `{ name, gid }` objects.
    #[schemars(title = "Groups", with = "Vec<GroupEntry>")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Background services started at boot, by systemd unit name: `sshd` (meaning
    /// `sshd.service`), `fstrim.timer`, `getty@tty1`.
    #[schemars(title = "Services")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Shell commands run as root inside the image after the packages and files are in place.
    #[schemars(title = "Setup commands")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup_commands: Vec<SetupCommand>,
    /// The network services the appliance offers, such as `{ port: 80, name: "Web site",
    /// web: "http" }`. Running the image in a VM forwards a free host port to each, and the
    /// studio links to the web pages among them.
    #[schemars(title = "Network services")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// Settings that apply only to some architectures. Keys are architecture names
    /// (`x86_64`, `aarch64`, `i686`, `riscv64`), several joined with `|` like `x86_64|aarch64`.
    #[schemars(title = "Per-architecture settings")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub arch: IndexMap<String, ArchBlock>,
    /// Named flavours of the image, each adding or removing packages and settings. Build one
    /// with `--variant <name>`; it gets its own file `<name>-<variant>-<arch>.squashfs`.
    #[schemars(title = "Variants")]
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variants: IndexMap<String, Variant>,
    /// The variant built when none is chosen. Must be one of the `variants`.
    #[schemars(title = "Default variant")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_variant: Option<String>,
    /// Output file name, replacing the usual `<name>[-<variant>]-<arch>.squashfs`.
    #[schemars(title = "Output file")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outfile: Option<String>,
    /// How the image file is compressed: `gzip` (default), `xz` (smallest), `zstd`, `lz4`,
    /// `lzo` or `none`.
    #[schemars(title = "Compression")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
    /// Size limit, in GiB, of the scratch disk the build uses (default 128). The space is only
    /// taken as it is used; raise it if a huge build runs out of space.
    #[schemars(title = "Build disk size (GiB)", range(min = 1))]
    #[serde(
        default,
        rename = "lower-layer-capacity",
        alias = "lower_layer_capacity",
        skip_serializing_if = "Option::is_none"
    )]
    pub lower_layer_capacity: Option<u64>,
    /// Keep ready-built packages inside this build instead of sharing them with other
    /// builds. Slower, but nothing leaks between definitions.
    #[schemars(title = "Private package cache")]
    #[serde(default)]
    pub independent_binpkgs: bool,
    /// Where ready-built packages come from: `"gentoo"` for Gentoo's official binary packages
    /// (their signatures are checked), or the URL of another builder's `genpack binhost
    /// serve`. Packages it lacks, or built with other USE flags, are compiled here. The build
    /// settings (`genpack build --binhost`, the studio's) override it.
    #[schemars(title = "Binary package host")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binhost: Option<String>,
    /// Expert setting: packages built first with special USE flags to break a circular
    /// dependency (for example freetype and harfbuzz needing each other).
    #[schemars(title = "Circular dependency breaker")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circulardep_breaker: Option<CircularDepBreaker>,
    /// Marks a development image. The build does not act on it yet; to keep headers and
    /// manuals in the image, add the `genpack/devel` package instead.
    #[schemars(title = "Development image")]
    #[serde(default)]
    pub devel: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text() {
        for arch in Arch::ALL {
            assert_eq!(arch.to_string().parse::<Arch>(), Ok(arch));
        }
        for compression in Compression::ALL {
            assert_eq!(
                compression.to_string().parse::<Compression>(),
                Ok(compression)
            );
        }
        assert_eq!("gentoo".parse::<Base>(), Ok(Base::Gentoo));
        assert_eq!(
            "debian".parse::<Base>().map(|b| b.to_string()),
            Ok("debian:bookworm".to_string())
        );
        assert_eq!(
            "debian:trixie".parse::<Base>(),
            Ok(Base::Debian {
                suite: "trixie".into()
            })
        );
        for bad in ["", "Debian", "debian:", "debian:Trixie", "fedora"] {
            assert!(bad.parse::<Base>().is_err(), "{bad}");
        }
        assert!("amd64".parse::<Arch>().is_err());
        assert!("bzip2".parse::<Compression>().is_err());
    }

    #[test]
    fn arch_names_in_other_worlds() {
        assert_eq!(Arch::X86_64.gentoo_name(), "amd64");
        assert_eq!(Arch::I686.debian_name(), "i386");
        assert_eq!(Arch::Riscv64.gentoo_name(), "riscv");
    }

    #[test]
    fn settings_join_with_single_spaces() {
        assert_eq!(Setting::Text(" a  b ".into()).joined(), "a b");
        assert_eq!(
            Setting::List(vec!["a b".into(), " c".into()]).joined(),
            "a b c"
        );
    }
}
