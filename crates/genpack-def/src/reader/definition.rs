//! The definition's top level, and the block of settings it shares with `arch` blocks and
//! variants: one reader for every block, with the keys a block may hold decided by its
//! [`Scope`].

use indexmap::IndexMap;
use jsonc_parser::ast::Object;
use jsonc_parser::common::{Range, Ranged};

use super::keys::Scope;
use super::lists::ListKind;
use super::portage::MapKind;
use super::{child_key, prop_name, prop_name_range, suggest, Reader};
use crate::diagnostic::Severity;
use crate::model::{
    ArchBlock, Base, CircularDepBreaker, Compression, Definition, Group, PackageMap, ServicePort,
    SetupCommand, User, Variant,
};

/// The settings of one block, whatever its scope; absent keys stay empty.
#[derive(Default)]
pub(super) struct Block {
    name: Option<String>,
    profile: Option<String>,
    packages: Vec<String>,
    buildtime_packages: Vec<String>,
    buildtime_packages_first: Option<bool>,
    accept_keywords: PackageMap,
    use_flags: PackageMap,
    license: PackageMap,
    mask: Vec<String>,
    env: PackageMap,
    binpkg_excludes: Vec<String>,
    users: Vec<User>,
    groups: Vec<Group>,
    services: Vec<String>,
    setup_commands: Vec<SetupCommand>,
    ports: Vec<ServicePort>,
    arch: IndexMap<String, ArchBlock>,
    variants: IndexMap<String, Variant>,
    default_variant: Option<(String, Range)>,
    outfile: Option<String>,
    compression: Option<Compression>,
    lower_layer_capacity: Option<u64>,
    independent_binpkgs: Option<bool>,
    binhost: Option<String>,
    circulardep_breaker: Option<CircularDepBreaker>,
    devel: Option<bool>,
}

impl Block {
    /// The settings an `arch` block keeps.
    pub(super) fn into_arch_block(self) -> ArchBlock {
        ArchBlock {
            packages: self.packages,
            buildtime_packages: self.buildtime_packages,
            accept_keywords: self.accept_keywords,
            use_flags: self.use_flags,
            mask: self.mask,
            license: self.license,
            env: self.env,
            binpkg_excludes: self.binpkg_excludes,
            setup_commands: self.setup_commands,
            services: self.services,
        }
    }

    /// The settings a variant keeps.
    pub(super) fn into_variant(self) -> Variant {
        Variant {
            profile: self.profile,
            outfile: self.outfile,
            compression: self.compression,
            packages: self.packages,
            buildtime_packages: self.buildtime_packages,
            buildtime_packages_first: self.buildtime_packages_first,
            accept_keywords: self.accept_keywords,
            use_flags: self.use_flags,
            mask: self.mask,
            license: self.license,
            env: self.env,
            binpkg_excludes: self.binpkg_excludes,
            users: self.users,
            groups: self.groups,
            services: self.services,
            setup_commands: self.setup_commands,
            arch: self.arch,
        }
    }
}

