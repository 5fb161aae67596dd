//! Turns the syntax tree of a definition into the typed model, checking every value on the
//! way so that each problem is reported at its exact place in the file.
//!
//! This module holds the [`Reader`] itself: how it records diagnostics, the typed readers
//! that every setting is built from (strings, booleans, whole numbers, objects with their
//! duplicate keys) and the JSON paths that name a value in a diagnostic. Each setting of the
//! format is read in the submodule for its concern:
//!
//! - [`definition`]: the top level and the block of settings it shares with arch blocks and
//!   variants;
//! - [`keys`]: which keys each block may hold, and the old keys that are no longer read;
//! - [`file_names`]: the image and variant names, `outfile` and `profile`;
//! - [`lists`]: package lists, `mask`, `services` and `binpkg_excludes`;
//! - [`portage`]: per-package maps (USE flags, keywords, licenses, environment files) and the
//!   circular dependency breaker;
//! - [`accounts`]: users and groups;
//! - [`commands`]: setup commands;
//! - [`ports`]: the network services the appliance offers;
//! - [`layers`]: `arch` blocks and `variants`.

mod accounts;
mod commands;
mod definition;
mod file_names;
mod keys;
mod layers;
mod lists;
mod portage;
mod ports;

use std::collections::HashMap;
use std::path::Path;

use jsonc_parser::ast::{Object, ObjectProp, ObjectPropName, Value};
use jsonc_parser::common::{Range, Ranged};

use crate::diagnostic::{Diagnostic, Severity};
use crate::location::LineIndex;
use crate::model::Base;

/// Diagnostics kept in full; beyond this only a count is reported.
const MAX_DIAGNOSTICS: usize = 500;

/// Reads one definition file.
pub(crate) struct Reader<'s> {
    source: &'s str,
    file: &'s Path,
    lines: LineIndex,
    base: Base,
    /// `base` names no base genpack knows: checks that depend on it (package names, profiles,
    /// Portage-only keys) are skipped, so one wrong word gives one error.
    base_unknown: bool,
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
            base_unknown: false,
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
            message: visible(message.into()),
            file: self.file.to_path_buf(),
            line,
            column,
            end_line,
            end_column,
            path: visible(path.to_string()),
            help: help.map(visible),
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

    pub(super) fn warning(
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

    // ----- typed values -----

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
}

// ----- helpers -----

pub(crate) fn prop_name(prop: &ObjectProp) -> String {
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

/// `text` with control characters other than line breaks and tabs spelled out (`\0`,
/// `\u{1b}`): a value quoted in a message must show what is really there, not be invisible
/// or move the terminal's cursor.
fn visible(text: String) -> String {
    let hidden = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(hidden) {
        return text;
    }
    text.chars()
        .map(|c| match c {
            '\0' => "\\0".to_string(),
            '\r' => "\\r".to_string(),
            c if hidden(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_messages_are_spelled_out() {
        assert_eq!(visible("`a\0b` is bad".into()), "`a\\0b` is bad");
        assert_eq!(visible("x\u{1b}[31m".into()), "x\\u{1b}[31m");
        assert_eq!(visible("two\nlines\tok".into()), "two\nlines\tok");
    }

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
}
