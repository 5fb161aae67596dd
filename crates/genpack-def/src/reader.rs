//! Turns the syntax tree of a definition into the typed model, checking every value on the
//! way so that each problem is reported at its exact place in the file.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use jsonc_parser::ast::{Array, Object, ObjectProp, ObjectPropName, Value};
use jsonc_parser::common::{Range, Ranged};

use crate::atom::{check_atom, is_package_name, AtomContext};
use crate::diagnostic::{Diagnostic, Severity};
use crate::location::LineIndex;
use crate::model::{
    Arch, ArchBlock, Base, CircularDepBreaker, Compression, Definition, Group, PackageMap, Setting,
    SetupCommand, User, Variant,
};
use crate::names::{
    validate_account_name, validate_debian_package, validate_env_files, validate_keywords,
    validate_licenses, validate_unit_name,
};
use crate::useflags::validate_use_flags;

/// Diagnostics kept in full; beyond this only a count is reported.
const MAX_DIAGNOSTICS: usize = 500;

/// Keys of the top level.
const TOP_KEYS: &[&str] = &[
    "name",
    "base",
    "profile",
    "packages",
    "buildtime_packages",
    "buildtime_packages_first",
    "accept_keywords",
    "use",
    "license",
    "mask",
    "env",
    "binpkg_excludes",
    "users",
    "groups",
    "services",
    "setup_commands",
    "arch",
    "variants",
    "default_variant",
    "outfile",
    "compression",
    "lower-layer-capacity",
    "lower_layer_capacity",
    "independent_binpkgs",
    "circulardep_breaker",
    "devel",
];

/// Keys allowed inside an `arch` block (at the top level or inside a variant).
const ARCH_KEYS: &[&str] = &[
    "packages",
    "buildtime_packages",
    "accept_keywords",
    "use",
    "mask",
    "license",
    "env",
    "binpkg_excludes",
    "setup_commands",
    "services",
];

/// Keys allowed inside a variant. `name` is accepted and ignored, as upstream does.
const VARIANT_KEYS: &[&str] = &[
    "profile",
    "outfile",
    "compression",
    "packages",
    "buildtime_packages",
    "buildtime_packages_first",
    "accept_keywords",
    "use",
    "mask",
    "license",
    "env",
    "binpkg_excludes",
    "users",
    "groups",
    "services",
    "setup_commands",
    "arch",
    "name",
];

/// Keys that only mean something to Portage.
const PORTAGE_ONLY_KEYS: &[&str] = &[
    "use",
    "accept_keywords",
    "license",
    "mask",
    "env",
    "binpkg_excludes",
    "circulardep_breaker",
];

/// Keys that older genpack versions read: `(old key, replacement, advice)`.
const LEGACY_KEYS: &[(&str, Option<&str>, &str)] = &[
    ("buildtime-packages", Some("buildtime_packages"), "rename the key"),
    ("binpkg-exclude", Some("binpkg_excludes"), "rename the key"),
    ("binpkg_exclude", Some("binpkg_excludes"), "rename the key"),
    ("circulardep-breaker", Some("circulardep_breaker"), "rename the key"),
    (
        "gentoo_profile",
        Some("profile"),
        "rename the key and give a genpack profile such as `paravirt` or `gnome/baremetal`",
    ),
    (
        "gentoo-profile",
        Some("profile"),
        "rename the key and give a genpack profile such as `paravirt` or `gnome/baremetal`",
    ),
    ("minimum-lower-layer-capacity", Some("lower-layer-capacity"), "rename the key"),
    (
        "mix-in",
        None,
        "mix-ins are no longer supported: copy the packages and files you need into this definition",
    ),
];

/// Where a block of settings sits, which decides the keys it may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Top,
    Arch,
    Variant,
}

impl Scope {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Scope::Top => TOP_KEYS,
            Scope::Arch => ARCH_KEYS,
            Scope::Variant => VARIANT_KEYS,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Scope::Top => "at the top level",
            Scope::Arch => "inside an `arch` block",
            Scope::Variant => "inside a variant",
        }
    }
}

/// The settings of one block, whatever its scope; absent keys stay empty.
#[derive(Default)]
struct Block {
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
    arch: IndexMap<String, ArchBlock>,
    variants: IndexMap<String, Variant>,
    default_variant: Option<(String, Range)>,
    outfile: Option<String>,
    compression: Option<Compression>,
    lower_layer_capacity: Option<u64>,
    independent_binpkgs: Option<bool>,
    circulardep_breaker: Option<CircularDepBreaker>,
    devel: Option<bool>,
}

/// What a string list holds, which decides how its entries are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ListKind {
    /// `packages`: atoms, `-atom` removals and `#` comments.
    Packages,
    /// `buildtime_packages` and `circulardep_breaker.packages`: atoms and `#` comments.
    BuildtimePackages,
    /// `mask`: atoms (usually with versions) and `#` comments.
    Mask,
    /// `binpkg_excludes`: atoms or bare package names.
    BinpkgExcludes,
    /// `services`: systemd unit names.
    Services,
}

impl ListKind {
    fn list_description(self) -> &'static str {
        match self {
            ListKind::Packages | ListKind::BuildtimePackages | ListKind::BinpkgExcludes => {
                "a list of package atoms"
            }
            ListKind::Mask => "a list of package atoms to block",
            ListKind::Services => "a list of service names",
        }
    }

    fn item_description(self) -> &'static str {
        match self {
            ListKind::Services => "a service name (a string)",
            _ => "a package atom (a string)",
        }
    }
}

