//! Portage package atoms (PMS "package dependency specifications").
//!
//! The checker accepts what Portage accepts in `/etc/portage/sets` and `package.*` files:
//! an optional version operator, `category/name`, a version when an operator is present
//! (with `*` after it for `=`), a slot (`:0`, `:0/1`, `:0=`, `:=`, `:*`), a repository
//! (`::gentoo`) and USE dependencies (`[foo,-bar,baz?,!qux=,x(+)]`). Blockers (`!`, `!!`)
//! make no sense in a list of things to install and are rejected.

/// Where an atom appears, which decides the extra forms allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtomContext {
    /// An entry of a package list: a plain atom.
    Package,
    /// A key of `use`, `accept_keywords`, `license` or `env`: wildcards like `*/*`,
    /// `dev-python/*` or `*/foo` are allowed too.
    PackageConfig,
}

/// Checks that `atom` is a valid Portage package atom, such as `media-libs/mesa`,
/// `>=dev-lang/python-3.12:3.12` or `=sys-fs/fuse-2.9.9-r2`.
///
/// Returns a plain-language explanation of the first problem. Removal entries (`-atom`),
/// comments (`#...`) and wildcards are not atoms; the definition reader handles those.
pub fn validate_atom(atom: &str) -> Result<(), String> {
    check_atom(atom, AtomContext::Package)
}

