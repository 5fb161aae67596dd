//! Dependency strings (DEPEND, RDEPEND, PDEPEND): atoms, `|| ( ... )` choices,
//! `flag? ( ... )` conditionals and plain `( ... )` groups.

use std::collections::BTreeSet;

use crate::atom::{Atom, UseDep, UseDepKind};
use crate::error::ParseError;

/// One node of a dependency string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepNode {
    /// A single atom (possibly a blocker).
    Atom(Box<Atom>),
    /// `|| ( ... )`: any one of the children.
    AnyOf(Vec<DepNode>),
    /// `( ... )`: all of the children.
    AllOf(Vec<DepNode>),
    /// `flag? ( ... )` or `!flag? ( ... )`.
    Conditional {
        /// The USE flag tested.
        flag: String,
        /// `true` for `!flag?`.
        negated: bool,
        /// Dependencies that apply when the condition holds.
        children: Vec<DepNode>,
    },
}

/// A parsed dependency string: a list of nodes that all apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DepSpec {
    /// The top-level nodes.
    pub nodes: Vec<DepNode>,
}

impl DepSpec {
    /// Parses a dependency string. Parentheses must be separated by whitespace, as PMS requires.
    pub fn parse(text: &str) -> Result<DepSpec, ParseError> {
        let mut tokens = text.split_whitespace().peekable();
        let nodes = parse_list(text, &mut tokens, false)?;
        Ok(DepSpec { nodes })
    }

    /// The dependencies that apply to a package with the USE flags `enabled`: conditionals are
    /// resolved (and disappear), and conditional USE dependencies of atoms (`[foo?]`, `[foo=]`)
    /// become plain ones. The result holds only [`DepNode::Atom`], [`DepNode::AnyOf`] and
    /// [`DepNode::AllOf`].
    pub fn evaluate(&self, enabled: &BTreeSet<String>) -> Vec<DepNode> {
        evaluate_list(&self.nodes, enabled)
    }

    /// Every atom in the string, whatever the conditions (for listing and validation).
    pub fn atoms(&self) -> Vec<&Atom> {
        fn walk<'a>(nodes: &'a [DepNode], out: &mut Vec<&'a Atom>) {
            for node in nodes {
                match node {
                    DepNode::Atom(atom) => out.push(atom.as_ref()),
                    DepNode::AnyOf(children) | DepNode::AllOf(children) => walk(children, out),
                    DepNode::Conditional { children, .. } => walk(children, out),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.nodes, &mut out);
        out
    }
}

fn parse_list<'a>(
    text: &str,
    tokens: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
    nested: bool,
) -> Result<Vec<DepNode>, ParseError> {
    let invalid = |why: String| ParseError::new("dependency string", text, why);
    let mut nodes = Vec::new();
    while let Some(token) = tokens.next() {
        match token {
            ")" if nested => return Ok(nodes),
            ")" => return Err(invalid("')' without a matching '('".into())),
            "(" => nodes.push(DepNode::AllOf(parse_list(text, tokens, true)?)),
            "||" => {
                expect_open(text, tokens, "||")?;
                nodes.push(DepNode::AnyOf(parse_list(text, tokens, true)?));
            }
            _ if token.ends_with('?') => {
                let condition = &token[..token.len() - 1];
                let (flag, negated) = match condition.strip_prefix('!') {
                    Some(flag) => (flag, true),
                    None => (condition, false),
                };
                if flag.is_empty()
                    || !flag
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '_' | '@' | '-'))
                {
                    return Err(invalid(format!("invalid USE conditional '{token}'")));
                }
                expect_open(text, tokens, token)?;
                let children = parse_list(text, tokens, true)?;
                nodes.push(DepNode::Conditional {
                    flag: flag.to_string(),
                    negated,
                    children,
                });
            }
            _ => nodes.push(DepNode::Atom(Box::new(Atom::parse(token)?))),
        }
    }
    if nested {
        return Err(invalid("'(' without a matching ')'".into()));
    }
    Ok(nodes)
}

fn expect_open<'a>(
    text: &str,
    tokens: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
    after: &str,
) -> Result<(), ParseError> {
    match tokens.next() {
        Some("(") => Ok(()),
        _ => Err(ParseError::new(
            "dependency string",
            text,
            format!("'{after}' must be followed by '('"),
        )),
    }
}

