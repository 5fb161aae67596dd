//! Gentoo package versions (`1.2.3b_rc4_p1-r2`) and their ordering as the Package Manager
//! Specification defines it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::ParseError;

/// A suffix kind, in ascending order of precedence (`_alpha` < `_beta` < `_pre` < `_rc` < `_p`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SuffixKind {
    /// `_alpha`
    Alpha,
    /// `_beta`
    Beta,
    /// `_pre`
    Pre,
    /// `_rc`
    Rc,
    /// `_p` (a patch level: sorts after the plain version)
    P,
}

impl SuffixKind {
    fn as_str(self) -> &'static str {
        match self {
            SuffixKind::Alpha => "alpha",
            SuffixKind::Beta => "beta",
            SuffixKind::Pre => "pre",
            SuffixKind::Rc => "rc",
            SuffixKind::P => "p",
        }
    }
}

/// One `_<kind>[<number>]` suffix of a version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Suffix {
    /// Which suffix.
    pub kind: SuffixKind,
    /// The digits after the suffix word, as written (empty when absent; compares as 0).
    pub number: String,
}

/// A parsed package version. Equality follows the PMS ordering, so `1.0` equals `1.00` and
/// `-r0` equals no revision; [`Version::as_str`] keeps the spelling it was parsed from.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    numbers: Vec<String>,
    letter: Option<char>,
    suffixes: Vec<Suffix>,
    revision: String,
}

impl Version {
    /// Parses a version such as `1.2.3b_rc4_p1-r2`.
    pub fn parse(text: &str) -> Result<Version, ParseError> {
        let invalid = |why: &str| ParseError::new("version", text, why);
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut numbers = Vec::new();
        loop {
            let start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            if start == pos {
                return Err(invalid(if numbers.is_empty() {
                    "a version starts with a number"
                } else {
                    "a '.' must be followed by a number"
                }));
            }
            numbers.push(text[start..pos].to_string());
            if pos < bytes.len() && bytes[pos] == b'.' {
                pos += 1;
            } else {
                break;
            }
        }
        let mut letter = None;
        if pos < bytes.len() && bytes[pos].is_ascii_lowercase() {
            letter = Some(bytes[pos] as char);
            pos += 1;
        }
        let mut suffixes = Vec::new();
        while pos < bytes.len() && bytes[pos] == b'_' {
            pos += 1;
            let rest = &text[pos..];
            let (kind, word) = [
                (SuffixKind::Alpha, "alpha"),
                (SuffixKind::Beta, "beta"),
                (SuffixKind::Pre, "pre"),
                (SuffixKind::Rc, "rc"),
                (SuffixKind::P, "p"),
            ]
            .into_iter()
            .find(|(_, word)| rest.starts_with(word))
            .ok_or_else(|| invalid("unknown suffix (expected _alpha, _beta, _pre, _rc or _p)"))?;
            pos += word.len();
            let start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            suffixes.push(Suffix {
                kind,
                number: text[start..pos].to_string(),
            });
        }
        let mut revision = String::new();
        if pos < bytes.len() {
            let rest = &text[pos..];
            let digits = rest
                .strip_prefix("-r")
                .ok_or_else(|| invalid("unexpected characters"))?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("a revision is '-r' followed by a number"));
            }
            revision = digits.to_string();
        }
        Ok(Version {
            text: text.to_string(),
            numbers,
            letter,
            suffixes,
            revision,
        })
    }

    /// The version as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The numeric components as written (`["1", "02", "3"]` for `1.02.3`).
    pub fn numbers(&self) -> &[String] {
        &self.numbers
    }

    /// The letter after the numeric components, if any.
    pub fn letter(&self) -> Option<char> {
        self.letter
    }

    /// The `_alpha`/`_beta`/`_pre`/`_rc`/`_p` suffixes in order.
    pub fn suffixes(&self) -> &[Suffix] {
        &self.suffixes
    }

    /// The revision number (`0` when absent).
    pub fn revision(&self) -> u64 {
        digits_value(&self.revision)
    }

    /// The version without its revision (`1.2-r3` gives `1.2`).
    pub fn without_revision(&self) -> Version {
        let text = match self.text.rfind("-r") {
            Some(at) if !self.revision.is_empty() => self.text[..at].to_string(),
            _ => self.text.clone(),
        };
        Version {
            text,
            revision: String::new(),
            ..self.clone()
        }
    }

    /// Whether `self` starts with every component of `prefix`, as the `=cat/pkg-1.2*` atom
    /// operator asks: `1.2*` matches `1.2`, `1.2.3` and `1.2_rc1`, but not `1.20`.
    pub fn starts_with(&self, prefix: &Version) -> bool {
        if prefix.numbers.len() > self.numbers.len() {
            return false;
        }
        for (index, (mine, theirs)) in self.numbers.iter().zip(&prefix.numbers).enumerate() {
            if compare_component(index, mine, theirs) != Ordering::Equal {
                return false;
            }
        }
        let exact_numbers = prefix.numbers.len() == self.numbers.len();
        if prefix.letter.is_none() && prefix.suffixes.is_empty() && prefix.revision.is_empty() {
            return true;
        }
        if !exact_numbers || prefix.letter != self.letter {
            return false;
        }
        if prefix.suffixes.len() > self.suffixes.len() {
            return false;
        }
        for (mine, theirs) in self.suffixes.iter().zip(&prefix.suffixes) {
            if mine.kind != theirs.kind
                || digits_value(&mine.number) != digits_value(&theirs.number)
            {
                return false;
            }
        }
        if prefix.revision.is_empty() {
            return true;
        }
        prefix.suffixes.len() == self.suffixes.len() && self.revision() == prefix.revision()
    }
}

