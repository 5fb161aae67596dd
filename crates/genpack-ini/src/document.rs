//! The lossless system.ini document.
//!
//! The document keeps every line exactly as written (comments, blank lines, spacing, line
//! endings, a missing final newline) and reads it with the rules of Python's `configparser`
//! as the boot-time reader applies them: the file is read as if `[_default]` preceded it.
//!
//! # Reading rules
//! - Keys before any `[section]` header belong to [`DEFAULT_SECTION`] (`_default`).
//! - Keys are case-insensitive (`Hostname` and `hostname` are one key; the written spelling is
//!   kept); section names are case-sensitive.
//! - `key = value` or `key: value`; the key ends at the first `=` or `:`.
//! - Only whole-line comments exist (`#` or `;` as the first non-blank character); an inline
//!   `#` is part of the value.
//! - A line indented deeper than its key line continues the value (multi-line values such as
//!   several SSH keys); the lines are joined with `\n`, each trimmed. Blank lines inside a
//!   value are kept as empty lines, trailing ones dropped; comment lines inside are skipped.
//! - A section or key that appears twice is an error, as is an explicit `[_default]` header.
//!
//! # `%` escaping
//! configparser interpolates values: `%%` means a literal `%` and `%(name)s` inserts another
//! key of the same section; any other `%` makes the boot-time read fail. [`Document::set`]
//! therefore writes every `%` of a value as `%%`, and [`Document::get`] undoes it, so callers
//! always deal in plain text. [`Document::value`] is the strict reader used at boot; it reports
//! a lone `%` as an error.

use std::fmt;

use crate::error::{EditError, LineError, LineErrorKind, ParseError, ValueError, ValueErrorKind};

/// Name of the implicit section holding the keys written before the first header.
pub const DEFAULT_SECTION: &str = "_default";

/// configparser's own defaults section: its keys are visible from every section.
const CONFIGPARSER_DEFAULTS: &str = "DEFAULT";

/// How deeply `%(name)s` references may nest before configparser gives up.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// One physical line: its text without the line ending, and the ending itself.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RawLine {
    text: String,
    ending: &'static str,
}

/// How a line was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineKind {
    Blank,
    Comment,
    Header,
    Entry,
    Continuation,
    Invalid,
}

/// One key of one section, as located in the lines.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EntryInfo {
    /// The key as written (trimmed).
    key: String,
    /// Index of the key line.
    line: usize,
    /// Byte offset in the key line where the value starts.
    value_start: usize,
    /// Exclusive end of the lines belonging to the value.
    span_end: usize,
    /// Value pieces: first-line value, then one per blank or continuation line.
    parts: Vec<String>,
}

impl EntryInfo {
    /// The value as configparser stores it, before interpolation.
    fn raw_value(&self) -> String {
        self.parts.join("\n").trim_end().to_string()
    }
}

/// One section occurrence (the implicit `_default` one has no header line).
#[derive(Clone, Debug, PartialEq, Eq)]
struct SectionInfo {
    name: String,
    header_line: Option<usize>,
    entries: Vec<EntryInfo>,
}

/// The structure derived from the lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Index {
    kinds: Vec<LineKind>,
    sections: Vec<SectionInfo>,
    problems: Vec<LineError>,
}

/// A key and its value, as listed by [`Document::entries`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(rename = "IniEntry")]
pub struct Entry {
    /// The key as written in the file.
    pub key: String,
    /// The value as [`Document::get`] returns it.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// A serialisable picture of a document for front ends: every section with its keys, and
/// the parse problems.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocumentView {
    /// Sections in order (`_default` first), each with its keys in file order.
    pub sections: Vec<SectionView>,
    /// Problems found while parsing.
    pub problems: Vec<LineError>,
}

/// One section of a [`DocumentView`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SectionView {
    /// Section name (`_default` for keys before any header).
    pub name: String,
    /// Its keys, values as [`Document::get`] reads them.
    pub entries: Vec<Entry>,
}

/// A system.ini file, kept line for line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    lines: Vec<RawLine>,
    index: Index,
}

impl Default for Document {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Document {
    /// Writes the document back; byte-identical to the parsed text when nothing was edited.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            f.write_str(&line.text)?;
            f.write_str(line.ending)?;
        }
        Ok(())
    }
}

