//! JSON5 parsing options and friendly syntax error messages.

use jsonc_parser::errors::{ParseError, ParseErrorKind};
use jsonc_parser::{ParseOptions, ParseStringErrorKind};

/// JSON5 as `genpack.json5` files use it: comments, unquoted keys, single-quoted strings,
/// trailing commas, hexadecimal numbers, `+1`, `.5`, `Infinity` and `NaN`, and JSON5 string
/// escapes. Missing commas are errors, as in JSON5.
pub(crate) fn json5_options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_loose_object_property_names: true,
        allow_trailing_commas: true,
        allow_missing_commas: false,
        allow_single_quoted_strings: true,
        allow_hexadecimal_numbers: true,
        allow_unary_plus_numbers: true,
        allow_bare_decimal_point_numbers: true,
        allow_non_finite_numbers: true,
        allow_extended_string_escapes: true,
    }
}

/// The byte order mark some editors (Notepad) put at the start of UTF-8 files.
pub(crate) const BOM: char = '\u{feff}';

/// `text` for the parser: a leading byte order mark (whitespace to JSON5, unknown to the
/// parser) becomes spaces of the same byte length, so every offset stays where it was.
pub(crate) fn without_bom(text: &str) -> std::borrow::Cow<'_, str> {
    match text.strip_prefix(BOM) {
        Some(rest) => format!("{}{rest}", " ".repeat(BOM.len_utf8())).into(),
        None => text.into(),
    }
}

/// A syntax error as `(byte offset, message, help)`.
pub(crate) fn describe(error: &ParseError) -> (usize, String, Option<String>) {
    use ParseErrorKind as K;
    let range = error.range();
    let at = range.start;
    let (message, help): (String, Option<&str>) = match error.kind() {
        K::ExpectedColonAfterObjectKey => ("expected `:` after the key".into(), Some("write entries as `key: value`")),
        K::ExpectedObjectValue => ("expected a value after `:`".into(), None),
        K::ExpectedComma => (
            "expected `,` between entries".into(),
            Some("separate list items and object entries with commas"),
        ),
        K::ExpectedStringObjectProperty | K::UnexpectedTokenInObject => (
            "expected a key or `}`".into(),
            Some("keys are names like `packages` or quoted strings like `\"media-libs/mesa\"`"),
        ),
        K::UnterminatedArray => (
            "this list is never closed: expected `]`".into(),
            Some("every `[` needs a matching `]`"),
        ),
        K::UnterminatedObject => (
            "this object is never closed: expected `}`".into(),
            Some("every `{` needs a matching `}`"),
        ),
        K::UnterminatedCommentBlock => ("this comment is never closed: expected `*/`".into(), None),
        K::UnexpectedCloseBrace => ("unexpected `}`: expected a value".into(), None),
        K::UnexpectedCloseBracket => ("unexpected `]`: expected a value".into(), None),
        K::UnexpectedColon => ("unexpected `:`: expected a value".into(), None),
        K::UnexpectedComma => (
            "unexpected `,`: expected a value".into(),
            Some("remove the extra comma"),
        ),
        K::UnexpectedWord => (
            "unexpected word: expected a value".into(),
            Some("text values need quotes, like \"app-misc/screen\"; the bare words allowed are true, false, null, Infinity and NaN"),
        ),
        K::UnexpectedToken => ("unexpected character: expected a value".into(), None),
        K::MultipleRootJsonValues => (
            "unexpected text after the end of the definition: expected the end of the file".into(),
            Some("the whole definition is one `{ ... }`; comments may follow it"),
        ),
        K::String(ParseStringErrorKind::UnterminatedStringLiteral) => (
            "this string is never closed: expected a closing quote".into(),
            Some("a string must end on the line where it starts (or use `\\` at the end of the line)"),
        ),
        K::String(kind) => (format!("invalid string: {}", lower_first(&kind.to_string())), None),
        K::NestingDepthExceeded => ("values are nested too deeply".into(), None),
        other => (lower_first(&other.to_string()), None),
    };
    (at, message, help.map(str::to_string))
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