fn evaluate_list(nodes: &[DepNode], enabled: &BTreeSet<String>) -> Vec<DepNode> {
    let mut out = Vec::new();
    for node in nodes {
        match node {
            DepNode::Atom(atom) => {
                out.push(DepNode::Atom(Box::new(resolve_use_deps(atom, enabled))))
            }
            DepNode::AnyOf(children) => out.push(DepNode::AnyOf(evaluate_list(children, enabled))),
            DepNode::AllOf(children) => out.push(DepNode::AllOf(evaluate_list(children, enabled))),
            DepNode::Conditional {
                flag,
                negated,
                children,
            } => {
                if enabled.contains(flag) != *negated {
                    out.extend(evaluate_list(children, enabled));
                }
            }
        }
    }
    out
}

/// Turns conditional USE dependencies into plain ones for a parent with flags `enabled`.
fn resolve_use_deps(atom: &Atom, enabled: &BTreeSet<String>) -> Atom {
    let use_deps = atom
        .use_deps
        .iter()
        .filter_map(|dep| {
            let state = dep.required_state(enabled.contains(&dep.flag))?;
            let kind = if state {
                UseDepKind::Enabled
            } else {
                UseDepKind::Disabled
            };
            Some(UseDep {
                flag: dep.flag.clone(),
                kind,
                default: dep.default,
            })
        })
        .collect();
    Atom {
        use_deps,
        ..atom.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|flag| flag.to_string()).collect()
    }

    fn render(nodes: &[DepNode]) -> String {
        nodes
            .iter()
            .map(|node| match node {
                DepNode::Atom(atom) => atom.to_string(),
                DepNode::AnyOf(children) => format!("|| ( {} )", render(children)),
                DepNode::AllOf(children) => format!("( {} )", render(children)),
                DepNode::Conditional {
                    flag,
                    negated,
                    children,
                } => {
                    format!(
                        "{}{flag}? ( {} )",
                        if *negated { "!" } else { "" },
                        render(children)
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    const RDEPEND: &str = "
        >=dev-libs/glib-2.76:2
        || ( ( dev-lang/python:3.13 dev-python/foo[python_targets_python3_13(-)] )
             dev-lang/python:3.12 )
        ssl? ( dev-libs/openssl:0= !gnutls? ( net-libs/nettle ) )
        !ssl? ( net-libs/gnutls )
        !sys-apps/old-thing
        media-libs/mesa[X?,-wayland,vulkan=]";

    #[test]
    fn parses_nested_groups() {
        let spec = DepSpec::parse(RDEPEND).unwrap();
        assert_eq!(spec.nodes.len(), 6);
        assert!(matches!(&spec.nodes[1], DepNode::AnyOf(children) if children.len() == 2));
        assert_eq!(spec.atoms().len(), 9);
        assert_eq!(
            render(&spec.nodes),
            ">=dev-libs/glib-2.76:2 || ( ( dev-lang/python:3.13 dev-python/foo[python_targets_python3_13(-)] ) \
             dev-lang/python:3.12 ) ssl? ( dev-libs/openssl:0= !gnutls? ( net-libs/nettle ) ) \
             !ssl? ( net-libs/gnutls ) !sys-apps/old-thing media-libs/mesa[X?,-wayland,vulkan=]"
        );
    }

    #[test]
    fn evaluation_resolves_conditionals() {
        let spec = DepSpec::parse(RDEPEND).unwrap();
        let with_ssl = render(&spec.evaluate(&flags(&["ssl", "X"])));
        assert!(
            with_ssl.contains("dev-libs/openssl:0= net-libs/nettle"),
            "{with_ssl}"
        );
        assert!(!with_ssl.contains("gnutls"), "{with_ssl}");
        assert!(
            with_ssl.ends_with("media-libs/mesa[X,-wayland,-vulkan]"),
            "{with_ssl}"
        );

        let without = render(&spec.evaluate(&flags(&["gnutls", "vulkan"])));
        assert!(!without.contains("openssl"), "{without}");
        assert!(without.contains("net-libs/gnutls"), "{without}");
        assert!(
            without.ends_with("media-libs/mesa[-wayland,vulkan]"),
            "{without}"
        );
    }

    #[test]
    fn rejects_unbalanced_or_malformed_strings() {
        for bad in [
            "( a/b",
            "a/b )",
            "|| a/b",
            "ssl? a/b",
            "|| ( a/b",
            "? ( a/b )",
            "not-an-atom",
            "a/b)",
        ] {
            assert!(DepSpec::parse(bad).is_err(), "{bad} parsed");
        }
        assert_eq!(DepSpec::parse("  \n ").unwrap().nodes.len(), 0);
    }
}