impl Document {
    /// An empty document.
    pub fn new() -> Self {
        Self::from_lines(Vec::new())
    }

    /// Parses a document, refusing files the boot-time reader would reject.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let doc = Self::parse_lenient(text);
        if doc.index.problems.is_empty() {
            Ok(doc)
        } else {
            Err(ParseError {
                errors: doc.index.problems.clone(),
            })
        }
    }

    /// Parses any text. Malformed lines are kept verbatim and listed by [`Document::problems`];
    /// for a repeated section or key the first occurrence wins.
    pub fn parse_lenient(text: &str) -> Self {
        Self::from_lines(split_lines(text))
    }

    /// Problems found while parsing (empty for a document that [`Document::parse`] accepts).
    pub fn problems(&self) -> &[LineError] {
        &self.index.problems
    }

    /// All sections and keys, for sending to a front end.
    pub fn view(&self) -> DocumentView {
        DocumentView {
            sections: self
                .sections()
                .into_iter()
                .map(|name| SectionView {
                    entries: self.entries(&name),
                    name,
                })
                .collect(),
            problems: self.index.problems.clone(),
        }
    }

    /// Section names in order of first appearance; `_default` is always first.
    pub fn sections(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for section in &self.index.sections {
            if !names.contains(&section.name) {
                names.push(section.name.clone());
            }
        }
        names
    }

    /// Whether a section exists (`_default` always does).
    pub fn has_section(&self, section: &str) -> bool {
        self.index.sections.iter().any(|s| s.name == section)
    }

    /// The keys of a section in file order, with their values as [`Document::get`] reads them.
    pub fn entries(&self, section: &str) -> Vec<Entry> {
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for info in self.index.sections.iter().filter(|s| s.name == section) {
            for entry in &info.entries {
                let folded = fold_key(&entry.key);
                if seen.contains(&folded) {
                    continue;
                }
                seen.push(folded);
                out.push(Entry {
                    key: entry.key.clone(),
                    value: unescape_lenient(&entry.raw_value()),
                    line: entry.line + 1,
                });
            }
        }
        out
    }

    /// 1-based line of a key, if set.
    pub fn line_of(&self, section: &str, key: &str) -> Option<usize> {
        self.find(section, key).map(|(_, e)| e.line + 1)
    }

    /// The value exactly as stored: continuation lines joined with `\n`, `%` not processed.
    pub fn raw(&self, section: &str, key: &str) -> Option<String> {
        self.find(section, key).map(|(_, e)| e.raw_value())
    }

    /// The value of a key for display and editing: continuation lines joined with `\n` and
    /// `%%` turned back into `%`. Never fails: a `%` that configparser would reject is
    /// returned as written (validation reports it). Falls back to configparser's `[DEFAULT]`
    /// section like configparser does.
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        self.lookup(section, key)
            .map(|(_, e)| unescape_lenient(&e.raw_value()))
    }

    /// The value exactly as the boot-time reader gets it, with `%%` and `%(name)s`
    /// interpolation; a lone `%` or a reference to a missing key is an error.
    pub fn value(&self, section: &str, key: &str) -> Result<Option<String>, ValueError> {
        let Some((found_in, entry)) = self.lookup(section, key) else {
            return Ok(None);
        };
        let mut out = String::new();
        self.interpolate(section, &entry.raw_value(), 1, &mut out)
            .map_err(|message| ValueError {
                section: found_in.to_string(),
                key: entry.key.clone(),
                line: entry.line + 1,
                kind: ValueErrorKind::Interpolation(message),
            })?;
        Ok(Some(out))
    }

    /// A yes/no value: `1/yes/true/on` or `0/no/false/off`, any case.
    pub fn get_bool(&self, section: &str, key: &str) -> Result<Option<bool>, ValueError> {
        let Some(value) = self.value(section, key)? else {
            return Ok(None);
        };
        if let Some(b) = parse_bool(&value) {
            return Ok(Some(b));
        }
        let (found_in, entry) = self
            .lookup(section, key)
            .map(|(s, e)| (s.to_string(), e.key.clone(), e.line + 1))
            .map(|(s, k, l)| (s, (k, l)))
            .unwrap_or_else(|| (section.to_string(), (key.to_string(), 0)));
        Err(ValueError {
            section: found_in,
            key: entry.0,
            line: entry.1,
            kind: ValueErrorKind::NotABoolean(value),
        })
    }

    /// Sets a key to a plain-text value.
    ///
    /// - An existing key is replaced in place, keeping its spelling, indentation and the
    ///   delimiter with its spacing; comments inside an old multi-line value are kept.
    /// - A new key goes after the last key of its section (for `_default`: after the last key
    ///   before the first header); a missing section is appended at the end of the file.
    ///   A `[_default]` header is never written.
    /// - A value with several lines is written as indented continuation lines; each line is
    ///   trimmed and trailing empty lines are dropped (configparser cannot keep them).
    /// - Every `%` is written as `%%`.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<(), EditError> {
        check_section_name(section)?;
        check_key(key)?;
        let value_lines = value_lines(key, value)?;
        let before = self.clone();
        match self.find(section, key).map(|(_, e)| e.clone()) {
            Some(entry) => self.replace_entry(&entry, &value_lines),
            None => self.insert_entry(section, key.trim(), &value_lines),
        }
        self.reindex();
        let expected = value_lines.join("\n").trim_end().to_string();
        if self.raw(section, key).as_deref() != Some(expected.as_str())
            || !self.same_meaning_except(&before, section, key)
        {
            *self = before;
            return Err(EditError::WouldChangeMeaning {
                key: key.to_string(),
            });
        }
        Ok(())
    }

    /// Sets a yes/no key, written as `yes` or `no`.
    pub fn set_bool(&mut self, section: &str, key: &str, value: bool) -> Result<(), EditError> {
        self.set(section, key, if value { "yes" } else { "no" })
    }

    /// Removes a key with its continuation lines (comments are kept). Returns whether the key
    /// was present.
    pub fn remove(&mut self, section: &str, key: &str) -> Result<bool, EditError> {
        let Some(entry) = self.find(section, key).map(|(_, e)| e.clone()) else {
            return Ok(false);
        };
        let before = self.clone();
        let kinds = self.index.kinds.clone();
        let mut keep = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.drain(..).enumerate() {
            let in_span = i >= entry.line && i < entry.span_end;
            let drop = in_span
                && (i == entry.line
                    || matches!(kinds[i], LineKind::Continuation | LineKind::Blank));
            if !drop {
                keep.push(line);
            }
        }
        self.lines = keep;
        self.reindex();
        if self.find(section, key).is_some() || !self.same_meaning_except(&before, section, key) {
            *self = before;
            return Err(EditError::WouldChangeMeaning {
                key: key.to_string(),
            });
        }
        Ok(true)
    }

    /// Removes a whole `[section]`: the comment lines directly above its header, the header
    /// and every line up to the next header (comments and blank lines just before the next
    /// header stay with it). For `_default`, only its keys are removed. Returns
    /// whether the section existed.
    pub fn remove_section(&mut self, section: &str) -> Result<bool, EditError> {
        if section == DEFAULT_SECTION {
            let keys: Vec<String> = self.entries(section).into_iter().map(|e| e.key).collect();
            for key in &keys {
                self.remove(section, key)?;
            }
            return Ok(!keys.is_empty());
        }
        let headers: Vec<usize> = self
            .index
            .sections
            .iter()
            .filter(|s| s.name == section)
            .filter_map(|s| s.header_line)
            .collect();
        if headers.is_empty() {
            return Ok(false);
        }
        let before = self.clone();
        let kinds = self.index.kinds.clone();
        let mut drop = vec![false; self.lines.len()];
        for start in headers {
            let end = (start + 1..kinds.len())
                .find(|&i| kinds[i] == LineKind::Header)
                .unwrap_or(kinds.len());
            // Comments and blank lines right before the next header belong to it.
            let mut keep_from = end;
            while keep_from > start + 1
                && matches!(kinds[keep_from - 1], LineKind::Blank | LineKind::Comment)
                && end < kinds.len()
            {
                keep_from -= 1;
            }
            // Comment lines directly above the header describe it.
            let mut from = start;
            while from > 0 && kinds[from - 1] == LineKind::Comment {
                from -= 1;
            }
            for flag in &mut drop[from..keep_from] {
                *flag = true;
            }
        }
        let mut i = 0;
        self.lines.retain(|_| {
            let keep = !drop[i];
            i += 1;
            keep
        });
        // Keep a missing final newline missing.
        if before.lines.last().is_some_and(|l| l.ending.is_empty()) {
            if let Some(last) = self.lines.last_mut() {
                last.ending = "";
            }
        }
        self.reindex();
        let unchanged_elsewhere = self.sections().iter().filter(|s| *s != section).all(|s| {
            self.entries(s)
                .iter()
                .map(|e| (e.key.to_lowercase(), self.raw(s, &e.key)))
                .eq(before
                    .entries(s)
                    .iter()
                    .map(|e| (e.key.to_lowercase(), before.raw(s, &e.key))))
        });
        if self.has_section(section) || !unchanged_elsewhere {
            *self = before;
            return Err(EditError::WouldChangeMeaning {
                key: format!("[{section}]"),
            });
        }
        Ok(true)
    }

    fn from_lines(lines: Vec<RawLine>) -> Self {
        let mut doc = Self {
            lines,
            index: Index::default(),
        };
        doc.reindex();
        doc
    }

    fn reindex(&mut self) {
        self.index = analyze(&self.lines);
    }

    /// The first occurrence of a key in a section (all occurrences of the section searched).
    fn find(&self, section: &str, key: &str) -> Option<(&str, &EntryInfo)> {
        let folded = fold_key(key);
        self.index
            .sections
            .iter()
            .filter(|s| s.name == section)
            .flat_map(|s| s.entries.iter().map(move |e| (s.name.as_str(), e)))
            .find(|(_, e)| fold_key(&e.key) == folded)
    }

    /// Like [`Document::find`], falling back to configparser's `[DEFAULT]` section.
    fn lookup(&self, section: &str, key: &str) -> Option<(&str, &EntryInfo)> {
        self.find(section, key)
            .or_else(|| self.find(CONFIGPARSER_DEFAULTS, key))
    }

    fn interpolate(
        &self,
        section: &str,
        raw: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(format!(
                "`%(…)s` references nest more than {MAX_INTERPOLATION_DEPTH} deep"
            ));
        }
        let mut rest = raw;
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            let next = rest[1..].chars().next();
            match next {
                Some('%') => {
                    out.push('%');
                    rest = &rest[2..];
                }
                Some('(') => {
                    let Some(name) = reference_name(&rest[2..]) else {
                        return Err(format!("bad interpolation variable reference `{rest}`"));
                    };
                    let close = 2 + name.len();
                    let referenced = self
                        .lookup(section, name)
                        .map(|(_, e)| e.raw_value())
                        .ok_or_else(|| format!("`%({name})s` refers to a key that is not set"))?;
                    if referenced.contains('%') {
                        self.interpolate(section, &referenced, depth + 1, out)?;
                    } else {
                        out.push_str(&referenced);
                    }
                    rest = &rest[close + 2..];
                }
                _ => {
                    return Err(format!(
                        "'%' must be followed by '%' or '(', found `{rest}`"
                    ))
                }
            }
        }
        out.push_str(rest);
        Ok(())
    }

    /// Whether every key other than `(section, key)` reads the same as in `before`.
    fn same_meaning_except(&self, before: &Document, section: &str, key: &str) -> bool {
        let folded = fold_key(key);
        let snapshot = |doc: &Document| -> Vec<(String, String, String)> {
            let mut all = Vec::new();
            for name in doc.sections() {
                for entry in doc.entries(&name) {
                    if name == section && fold_key(&entry.key) == folded {
                        continue;
                    }
                    let raw = doc.raw(&name, &entry.key).unwrap_or_default();
                    all.push((name.clone(), fold_key(&entry.key), raw));
                }
            }
            all
        };
        snapshot(self) == snapshot(before)
    }

    fn default_ending(&self) -> &'static str {
        self.lines
            .iter()
            .map(|l| l.ending)
            .find(|e| !e.is_empty())
            .unwrap_or("\n")
    }

    /// Inserts lines before index `at`, keeping a missing final newline missing.
    fn insert_lines(&mut self, at: usize, texts: Vec<String>) {
        if texts.is_empty() {
            return;
        }
        let ending = self.default_ending();
        let at_end = at == self.lines.len();
        let mut new: Vec<RawLine> = texts
            .into_iter()
            .map(|text| RawLine { text, ending })
            .collect();
        if at_end {
            if let Some(last) = self.lines.last_mut() {
                if last.ending.is_empty() {
                    last.ending = ending;
                    if let Some(l) = new.last_mut() {
                        l.ending = "";
                    }
                }
            }
        }
        if at == 0 {
            // A byte-order mark stays at the very start of the file.
            if let Some(rest) = self
                .lines
                .first()
                .and_then(|l| l.text.strip_prefix('\u{feff}'))
            {
                let rest = rest.to_string();
                self.lines[0].text = rest;
                if let Some(first) = new.first_mut() {
                    first.text.insert(0, '\u{feff}');
                }
            }
        }
        self.lines.splice(at..at, new);
    }

    fn replace_entry(&mut self, entry: &EntryInfo, value_lines: &[String]) {
        let line = &self.lines[entry.line];
        let mut prefix = line.text[..entry.value_start].to_string();
        let first = value_lines.first().cloned().unwrap_or_default();
        if entry.value_start == line.text.len()
            && !first.is_empty()
            && !prefix.ends_with(char::is_whitespace)
        {
            // `key =` with an empty value: put a space after the delimiter if one precedes it.
            let before_delim = prefix.trim_end_matches(['=', ':']);
            if before_delim.ends_with(char::is_whitespace) {
                prefix.push(' ');
            }
        }
        let new_first = format!("{prefix}{first}").trim_end().to_string();
        let indent = self.continuation_indent(entry);
        let ending = self.lines[entry.line].ending;
        // Keep comments of the old value; drop its value lines.
        let kept_comments: Vec<RawLine> = (entry.line + 1..entry.span_end)
            .filter(|&i| self.index.kinds[i] == LineKind::Comment)
            .map(|i| self.lines[i].clone())
            .collect();
        let last_ending = self.lines[entry.span_end - 1].ending;
        let mut replacement = vec![RawLine {
            text: new_first,
            ending,
        }];
        for extra in &value_lines[1..] {
            let text = if extra.is_empty() {
                String::new()
            } else {
                format!("{indent}{extra}")
            };
            replacement.push(RawLine {
                text,
                ending: self.default_ending(),
            });
        }
        replacement.extend(kept_comments);
        // The last line keeps the ending the old span ended with (possibly none).
        let n = replacement.len();
        for (i, l) in replacement.iter_mut().enumerate() {
            if i + 1 == n {
                l.ending = last_ending;
            } else if l.ending.is_empty() {
                l.ending = self.default_ending();
            }
        }
        self.lines.splice(entry.line..entry.span_end, replacement);
    }

    /// Indentation for continuation lines: that of the existing continuation lines, else the
    /// key's indentation plus four spaces.
    fn continuation_indent(&self, entry: &EntryInfo) -> String {
        for i in entry.line + 1..entry.span_end {
            if self.index.kinds[i] == LineKind::Continuation {
                return leading_whitespace(&self.lines[i].text).to_string();
            }
        }
        format!("{}    ", leading_whitespace(&self.lines[entry.line].text))
    }

    fn insert_entry(&mut self, section: &str, key: &str, value_lines: &[String]) {
        let first = value_lines.first().cloned().unwrap_or_default();
        let key_line = |indent: &str| {
            if first.is_empty() {
                format!("{indent}{key} =")
            } else {
                format!("{indent}{key} = {first}")
            }
        };
        let continuation = |indent: &str| -> Vec<String> {
            value_lines[1..]
                .iter()
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{indent}    {l}")
                    }
                })
                .collect()
        };
        let existing = self
            .index
            .sections
            .iter()
            .find(|s| s.name == section)
            .cloned();
        match existing {
            Some(info) => {
                let (at, indent) = match info.entries.last() {
                    Some(last) => (
                        last.span_end,
                        leading_whitespace(&self.lines[last.line].text).to_string(),
                    ),
                    None => match info.header_line {
                        Some(h) => (h + 1, String::new()),
                        None => (self.default_insertion_point(), String::new()),
                    },
                };
                let mut texts = vec![key_line(&indent)];
                texts.extend(continuation(&indent));
                // Keep the first default key apart from what follows (a comment or header).
                let before_content = self
                    .index
                    .kinds
                    .get(at)
                    .is_some_and(|k| *k != LineKind::Blank);
                if section == DEFAULT_SECTION && info.entries.is_empty() && before_content {
                    texts.push(String::new());
                }
                self.insert_lines(at, texts);
            }
            None => {
                let mut texts = Vec::new();
                let last_blank = self.lines.last().is_none_or(|l| l.text.trim().is_empty());
                if !last_blank {
                    texts.push(String::new());
                }
                texts.push(format!("[{section}]"));
                texts.push(key_line(""));
                texts.extend(continuation(""));
                let at = self.lines.len();
                self.insert_lines(at, texts);
            }
        }
    }

    /// Where the first `_default` key goes: before the comments and blank lines directly
    /// above the first header, or at the end of a file without headers.
    fn default_insertion_point(&self) -> usize {
        let kinds = &self.index.kinds;
        let Some(first_header) = kinds.iter().position(|k| *k == LineKind::Header) else {
            return self.lines.len();
        };
        let mut at = first_header;
        while at > 0 && matches!(kinds[at - 1], LineKind::Blank | LineKind::Comment) {
            at -= 1;
        }
        at
    }
}

