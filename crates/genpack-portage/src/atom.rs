//! Package names with versions (`dev-libs/foo-1.2-r1`) and dependency atoms
//! (`>=dev-libs/foo-1.2:3/4=::gentoo[ssl,-X]`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::error::ParseError;
use crate::version::Version;

/// Whether `name` starts with a letter, digit or `_` and continues with those or any of `extra`.
fn valid_word(name: &str, extra: &[char]) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphanumeric() || first == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
}

/// A category name: letters, digits and `+_.-`, not starting with `-`, `.` or `+`.
fn valid_category(name: &str) -> bool {
    valid_word(name, &['+', '.', '-'])
}

/// A package name: letters, digits and `+_-`, not starting with `-` or `+`.
fn valid_name(name: &str) -> bool {
    valid_word(name, &['+', '-'])
}

/// A repository name: letters, digits and `_-`, not starting with `-`.
fn valid_repo(name: &str) -> bool {
    valid_word(name, &['-'])
}

/// Whether a package name ends in something that looks like a version (`foo-1`), which PMS forbids.
fn ends_like_version(name: &str) -> bool {
    name.rsplit_once('-')
        .is_some_and(|(_, tail)| Version::parse(tail).is_ok())
}

/// Splits `pn-ver[-rN]` into the package name and the version.
fn split_name_version<'a>(
    text: &'a str,
    what: &'static str,
) -> Result<(&'a str, Version), ParseError> {
    for (at, _) in text.match_indices('-') {
        let (name, version) = (&text[..at], &text[at + 1..]);
        if let Ok(version) = Version::parse(version) {
            if valid_name(name) && !ends_like_version(name) {
                return Ok((name, version));
            }
        }
    }
    Err(ParseError::new(what, text, "expected <name>-<version>"))
}

fn split_category<'a>(
    text: &'a str,
    what: &'static str,
    input: &str,
) -> Result<(&'a str, &'a str), ParseError> {
    let (category, rest) = text
        .split_once('/')
        .ok_or_else(|| ParseError::new(what, input, "expected <category>/<package>"))?;
    if !valid_category(category) {
        return Err(ParseError::new(
            what,
            input,
            format!("invalid category '{category}'"),
        ));
    }
    Ok((category, rest))
}

/// A category, package name and version: `dev-libs/foo-1.2-r1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cpv {
    /// Category (`dev-libs`).
    pub category: String,
    /// Package name (`foo`).
    pub name: String,
    /// Version including the revision.
    pub version: Version,
}

impl Cpv {
    /// Parses `category/name-version`.
    pub fn parse(text: &str) -> Result<Cpv, ParseError> {
        let (category, rest) = split_category(text, "package version", text)?;
        let (name, version) = split_name_version(rest, "package version")?;
        Ok(Cpv {
            category: category.to_string(),
            name: name.to_string(),
            version,
        })
    }

    /// Builds a cpv from a category and a `name-version` directory name (`/var/db/pkg` layout).
    pub fn from_parts(category: &str, name_version: &str) -> Result<Cpv, ParseError> {
        Cpv::parse(&format!("{category}/{name_version}"))
    }

    /// `category/name`, the key a package is known by regardless of version.
    pub fn key(&self) -> String {
        format!("{}/{}", self.category, self.name)
    }
}

impl fmt::Display for Cpv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}-{}", self.category, self.name, self.version)
    }
}

impl FromStr for Cpv {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Cpv::parse(text)
    }
}

/// A version operator of an atom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `=`
    Equal,
    /// `=...*`: every version starting with the given components.
    EqualPrefix,
    /// `~`: the same version with any revision.
    Approximate,
    /// `>=`
    GreaterOrEqual,
    /// `>`
    Greater,
}

impl Operator {
    fn symbol(self) -> &'static str {
        match self {
            Operator::Less => "<",
            Operator::LessOrEqual => "<=",
            Operator::Equal | Operator::EqualPrefix => "=",
            Operator::Approximate => "~",
            Operator::GreaterOrEqual => ">=",
            Operator::Greater => ">",
        }
    }
}