/// Value of a digit string; overlong values saturate (they only occur in absurd versions and
/// still compare consistently with each other through [`compare_digits`]).
fn digits_value(digits: &str) -> u64 {
    digits
        .parse()
        .unwrap_or(if digits.is_empty() { 0 } else { u64::MAX })
}

/// Compares two strings of digits as non-negative integers of any length.
fn compare_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares the `index`-th numeric components. The first one is always an integer; a later one
/// with a leading zero in either version compares as a string with trailing zeros removed.
fn compare_component(index: usize, a: &str, b: &str) -> Ordering {
    if index > 0 && (a.starts_with('0') || b.starts_with('0')) {
        a.trim_end_matches('0').cmp(b.trim_end_matches('0'))
    } else {
        compare_digits(a, b)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        for (index, (a, b)) in self.numbers.iter().zip(&other.numbers).enumerate() {
            let order = compare_component(index, a, b);
            if order != Ordering::Equal {
                return order;
            }
        }
        let order = self.numbers.len().cmp(&other.numbers.len());
        if order != Ordering::Equal {
            return order;
        }
        let order = match (self.letter, other.letter) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
        for (a, b) in self.suffixes.iter().zip(&other.suffixes) {
            let order = a
                .kind
                .cmp(&b.kind)
                .then_with(|| compare_digits(&a.number, &b.number));
            if order != Ordering::Equal {
                return order;
            }
        }
        let common = self.suffixes.len().min(other.suffixes.len());
        if let Some(extra) = self.suffixes.get(common) {
            return if extra.kind == SuffixKind::P {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        if let Some(extra) = other.suffixes.get(common) {
            return if extra.kind == SuffixKind::P {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        compare_digits(&self.revision, &other.revision)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Version {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Version::parse(text)
    }
}

impl fmt::Display for SuffixKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    /// `(a, expected ordering of a against b, b)`, following the PMS comparison algorithm step
    /// by step: numeric components, leading-zero components, letters, suffixes, revisions.
    const CASES: &[(&str, Ordering, &str)] = &[
        // first component: always an integer
        ("1", Ordering::Equal, "1"),
        ("2", Ordering::Greater, "1"),
        ("10", Ordering::Greater, "9"),
        ("01", Ordering::Equal, "1"),
        ("001", Ordering::Less, "2"),
        (
            "12345678901234567890",
            Ordering::Greater,
            "12345678901234567889",
        ),
        // later components: integers unless a leading zero is involved
        ("1.2", Ordering::Less, "1.10"),
        ("1.10", Ordering::Greater, "1.9"),
        ("1.01", Ordering::Less, "1.1"),
        ("1.001", Ordering::Less, "1.01"),
        ("1.010", Ordering::Equal, "1.01"),
        ("1.0", Ordering::Equal, "1.00"),
        ("1.05", Ordering::Greater, "1.045"),
        ("1.0.2", Ordering::Less, "1.1"),
        ("1.09", Ordering::Less, "1.1"),
        // more components win when the common ones are equal
        ("1.0", Ordering::Greater, "1"),
        ("1.2.3", Ordering::Greater, "1.2"),
        ("1.2.0", Ordering::Greater, "1.2"),
        ("2", Ordering::Greater, "1.999"),
        // letters
        ("1.2a", Ordering::Greater, "1.2"),
        ("1.2b", Ordering::Greater, "1.2a"),
        ("1.2z", Ordering::Less, "1.2.1"),
        ("1.2a", Ordering::Less, "1.3"),
        // suffix precedence
        ("1_alpha", Ordering::Less, "1_beta"),
        ("1_beta", Ordering::Less, "1_pre"),
        ("1_pre", Ordering::Less, "1_rc"),
        ("1_rc", Ordering::Less, "1"),
        ("1", Ordering::Less, "1_p"),
        ("1_rc9", Ordering::Less, "1_p0"),
        ("1_alpha", Ordering::Equal, "1_alpha0"),
        ("1_alpha2", Ordering::Less, "1_alpha10"),
        ("1_p1", Ordering::Less, "1_p2"),
        ("1_p", Ordering::Equal, "1_p0"),
        // extra suffixes: _p after the common ones sorts later, anything else earlier
        ("1_rc1_p1", Ordering::Greater, "1_rc1"),
        ("1_rc1_pre1", Ordering::Less, "1_rc1"),
        ("1_alpha_beta", Ordering::Less, "1_alpha"),
        ("1_p1_alpha", Ordering::Less, "1_p1"),
        ("1_p1_p1", Ordering::Greater, "1_p1"),
        ("1.2_rc1", Ordering::Less, "1.2a_alpha"),
        ("1.2_p3", Ordering::Less, "1.2.1_alpha"),
        // revisions
        ("1-r1", Ordering::Greater, "1"),
        ("1-r0", Ordering::Equal, "1"),
        ("1-r10", Ordering::Greater, "1-r9"),
        ("1-r01", Ordering::Equal, "1-r1"),
        ("1.1-r9", Ordering::Less, "1.1.0"),
        ("1_p1", Ordering::Greater, "1-r99"),
        ("1.2.3-r1", Ordering::Less, "1.2.3_p1"),
    ];

    #[test]
    fn comparisons_follow_the_pms_algorithm() {
        for (a, expected, b) in CASES {
            assert_eq!(v(a).cmp(&v(b)), *expected, "{a} vs {b}");
            assert_eq!(v(b).cmp(&v(a)), expected.reverse(), "{b} vs {a}");
        }
        assert!(CASES.len() >= 40);
    }

    #[test]
    fn rejects_malformed_versions() {
        for bad in [
            "",
            "a1",
            "1.",
            ".1",
            "1..2",
            "1ab",
            "1_gamma",
            "1-r",
            "1-rx",
            "1_p1-r1-r2",
            "1-1",
            "1A",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn keeps_spelling_and_splits_revision() {
        let version = v("1.02b_rc3-r4");
        assert_eq!(version.to_string(), "1.02b_rc3-r4");
        assert_eq!(version.numbers(), ["1", "02"]);
        assert_eq!(version.letter(), Some('b'));
        assert_eq!(
            version.suffixes(),
            [Suffix {
                kind: SuffixKind::Rc,
                number: "3".into()
            }]
        );
        assert_eq!(version.revision(), 4);
        assert_eq!(version.without_revision().as_str(), "1.02b_rc3");
    }

    #[test]
    fn prefix_matching_is_per_component() {
        assert!(v("1.2").starts_with(&v("1.2")));
        assert!(v("1.2.3").starts_with(&v("1.2")));
        assert!(v("1.2_rc1").starts_with(&v("1.2")));
        assert!(v("1.2-r5").starts_with(&v("1.2")));
        assert!(!v("1.20").starts_with(&v("1.2")));
        assert!(!v("1").starts_with(&v("1.2")));
        assert!(v("1.2_rc1_p2").starts_with(&v("1.2_rc1")));
        assert!(!v("1.2_rc2").starts_with(&v("1.2_rc1")));
        assert!(v("1.2-r1").starts_with(&v("1.2-r1")));
    }

    #[test]
    fn versions_follow_pms() {
        for text in [
            "1",
            "1.2.3",
            "1.2b",
            "1_rc1",
            "1.0_p20240101",
            "2-r1",
            "0_alpha_beta",
        ] {
            assert!(Version::parse(text).is_ok(), "{text}");
        }
        for text in ["", "a", "1.", ".1", "1-r", "1_x", "1.2B", "1-rx"] {
            assert!(Version::parse(text).is_err(), "{text}");
        }
    }
}