/// Keys are compared case-insensitively, as configparser's `optionxform` lowercases them.
fn fold_key(key: &str) -> String {
    key.trim().to_lowercase()
}

/// Parses a configparser boolean.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Writes every `%` as `%%`, so configparser reads the text back unchanged.
pub fn escape_percent(value: &str) -> String {
    value.replace('%', "%%")
}

/// Turns `%%` back into `%`; any other `%` is kept as written.
pub fn unescape_lenient(raw: &str) -> String {
    raw.replace("%%", "%")
}

/// Whether a stored value contains a `%` that is neither `%%` nor a `%(name)s` reference.
pub fn has_lone_percent(raw: &str) -> bool {
    let mut rest = raw;
    while let Some(p) = rest.find('%') {
        let after = &rest[p + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            match reference_name(tail) {
                Some(name) => rest = &tail[name.len() + 2..],
                None => return true,
            }
        } else {
            return true;
        }
    }
    false
}

/// The `name` of a `%(name)s` reference, given the text after `%(`.
fn reference_name(tail: &str) -> Option<&str> {
    let close = tail.find(')')?;
    (close > 0 && tail[close + 1..].starts_with('s')).then(|| &tail[..close])
}

fn check_section_name(section: &str) -> Result<(), EditError> {
    if section.trim().is_empty() || section.contains(['\n', '\r']) {
        return Err(EditError::InvalidSection(section.to_string()));
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), EditError> {
    let k = key.trim();
    let bad = k.is_empty() || k.contains(['=', ':', '\n', '\r']) || k.starts_with(['#', ';', '[']);
    if bad {
        return Err(EditError::InvalidKey(key.to_string()));
    }
    Ok(())
}

/// Splits a plain value into the escaped lines to write.
fn value_lines(key: &str, value: &str) -> Result<Vec<String>, EditError> {
    let mut lines: Vec<String> = value
        .split('\n')
        .map(|l| escape_percent(l.trim()))
        .collect();
    while lines.len() > 1 && lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    for (i, line) in lines.iter().enumerate().skip(1) {
        if line.starts_with(['#', ';']) {
            return Err(EditError::CommentInValue {
                key: key.to_string(),
                line_in_value: i + 1,
            });
        }
    }
    Ok(lines)
}

fn leading_whitespace(text: &str) -> &str {
    let end = text.len() - text.trim_start().len();
    &text[..end]
}

/// Splits text into lines, keeping each line's ending (`\n`, `\r\n` or none for the last).
fn split_lines(text: &str) -> Vec<RawLine> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find('\n') {
            Some(p) => {
                let (body, ending) = if p > 0 && rest.as_bytes()[p - 1] == b'\r' {
                    (&rest[..p - 1], "\r\n")
                } else {
                    (&rest[..p], "\n")
                };
                lines.push(RawLine {
                    text: body.to_string(),
                    ending,
                });
                rest = &rest[p + 1..];
            }
            None => {
                lines.push(RawLine {
                    text: rest.to_string(),
                    ending: "",
                });
                rest = "";
            }
        }
    }
    lines
}

