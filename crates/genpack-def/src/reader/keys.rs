//! Which keys a block of settings may hold: the top level, an `arch` block and a variant each
//! have their own table. Keys that older genpack versions read are named with their
//! replacement, and keys that only Portage reads are flagged on a Debian base.

use jsonc_parser::common::Range;

use super::{suggest, Reader};
use crate::diagnostic::Severity;

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
    "ports",
    "arch",
    "variants",
    "default_variant",
    "outfile",
    "compression",
    "lower-layer-capacity",
    "lower_layer_capacity",
    "independent_binpkgs",
    "binhost",
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
    "binhost",
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
pub(super) enum Scope {
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

impl Reader<'_> {
    /// Reports keys that are unknown, legacy or not allowed in `scope`.
    pub(super) fn key_allowed(
        &mut self,
        key: &str,
        range: Range,
        path: &str,
        scope: Scope,
    ) -> bool {
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

    /// Warns about a key that only Portage reads when the base is Debian.
    pub(super) fn warn_if_portage_only(&mut self, key: &str, range: Range, path: &str) {
        if self.base.is_debian() && !self.base_unknown && PORTAGE_ONLY_KEYS.contains(&key) {
            self.warning(
                range,
                path,
                format!("`{key}` only affects Portage and does nothing on a Debian base"),
                Some("remove it, or build from Gentoo (`base: \"gentoo\"`)".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
