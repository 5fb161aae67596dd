//! Package atoms in a definition, checked by genpack-portage's PMS grammar.
//!
//! The grammar, and the reasons it gives, live in [`genpack_portage::atom`]; this module only
//! turns its errors into the sentences the definition reader reports at the entry's line and
//! column.

use genpack_portage::atom::AtomContext;
use genpack_portage::ParseError;

pub(crate) use genpack_portage::atom::{is_package_name, is_use_flag_name};

/// Checks that `atom` is a valid Portage package atom for a list of packages, such as
/// `media-libs/mesa`, `>=dev-lang/python-3.12:3.12` or `=sys-fs/fuse-2.9.9-r2`.
///
/// Returns a plain-language explanation of the first problem. Removal entries (`-atom`),
/// comments (`#...`) and wildcards are not atoms; the definition reader handles those.
pub fn validate_atom(atom: &str) -> Result<(), String> {
    check_atom(atom, AtomContext::PackageList)
}

/// Checks `atom` where `context` says it is written: a package list, or the key of a
/// per-package setting, where `*/*`-style wildcards are allowed too.
pub(crate) fn check_atom(atom: &str, context: AtomContext) -> Result<(), String> {
    genpack_portage::atom::validate_atom(atom, context).map_err(|error| explain(&error))
}

/// The reason with the atom it is about, as the reader shows it.
fn explain(error: &ParseError) -> String {
    if error.input.is_empty() {
        error.reason.clone()
    } else {
        format!("`{}`: {}", error.input, error.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_the_atom_then_say_what_is_wrong() {
        assert_eq!(
            validate_atom("mesa").unwrap_err(),
            "`mesa`: the package needs a category, like `app-misc/mesa`"
        );
        assert_eq!(validate_atom("").unwrap_err(), "empty package name");
        assert!(validate_atom("!media-libs/mesa")
            .unwrap_err()
            .contains("blocker"));
    }

    #[test]
    fn wildcards_only_in_package_settings() {
        assert_eq!(check_atom("*/*", AtomContext::PackageSetting), Ok(()));
        assert_eq!(
            check_atom("dev-python/*", AtomContext::PackageSetting),
            Ok(())
        );
        assert!(check_atom(">=*/*-1", AtomContext::PackageSetting).is_err());
        assert!(validate_atom("*/*").unwrap_err().contains("category"));
    }
}