pub(crate) fn check_atom(atom: &str, context: AtomContext) -> Result<(), String> {
    if atom.is_empty() {
        return Err("empty package name".into());
    }
    if atom.trim() != atom || atom.contains(char::is_whitespace) {
        return Err(format!(
            "`{atom}` contains spaces; write one package per entry"
        ));
    }
    if atom.starts_with('!') {
        return Err(format!(
            "`{atom}` is a blocker; blockers only make sense in ebuild dependencies, not in a list of packages"
        ));
    }
    let (operator, rest) = split_operator(atom);

    // USE dependencies come last, in brackets.
    let (rest, use_deps) = match rest.find('[') {
        Some(open) => {
            let Some(inner) = rest[open + 1..].strip_suffix(']') else {
                return Err(format!(
                    "`{atom}`: the `[` of the USE dependencies is not closed with `]` at the end"
                ));
            };
            (&rest[..open], Some(inner))
        }
        None => (rest, None),
    };
    if let Some(inner) = use_deps {
        check_use_deps(inner).map_err(|e| format!("`{atom}`: {e}"))?;
    }

    // Repository, then slot.
    let (rest, repo) = match rest.find("::") {
        Some(at) => (&rest[..at], Some(&rest[at + 2..])),
        None => (rest, None),
    };
    if let Some(repo) = repo {
        if !is_repo_name(repo) {
            return Err(format!("`{atom}`: `{repo}` is not a valid repository name"));
        }
    }
    let (rest, slot) = match rest.find(':') {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    if let Some(slot) = slot {
        check_slot(slot).map_err(|e| format!("`{atom}`: {e}"))?;
    }

    let Some((category, package)) = rest.split_once('/') else {
        return Err(format!(
            "`{atom}` needs a category, like `app-misc/{}`",
            rest.trim_start_matches(['<', '>', '=', '~'])
        ));
    };
    if package.contains('/') {
        return Err(format!("`{atom}` has more than one `/`"));
    }

    let wildcard = context == AtomContext::PackageConfig && (category == "*" || package == "*");
    if wildcard {
        if operator.is_some() || slot.is_some() || repo.is_some() || use_deps.is_some() {
            return Err(format!("`{atom}`: a wildcard entry cannot carry a version, slot, repository or USE dependencies"));
        }
        if category != "*" && !is_category_name(category) {
            return Err(format!(
                "`{atom}`: `{category}` is not a valid category name"
            ));
        }
        if package != "*" && !is_package_name(package) {
            return Err(format!("`{atom}`: `{package}` is not a valid package name"));
        }
        return Ok(());
    }

    if !is_category_name(category) {
        return Err(format!(
            "`{atom}`: `{category}` is not a valid category name (letters, digits, `+`, `_`, `.`, `-`)"
        ));
    }

    match operator {
        None => {
            if let Some(version) = trailing_version(package) {
                return Err(format!(
                    "`{atom}` ends in a version (`{version}`) but has no operator; write `={atom}` for that exact version"
                ));
            }
            if !is_package_name(package) {
                return Err(format!(
                    "`{atom}`: `{package}` is not a valid package name (letters, digits, `+`, `_`, `-`)"
                ));
            }
        }
        Some(op) => {
            let (name, version) = split_version(package).ok_or_else(|| {
                format!("`{atom}` has the operator `{op}` but no valid version after the package name, like `{op}{category}/{package}-1.0`")
            })?;
            if !is_package_name(name) {
                return Err(format!("`{atom}`: `{name}` is not a valid package name"));
            }
            if version.ends_with('*') && op != "=" {
                return Err(format!(
                    "`{atom}`: a `*` after the version only works with the `=` operator"
                ));
            }
            if op == "~" && version.contains("-r") {
                return Err(format!(
                    "`{atom}`: the `~` operator matches every revision, so leave out the `-r` part"
                ));
            }
        }
    }
    Ok(())
}

fn split_operator(atom: &str) -> (Option<&'static str>, &str) {
    for op in ["<=", ">=", "<", ">", "=", "~"] {
        if let Some(rest) = atom.strip_prefix(op) {
            return (Some(op), rest);
        }
    }
    (None, atom)
}

/// Splits `name-1.2.3-r1` (or `name-1.2*`) into the name and the version.
fn split_version(package: &str) -> Option<(&str, &str)> {
    package.match_indices('-').find_map(|(at, _)| {
        let version = &package[at + 1..];
        let bare = version.strip_suffix('*').unwrap_or(version);
        (at > 0 && is_version(bare)).then(|| (&package[..at], version))
    })
}

/// The version a package name illegally ends in, if any.
fn trailing_version(package: &str) -> Option<&str> {
    split_version(package)
        .map(|(_, version)| version)
        .filter(|v| !v.ends_with('*'))
}

/// PMS version: `1.2.3b_alpha1_p2-r3`.
pub(crate) fn is_version(version: &str) -> bool {
    let (main, revision) = match version.rfind("-r") {
        Some(at) => (&version[..at], Some(&version[at + 2..])),
        None => (version, None),
    };
    if let Some(rev) = revision {
        if rev.is_empty() || !rev.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    let mut chars = main.char_indices().peekable();
    // numeric components separated by dots
    let mut expect_digit = true;
    let mut end = 0;
    while let Some(&(i, c)) = chars.peek() {
        if c.is_ascii_digit() {
            expect_digit = false;
            chars.next();
            end = i + 1;
        } else if c == '.' && !expect_digit {
            expect_digit = true;
            chars.next();
        } else {
            break;
        }
    }
    if expect_digit || end == 0 {
        return false;
    }
    let mut rest = &main[end..];
    // one optional letter
    if let Some(c) = rest.chars().next() {
        if c.is_ascii_lowercase() {
            rest = &rest[1..];
        }
    }
    // suffixes
    while !rest.is_empty() {
        let Some(after) = ["_alpha", "_beta", "_pre", "_rc", "_p"]
            .iter()
            .find_map(|suffix| rest.strip_prefix(suffix))
        else {
            return false;
        };
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        rest = &after[digits..];
    }
    true
}

fn check_slot(slot: &str) -> Result<(), String> {
    if slot == "*" || slot == "=" {
        return Ok(());
    }
    let slot = slot.strip_suffix('=').unwrap_or(slot);
    let (main, sub) = match slot.split_once('/') {
        Some((main, sub)) => (main, Some(sub)),
        None => (slot, None),
    };
    if !is_slot_name(main) || sub.is_some_and(|s| !is_slot_name(s)) {
        return Err(format!(
            "`:{slot}` is not a valid slot (examples: `:0`, `:3.12`, `:0/1`, `:=`, `:*`)"
        ));
    }
    Ok(())
}

fn check_use_deps(inner: &str) -> Result<(), String> {
    if inner.is_empty() {
        return Err("empty USE dependency list `[]`".into());
    }
    for dep in inner.split(',') {
        let mut flag = dep;
        flag = flag.strip_prefix(['-', '!']).unwrap_or(flag);
        flag = flag.strip_suffix(['=', '?']).unwrap_or(flag);
        flag = flag
            .strip_suffix("(+)")
            .or_else(|| flag.strip_suffix("(-)"))
            .unwrap_or(flag);
        let conditional = dep.ends_with('=') || dep.ends_with('?');
        if dep.starts_with('!') && !conditional {
            return Err(format!(
                "`{dep}`: `!` only works with `=` or `?`, like `!{flag}?`"
            ));
        }
        if dep.starts_with('-') && conditional {
            return Err(format!("`{dep}` mixes `-` with `=`/`?`"));
        }
        if !is_use_flag_name(flag) {
            return Err(format!("`{dep}` is not a valid USE dependency"));
        }
    }
    Ok(())
}

fn first_ok(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn is_category_name(s: &str) -> bool {
    first_ok(s)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c))
}

pub(crate) fn is_package_name(s: &str) -> bool {
    first_ok(s)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+_-".contains(c))
}

fn is_slot_name(s: &str) -> bool {
    first_ok(s)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c))
}