/// A blocker prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocker {
    /// `!`: may be uninstalled after the blocking package is installed.
    Weak,
    /// `!!`: must never be installed at the same time.
    Strong,
}

/// The slot part of an atom (`:3`, `:3/4`, `:3=`, `:=`, `:*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlotDep {
    /// Required slot, when one is named.
    pub slot: Option<String>,
    /// Required sub-slot, when one is named.
    pub subslot: Option<String>,
    /// The slot operator, when present.
    pub operator: Option<SlotOperator>,
}

/// A slot operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotOperator {
    /// `=`: rebuild when the slot or sub-slot of the dependency changes.
    Equal,
    /// `*`: any slot, no rebuild.
    Star,
}

impl fmt::Display for SlotDep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(":")?;
        if let Some(slot) = &self.slot {
            f.write_str(slot)?;
        }
        if let Some(subslot) = &self.subslot {
            write!(f, "/{subslot}")?;
        }
        match self.operator {
            Some(SlotOperator::Equal) => f.write_str("="),
            Some(SlotOperator::Star) => f.write_str("*"),
            None => Ok(()),
        }
    }
}

/// How a USE dependency constrains a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseDepKind {
    /// `flag`: must be enabled.
    Enabled,
    /// `-flag`: must be disabled.
    Disabled,
    /// `flag=`: same state as in the depending package.
    Same,
    /// `!flag=`: opposite state to the depending package.
    Opposite,
    /// `flag?`: enabled if enabled in the depending package.
    IfEnabled,
    /// `!flag?`: disabled if disabled in the depending package.
    IfDisabled,
}

/// One USE dependency inside `[...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseDep {
    /// The flag.
    pub flag: String,
    /// The constraint.
    pub kind: UseDepKind,
    /// `(+)` or `(-)`: the state assumed when the dependency does not have the flag.
    pub default: Option<bool>,
}

impl UseDep {
    fn parse(text: &str, atom: &str) -> Result<UseDep, ParseError> {
        let invalid =
            |why: &str| ParseError::new("atom", atom, format!("USE dependency '{text}': {why}"));
        let (mut body, kind) = if let Some(rest) = text.strip_prefix('!') {
            if let Some(flag) = rest.strip_suffix('=') {
                (flag, UseDepKind::Opposite)
            } else if let Some(flag) = rest.strip_suffix('?') {
                (flag, UseDepKind::IfDisabled)
            } else {
                return Err(invalid("'!' needs a trailing '=' or '?'"));
            }
        } else if let Some(flag) = text.strip_prefix('-') {
            (flag, UseDepKind::Disabled)
        } else if let Some(flag) = text.strip_suffix('=') {
            (flag, UseDepKind::Same)
        } else if let Some(flag) = text.strip_suffix('?') {
            (flag, UseDepKind::IfEnabled)
        } else {
            (text, UseDepKind::Enabled)
        };
        let mut default = None;
        if let Some(flag) = body.strip_suffix("(+)") {
            default = Some(true);
            body = flag;
        } else if let Some(flag) = body.strip_suffix("(-)") {
            default = Some(false);
            body = flag;
        }
        if body.is_empty()
            || !body.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '_' | '@' | '-'))
        {
            return Err(invalid("not a valid flag name"));
        }
        Ok(UseDep {
            flag: body.to_string(),
            kind,
            default,
        })
    }

    /// The required state of the flag in the dependency (`Some(true)` enabled, `Some(false)`
    /// disabled, `None` unconstrained), given whether the depending package has the flag enabled.
    pub fn required_state(&self, parent_enabled: bool) -> Option<bool> {
        match self.kind {
            UseDepKind::Enabled => Some(true),
            UseDepKind::Disabled => Some(false),
            UseDepKind::Same => Some(parent_enabled),
            UseDepKind::Opposite => Some(!parent_enabled),
            UseDepKind::IfEnabled => parent_enabled.then_some(true),
            UseDepKind::IfDisabled => (!parent_enabled).then_some(false),
        }
    }
}