/// Reads the lines with configparser's algorithm (strict mode, `empty_lines_in_values`).
fn analyze(lines: &[RawLine]) -> Index {
    let mut index = Index {
        kinds: Vec::with_capacity(lines.len()),
        sections: vec![SectionInfo {
            name: DEFAULT_SECTION.to_string(),
            header_line: None,
            entries: Vec::new(),
        }],
        problems: Vec::new(),
    };
    // Current section (index into `sections`), current entry, indentation of the last
    // key or header line.
    let mut current = 0usize;
    let mut current_entry: Option<usize> = None;
    let mut indent_level = 0usize;
    let mut first_header_line: Vec<(String, usize)> = Vec::new();
    let mut first_key_line: Vec<(String, String, usize)> = Vec::new();

    for (i, raw) in lines.iter().enumerate() {
        let text = if i == 0 {
            raw.text.strip_prefix('\u{feff}').unwrap_or(&raw.text)
        } else {
            raw.text.as_str()
        };
        let stripped = text.trim();
        if stripped.starts_with(['#', ';']) {
            index.kinds.push(LineKind::Comment);
            continue;
        }
        if stripped.is_empty() {
            index.kinds.push(LineKind::Blank);
            if let Some(e) = current_entry {
                index.sections[current].entries[e].parts.push(String::new());
            }
            continue;
        }
        let indent = text.chars().take_while(|c| c.is_whitespace()).count();
        if let Some(e) = current_entry {
            if indent > indent_level {
                index.kinds.push(LineKind::Continuation);
                let entry = &mut index.sections[current].entries[e];
                entry.parts.push(stripped.to_string());
                entry.span_end = i + 1;
                continue;
            }
        }
        indent_level = indent;
        if let Some(name) = section_header(stripped) {
            index.kinds.push(LineKind::Header);
            current_entry = None;
            if name == DEFAULT_SECTION {
                index.problems.push(LineError {
                    line: i + 1,
                    kind: LineErrorKind::DefaultSectionHeader,
                });
            } else if let Some((_, first)) = first_header_line.iter().find(|(n, _)| n == name) {
                index.problems.push(LineError {
                    line: i + 1,
                    kind: LineErrorKind::DuplicateSection {
                        name: name.to_string(),
                        first_line: *first,
                    },
                });
            } else {
                first_header_line.push((name.to_string(), i + 1));
            }
            index.sections.push(SectionInfo {
                name: name.to_string(),
                header_line: Some(i),
                entries: Vec::new(),
            });
            current = index.sections.len() - 1;
            continue;
        }
        let Some(delim) = stripped.find(['=', ':']) else {
            index.kinds.push(LineKind::Invalid);
            index.problems.push(LineError {
                line: i + 1,
                kind: LineErrorKind::MissingDelimiter {
                    text: stripped.to_string(),
                },
            });
            continue;
        };
        let key = stripped[..delim].trim_end();
        if key.is_empty() {
            index.kinds.push(LineKind::Invalid);
            index.problems.push(LineError {
                line: i + 1,
                kind: LineErrorKind::EmptyKey {
                    text: stripped.to_string(),
                },
            });
            continue;
        }
        index.kinds.push(LineKind::Entry);
        // Byte offset of the value inside the raw line.
        let bom_len = raw.text.len() - text.len();
        let body_start = bom_len + text.len() - text.trim_start().len();
        let after_delim = &stripped[delim + 1..];
        let value = after_delim.trim_start();
        let value_start = body_start + delim + 1 + (after_delim.len() - value.len());
        let section_name = index.sections[current].name.clone();
        let folded = fold_key(key);
        if let Some((_, _, first)) = first_key_line
            .iter()
            .find(|(s, k, _)| *s == section_name && *k == folded)
        {
            index.problems.push(LineError {
                line: i + 1,
                kind: LineErrorKind::DuplicateKey {
                    section: section_name,
                    key: key.to_string(),
                    first_line: *first,
                },
            });
        } else {
            first_key_line.push((section_name, folded, i + 1));
        }
        let entries = &mut index.sections[current].entries;
        entries.push(EntryInfo {
            key: key.to_string(),
            line: i,
            value_start: value_start.min(raw.text.len()),
            span_end: i + 1,
            parts: vec![value.trim_end().to_string()],
        });
        current_entry = Some(entries.len() - 1);
    }
    index
}

/// configparser's `\[(?P<header>.+)\]` matched at the start of the stripped line.
fn section_header(stripped: &str) -> Option<&str> {
    let inner = stripped.strip_prefix('[')?;
    let close = inner.rfind(']')?;
    (close > 0).then(|| &inner[..close])
}