fn is_repo_name(s: &str) -> bool {
    first_ok(s)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
}

/// PMS USE flag name: starts with a letter or digit, then letters, digits, `+ _ @ -`.
pub(crate) fn is_use_flag_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+_@-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_world_atoms() {
        for atom in [
            "media-libs/mesa",
            "genpack/systemimg",
            "sci-ml/FP16",
            "dev-libs/weston-deferred",
            "dev-python/pyqt6-webengine",
            "=sys-fs/fuse-2.9.9-r2",
            "<sys-kernel/gentoo-kernel-bin-7",
            "=dev-libs/wayland-protocols-1.49",
            ">=dev-lang/python-3.13",
            "<mail-mta/postfix-3.12",
            "~dev-lang/rust-1.80.1",
            "=dev-lang/python-3.12*",
            "dev-lang/python:3.12",
            "dev-libs/openssl:0/3",
            "dev-libs/openssl:=",
            "dev-libs/openssl:0=",
            "dev-libs/openssl:*",
            "sys-apps/portage::gentoo",
            "dev-lang/python:3.12::gentoo[sqlite,-tk]",
            "media-libs/mesa[vulkan,video_cards_radeonsi(+),!foo?,bar=]",
            "=app-misc/foo-1.0_alpha2_p3-r10",
            "=app-misc/foo-1.0b",
            ">=x11-libs/gtk+-3.24",
        ] {
            assert_eq!(validate_atom(atom), Ok(()), "{atom}");
        }
    }

    #[test]
    fn rejects_malformed_atoms_with_reasons() {
        for (atom, fragment) in [
            ("mesa", "needs a category"),
            ("!media-libs/mesa", "blocker"),
            ("sys-kernel/gentoo-kernel-bin-7", "has no operator"),
            (">=dev-lang/python", "no valid version"),
            (">=dev-lang/python-3.12*", "only works with the `=`"),
            ("media-libs/mesa[", "not closed"),
            ("media-libs/mesa:", "not a valid slot"),
            ("media-libs/mesa::", "repository"),
            ("media libs/mesa", "spaces"),
            ("a/b/c", "more than one"),
            ("-media-libs/mesa", "category"),
            ("=app-misc/foo-1.0_gamma", "no valid version"),
            ("*/*", "category"),
        ] {
            let err = validate_atom(atom).expect_err(atom);
            assert!(err.contains(fragment), "{atom}: {err}");
        }
    }

    #[test]
    fn wildcards_only_in_package_configuration() {
        assert_eq!(check_atom("*/*", AtomContext::PackageConfig), Ok(()));
        assert_eq!(
            check_atom("dev-python/*", AtomContext::PackageConfig),
            Ok(())
        );
        assert!(check_atom(">=*/*-1", AtomContext::PackageConfig).is_err());
    }

    #[test]
    fn versions_follow_pms() {
        for v in [
            "1",
            "1.2.3",
            "1.2b",
            "1_rc1",
            "1.0_p20240101",
            "2-r1",
            "0_alpha_beta",
        ] {
            assert!(is_version(v), "{v}");
        }
        for v in ["", "a", "1.", ".1", "1-r", "1_x", "1.2B", "1-rx"] {
            assert!(!is_version(v), "{v}");
        }
    }
}