impl fmt::Display for UseDep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = match self.default {
            Some(true) => "(+)",
            Some(false) => "(-)",
            None => "",
        };
        match self.kind {
            UseDepKind::Enabled => write!(f, "{}{default}", self.flag),
            UseDepKind::Disabled => write!(f, "-{}{default}", self.flag),
            UseDepKind::Same => write!(f, "{}{default}=", self.flag),
            UseDepKind::Opposite => write!(f, "!{}{default}=", self.flag),
            UseDepKind::IfEnabled => write!(f, "{}{default}?", self.flag),
            UseDepKind::IfDisabled => write!(f, "!{}{default}?", self.flag),
        }
    }
}

/// A dependency atom: `[!|!!][op]category/name[-version][*][:slot][::repo][[use,...]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    /// Blocker prefix, when the atom is a blocker.
    pub blocker: Option<Blocker>,
    /// Category.
    pub category: String,
    /// Package name.
    pub name: String,
    /// Version constraint.
    pub version: Option<(Operator, Version)>,
    /// Slot constraint.
    pub slot: Option<SlotDep>,
    /// Required repository (`::gentoo`).
    pub repo: Option<String>,
    /// USE dependencies.
    pub use_deps: Vec<UseDep>,
}

impl Atom {
    /// Parses an atom.
    pub fn parse(text: &str) -> Result<Atom, ParseError> {
        let invalid = |why: String| ParseError::new("atom", text, why);
        let mut rest = text;
        let blocker = if let Some(after) = rest.strip_prefix("!!") {
            rest = after;
            Some(Blocker::Strong)
        } else if let Some(after) = rest.strip_prefix('!') {
            rest = after;
            Some(Blocker::Weak)
        } else {
            None
        };
        let mut use_deps = Vec::new();
        if let Some(open) = rest.find('[') {
            let inner = rest[open + 1..]
                .strip_suffix(']')
                .ok_or_else(|| invalid("'[' without a closing ']' at the end".into()))?;
            if inner.is_empty() {
                return Err(invalid("empty USE dependency list".into()));
            }
            for part in inner.split(',') {
                use_deps.push(UseDep::parse(part, text)?);
            }
            rest = &rest[..open];
        }
        let mut repo = None;
        if let Some((before, name)) = rest.split_once("::") {
            if !valid_repo(name) {
                return Err(invalid(format!("invalid repository name '{name}'")));
            }
            repo = Some(name.to_string());
            rest = before;
        }
        let mut slot = None;
        if let Some((before, spec)) = rest.split_once(':') {
            slot = Some(parse_slot(spec).map_err(|why| invalid(why.to_string()))?);
            rest = before;
        }
        let operator = [
            ("<=", Operator::LessOrEqual),
            (">=", Operator::GreaterOrEqual),
            ("<", Operator::Less),
            (">", Operator::Greater),
            ("=", Operator::Equal),
            ("~", Operator::Approximate),
        ]
        .into_iter()
        .find(|(symbol, _)| rest.starts_with(symbol));
        let (category, package) = split_category(
            operator.map_or(rest, |(symbol, _)| &rest[symbol.len()..]),
            "atom",
            text,
        )?;
        let (name, version) = match operator {
            None => {
                if !valid_name(package) || ends_like_version(package) {
                    return Err(invalid(format!(
                        "invalid package name '{package}' (a version needs an operator such as '=' or '>=')"
                    )));
                }
                (package, None)
            }
            Some((_, mut operator)) => {
                let mut package = package;
                if let Some(stripped) = package.strip_suffix('*') {
                    if operator != Operator::Equal {
                        return Err(invalid("'*' is only allowed with '='".into()));
                    }
                    operator = Operator::EqualPrefix;
                    package = stripped;
                }
                let (name, version) = split_name_version(package, "atom").map_err(|_| {
                    invalid("a version operator needs <category>/<name>-<version>".into())
                })?;
                if operator == Operator::Approximate && version.revision() != 0 {
                    return Err(invalid("'~' takes a version without revision".into()));
                }
                (name, Some((operator, version)))
            }
        };
        Ok(Atom {
            blocker,
            category: category.to_string(),
            name: name.to_string(),
            version,
            slot,
            repo,
            use_deps,
        })
    }

