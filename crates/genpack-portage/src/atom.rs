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

/// Whether `name` is a valid category name: letters, digits and `+_.-`, not starting with `-`,
/// `.` or `+`.
pub fn is_category_name(name: &str) -> bool {
    valid_word(name, &['+', '.', '-'])
}

/// Whether `name` has the characters of a package name: letters, digits and `+_-`, not
/// starting with `-` or `+`. A full package name must also not end in something that looks
/// like a version (`foo-1`), which [`Atom::parse`] checks as well.
pub fn is_package_name(name: &str) -> bool {
    valid_word(name, &['+', '-'])
}

/// Whether `name` is a valid USE flag name: a letter or digit, then letters, digits and `+_@-`.
pub fn is_use_flag_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '_' | '@' | '-'))
}

/// A repository name: letters, digits and `_-`, not starting with `-`.
fn valid_repo(name: &str) -> bool {
    valid_word(name, &['-'])
}

/// A slot or sub-slot name: letters, digits and `+_.-`, not starting with `-`, `.` or `+`.
fn valid_slot(name: &str) -> bool {
    valid_word(name, &['+', '.', '-'])
}

/// The version a package name ends in after one of its hyphens (`2.9.9` in `fuse-2.9.9`), which
/// PMS forbids in a name.
fn trailing_version(name: &str) -> Option<&str> {
    name.match_indices('-')
        .map(|(at, _)| &name[at + 1..])
        .find(|tail| Version::parse(tail).is_ok())
}

/// Whether a package name ends in something that looks like a version (`foo-1`), which PMS forbids.
fn ends_like_version(name: &str) -> bool {
    trailing_version(name).is_some()
}

