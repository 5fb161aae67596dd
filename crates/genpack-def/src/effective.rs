//! The effective definition: what one build of one architecture and variant uses.

use indexmap::{IndexMap, IndexSet};
use serde::{Deserialize, Serialize};

use crate::model::{
    Arch, ArchBlock, Base, CircularDepBreaker, Compression, Definition, Group, PackageMap,
    SetupCommand, User, Variant,
};
use crate::names::unit_name;

/// The build disk size, in GiB, when the definition does not say.
pub const DEFAULT_LOWER_LAYER_CAPACITY: u64 = 128;

/// Everything one build needs, merged from the definition for an architecture and variant.
///
/// Layers are merged in this order: the top level, then every `arch` block whose key names
/// the architecture (in file order), then the variant, then the variant's own matching `arch`
/// blocks. Per field:
///
/// - `packages`: an entry `-atom` removes an earlier entry spelled exactly `atom`; other
///   entries are appended unless already present;
/// - `buildtime_packages`, `mask`, `services`, `binpkg_excludes`: union, keeping order
///   (`sshd` and `sshd.service` count as the same service);
/// - `use`, `accept_keywords`, `license`, `env`: per package, a later layer replaces the value,
///   and the package keeps the position where it first appeared;
/// - `users`, `groups`, `setup_commands`: appended;
/// - `profile`, `outfile`, `compression`, `buildtime_packages_first`: a variant's value
///   replaces the top-level one. The original genpack ignored these in variants; here they
///   take effect.
///
/// Serializes with the keys of the definition file (`use` for the USE flags) and the values
/// normalized: every map value is a single-spaced string or `null`, users are full objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effective {
    /// Image name.
    pub name: String,
    /// Distribution the image is built from.
    pub base: Base,
    /// Profile, if any.
    pub profile: Option<String>,
    /// Target architecture.
    pub arch: Arch,
    /// The variant built, if any.
    pub variant: Option<String>,
    /// Packages to install, in order.
    pub packages: Vec<String>,
    /// Packages needed only during the build.
    pub buildtime_packages: Vec<String>,
    /// Whether build-time packages are installed in a step of their own first.
    pub buildtime_packages_first: bool,
    /// Package atom to accepted keywords (`null`: the default testing keyword).
    pub accept_keywords: IndexMap<String, Option<String>>,
    /// Package atom to USE flags.
    #[serde(rename = "use")]
    pub use_flags: IndexMap<String, Option<String>>,
    /// Package atom to accepted licenses.
    pub license: IndexMap<String, Option<String>>,
    /// Package atom to files in `env/`.
    pub env: IndexMap<String, Option<String>>,
    /// Package atoms never to install.
    pub mask: Vec<String>,
    /// Packages always built from source.
    pub binpkg_excludes: Vec<String>,
    /// Accounts to create, in order.
    pub users: Vec<User>,
    /// Groups to create, in order.
    pub groups: Vec<Group>,
    /// Units to enable.
    pub services: Vec<String>,
    /// Commands to run, in order.
    pub setup_commands: Vec<SetupCommand>,
    /// Output file name.
    pub outfile: String,
    /// Compression of the image.
    pub compression: Compression,
    /// Build disk size in GiB.
    pub lower_layer_capacity: u64,
    /// Whether the binary package cache is private to this build.
    pub independent_binpkgs: bool,
    /// Where ready-built packages come from (`"gentoo"` or a URL), when the definition says.
    pub binhost: Option<String>,
    /// Packages built first to break a dependency cycle.
    pub circulardep_breaker: Option<CircularDepBreaker>,
    /// Development image marker.
    pub devel: bool,
}

/// Why no effective definition could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EffectiveError {
    /// The requested variant is not defined.
    #[error("{}", unknown_variant_message(.name, .available))]
    UnknownVariant {
        /// The name asked for.
        name: String,
        /// The variants the definition has.
        available: Vec<String>,
    },
    /// The definition has no `name` and none could be taken from its folder.
    #[error("the definition has no `name`: add one, like name: \"my-image\"")]
    MissingName,
    /// The definition has errors; fix them first.
    #[error("the definition has {count} error(s); fix them before building")]
    Invalid {
        /// How many errors.
        count: usize,
    },
}

fn unknown_variant_message(name: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!("there is no variant `{name}`: this definition has no variants")
    } else {
        format!(
            "there is no variant `{name}`: choose one of {}",
            available.join(", ")
        )
    }
}