    /// `category/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.category, self.name)
    }

    /// Whether an installed package `cpv` in `slot` (`0` or `0/1.2`, as the SLOT file
    /// holds it; `None` when unknown) satisfies the name, version and slot parts of this atom.
    /// The blocker flag, repository and USE dependencies are not considered here.
    pub fn matches(&self, cpv: &Cpv, slot: Option<&str>) -> bool {
        if cpv.category != self.category || cpv.name != self.name {
            return false;
        }
        if let Some((operator, wanted)) = &self.version {
            let have = &cpv.version;
            let ok = match operator {
                Operator::Less => have < wanted,
                Operator::LessOrEqual => have <= wanted,
                Operator::Equal => have == wanted,
                Operator::EqualPrefix => have.starts_with(wanted),
                Operator::Approximate => have.without_revision() == wanted.without_revision(),
                Operator::GreaterOrEqual => have >= wanted,
                Operator::Greater => have > wanted,
            };
            if !ok {
                return false;
            }
        }
        if let (Some(wanted), Some(slot)) = (&self.slot, slot) {
            let (have_slot, have_subslot) = match slot.split_once('/') {
                Some((slot, subslot)) => (slot, subslot),
                None => (slot, slot),
            };
            if wanted.slot.as_deref().is_some_and(|want| want != have_slot) {
                return false;
            }
            if wanted
                .subslot
                .as_deref()
                .is_some_and(|want| want != have_subslot)
            {
                return false;
            }
        }
        true
    }

    /// Whether the package's enabled USE flags (`enabled`) and the flags it has at all (`iuse`)
    /// satisfy the USE dependencies, with conditional ones evaluated against `parent_use`.
    pub fn use_satisfied(
        &self,
        enabled: &BTreeSet<String>,
        iuse: &BTreeSet<String>,
        parent_use: &BTreeSet<String>,
    ) -> bool {
        self.use_deps.iter().all(|dep| {
            let Some(required) = dep.required_state(parent_use.contains(&dep.flag)) else {
                return true;
            };
            let state = if iuse.contains(&dep.flag) {
                enabled.contains(&dep.flag)
            } else if let Some(default) = dep.default {
                default
            } else {
                // Portage refuses such a dependency; an installed package that lacks the flag
                // only satisfies a requirement that it be off.
                enabled.contains(&dep.flag)
            };
            state == required
        })
    }
}

fn parse_slot(spec: &str) -> Result<SlotDep, &'static str> {
    match spec {
        "=" => {
            return Ok(SlotDep {
                operator: Some(SlotOperator::Equal),
                ..SlotDep::default()
            })
        }
        "*" => {
            return Ok(SlotDep {
                operator: Some(SlotOperator::Star),
                ..SlotDep::default()
            })
        }
        "" => return Err("empty slot after ':'"),
        _ => {}
    }
    let (spec, operator) = match spec.strip_suffix('=') {
        Some(spec) => (spec, Some(SlotOperator::Equal)),
        None => (spec, None),
    };
    let (slot, subslot) = match spec.split_once('/') {
        Some((slot, subslot)) => (slot, Some(subslot)),
        None => (spec, None),
    };
    let valid = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '_' | '.' | '-'))
    };
    if !valid(slot) || subslot.is_some_and(|subslot| !valid(subslot)) {
        return Err("invalid slot name");
    }
    Ok(SlotDep {
        slot: Some(slot.to_string()),
        subslot: subslot.map(str::to_string),
        operator,
    })
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.blocker {
            Some(Blocker::Weak) => f.write_str("!")?,
            Some(Blocker::Strong) => f.write_str("!!")?,
            None => {}
        }
        match &self.version {
            Some((operator, version)) => {
                write!(
                    f,
                    "{}{}/{}-{}",
                    operator.symbol(),
                    self.category,
                    self.name,
                    version
                )?;
                if *operator == Operator::EqualPrefix {
                    f.write_str("*")?;
                }
            }
            None => write!(f, "{}/{}", self.category, self.name)?,
        }
        if let Some(slot) = &self.slot {
            write!(f, "{slot}")?;
        }
        if let Some(repo) = &self.repo {
            write!(f, "::{repo}")?;
        }
        if !self.use_deps.is_empty() {
            let deps: Vec<String> = self.use_deps.iter().map(UseDep::to_string).collect();
            write!(f, "[{}]", deps.join(","))?;
        }
        Ok(())
    }
}