/// Splits `pn-ver[-rN]` into the package name and the version.
fn split_name_version<'a>(
    text: &'a str,
    what: &'static str,
) -> Result<(&'a str, Version), ParseError> {
    for (at, _) in text.match_indices('-') {
        let (name, version) = (&text[..at], &text[at + 1..]);
        if let Ok(version) = Version::parse(version) {
            if is_package_name(name) && !ends_like_version(name) {
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
    if !is_category_name(category) {
        return Err(ParseError::new(
            what,
            input,
            format!(
                "`{category}` is not a valid category name (letters, digits, `+`, `_`, `.`, `-`)"
            ),
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
    /// Parses one entry of `[...]`; the error says what is wrong with it.
    fn parse(text: &str) -> Result<UseDep, String> {
        let (mut body, kind) = if let Some(rest) = text.strip_prefix('!') {
            if let Some(flag) = rest.strip_suffix('=') {
                (flag, UseDepKind::Opposite)
            } else if let Some(flag) = rest.strip_suffix('?') {
                (flag, UseDepKind::IfDisabled)
            } else {
                return Err(format!(
                    "USE dependency `{text}`: `!` only works with `=` or `?`, like `{text}?`"
                ));
            }
        } else if let Some(flag) = text.strip_prefix('-') {
            if flag.ends_with(['=', '?']) {
                return Err(format!(
                    "USE dependency `{text}` mixes `-` with `=` or `?`; write `-flag` to require the flag off"
                ));
            }
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
        if !is_use_flag_name(body) {
            return Err(format!(
                "`{text}` is not a valid USE dependency (forms: `flag`, `-flag`, `flag?`, `!flag?`, `flag=`, `!flag=`, each optionally with `(+)` or `(-)` after the flag)"
            ));
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

/// Where an atom is written, which decides the forms it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtomContext {
    /// A dependency string or a profile file: blockers (`!`, `!!`) are allowed.
    Dependency,
    /// A list of packages to install or block (a package set, `package.mask`): no blockers.
    PackageList,
    /// The key of a per-package setting (`package.use`, `package.accept_keywords`,
    /// `package.license`, `package.env`): no blockers, and the wildcards `*/*`, `category/*`
    /// and `*/name` are allowed too.
    PackageSetting,
}

/// Checks that `text` is an atom Portage accepts where `context` says it is written, such as
/// `media-libs/mesa`, `>=dev-lang/python-3.12:3.12` or, for a per-package setting, `*/*`.
///
/// The error's reason says what is wrong and what to write instead.
///
/// ```
/// use genpack_portage::atom::{validate_atom, AtomContext};
///
/// assert!(validate_atom("dev-python/*", AtomContext::PackageSetting).is_ok());
/// let error = validate_atom("sys-fs/fuse-2.9.9", AtomContext::PackageList).unwrap_err();
/// assert!(error.reason.contains("write `=sys-fs/fuse-2.9.9`"));
/// ```
pub fn validate_atom(text: &str, context: AtomContext) -> Result<(), ParseError> {
    parse_atom(text, context).map(drop)
}

/// The version operators, longest first so that `<=` is not read as `<`.
const OPERATORS: [(&str, Operator); 6] = [
    ("<=", Operator::LessOrEqual),
    (">=", Operator::GreaterOrEqual),
    ("<", Operator::Less),
    (">", Operator::Greater),
    ("=", Operator::Equal),
    ("~", Operator::Approximate),
];

/// Parses an atom written in `context`; `None` for a wildcard entry (`*/*`, `dev-python/*`).
fn parse_atom(text: &str, context: AtomContext) -> Result<Option<Atom>, ParseError> {
    let invalid = |why: String| ParseError::new("atom", text, why);
    if text.is_empty() {
        return Err(invalid("empty package name".into()));
    }
    if text.contains(char::is_whitespace) {
        return Err(invalid(
            "it contains spaces; write one package per entry".into(),
        ));
    }
    let (blocker, body) = if let Some(after) = text.strip_prefix("!!") {
        (Some(Blocker::Strong), after)
    } else if let Some(after) = text.strip_prefix('!') {
        (Some(Blocker::Weak), after)
    } else {
        (None, text)
    };
    if blocker.is_some() && context != AtomContext::Dependency {
        return Err(invalid(
            "it is a blocker; blockers (`!`, `!!`) only make sense in ebuild dependencies, not in a list of packages".into(),
        ));
    }
    if body.starts_with('@') {
        return Err(invalid(
            "it names a package set; sets cannot be listed here, so list the packages themselves as `category/name`".into(),
        ));
    }
    let blocker_symbol = &text[..text.len() - body.len()];
    let mut rest = body;
    let mut use_deps = Vec::new();
    if let Some(open) = rest.find('[') {
        let inner = rest[open + 1..].strip_suffix(']').ok_or_else(|| {
            invalid("the `[` of the USE dependencies is not closed with `]` at the end".into())
        })?;
        if inner.is_empty() {
            return Err(invalid("empty USE dependency list `[]`".into()));
        }
        for part in inner.split(',') {
            use_deps.push(UseDep::parse(part).map_err(invalid)?);
        }
        rest = &rest[..open];
    }
    let mut repo = None;
    if let Some((before, name)) = rest.split_once("::") {
        if name.is_empty() {
            return Err(invalid(
                "the repository name after `::` is missing, like `::gentoo`".into(),
            ));
        }
        if !valid_repo(name) {
            return Err(invalid(format!(
                "`{name}` is not a valid repository name (letters, digits, `_`, `-`)"
            )));
        }
        repo = Some(name.to_string());
        rest = before;
    }
    let mut slot = None;
    if let Some((before, spec)) = rest.split_once(':') {
        slot = Some(parse_slot(spec).ok_or_else(|| {
            invalid(format!(
                "`:{spec}` is not a valid slot (examples: `:0`, `:3.12`, `:0/1`, `:=`, `:*`)"
            ))
        })?);
        rest = before;
    }
    let operator = OPERATORS
        .into_iter()
        .find(|(symbol, _)| rest.starts_with(symbol));
    let unversioned = operator.map_or(rest, |(symbol, _)| &rest[symbol.len()..]);
    let Some((category, package)) = unversioned.split_once('/') else {
        return Err(invalid(format!(
            "the package needs a category, like `app-misc/{unversioned}`"
        )));
    };
    if package.contains('/') {
        return Err(invalid(
            "it has more than one `/`; write `category/name`".into(),
        ));
    }
    if context == AtomContext::PackageSetting && (category == "*" || package == "*") {
        if operator.is_some() || slot.is_some() || repo.is_some() || !use_deps.is_empty() {
            return Err(invalid(
                "a wildcard entry cannot carry a version, slot, repository or USE dependencies"
                    .into(),
            ));
        }
        if category != "*" && !is_category_name(category) {
            return Err(invalid(format!(
                "`{category}` is not a valid category name (letters, digits, `+`, `_`, `.`, `-`)"
            )));
        }
        if package != "*" && !is_package_name(package) {
            return Err(invalid(format!(
                "`{package}` is not a valid package name (letters, digits, `+`, `_`, `-`)"
            )));
        }
        return Ok(None);
    }
    if !is_category_name(category) {
        return Err(invalid(format!(
            "`{category}` is not a valid category name (letters, digits, `+`, `_`, `.`, `-`)"
        )));
    }
    let (name, version) = match operator {
        None => {
            if let Some(version) = trailing_version(package) {
                return Err(invalid(format!(
                    "the name ends in a version (`{version}`) but has no operator; write `{blocker_symbol}={body}` for that exact version or `{blocker_symbol}>={body}` for it or newer"
                )));
            }
            if package.ends_with('*') {
                return Err(invalid(format!(
                    "a `*` after the version needs the `=` operator, like `{blocker_symbol}={body}`"
                )));
            }
            if !is_package_name(package) {
                return Err(invalid(format!(
                    "`{package}` is not a valid package name (letters, digits, `+`, `_`, `-`)"
                )));
            }
            (package, None)
        }
        Some((symbol, mut operator)) => {
            let (package, star) = match package.strip_suffix('*') {
                Some(stripped) => (stripped, true),
                None => (package, false),
            };
            let Some((name, version)) = package.match_indices('-').find_map(|(at, _)| {
                Version::parse(&package[at + 1..])
                    .ok()
                    .map(|version| (&package[..at], version))
            }) else {
                let attempt = package
                    .match_indices('-')
                    .map(|(at, _)| &package[at + 1..])
                    .find(|tail| tail.starts_with(|c: char| c.is_ascii_digit()));
                return Err(invalid(match attempt.map(|tail| (tail, Version::parse(tail))) {
                    Some((tail, Err(error))) => format!(
                        "there is no valid version after the package name for the operator `{symbol}`: `{tail}`: {}",
                        error.reason
                    ),
                    _ => format!(
                        "there is no valid version after the package name for the operator `{symbol}`; write one like `{symbol}{category}/{package}-1.0`"
                    ),
                }));
            };
            if !is_package_name(name) {
                return Err(invalid(format!(
                    "`{name}` is not a valid package name (letters, digits, `+`, `_`, `-`)"
                )));
            }
            if let Some(tail) = trailing_version(name) {
                return Err(invalid(format!(
                    "`{name}` is not a valid package name: it ends in a version (`{tail}`)"
                )));
            }
            if star {
                if operator != Operator::Equal {
                    return Err(invalid(
                        "a `*` after the version only works with the `=` operator".into(),
                    ));
                }
                operator = Operator::EqualPrefix;
            }
            if operator == Operator::Approximate && version.revision() != 0 {
                return Err(invalid(
                    "the `~` operator matches every revision, so leave out the `-r` part".into(),
                ));
            }
            (name, Some((operator, version)))
        }
    };
    Ok(Some(Atom {
        blocker,
        category: category.to_string(),
        name: name.to_string(),
        version,
        slot,
        repo,
        use_deps,
    }))
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
    /// Parses an atom as written in a dependency string: blockers are allowed, wildcards
    /// are not. [`validate_atom`] checks the other places atoms are written.
    pub fn parse(text: &str) -> Result<Atom, ParseError> {
        parse_atom(text, AtomContext::Dependency)?
            .ok_or_else(|| ParseError::new("atom", text, "a wildcard is not a package atom"))
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

/// Parses the part after `:`; `None` when it is not a valid slot.
fn parse_slot(spec: &str) -> Option<SlotDep> {
    let operator_only = |operator| SlotDep {
        operator: Some(operator),
        ..SlotDep::default()
    };
    match spec {
        "=" => return Some(operator_only(SlotOperator::Equal)),
        "*" => return Some(operator_only(SlotOperator::Star)),
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
    if !valid_slot(slot) || subslot.is_some_and(|subslot| !valid_slot(subslot)) {
        return None;
    }
    Some(SlotDep {
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

    /// Atoms as genpack.json5 files write them in package lists.
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
            assert_eq!(
                validate_atom(atom, AtomContext::PackageList),
                Ok(()),
                "{atom}"
            );
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
            let err = validate_atom(atom, AtomContext::PackageList).expect_err(atom);
            assert!(err.reason.contains(fragment), "{atom}: {err}");
        }
    }

    #[test]
    fn wildcards_only_in_package_settings() {
        assert_eq!(validate_atom("*/*", AtomContext::PackageSetting), Ok(()));
        assert_eq!(
            validate_atom("dev-python/*", AtomContext::PackageSetting),
            Ok(())
        );
        assert_eq!(
            validate_atom("*/screen", AtomContext::PackageSetting),
            Ok(())
        );
        assert!(validate_atom(">=*/*-1", AtomContext::PackageSetting).is_err());
        assert!(validate_atom("*/*:0", AtomContext::PackageSetting).is_err());
        assert!(validate_atom("dev-python/*", AtomContext::PackageList).is_err());
        assert!(Atom::parse("*/*").is_err());
    }

    #[test]
    fn blockers_only_in_dependencies() {
        assert!(validate_atom("!!app-misc/foo", AtomContext::Dependency).is_ok());
        for context in [AtomContext::PackageList, AtomContext::PackageSetting] {
            let err = validate_atom("!app-misc/foo", context).unwrap_err();
            assert!(err.reason.contains("blocker"), "{err}");
        }
    }

    #[test]
    fn reasons_say_what_to_write_instead() {
        let reason = |text: &str| {
            validate_atom(text, AtomContext::PackageList)
                .unwrap_err()
                .reason
        };
        assert!(reason("mesa").contains("`app-misc/mesa`"));
        assert!(reason(">=mesa").contains("`app-misc/mesa`"));
        let no_operator = reason("sys-fs/fuse-2.9.9");
        assert!(no_operator.contains("`2.9.9`"), "{no_operator}");
        assert!(
            no_operator.contains("`=sys-fs/fuse-2.9.9`"),
            "{no_operator}"
        );
        assert!(
            no_operator.contains("`>=sys-fs/fuse-2.9.9`"),
            "{no_operator}"
        );
        let bad_suffix = reason("=app-misc/foo-1.0_gamma");
        assert!(bad_suffix.contains("`1.0_gamma`"), "{bad_suffix}");
        assert!(bad_suffix.contains("unknown suffix"), "{bad_suffix}");
        assert!(reason(">=dev-lang/python").contains("`>=dev-lang/python-1.0`"));
        assert!(reason("app-misc/foo-1*").contains("`=app-misc/foo-1*`"));
        assert!(reason("app-misc/foo[!bar]").contains("`!bar?`"));
        assert!(reason("~app-misc/foo-1-r1").contains("leave out the `-r` part"));
        assert!(reason("@world").contains("package set"));
        assert_eq!(
            validate_atom("dev-libs/foo-1", AtomContext::Dependency)
                .unwrap_err()
                .to_string(),
            "invalid atom 'dev-libs/foo-1': the name ends in a version (`1`) but has no operator; write `=dev-libs/foo-1` for that exact version or `>=dev-libs/foo-1` for it or newer"
        );
        assert!(validate_atom("!dev-libs/foo-1", AtomContext::Dependency)
            .unwrap_err()
            .reason
            .contains("write `!=dev-libs/foo-1`"));
    }

    #[test]
    fn names_never_end_in_a_version() {
        for bad in [
            "dev-libs/foo-1-r1",
            "=dev-libs/foo-1-2",
            "dev-libs/foo-1.0_rc1",
        ] {
            assert!(Atom::parse(bad).is_err(), "{bad} parsed");
        }
        assert_eq!(
            atom("=media-fonts/font-adobe-100dpi-1.0").name,
            "font-adobe-100dpi"
        );
        assert!(Cpv::parse("dev-libs/foo-1-r1-2").is_err());
    }

    #[test]
    fn character_classes_of_names() {
        assert!(is_category_name("dev-libs") && is_category_name("x11.misc"));
        assert!(!is_category_name("-dev") && !is_category_name(""));
        assert!(is_package_name("gtk+") && is_package_name("_foo"));
        assert!(!is_package_name("+foo") && !is_package_name("foo.bar"));
        assert!(is_use_flag_name("python_targets_python3_12") && is_use_flag_name("kde@x"));
        assert!(!is_use_flag_name("_x") && !is_use_flag_name("-x") && !is_use_flag_name(""));
    }
}