/// One layer of settings, borrowed from the top level, a variant or an arch block.
#[derive(Default)]
struct Layer<'a> {
    packages: &'a [String],
    buildtime_packages: &'a [String],
    accept_keywords: Option<&'a PackageMap>,
    use_flags: Option<&'a PackageMap>,
    license: Option<&'a PackageMap>,
    env: Option<&'a PackageMap>,
    mask: &'a [String],
    binpkg_excludes: &'a [String],
    users: &'a [User],
    groups: &'a [Group],
    services: &'a [String],
    setup_commands: &'a [SetupCommand],
}

impl<'a> From<&'a Definition> for Layer<'a> {
    fn from(d: &'a Definition) -> Self {
        Layer {
            packages: &d.packages,
            buildtime_packages: &d.buildtime_packages,
            accept_keywords: Some(&d.accept_keywords),
            use_flags: Some(&d.use_flags),
            license: Some(&d.license),
            env: Some(&d.env),
            mask: &d.mask,
            binpkg_excludes: &d.binpkg_excludes,
            users: &d.users,
            groups: &d.groups,
            services: &d.services,
            setup_commands: &d.setup_commands,
        }
    }
}

impl<'a> From<&'a Variant> for Layer<'a> {
    fn from(v: &'a Variant) -> Self {
        Layer {
            packages: &v.packages,
            buildtime_packages: &v.buildtime_packages,
            accept_keywords: Some(&v.accept_keywords),
            use_flags: Some(&v.use_flags),
            license: Some(&v.license),
            env: Some(&v.env),
            mask: &v.mask,
            binpkg_excludes: &v.binpkg_excludes,
            users: &v.users,
            groups: &v.groups,
            services: &v.services,
            setup_commands: &v.setup_commands,
        }
    }
}

impl<'a> From<&'a ArchBlock> for Layer<'a> {
    fn from(a: &'a ArchBlock) -> Self {
        Layer {
            packages: &a.packages,
            buildtime_packages: &a.buildtime_packages,
            accept_keywords: Some(&a.accept_keywords),
            use_flags: Some(&a.use_flags),
            license: Some(&a.license),
            env: Some(&a.env),
            mask: &a.mask,
            binpkg_excludes: &a.binpkg_excludes,
            services: &a.services,
            setup_commands: &a.setup_commands,
            ..Layer::default()
        }
    }
}

/// The merge in progress.
#[derive(Default)]
struct Merged {
    packages: IndexSet<String>,
    buildtime_packages: IndexSet<String>,
    accept_keywords: IndexMap<String, Option<String>>,
    use_flags: IndexMap<String, Option<String>>,
    license: IndexMap<String, Option<String>>,
    env: IndexMap<String, Option<String>>,
    mask: IndexSet<String>,
    binpkg_excludes: IndexSet<String>,
    users: Vec<User>,
    groups: Vec<Group>,
    /// Full unit name to the name as written.
    services: IndexMap<String, String>,
    setup_commands: Vec<SetupCommand>,
}

impl Merged {
    fn apply(&mut self, layer: Layer<'_>) {
        for entry in layer.packages {
            match entry.strip_prefix('-') {
                Some(removed) => {
                    self.packages.shift_remove(removed);
                }
                None => {
                    self.packages.insert(entry.clone());
                }
            }
        }
        union(&mut self.buildtime_packages, layer.buildtime_packages);
        union(&mut self.mask, layer.mask);
        union(&mut self.binpkg_excludes, layer.binpkg_excludes);
        overwrite(&mut self.accept_keywords, layer.accept_keywords);
        overwrite(&mut self.use_flags, layer.use_flags);
        overwrite(&mut self.license, layer.license);
        overwrite(&mut self.env, layer.env);
        self.users.extend_from_slice(layer.users);
        self.groups.extend_from_slice(layer.groups);
        for service in layer.services {
            self.services
                .entry(unit_name(service))
                .or_insert_with(|| service.clone());
        }
        self.setup_commands.extend_from_slice(layer.setup_commands);
    }
}

fn union(set: &mut IndexSet<String>, items: &[String]) {
    for item in items {
        if !set.contains(item) {
            set.insert(item.clone());
        }
    }
}

fn overwrite(map: &mut IndexMap<String, Option<String>>, layer: Option<&PackageMap>) {
    for (atom, setting) in layer.into_iter().flatten() {
        // `insert` on an existing key keeps its position: first-insertion order.
        map.insert(atom.clone(), setting.as_ref().map(|s| s.joined()));
    }
}

