//! Lists of strings: `packages`, `buildtime_packages`, `mask`, `services` and
//! `binpkg_excludes`. Each entry is checked for its kind (a Portage atom, a Debian package
//! name, a package name or a systemd unit), `#` entries are reported as comments, and
//! repeated entries are pointed out.

use std::borrow::Cow;
use std::collections::HashMap;

use genpack_portage::atom::AtomContext;
use jsonc_parser::ast::{Array, Value};
use jsonc_parser::common::Range;

use super::{child_index, Reader};
use crate::atom::{check_atom, is_package_name};
use crate::diagnostic::Severity;
use crate::names::{unit_name, validate_debian_package, validate_unit_name};

/// What a string list holds, which decides how its entries are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ListKind {
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

impl Reader<'_> {
    pub(super) fn string_list(&mut self, value: &Value, path: &str, kind: ListKind) -> Vec<String> {
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
                ListKind::Services => Cow::Owned(unit_name(text)),
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
            // How a package is named depends on the base; with no known base, only its error.
            ListKind::Packages | ListKind::BuildtimePackages | ListKind::BinpkgExcludes
                if self.base_unknown =>
            {
                Ok(())
            }
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
                Some(removed) => check_atom(removed, AtomContext::PackageList)
                    .map_err(|e| format!("after the `-` that removes a package: {e}")),
                None => check_atom(text, AtomContext::PackageList),
            },
            _ => check_atom(text, AtomContext::PackageList),
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

    pub(super) fn binpkg_excludes(&mut self, value: &Value, path: &str) -> Vec<String> {
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
}