/// Which map: decides how keys and values are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MapKind {
    Use,
    AcceptKeywords,
    License,
    Env,
}

/// Reads one definition file.
pub(crate) struct Reader<'s> {
    source: &'s str,
    file: &'s Path,
    lines: LineIndex,
    base: Base,
    diagnostics: Vec<Diagnostic>,
    suppressed: usize,
}

impl<'s> Reader<'s> {
    pub(crate) fn new(source: &'s str, file: &'s Path) -> Self {
        Reader {
            source,
            file,
            lines: LineIndex::new(source),
            base: Base::Gentoo,
            diagnostics: Vec::new(),
            suppressed: 0,
        }
    }

    /// The diagnostics collected so far, plus a note when some were left out.
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        if self.suppressed > 0 {
            let count = self.suppressed;
            let (line, column) = self.lines.position(self.source, self.source.len());
            self.diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                message: format!("{count} more problems are not shown"),
                file: self.file.to_path_buf(),
                line,
                column,
                end_line: line,
                end_column: column,
                path: String::new(),
                help: Some("fix the ones above and check again".into()),
            });
        }
        self.diagnostics
    }

    /// Records a problem at `range`.
    pub(crate) fn report(
        &mut self,
        severity: Severity,
        range: Range,
        path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        if self.diagnostics.len() >= MAX_DIAGNOSTICS {
            self.suppressed += 1;
            return;
        }
        let (line, column) = self.lines.position(self.source, range.start);
        let (end_line, end_column) = self.lines.position(self.source, range.end.max(range.start));
        self.diagnostics.push(Diagnostic {
            severity,
            message: message.into(),
            file: self.file.to_path_buf(),
            line,
            column,
            end_line,
            end_column,
            path: path.to_string(),
            help,
        });
    }

    fn error(&mut self, range: Range, path: &str, message: impl Into<String>) {
        self.report(Severity::Error, range, path, message, None);
    }

    fn error_help(
        &mut self,
        range: Range,
        path: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.report(Severity::Error, range, path, message, Some(help.into()));
    }

    fn warning(
        &mut self,
        range: Range,
        path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.report(Severity::Warning, range, path, message, help);
    }

    /// 1-based `line:column` of a byte offset, for messages that point at a second place.
    fn position_text(&mut self, offset: usize) -> String {
        // Looking up an earlier offset resets the forward cache; that is cheap and rare.
        let (line, column) = self.lines.position(self.source, offset);
        format!("{line}:{column}")
    }

    // ----- shapes -----

    /// True (and counted) when the report limit is reached, so that hot loops can skip
    /// building messages nobody will see.
    fn saturated(&mut self) -> bool {
        if self.diagnostics.len() >= MAX_DIAGNOSTICS {
            self.suppressed += 1;
            true
        } else {
            false
        }
    }

    fn wrong_type(&mut self, value: &Value, path: &str, expected: &str) {
        if self.saturated() {
            return;
        }
        let found = describe(value);
        self.error(
            value.range(),
            path,
            format!("expected {expected}, found {found}"),
        );
    }

    fn string(&mut self, value: &Value, path: &str, expected: &str) -> Option<String> {
        match value {
            Value::StringLit(lit) => Some(lit.value.to_string()),
            other => {
                self.wrong_type(other, path, expected);
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value, path: &str) -> Option<bool> {
        match value {
            Value::BooleanLit(lit) => Some(lit.value),
            other => {
                self.wrong_type(other, path, "true or false");
                None
            }
        }
    }

    /// A whole number within `0..=max`.
    fn whole_number(&mut self, value: &Value, path: &str, expected: &str, max: u64) -> Option<u64> {
        let Value::NumberLit(lit) = value else {
            self.wrong_type(value, path, expected);
            return None;
        };
        match parse_whole_number(lit.value) {
            Some(n) if n <= max => Some(n),
            Some(_) => {
                self.error(
                    lit.range,
                    path,
                    format!("{} is too large: expected {expected}", lit.value),
                );
                None
            }
            None => {
                self.error(
                    lit.range,
                    path,
                    format!("`{}` is not {expected}", lit.value),
                );
                None
            }
        }
    }

    /// The properties of `object`, reporting duplicate keys (the first one wins).
    fn properties<'a, 'v>(
        &mut self,
        object: &'a Object<'v>,
        path: &str,
    ) -> Vec<(String, &'a ObjectProp<'v>)> {
        let mut seen: HashMap<String, Range> = HashMap::with_capacity(object.properties.len());
        let mut result = Vec::with_capacity(object.properties.len());
        for prop in &object.properties {
            let key = prop_name(prop);
            let key_range = prop_name_range(prop);
            if let Some(first) = seen.get(&key).copied() {
                let first_at = self.position_text(first.start);
                let here = self.position_text(key_range.start);
                self.error_help(
                    key_range,
                    &child_key(path, &key),
                    format!("duplicate key `{key}`: first defined at {first_at}, again at {here}"),
                    "keep one of them; a later entry would silently replace the first",
                );
                continue;
            }
            seen.insert(key.clone(), key_range);
            result.push((key, prop));
        }
        result
    }

    // ----- the top level -----

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
                    Err(err) => self.error_help(
                        prop.value.range(),
                        "base",
                        err.to_string(),
                        "leave `base` out to build from Gentoo",
                    ),
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
            arch: block.arch,
            variants: block.variants,
            default_variant: None,
            outfile: block.outfile,
            compression: block.compression,
            lower_layer_capacity: block.lower_layer_capacity,
            independent_binpkgs: block.independent_binpkgs.unwrap_or(false),
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

    fn read_block(&mut self, object: &Object, path: &str, scope: Scope) -> Block {
        let mut block = Block::default();
        let mut capacity_key: Option<(String, Range)> = None;
        for (key, prop) in self.properties(object, path) {
            let key_range = prop_name_range(prop);
            let here = child_key(path, &key);
            let value = &prop.value;
            if !self.key_allowed(&key, key_range, &here, scope) {
                continue;
            }
            if self.base.is_debian() && PORTAGE_ONLY_KEYS.contains(&key.as_str()) {
                self.warning(
                    key_range,
                    &here,
                    format!("`{key}` only affects Portage and does nothing on a Debian base"),
                    Some("remove it, or build from Gentoo (`base: \"gentoo\"`)".into()),
                );
            }
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
                            Ok(compression) => block.compression = Some(compression),
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
                        Some(size) => block.lower_layer_capacity = Some(size),
                        None => {}
                    }
                }
                "independent_binpkgs" => block.independent_binpkgs = self.boolean(value, &here),
                "circulardep_breaker" => {
                    block.circulardep_breaker = self.circulardep_breaker(value, &here)
                }
                "devel" => block.devel = self.boolean(value, &here),
                _ => {}
            }
        }
        block
    }

    /// Reports keys that are unknown, legacy or not allowed in `scope`.
    fn key_allowed(&mut self, key: &str, range: Range, path: &str, scope: Scope) -> bool {
        if scope.keys().contains(&key) {
            return true;
        }
        if let Some((_, replacement, advice)) = LEGACY_KEYS.iter().find(|(old, _, _)| *old == key) {
            let message = match replacement {
                Some(new) => {
                    format!("`{key}` is an old key that genpack no longer reads; it is now `{new}`")
                }
                None => format!("`{key}` is an old key that genpack no longer reads"),
            };
            self.error_help(range, path, message, *advice);
            return false;
        }
        if TOP_KEYS.contains(&key) || VARIANT_KEYS.contains(&key) {
            let allowed = scope.keys().join(", ");
            let help = match (scope, key) {
                (Scope::Arch, "buildtime_packages_first") => {
                    "set it at the top level or in a variant".to_string()
                }
                (Scope::Arch, _) => format!("keys allowed inside `arch` blocks: {allowed}"),
                _ => format!("keys allowed {}: {allowed}", scope.describe()),
            };
            self.error_help(
                range,
                path,
                format!("`{key}` is not allowed {}", scope.describe()),
                help,
            );
            return false;
        }
        let help = suggest(key, scope.keys().iter().copied())
            .map(|close| format!("did you mean `{close}`?"));
        self.report(
            Severity::Error,
            range,
            path,
            format!("unknown key `{key}` {}", scope.describe()),
            help.or_else(|| Some(format!("known keys: {}", scope.keys().join(", ")))),
        );
        false
    }

    // ----- values -----

    fn check_file_name_part(&mut self, text: &str, range: Range, path: &str, what: &str) -> bool {
        let valid = !text.is_empty()
            && !text.starts_with(['.', '-'])
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
        if !valid {
            self.error_help(
                range,
                path,
                format!("`{text}` is not a usable {what}: it becomes part of a file name"),
                "use letters, digits, `.`, `_`, `+` and `-`, not starting with `.` or `-`",
            );
        }
        valid
    }

    fn check_outfile(&mut self, outfile: &str, range: Range, path: &str) -> bool {
        if outfile.is_empty() || outfile.contains(['/', '\\']) || outfile == "." || outfile == ".."
        {
            self.error_help(
                range,
                path,
                format!("`{outfile}` is not a file name"),
                "give just a file name like \"vpnhub.squashfs\"; it is written next to the definition",
            );
            return false;
        }
        if !outfile.ends_with(".squashfs") {
            self.warning(
                range,
                path,
                format!("`{outfile}` does not end in `.squashfs`"),
                Some(
                    "images are SquashFS files; other tools look for the `.squashfs` ending".into(),
                ),
            );
        }
        true
    }

    fn check_profile(&mut self, profile: &str, range: Range, path: &str) {
        let valid = !profile.is_empty()
            && profile.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
            });
        if !valid {
            self.error_help(
                range,
                path,
                format!("`{profile}` is not a profile name"),
                "profiles look like `paravirt`, `baremetal` or `gnome/baremetal`",
            );
            return;
        }
        if self.base.is_debian() && !crate::profiles::DEBIAN_PROFILES.contains(&profile) {
            self.warning(
                range,
                path,
                format!("on a Debian base the profile only chooses between `paravirt` and `baremetal`; `{profile}` does nothing there"),
                None,
            );
        }
    }

    fn string_list(&mut self, value: &Value, path: &str, kind: ListKind) -> Vec<String> {
        let Value::Array(array) = value else {
            self.wrong_type(value, path, kind.list_description());
            return Vec::new();
        };
        self.string_items(array, path, kind)
    }

    fn string_items(&mut self, array: &Array, path: &str, kind: ListKind) -> Vec<String> {
        let mut items = Vec::with_capacity(array.elements.len());
        // Keyed by the text itself, or for services by the full unit name (`sshd` and
        // `sshd.service` are the same unit).
        let mut seen: HashMap<Cow<str>, Range> = HashMap::with_capacity(array.elements.len());
        for (index, element) in array.elements.iter().enumerate() {
            // Paths are only spelled out when there is something to report.
            let here = || child_index(path, index);
            let Value::StringLit(lit) = element else {
                if !self.saturated() {
                    self.wrong_type(element, &here(), kind.item_description());
                }
                continue;
            };
            let text: &str = &lit.value;
            if kind != ListKind::Services && text.starts_with('#') {
                self.warning(
                    lit.range,
                    &here(),
                    format!("`{text}` starts with `#`, so it is a comment and is ignored"),
                    Some("delete the entry, or remove the `#` to use the package".into()),
                );
                continue;
            }
            if let Err((message, help)) = self.check_list_item(text, kind) {
                if !self.saturated() {
                    self.report(Severity::Error, lit.range, &here(), message, help);
                }
                continue;
            }
            let identity = match kind {
                ListKind::Services => Cow::Owned(crate::names::unit_name(text)),
                _ => Cow::Borrowed(text),
            };
            if let Some(first) = seen.get(&identity).copied() {
                let first_at = self.position_text(first.start);
                self.warning(
                    lit.range,
                    &here(),
                    format!("`{text}` is listed twice (first at {first_at})"),
                    Some("remove one of the entries".into()),
                );
            } else {
                seen.insert(identity, lit.range);
            }
            // Kept even when repeated: the merge removes repeats, and keeping the entry
            // preserves the meaning of a later `-atom` followed by the atom again.
            items.push(text.to_string());
        }
        items
    }

    /// Checks one entry of a string list; the error comes with its help text.
    fn check_list_item(&self, text: &str, kind: ListKind) -> Result<(), (String, Option<String>)> {
        let result = match kind {
            ListKind::Services => validate_unit_name(text),
            ListKind::BinpkgExcludes if !text.contains('/') => {
                if is_package_name(text) {
                    Ok(())
                } else {
                    Err(format!("`{text}` is not a package name"))
                }
            }
            ListKind::Packages | ListKind::BuildtimePackages if self.base.is_debian() => {
                let name = if kind == ListKind::Packages {
                    text.strip_prefix('-').unwrap_or(text)
                } else {
                    text
                };
                validate_debian_package(name)
            }
            ListKind::Packages => match text.strip_prefix('-') {
                Some(removed) => check_atom(removed, AtomContext::Package)
                    .map_err(|e| format!("after the `-` that removes a package: {e}")),
                None => check_atom(text, AtomContext::Package),
            },
            _ => check_atom(text, AtomContext::Package),
        };
        result.map_err(|message| {
                let help = match kind {
                    ListKind::Services => Some("write unit names like `sshd`, `fstrim.timer` or `getty@tty1`".to_string()),
                    _ if text.starts_with('-') && kind != ListKind::Packages => {
                        Some("removing with `-` only works in `packages`".to_string())
                    }
                    _ if self.base.is_debian() => None,
                    _ => Some("write packages as `category/name`, like `app-misc/screen` or `>=dev-lang/python-3.12`".to_string()),
                };
                (message, help)
        })
    }

    fn binpkg_excludes(&mut self, value: &Value, path: &str) -> Vec<String> {
        match value {
            Value::StringLit(lit) => {
                let mut items = Vec::new();
                for word in lit.value.split_whitespace() {
                    if let Err((message, help)) =
                        self.check_list_item(word, ListKind::BinpkgExcludes)
                    {
                        self.report(Severity::Error, lit.range, path, message, help);
                    } else if !items.iter().any(|i| i == word) {
                        items.push(word.to_string());
                    }
                }
                items
            }
            Value::Array(array) => self.string_items(array, path, ListKind::BinpkgExcludes),
            other => {
                self.wrong_type(other, path, "a package atom or a list of package atoms");
                Vec::new()
            }
        }
    }

    fn package_map(&mut self, value: &Value, path: &str, kind: MapKind) -> PackageMap {
        let Value::Object(object) = value else {
            let expected = match kind {
                MapKind::Use => "an object of package atoms to USE flags, like { \"media-libs/mesa\": \"vulkan -X\" }",
                MapKind::AcceptKeywords => "an object of package atoms to keywords, like { \"app-misc/foo\": null }",
                MapKind::License => "an object of package atoms to license names",
                MapKind::Env => "an object of package atoms to file names in env/",
            };
            self.wrong_type(value, path, expected);
            return PackageMap::new();
        };
        let mut map = PackageMap::with_capacity(object.properties.len());
        for (key, prop) in self.properties(object, path) {
            let key_range = prop_name_range(prop);
            let here = child_key(path, &key);
            if key.starts_with('#') {
                self.warning(
                    key_range,
                    &here,
                    format!("`{key}` starts with `#`, so it is a comment and is ignored"),
                    None,
                );
                continue;
            }
            if let Err(message) = check_atom(&key, AtomContext::PackageConfig) {
                self.error_help(
                    key_range,
                    &here,
                    message,
                    "keys are package atoms like `media-libs/mesa`, or `*/*` for every package",
                );
                continue;
            }
            let setting = match &prop.value {
                Value::NullKeyword(_) => None,
                Value::StringLit(lit) => {
                    self.check_setting(&lit.value, lit.range, &here, kind);
                    Some(Setting::Text(lit.value.to_string()))
                }
                Value::Array(array) => {
                    let mut items = Vec::with_capacity(array.elements.len());
                    for (index, element) in array.elements.iter().enumerate() {
                        let item_path = child_index(&here, index);
                        if let Some(text) = self.string(element, &item_path, "a string") {
                            self.check_setting(&text, element.range(), &item_path, kind);
                            items.push(text);
                        }
                    }
                    Some(Setting::List(items))
                }
                other => {
                    self.wrong_type(other, &here, "null, a string or a list of strings");
                    continue;
                }
            };
            if kind == MapKind::Use && setting.is_none() {
                self.warning(
                    prop.value.range(),
                    &here,
                    format!("`{key}` has no USE flags, so this entry changes nothing"),
                    Some("write the flags as a string, like \"-X wayland\"".into()),
                );
            }
            if kind == MapKind::Env && setting.is_none() {
                self.error_help(
                    prop.value.range(),
                    &here,
                    format!("`{key}` names no environment file"),
                    "give a file name from the env/ folder, like \"debug.conf\"",
                );
                continue;
            }
            map.insert(key, setting);
        }
        map
    }

    fn check_setting(&mut self, text: &str, range: Range, path: &str, kind: MapKind) {
        let result = match kind {
            MapKind::Use => validate_use_flags(text),
            MapKind::AcceptKeywords => validate_keywords(text),
            MapKind::License => validate_licenses(text),
            MapKind::Env => validate_env_files(text),
        };
        if let Err(message) = result {
            self.error(range, path, message);
        }
    }

    fn users(&mut self, value: &Value, path: &str) -> Vec<User> {
        let Value::Array(array) = value else {
            self.wrong_type(value, path, "a list of users");
            return Vec::new();
        };
        let mut users: Vec<User> = Vec::new();
        let mut seen: HashMap<String, Range> = HashMap::new();
        for (index, element) in array.elements.iter().enumerate() {
            let here = child_index(path, index);
            let user = match element {
                Value::StringLit(lit) => {
                    if let Err(message) = validate_account_name(&lit.value) {
                        self.error(lit.range, &here, message);
                        continue;
                    }
                    Some((User::named(lit.value.to_string()), lit.range))
                }
                Value::Object(object) => self.user(object, &here),
                other => {
                    self.wrong_type(
                        other,
                        &here,
                        "a user name or an object like { name: \"user\", uid: 1000 }",
                    );
                    continue;
                }
            };
            let Some((user, name_range)) = user else {
                continue;
            };
            if let Some(first) = seen.get(&user.name).copied() {
                let first_at = self.position_text(first.start);
                self.error(
                    name_range,
                    &here,
                    format!(
                        "user `{}` is defined twice (first at {first_at})",
                        user.name
                    ),
                );
                continue;
            }
            seen.insert(user.name.clone(), name_range);
            users.push(user);
        }
        users
    }

    fn user(&mut self, object: &Object, path: &str) -> Option<(User, Range)> {
        const KEYS: &[&str] = &[
            "name",
            "uid",
            "comment",
            "home",
            "shell",
            "initial_group",
            "additional_groups",
            "create_home",
            "empty_password",
        ];
        let mut user = User::named("");
        let mut name_range = None;
        let mut spelled: HashMap<String, (String, Range)> = HashMap::new();
        for (key, prop) in self.properties(object, path) {
            let key_range = prop_name_range(prop);
            let here = child_key(path, &key);
            let canonical = key.replace('-', "_");
            if !KEYS.contains(&canonical.as_str()) {
                let help = suggest(&canonical, KEYS.iter().copied())
                    .map(|close| format!("did you mean `{close}`?"));
                self.report(
                    Severity::Error,
                    key_range,
                    &here,
                    format!("unknown user setting `{key}`"),
                    help.or_else(|| Some(format!("user settings: {}", KEYS.join(", ")))),
                );
                continue;
            }
            if let Some((first, first_range)) = spelled.get(&canonical).cloned() {
                let first_at = self.position_text(first_range.start);
                self.error_help(
                    key_range,
                    &here,
                    format!("`{key}` repeats `{first}` (at {first_at})"),
                    "the spellings with `-` and `_` mean the same setting; keep one",
                );
                continue;
            }
            spelled.insert(canonical.clone(), (key.clone(), key_range));
            let value = &prop.value;
            match canonical.as_str() {
                "name" => {
                    if let Some(name) = self.string(value, &here, "a user name (a string)") {
                        match validate_account_name(&name) {
                            Ok(()) => {
                                user.name = name;
                                name_range = Some(value.range());
                            }
                            Err(message) => self.error(value.range(), &here, message),
                        }
                    }
                }
                "uid" => user.uid = self.account_id(value, &here, "uid"),
                "comment" => user.comment = self.string(value, &here, "a comment (a string)"),
                "home" => {
                    user.home =
                        self.absolute_path(value, &here, "a home directory like \"/home/user\"")
                }
                "shell" => {
                    user.shell = self.absolute_path(value, &here, "a shell like \"/bin/bash\"")
                }
                "initial_group" => {
                    if let Some(group) = self.string(value, &here, "a group name (a string)") {
                        match validate_account_name(&group) {
                            Ok(()) => user.initial_group = Some(group),
                            Err(message) => self.error(value.range(), &here, message),
                        }
                    }
                }
                "additional_groups" => user.additional_groups = self.group_names(value, &here),
                "create_home" => {
                    if let Some(flag) = self.boolean(value, &here) {
                        user.create_home = flag;
                    }
                }
                "empty_password" => {
                    if let Some(flag) = self.boolean(value, &here) {
                        user.empty_password = flag;
                    }
                }
                _ => {}
            }
        }
        match name_range {
            Some(range) => Some((user, range)),
            None => {
                if !spelled.contains_key("name") {
                    self.error_help(
                        object.range,
                        path,
                        "this user has no `name`",
                        "add a login name, like name: \"user\"",
                    );
                }
                None
            }
        }
    }

    fn account_id(&mut self, value: &Value, path: &str, what: &str) -> Option<u32> {
        let id = self.whole_number(
            value,
            path,
            &format!("a {what} (a whole number)"),
            4_294_967_294,
        )?;
        let id = u32::try_from(id).ok()?;
        if id < 1000 {
            self.warning(
                value.range(),
                path,
                format!("{what} {id} is in the range reserved for system accounts (below 1000)"),
                Some("people's accounts usually start at 1000".into()),
            );
        } else if id > 60000 {
            self.warning(
                value.range(),
                path,
                format!("{what} {id} is above the usual range for accounts (1000 to 60000)"),
                None,
            );
        }
        Some(id)
    }

    fn absolute_path(&mut self, value: &Value, path: &str, expected: &str) -> Option<String> {
        let text = self.string(value, path, expected)?;
        if !text.starts_with('/') {
            self.error(
                value.range(),
                path,
                format!("`{text}` must be an absolute path, starting with `/`"),
            );
            return None;
        }
        Some(text)
    }

    fn group_names(&mut self, value: &Value, path: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut add = |reader: &mut Self, text: &str, range: Range, here: &str| {
            for name in text.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
                match validate_account_name(name) {
                    Ok(()) if !names.iter().any(|n| n == name) => names.push(name.to_string()),
                    Ok(()) => {}
                    Err(message) => reader.error(range, here, message),
                }
            }
        };
        match value {
            Value::StringLit(lit) => add(self, &lit.value, lit.range, path),
            Value::Array(array) => {
                for (index, element) in array.elements.iter().enumerate() {
                    let here = child_index(path, index);
                    if let Some(text) = self.string(element, &here, "a group name (a string)") {
                        add(self, &text, element.range(), &here);
                    }
                }
            }
            other => self.wrong_type(other, path, "a group name or a list of group names"),
        }
        names
    }

    fn groups(&mut self, value: &Value, path: &str) -> Vec<Group> {
        let Value::Array(array) = value else {
            self.wrong_type(value, path, "a list of groups");
            return Vec::new();
        };
        let mut groups: Vec<Group> = Vec::new();
        for (index, element) in array.elements.iter().enumerate() {
            let here = child_index(path, index);
            let group = match element {
                Value::StringLit(lit) => match validate_account_name(&lit.value) {
                    Ok(()) => Group {
                        name: lit.value.to_string(),
                        gid: None,
                    },
                    Err(message) => {
                        self.error(lit.range, &here, message);
                        continue;
                    }
                },
                Value::Object(object) => {
                    let mut name = None;
                    let mut gid = None;
                    for (key, prop) in self.properties(object, &here) {
                        let key_path = child_key(&here, &key);
                        match key.as_str() {
                            "name" => {
                                if let Some(text) =
                                    self.string(&prop.value, &key_path, "a group name (a string)")
                                {
                                    match validate_account_name(&text) {
                                        Ok(()) => name = Some(text),
                                        Err(message) => {
                                            self.error(prop.value.range(), &key_path, message)
                                        }
                                    }
                                }
                            }
                            "gid" => gid = self.account_id(&prop.value, &key_path, "gid"),
                            _ => {
                                let help = suggest(&key, ["name", "gid"].into_iter())
                                    .map(|c| format!("did you mean `{c}`?"));
                                self.report(
                                    Severity::Error,
                                    prop_name_range(prop),
                                    &key_path,
                                    format!("unknown group setting `{key}`"),
                                    help.or_else(|| Some("group settings: name, gid".into())),
                                );
                            }
                        }
                    }
                    match name {
                        Some(name) => Group { name, gid },
                        None => {
                            if !object.properties.iter().any(|p| prop_name(p) == "name") {
                                self.error_help(
                                    object.range,
                                    &here,
                                    "this group has no `name`",
                                    "add a name, like name: \"docker\"",
                                );
                            }
                            continue;
                        }
                    }
                }
                other => {
                    self.wrong_type(
                        other,
                        &here,
                        "a group name or an object like { name: \"docker\", gid: 999 }",
                    );
                    continue;
                }
            };
            if groups.iter().any(|g| g.name == group.name) {
                self.error(
                    element.range(),
                    &here,
                    format!("group `{}` is defined twice", group.name),
                );
                continue;
            }
            groups.push(group);
        }
        groups
    }

    fn setup_commands(&mut self, value: &Value, path: &str) -> Vec<SetupCommand> {
        let Value::Array(array) = value else {
            self.wrong_type(value, path, "a list of shell commands");
            return Vec::new();
        };
        let mut commands = Vec::with_capacity(array.elements.len());
        for (index, element) in array.elements.iter().enumerate() {
            let here = child_index(path, index);
            match element {
                Value::StringLit(lit) => {
                    if lit.value.trim().is_empty() {
                        self.warning(
                            lit.range,
                            &here,
                            "empty command",
                            Some("remove the entry".into()),
                        );
                        continue;
                    }
                    commands.push(SetupCommand::Shell(lit.value.to_string()));
                }
                Value::Object(object) => {
                    self.warning(
                        object.range,
                        &here,
                        "object-form setup commands have no defined meaning yet; this one is kept as written",
                        Some("write the command as a string to have it run".into()),
                    );
                    let mut map = serde_json::Map::new();
                    for (key, prop) in self.properties(object, &here) {
                        map.insert(key, to_json(&prop.value));
                    }
                    commands.push(SetupCommand::Structured(map));
                }
                other => self.wrong_type(other, &here, "a shell command (a string)"),
            }
        }
        commands
    }

    fn arch_blocks(&mut self, value: &Value, path: &str) -> IndexMap<String, ArchBlock> {
        let Value::Object(object) = value else {
            self.wrong_type(
                value,
                path,
                "an object of architecture names to settings, like { x86_64: { packages: [...] } }",
            );
            return IndexMap::new();
        };
        let mut blocks = IndexMap::new();
        for (key, prop) in self.properties(object, path) {
            let key_range = prop_name_range(prop);
            let here = child_key(path, &key);
            let mut arches: Vec<Arch> = Vec::new();
            let mut valid = true;
            for name in key.split('|') {
                match name.trim().parse::<Arch>() {
                    Ok(arch) if arches.contains(&arch) => {
                        self.error(
                            key_range,
                            &here,
                            format!("`{name}` appears twice in `{key}`"),
                        );
                        valid = false;
                    }
                    Ok(arch) => arches.push(arch),
                    Err(err) => {
                        let help = suggest(name, Arch::ALL.iter().map(|a| a.as_str()))
                            .map(|close| format!("did you mean `{close}`? join several with `|`, like \"x86_64|aarch64\""))
                            .unwrap_or_else(|| "join several with `|`, like \"x86_64|aarch64\"".into());
                        self.error_help(key_range, &here, err.to_string(), help);
                        valid = false;
                    }
                }
            }
            let Value::Object(inner) = &prop.value else {
                self.wrong_type(
                    &prop.value,
                    &here,
                    "an object of settings for these architectures",
                );
                continue;
            };
            let block = self.read_block(inner, &here, Scope::Arch);
            if valid {
                blocks.insert(
                    key,
                    ArchBlock {
                        packages: block.packages,
                        buildtime_packages: block.buildtime_packages,
                        accept_keywords: block.accept_keywords,
                        use_flags: block.use_flags,
                        mask: block.mask,
                        license: block.license,
                        env: block.env,
                        binpkg_excludes: block.binpkg_excludes,
                        setup_commands: block.setup_commands,
                        services: block.services,
                    },
                );
            }
        }
        blocks
    }

    fn variants(&mut self, value: &Value, path: &str) -> IndexMap<String, Variant> {
        let Value::Object(object) = value else {
            self.wrong_type(
                value,
                path,
                "an object of variant names to settings, like { cuda: { packages: [...] } }",
            );
            return IndexMap::new();
        };
        let mut variants = IndexMap::new();
        for (key, prop) in self.properties(object, path) {
            let here = child_key(path, &key);
            let name_ok =
                self.check_file_name_part(&key, prop_name_range(prop), &here, "variant name");
            let Value::Object(inner) = &prop.value else {
                self.wrong_type(
                    &prop.value,
                    &here,
                    "an object of settings for this variant (it may be empty: {})",
                );
                continue;
            };
            let block = self.read_block(inner, &here, Scope::Variant);
            if !name_ok {
                continue;
            }
            variants.insert(
                key,
                Variant {
                    profile: block.profile,
                    outfile: block.outfile,
                    compression: block.compression,
                    packages: block.packages,
                    buildtime_packages: block.buildtime_packages,
                    buildtime_packages_first: block.buildtime_packages_first,
                    accept_keywords: block.accept_keywords,
                    use_flags: block.use_flags,
                    mask: block.mask,
                    license: block.license,
                    env: block.env,
                    binpkg_excludes: block.binpkg_excludes,
                    users: block.users,
                    groups: block.groups,
                    services: block.services,
                    setup_commands: block.setup_commands,
                    arch: block.arch,
                },
            );
        }
        variants
    }

    fn circulardep_breaker(&mut self, value: &Value, path: &str) -> Option<CircularDepBreaker> {
        let Value::Object(object) = value else {
            self.wrong_type(
                value,
                path,
                "an object like { packages: [...], use: \"-truetype\" }",
            );
            return None;
        };
        let mut breaker = CircularDepBreaker::default();
        for (key, prop) in self.properties(object, path) {
            let here = child_key(path, &key);
            match key.as_str() {
                "packages" => {
                    breaker.packages =
                        self.string_list(&prop.value, &here, ListKind::BuildtimePackages)
                }
                "use" => {
                    if let Some(flags) = self.string(&prop.value, &here, "USE flags (a string)") {
                        match validate_use_flags(&flags) {
                            Ok(()) => breaker.use_flags = crate::useflags::normalize_flags(&flags),
                            Err(message) => self.error(prop.value.range(), &here, message),
                        }
                    }
                }
                _ => {
                    let help = suggest(&key, ["packages", "use"].into_iter())
                        .map(|c| format!("did you mean `{c}`?"));
                    self.report(
                        Severity::Error,
                        prop_name_range(prop),
                        &here,
                        format!("unknown key `{key}` in circulardep_breaker"),
                        help.or_else(|| {
                            Some("circulardep_breaker takes `packages` and `use`".into())
                        }),
                    );
                }
            }
        }
        Some(breaker)
    }
}

