//! The two things the gallery needs from a template's `genpack.json5`: how
//! many packages it lists, and a way to set its `name` without touching
//! anything else in the file (comments, layout, quoting).

/// Counts the entries of the top-level `packages` list that add a package
/// (entries starting with `-` remove one, entries starting with `#` are
/// disabled).
pub(crate) fn package_count(definition: &serde_json::Value) -> usize {
    definition
        .get("packages")
        .and_then(serde_json::Value::as_array)
        .map(|packages| {
            packages
                .iter()
                .filter_map(serde_json::Value::as_str)
                .filter(|atom| !atom.starts_with('-') && !atom.starts_with('#'))
                .count()
        })
        .unwrap_or(0)
}

/// The outcome of [`set_name`] when the file cannot be edited.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SetNameError {
    /// The top-level `name` exists but its value is not a string.
    NotAString,
    /// The text has no top-level object to put a name into.
    NoObject,
}

/// Returns `text` with the top-level `name` set to `name`.
///
/// An existing string value is replaced in place, keeping its quote style;
/// without a `name` key, `name: "<name>",` is inserted on its own line right
/// after the opening brace. Every other byte of the file is kept. `name` must
/// already be a valid project name (it is written without escaping).
pub(crate) fn set_name(text: &str, name: &str) -> Result<String, SetNameError> {
    let tokens = tokenize(text);
    let mut depth = 0usize;
    let mut object_start = None;
    for (i, token) in tokens.iter().enumerate() {
        match token.kind {
            Kind::Open(c) => {
                if depth == 0 && c == '{' && object_start.is_none() {
                    object_start = Some(token.end);
                }
                depth += 1;
            }
            Kind::Close => depth = depth.saturating_sub(1),
            Kind::Str | Kind::Word if depth == 1 && token.key_text(text) == Some("name") => {
                let after_key_separator =
                    i == 0 || matches!(tokens[i - 1].kind, Kind::Open('{') | Kind::Comma);
                let followed_by_colon =
                    matches!(tokens.get(i + 1).map(|t| t.kind), Some(Kind::Colon));
                if !after_key_separator || !followed_by_colon {
                    continue;
                }
                return match tokens.get(i + 2) {
                    Some(value) if value.kind == Kind::Str => {
                        let quote = &text[value.start..value.start + 1];
                        Ok(format!(
                            "{}{quote}{name}{quote}{}",
                            &text[..value.start],
                            &text[value.end..]
                        ))
                    }
                    _ => Err(SetNameError::NotAString),
                };
            }
            _ => {}
        }
    }
    let brace_end = object_start.ok_or(SetNameError::NoObject)?;
    let indent = member_indent(&text[brace_end..]);
    Ok(format!(
        "{}\n{indent}name: \"{name}\",{}",
        &text[..brace_end],
        &text[brace_end..]
    ))
}

/// The indentation of the first non-blank line after the opening brace, or
/// four spaces.
fn member_indent(after_brace: &str) -> String {
    after_brace
        .lines()
        .skip(1)
        .find(|line| !line.trim().is_empty())
        .map(|line| {
            line.chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect::<String>()
        })
        .filter(|indent| !indent.is_empty())
        .unwrap_or_else(|| "    ".to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open(char),
    Close,
    Colon,
    Comma,
    /// A quoted string, quotes included.
    Str,
    /// An unquoted identifier, number or literal.
    Word,
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

impl Token {
    /// The key this token spells, if it can be an object key.
    fn key_text<'a>(&self, text: &'a str) -> Option<&'a str> {
        let raw = &text[self.start..self.end];
        match self.kind {
            Kind::Word => Some(raw),
            // Keys that need escapes never equal "name"; compare the inside.
            Kind::Str if raw.len() >= 2 => Some(&raw[1..raw.len() - 1]),
            _ => None,
        }
    }
}

/// Splits JSON5 text into the tokens that matter for finding keys, skipping
/// whitespace and comments. Malformed input yields a best-effort token list;
/// the caller only edits text it can make sense of.
fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
            }
            b'"' | b'\'' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                tokens.push(Token {
                    kind: Kind::Str,
                    start,
                    end: i,
                });
            }
            b'{' | b'[' => {
                tokens.push(Token {
                    kind: Kind::Open(b as char),
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            b'}' | b']' => {
                tokens.push(Token {
                    kind: Kind::Close,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            b':' | b',' => {
                tokens.push(Token {
                    kind: if b == b':' { Kind::Colon } else { Kind::Comma },
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            _ if b.is_ascii_whitespace() => i += 1,
            _ => {
                let start = i;
                while i < bytes.len() && !ends_word(bytes, i) {
                    i += 1;
                }
                // Step over a stray multi-byte character without splitting it.
                while i < bytes.len() && !text.is_char_boundary(i) {
                    i += 1;
                }
                if i == start {
                    i += 1;
                    continue;
                }
                tokens.push(Token {
                    kind: Kind::Word,
                    start,
                    end: i,
                });
            }
        }
    }
    tokens
}

/// True if the byte at `i` cannot be part of an unquoted word.
fn ends_word(bytes: &[u8], i: usize) -> bool {
    let b = bytes[i];
    b.is_ascii_whitespace()
        || matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"' | b'\'')
        || (b == b'/' && matches!(bytes.get(i + 1), Some(b'/' | b'*')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_an_existing_name_and_keeps_everything_else() {
        let text = "// header\n{\n    // the name\n    name: \"old\", // trailing\n    packages: [\"a/b\"],\n}\n";
        let out = set_name(text, "new-one").unwrap();
        assert_eq!(
            out,
            "// header\n{\n    // the name\n    name: \"new-one\", // trailing\n    packages: [\"a/b\"],\n}\n"
        );
    }

    #[test]
    fn keeps_single_quotes_and_quoted_keys() {
        assert_eq!(set_name("{'name': 'x'}", "y").unwrap(), "{'name': 'y'}");
        assert_eq!(
            set_name("{\"name\":\"x\"}", "y").unwrap(),
            "{\"name\":\"y\"}"
        );
    }

    #[test]
    fn ignores_names_in_nested_objects_comments_and_values() {
        let text = "{\n  // name: \"comment\"\n  users: [{name: \"user\"}],\n  title: \"name\",\n  name: \"top\",\n}";
        let out = set_name(text, "mine").unwrap();
        assert!(out.contains("{name: \"user\"}"));
        assert!(out.contains("// name: \"comment\""));
        assert!(out.contains("title: \"name\""));
        assert!(out.contains("  name: \"mine\","));
    }

    #[test]
    fn inserts_a_name_after_the_brace_with_the_file_indentation() {
        let text = "// c\n{\n\tprofile: \"paravirt\",\n}\n";
        assert_eq!(
            set_name(text, "app").unwrap(),
            "// c\n{\n\tname: \"app\",\n\tprofile: \"paravirt\",\n}\n"
        );
        assert_eq!(set_name("{}", "app").unwrap(), "{\n    name: \"app\",}");
    }

    #[test]
    fn refuses_a_non_string_name_and_text_without_an_object() {
        assert_eq!(set_name("{name: 3}", "a"), Err(SetNameError::NotAString));
        assert_eq!(
            set_name("// only a comment", "a"),
            Err(SetNameError::NoObject)
        );
    }

    #[test]
    fn counts_added_packages_only() {
        let def = serde_json::json!({"packages": ["a/b", "-c/d", "#e/f", "g/h"]});
        assert_eq!(package_count(&def), 2);
        assert_eq!(package_count(&serde_json::json!({})), 0);
    }
}
