//! Property checks of the version order and of the atom and dependency parsers on generated
//! input: the order is a total order, parsing round-trips through display, and no input makes
//! a parser panic.

use std::cmp::Ordering;

use genpack_portage::{Atom, DepSpec, Version};
use proptest::prelude::*;

fn version() -> impl Strategy<Value = String> {
    (
        prop::collection::vec("0{0,2}[0-9]{1,3}", 1..4),
        prop::option::of("[a-c]"),
        prop::collection::vec(
            (
                prop::sample::select(vec!["alpha", "beta", "pre", "rc", "p"]),
                "[0-9]{0,2}",
            ),
            0..3,
        ),
        prop::option::of("[0-9]{1,2}"),
    )
        .prop_map(|(numbers, letter, suffixes, revision)| {
            let mut text = numbers.join(".");
            if let Some(letter) = letter {
                text.push_str(&letter);
            }
            for (kind, number) in suffixes {
                text.push_str(&format!("_{kind}{number}"));
            }
            if let Some(revision) = revision {
                text.push_str(&format!("-r{revision}"));
            }
            text
        })
}

fn atom() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "!", "!!"]),
        prop::option::of((
            prop::sample::select(vec!["<", "<=", "=", ">=", ">"]),
            version(),
        )),
        "[a-z]{2,5}-[a-z]{2,5}",
        "[a-z][a-z0-9+]{0,6}",
        prop::option::of("[0-9]{1,2}(/[0-9]{1,2})?=?"),
        prop::option::of("[a-z]{3,6}"),
        prop::collection::vec("(!?[a-z]{2,5}[=?]|-?[a-z]{2,5}(\\([+-]\\))?)", 0..3),
    )
        .prop_map(|(blocker, version, category, name, slot, repo, uses)| {
            let mut text = blocker.to_string();
            match version {
                Some((operator, version)) => {
                    text.push_str(&format!("{operator}{category}/{name}-{version}"))
                }
                None => text.push_str(&format!("{category}/{name}")),
            }
            if let Some(slot) = slot {
                text.push_str(&format!(":{slot}"));
            }
            if let Some(repo) = repo {
                text.push_str(&format!("::{repo}"));
            }
            if !uses.is_empty() {
                text.push_str(&format!("[{}]", uses.join(",")));
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn version_order_is_total(a in version(), b in version(), c in version()) {
        let (a, b, c) = (Version::parse(&a).unwrap(), Version::parse(&b).unwrap(), Version::parse(&c).unwrap());
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a.cmp(&a), Ordering::Equal);
        if a <= b && b <= c {
            prop_assert!(a <= c, "{} <= {} <= {} but not {} <= {}", a, b, c, a, c);
        }
        prop_assert_eq!(Version::parse(a.as_str()).unwrap().to_string(), a.to_string());
    }

    #[test]
    fn revision_never_outweighs_the_version(a in version(), b in version()) {
        let (a, b) = (Version::parse(&a).unwrap(), Version::parse(&b).unwrap());
        let (base_a, base_b) = (a.without_revision(), b.without_revision());
        if base_a < base_b {
            prop_assert!(a < b, "{} vs {}", a, b);
        }
    }

    #[test]
    fn atoms_round_trip(text in atom()) {
        let atom = Atom::parse(&text).unwrap();
        prop_assert_eq!(atom.to_string(), text.clone());
        prop_assert_eq!(Atom::parse(&atom.to_string()).unwrap(), atom);
    }

    #[test]
    fn parsers_never_panic(text in "[ -~\\n]{0,60}") {
        let _ = Version::parse(&text);
        let _ = Atom::parse(&text);
        let _ = DepSpec::parse(&text);
    }

    #[test]
    fn dependency_strings_of_generated_atoms_parse(atoms in prop::collection::vec(atom(), 1..5), flag in "[a-z]{2,6}") {
        let text = format!("{} || ( {} ) {flag}? ( {} )", atoms[0], atoms.join(" "), atoms[atoms.len() - 1]);
        let spec = DepSpec::parse(&text).unwrap();
        prop_assert_eq!(spec.atoms().len(), atoms.len() + 2);
    }
}