impl FromStr for Atom {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Atom::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpv(text: &str) -> Cpv {
        Cpv::parse(text).unwrap()
    }

    fn atom(text: &str) -> Atom {
        Atom::parse(text).unwrap()
    }

    #[test]
    fn cpv_splits_name_and_version_at_the_right_hyphen() {
        let parsed = cpv("media-fonts/font-adobe-100dpi-1.0.4-r1");
        assert_eq!(parsed.name, "font-adobe-100dpi");
        assert_eq!(parsed.version.as_str(), "1.0.4-r1");
        assert_eq!(cpv("dev-libs/libfoo-bar-2_rc1").name, "libfoo-bar");
        assert_eq!(
            cpv("sys-libs/glibc-2.40-r5").to_string(),
            "sys-libs/glibc-2.40-r5"
        );
        assert!(Cpv::parse("dev-libs/foo").is_err());
        assert!(Cpv::parse("foo-1.0").is_err());
    }

    #[test]
    fn parses_every_atom_part() {
        let parsed =
            atom("!!>=dev-libs/openssl-3.0.1-r2:0/3=::gentoo[ssl,-X,gtk?,!qt5=,foo(+),bar(-)?]");
        assert_eq!(parsed.blocker, Some(Blocker::Strong));
        assert_eq!(parsed.key(), "dev-libs/openssl");
        let (operator, version) = parsed.version.clone().unwrap();
        assert_eq!(operator, Operator::GreaterOrEqual);
        assert_eq!(version.as_str(), "3.0.1-r2");
        let slot = parsed.slot.clone().unwrap();
        assert_eq!(
            (slot.slot.as_deref(), slot.subslot.as_deref()),
            (Some("0"), Some("3"))
        );
        assert_eq!(slot.operator, Some(SlotOperator::Equal));
        assert_eq!(parsed.repo.as_deref(), Some("gentoo"));
        let kinds: Vec<UseDepKind> = parsed.use_deps.iter().map(|dep| dep.kind).collect();
        assert_eq!(
            kinds,
            [
                UseDepKind::Enabled,
                UseDepKind::Disabled,
                UseDepKind::IfEnabled,
                UseDepKind::Opposite,
                UseDepKind::Enabled,
                UseDepKind::IfEnabled
            ]
        );
        assert_eq!(parsed.use_deps[4].default, Some(true));
        assert_eq!(
            parsed.to_string(),
            "!!>=dev-libs/openssl-3.0.1-r2:0/3=::gentoo[ssl,-X,gtk?,!qt5=,foo(+),bar(-)?]"
        );
    }

    #[test]
    fn parses_slot_operators_and_plain_names() {
        assert_eq!(
            atom("dev-lang/perl:=").slot.unwrap().operator,
            Some(SlotOperator::Equal)
        );
        assert_eq!(
            atom("dev-lang/perl:*").slot.unwrap().operator,
            Some(SlotOperator::Star)
        );
        assert_eq!(atom("!app-misc/foo").blocker, Some(Blocker::Weak));
        assert_eq!(atom("x11-libs/gtk+:3").name, "gtk+");
        assert_eq!(
            atom("=dev-lang/python-3.12*").version.unwrap().0,
            Operator::EqualPrefix
        );
    }