impl Reader<'_> {
    pub(crate) fn read_definition(&mut self, object: &Object) -> Definition {
        // The base decides how packages are checked, so read it first.
        if let Some(prop) = object.properties.iter().find(|p| prop_name(p) == "base") {
            if let Some(text) = self.string(
                &prop.value,
                "base",
                "a base name like \"gentoo\" or \"debian:bookworm\"",
            ) {
                match text.parse::<Base>() {
                    Ok(base) => self.base = base,
                    Err(err) => {
                        self.base_unknown = true;
                        self.error_help(
                            prop.value.range(),
                            "base",
                            err.to_string(),
                            "choose `debian:bookworm` for ready-made Debian packages, or leave `base` out to build from Gentoo",
                        )
                    }
                }
            }
        }
        let block = self.read_block(object, "", Scope::Top);
        let mut definition = Definition {
            name: block.name,
            base: self.base.clone(),
            profile: block.profile,
            packages: block.packages,
            buildtime_packages: block.buildtime_packages,
            buildtime_packages_first: block.buildtime_packages_first.unwrap_or(false),
            accept_keywords: block.accept_keywords,
            use_flags: block.use_flags,
            license: block.license,
            mask: block.mask,
            env: block.env,
            binpkg_excludes: block.binpkg_excludes,
            users: block.users,
            groups: block.groups,
            services: block.services,
            setup_commands: block.setup_commands,
            ports: block.ports,
            arch: block.arch,
            variants: block.variants,
            default_variant: None,
            outfile: block.outfile,
            compression: block.compression,
            lower_layer_capacity: block.lower_layer_capacity,
            independent_binpkgs: block.independent_binpkgs.unwrap_or(false),
            binhost: block.binhost,
            circulardep_breaker: block.circulardep_breaker,
            devel: block.devel.unwrap_or(false),
        };
        if let Some((name, range)) = block.default_variant {
            if definition.variants.contains_key(&name) {
                definition.default_variant = Some(name);
            } else if definition.variants.is_empty() {
                self.error_help(
                    range,
                    "default_variant",
                    format!(
                        "default_variant `{name}` names a variant, but there are no `variants`"
                    ),
                    "define it under `variants`, or remove `default_variant`",
                );
            } else {
                let names: Vec<&str> = definition.variants.keys().map(String::as_str).collect();
                let help = match suggest(&name, names.iter().copied()) {
                    Some(close) => format!(
                        "did you mean `{close}`? the variants are: {}",
                        names.join(", ")
                    ),
                    None => format!("the variants are: {}", names.join(", ")),
                };
                self.error_help(
                    range,
                    "default_variant",
                    format!("default_variant `{name}` is not one of the variants"),
                    help,
                );
            }
        }
        definition
    }

    pub(super) fn read_block(&mut self, object: &Object, path: &str, scope: Scope) -> Block {
        let mut block = Block::default();
        let mut capacity_key: Option<(String, Range)> = None;
        for (key, prop) in self.properties(object, path) {
            let key_range = prop_name_range(prop);
            let here = child_key(path, &key);
            let value = &prop.value;
            if !self.key_allowed(&key, key_range, &here, scope) {
                continue;
            }
            self.warn_if_portage_only(&key, key_range, &here);
            match key.as_str() {
                "name" => {
                    let name = self.string(value, &here, "the image name (a string)");
                    if scope == Scope::Variant {
                        self.warning(
                            key_range,
                            &here,
                            "a variant's `name` is ignored",
                            Some("the variant's own key is its name".into()),
                        );
                    } else if let Some(name) = name {
                        if self.check_file_name_part(&name, value.range(), &here, "image name") {
                            block.name = Some(name);
                        }
                    }
                }
                "base" => {} // read before everything else
                "profile" => {
                    if let Some(profile) =
                        self.string(value, &here, "a profile name like \"paravirt\"")
                    {
                        self.check_profile(&profile, value.range(), &here);
                        block.profile = Some(profile);
                    }
                }
                "packages" => block.packages = self.string_list(value, &here, ListKind::Packages),
                "buildtime_packages" => {
                    block.buildtime_packages =
                        self.string_list(value, &here, ListKind::BuildtimePackages)
                }
                "buildtime_packages_first" => {
                    block.buildtime_packages_first = self.boolean(value, &here)
                }
                "accept_keywords" => {
                    block.accept_keywords = self.package_map(value, &here, MapKind::AcceptKeywords)
                }
                "use" => block.use_flags = self.package_map(value, &here, MapKind::Use),
                "license" => block.license = self.package_map(value, &here, MapKind::License),
                "env" => block.env = self.package_map(value, &here, MapKind::Env),
                "mask" => block.mask = self.string_list(value, &here, ListKind::Mask),
                "binpkg_excludes" => block.binpkg_excludes = self.binpkg_excludes(value, &here),
                "users" => block.users = self.users(value, &here),
                "groups" => block.groups = self.groups(value, &here),
                "services" => block.services = self.string_list(value, &here, ListKind::Services),
                "setup_commands" => block.setup_commands = self.setup_commands(value, &here),
                "ports" => block.ports = self.ports(value, &here),
                "arch" => block.arch = self.arch_blocks(value, &here),
                "variants" => block.variants = self.variants(value, &here),
                "default_variant" => {
                    if let Some(name) = self.string(value, &here, "a variant name (a string)") {
                        block.default_variant = Some((name, value.range()));
                    }
                }
                "outfile" => {
                    if let Some(outfile) = self.string(value, &here, "a file name (a string)") {
                        if self.check_outfile(&outfile, value.range(), &here) {
                            block.outfile = Some(outfile);
                        }
                    }
                }
                "compression" => {
                    if let Some(name) = self.string(value, &here, "a compression name like \"xz\"")
                    {
                        match name.parse::<Compression>() {
                            Ok(compression) => {
                                if !compression.grub_reads_it() {
                                    self.warning(
                                        value.range(),
                                        &here,
                                        format!(
                                            "GRUB (2.06, as Debian 12 ships it) cannot read SquashFS compressed with {name}: the image runs in a VM (`genpack vm run`), but a stick, disk or ISO made from it will not boot"
                                        ),
                                        Some("use \"gzip\" (fast to build) or \"xz\" (smallest) for images meant for sticks and disks".into()),
                                    );
                                }
                                block.compression = Some(compression)
                            }
                            Err(err) => {
                                let help =
                                    suggest(&name, Compression::ALL.iter().map(|c| c.as_str()))
                                        .map(|close| format!("did you mean `{close}`?"));
                                self.report(
                                    Severity::Error,
                                    value.range(),
                                    &here,
                                    err.to_string(),
                                    help,
                                );
                            }
                        }
                    }
                }
                "lower-layer-capacity" | "lower_layer_capacity" => {
                    if let Some((first, range)) = &capacity_key {
                        let first_at = self.position_text(range.start);
                        self.error_help(
                            key_range,
                            &here,
                            format!("`{key}` repeats `{first}` (at {first_at})"),
                            "both spellings mean the same setting; keep one",
                        );
                        continue;
                    }
                    capacity_key = Some((key.clone(), key_range));
                    match self.whole_number(
                        value,
                        &here,
                        "a size in GiB (a whole number)",
                        u64::from(u32::MAX),
                    ) {
                        Some(0) => self.error(
                            value.range(),
                            &here,
                            "the build disk size must be at least 1 GiB",
                        ),
                        Some(size) => {
                            self.warning(
                                key_range,
                                &here,
                                format!("`{key}` is not used: the base layer is a folder that grows as needed, with no size to set"),
                                Some("remove it; older genpack versions sized a disk image with it".into()),
                            );
                            block.lower_layer_capacity = Some(size)
                        }
                        None => {}
                    }
                }
                "independent_binpkgs" => block.independent_binpkgs = self.boolean(value, &here),
                "binhost" => {
                    let expected = "\"gentoo\" or a binhost's URL (a string)";
                    if let Some(binhost) = self.string(value, &here, expected) {
                        if binhost == "gentoo"
                            || ["http://", "https://", "file://"]
                                .iter()
                                .any(|scheme| binhost.starts_with(scheme))
                        {
                            block.binhost = Some(binhost);
                        } else {
                            self.error_help(
                                value.range(),
                                &here,
                                format!("binhost `{binhost}` is neither \"gentoo\" nor an http://, https:// or file:// URL"),
                                "write \"gentoo\" for Gentoo's official binary packages, or the address another builder's `genpack binhost serve` prints",
                            );
                        }
                    }
                }
                "circulardep_breaker" => {
                    block.circulardep_breaker = self.circulardep_breaker(value, &here)
                }
                "devel" => block.devel = self.boolean(value, &here),
                _ => {}
            }
        }
        block
    }
}