// ----- helpers -----

fn prop_name(prop: &ObjectProp) -> String {
    match &prop.name {
        ObjectPropName::String(lit) => lit.value.to_string(),
        ObjectPropName::Word(lit) => lit.value.to_string(),
    }
}

fn prop_name_range(prop: &ObjectProp) -> Range {
    match &prop.name {
        ObjectPropName::String(lit) => lit.range,
        ObjectPropName::Word(lit) => lit.range,
    }
}

/// "a number", "a list" and so on, for "expected X, found Y".
fn describe(value: &Value) -> &'static str {
    match value {
        Value::StringLit(_) => "a string",
        Value::NumberLit(_) => "a number",
        Value::BooleanLit(_) => "true/false",
        Value::NullKeyword(_) => "null",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `path.key`, quoting keys that are not plain words: `use."media-libs/mesa"`.
pub(crate) fn child_key(path: &str, key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let segment = if plain {
        key.to_string()
    } else {
        serde_json::Value::String(key.to_string()).to_string()
    };
    if path.is_empty() {
        segment
    } else {
        format!("{path}.{segment}")
    }
}

/// `path[index]`.
pub(crate) fn child_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// The closest candidate to a mistyped `word`, if one is close enough.
fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase().replace('-', "_");
    candidates
        .map(|candidate| {
            let score = strsim::jaro_winkler(&word_lower, &candidate.replace('-', "_"));
            (candidate, score)
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(candidate, _)| candidate)
}

/// A JSON5 number literal as a whole number: decimal, hexadecimal, `+5`, `1e3`, `5.0`.
fn parse_whole_number(text: &str) -> Option<u64> {
    let text = text.strip_prefix('+').unwrap_or(text);
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    let float: f64 = text.parse().ok()?;
    (float.is_finite() && float >= 0.0 && float.fract() == 0.0 && float <= u64::MAX as f64)
        .then_some(float as u64)
}

/// The syntax tree of a value as plain JSON (numbers that JSON cannot hold become strings).
pub(crate) fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::StringLit(lit) => serde_json::Value::String(lit.value.to_string()),
        Value::NumberLit(lit) => {
            let text = lit.value.strip_prefix('+').unwrap_or(lit.value);
            if let Some(n) = parse_whole_number(text) {
                serde_json::Value::from(n)
            } else if let Some(n) = text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                serde_json::Value::Number(n)
            } else {
                serde_json::Value::String(lit.value.to_string())
            }
        }
        Value::BooleanLit(lit) => serde_json::Value::Bool(lit.value),
        Value::NullKeyword(_) => serde_json::Value::Null,
        Value::Array(array) => {
            serde_json::Value::Array(array.elements.iter().map(to_json).collect())
        }
        Value::Object(object) => serde_json::Value::Object(
            object
                .properties
                .iter()
                .map(|prop| (prop_name(prop), to_json(&prop.value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quote_keys_that_are_not_words() {
        assert_eq!(child_key("", "packages"), "packages");
        assert_eq!(
            child_key("use", "media-libs/mesa"),
            "use.\"media-libs/mesa\""
        );
        assert_eq!(
            child_key("arch", "x86_64|aarch64"),
            "arch.\"x86_64|aarch64\""
        );
        assert_eq!(child_index("packages", 3), "packages[3]");
    }

    #[test]
    fn whole_numbers_in_every_json5_spelling() {
        assert_eq!(parse_whole_number("1000"), Some(1000));
        assert_eq!(parse_whole_number("0x3e8"), Some(1000));
        assert_eq!(parse_whole_number("+1000"), Some(1000));
        assert_eq!(parse_whole_number("1e3"), Some(1000));
        assert_eq!(parse_whole_number("1000.0"), Some(1000));
        assert_eq!(parse_whole_number("10.5"), None);
        assert_eq!(parse_whole_number("-1"), None);
        assert_eq!(parse_whole_number("Infinity"), None);
        assert_eq!(parse_whole_number("NaN"), None);
    }

    #[test]
    fn suggestions_find_close_keys() {
        assert_eq!(
            suggest("pakages", TOP_KEYS.iter().copied()),
            Some("packages")
        );
        assert_eq!(
            suggest("servces", TOP_KEYS.iter().copied()),
            Some("services")
        );
        assert_eq!(suggest("zzzzzz", TOP_KEYS.iter().copied()), None);
    }
}