    #[test]
    fn rejects_malformed_atoms() {
        for bad in [
            "foo",
            "dev-libs/foo-1.0",
            ">=dev-libs/foo",
            ">=dev-libs/foo-1*",
            "~dev-libs/foo-1-r1",
            "dev-libs/foo[",
            "dev-libs/foo[]",
            "dev-libs/foo[!bar]",
            "dev-libs/foo:",
            "dev-libs/foo::",
            "/foo",
            "dev libs/foo",
            "dev-libs/+foo",
            "dev-libs/foo.bar",
            ".dev/foo",
            "dev-libs/foo::re.po",
        ] {
            assert!(Atom::parse(bad).is_err(), "{bad} parsed");
        }
        assert!(
            Atom::parse("a/b[-flag?]").is_err(),
            "'-' cannot be conditional"
        );
    }

    #[test]
    fn matching_follows_operators() {
        let cases: &[(&str, &str, bool)] = &[
            ("dev-libs/foo", "dev-libs/foo-1", true),
            ("dev-libs/foo", "dev-libs/foobar-1", false),
            ("dev-libs/foo", "app-misc/foo-1", false),
            ("<dev-libs/foo-2", "dev-libs/foo-1.9", true),
            ("<dev-libs/foo-2", "dev-libs/foo-2", false),
            ("<=dev-libs/foo-2", "dev-libs/foo-2", true),
            ("<=dev-libs/foo-2", "dev-libs/foo-2-r1", false),
            ("=dev-libs/foo-2", "dev-libs/foo-2-r0", true),
            ("=dev-libs/foo-2", "dev-libs/foo-2-r1", false),
            ("~dev-libs/foo-2", "dev-libs/foo-2-r7", true),
            ("~dev-libs/foo-2", "dev-libs/foo-2.1", false),
            (">=dev-libs/foo-2", "dev-libs/foo-2_rc1", false),
            (">=dev-libs/foo-2", "dev-libs/foo-2_p1", true),
            (">dev-libs/foo-2", "dev-libs/foo-2-r1", true),
            ("=dev-libs/foo-1.2*", "dev-libs/foo-1.2.5", true),
            ("=dev-libs/foo-1.2*", "dev-libs/foo-1.20", false),
            ("=dev-libs/foo-1*", "dev-libs/foo-1.0_beta3-r2", true),
        ];
        for (text, installed, expected) in cases {
            assert_eq!(
                atom(text).matches(&cpv(installed), None),
                *expected,
                "{text} vs {installed}"
            );
        }
    }

    #[test]
    fn matching_respects_slots() {
        let python = cpv("dev-lang/python-3.12.8");
        assert!(atom("dev-lang/python:3.12").matches(&python, Some("3.12")));
        assert!(!atom("dev-lang/python:3.13").matches(&python, Some("3.12")));
        assert!(atom("dev-lang/python:3.12/3.12t").matches(&python, Some("3.12/3.12t")));
        assert!(!atom("dev-lang/python:3.12/3.12t").matches(&python, Some("3.12/3.12")));
        assert!(atom("dev-lang/python:=").matches(&python, Some("3.12")));
        assert!(
            atom("dev-lang/python:0").matches(&python, None),
            "unknown slot is not a mismatch"
        );
    }

    #[test]
    fn use_dependencies_are_checked_against_installed_flags() {
        let set = |flags: &[&str]| {
            flags
                .iter()
                .map(|flag| flag.to_string())
                .collect::<BTreeSet<_>>()
        };
        let iuse = set(&["ssl", "gtk", "X"]);
        let enabled = set(&["ssl"]);
        assert!(atom("a/b[ssl,-gtk]").use_satisfied(&enabled, &iuse, &set(&[])));
        assert!(!atom("a/b[gtk]").use_satisfied(&enabled, &iuse, &set(&[])));
        assert!(atom("a/b[gtk?]").use_satisfied(&enabled, &iuse, &set(&[])));
        assert!(!atom("a/b[gtk?]").use_satisfied(&enabled, &iuse, &set(&["gtk"])));
        assert!(atom("a/b[X=]").use_satisfied(&enabled, &iuse, &set(&[])));
        assert!(atom("a/b[missing(+)]").use_satisfied(&enabled, &iuse, &set(&[])));
        assert!(!atom("a/b[missing(-)]").use_satisfied(&enabled, &iuse, &set(&[])));
    }
}