/// Arch blocks of `blocks` whose key names `arch`, in file order.
fn matching(blocks: &IndexMap<String, ArchBlock>, arch: Arch) -> impl Iterator<Item = &ArchBlock> {
    blocks
        .iter()
        .filter(move |(key, _)| key.split('|').any(|name| name.trim() == arch.as_str()))
        .map(|(_, block)| block)
}

impl Definition {
    /// The variant names, in file order.
    pub fn variant_names(&self) -> Vec<&str> {
        self.variants.keys().map(String::as_str).collect()
    }

    /// The architectures the definition names in `arch` blocks (top level and variants), in
    /// [`Arch::ALL`] order; all four when it names none.
    pub fn arch_names(&self) -> Vec<Arch> {
        let keys = self
            .arch
            .keys()
            .chain(self.variants.values().flat_map(|v| v.arch.keys()));
        let mut named: Vec<Arch> = Vec::new();
        for key in keys {
            for name in key.split('|') {
                if let Ok(arch) = name.trim().parse::<Arch>() {
                    if !named.contains(&arch) {
                        named.push(arch);
                    }
                }
            }
        }
        if named.is_empty() {
            return Arch::ALL.to_vec();
        }
        Arch::ALL
            .into_iter()
            .filter(|a| named.contains(a))
            .collect()
    }

    /// Merges the layers that apply to `arch` and `variant` (see [`Effective`] for the
    /// rules). Without a variant, `default_variant` is used when set.
    ///
    /// A variant's `profile`, `outfile` and `compression` replace the top-level ones. The
    /// original genpack silently ignored them; they are honoured here.
    pub fn effective(
        &self,
        arch: Arch,
        variant: Option<&str>,
    ) -> Result<Effective, EffectiveError> {
        let variant_name = variant.or(self.default_variant.as_deref());
        let chosen = match variant_name {
            Some(name) => Some((
                name,
                self.variants
                    .get(name)
                    .ok_or_else(|| EffectiveError::UnknownVariant {
                        name: name.to_string(),
                        available: self.variants.keys().cloned().collect(),
                    })?,
            )),
            None => None,
        };
        let name = self.name.clone().ok_or(EffectiveError::MissingName)?;

        let mut merged = Merged::default();
        merged.apply(Layer::from(self));
        for block in matching(&self.arch, arch) {
            merged.apply(Layer::from(block));
        }
        if let Some((_, variant)) = chosen {
            merged.apply(Layer::from(variant));
            for block in matching(&variant.arch, arch) {
                merged.apply(Layer::from(block));
            }
        }

        let variant = chosen.map(|(_, v)| v);
        let outfile = variant
            .and_then(|v| v.outfile.clone())
            .or_else(|| self.outfile.clone())
            .unwrap_or_else(|| match variant_name {
                Some(v) => format!("{name}-{v}-{arch}.squashfs"),
                None => format!("{name}-{arch}.squashfs"),
            });

        Ok(Effective {
            name,
            base: self.base.clone(),
            profile: variant
                .and_then(|v| v.profile.clone())
                .or_else(|| self.profile.clone()),
            arch,
            variant: variant_name.map(str::to_string),
            packages: merged.packages.into_iter().collect(),
            buildtime_packages: merged.buildtime_packages.into_iter().collect(),
            buildtime_packages_first: variant
                .and_then(|v| v.buildtime_packages_first)
                .unwrap_or(self.buildtime_packages_first),
            accept_keywords: merged.accept_keywords,
            use_flags: merged.use_flags,
            license: merged.license,
            env: merged.env,
            mask: merged.mask.into_iter().collect(),
            binpkg_excludes: merged.binpkg_excludes.into_iter().collect(),
            users: merged.users,
            groups: merged.groups,
            services: merged.services.into_values().collect(),
            setup_commands: merged.setup_commands,
            outfile,
            compression: variant
                .and_then(|v| v.compression)
                .or(self.compression)
                .unwrap_or_default(),
            lower_layer_capacity: self
                .lower_layer_capacity
                .unwrap_or(DEFAULT_LOWER_LAYER_CAPACITY),
            independent_binpkgs: self.independent_binpkgs,
            binhost: self.binhost.clone(),
            circulardep_breaker: self.circulardep_breaker.clone(),
            devel: self.devel,
        })
    }
}
