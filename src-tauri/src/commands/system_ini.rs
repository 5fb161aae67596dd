//! system.ini: the schema-driven settings editor. The file's text is the source of truth;
//! edits go through genpack-ini's lossless document, so comments, order and unknown keys stay.

use crate::error::{CommandError, CommandResult};
use genpack_ini::{Document, Issue, Schema, SchemaSource, Severity};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// One section of the file with its keys, in file order.
#[derive(Debug, Serialize, TS)]
#[ts(rename = "IniSection")]
pub struct Section {
    pub name: String,
    pub entries: Vec<genpack_ini::Entry>,
}

/// The engine's reading of a system.ini text.
#[derive(Debug, Serialize, TS)]
pub struct IniAnalysis {
    pub sections: Vec<Section>,
    /// Parse problems and validation findings, by line.
    pub issues: Vec<Issue>,
}

/// An opened system.ini.
#[derive(Debug, Serialize, TS)]
pub struct IniView {
    pub path: PathBuf,
    pub text: String,
    #[serde(flatten)]
    pub analysis: IniAnalysis,
}

/// The text after form edits, with its reading.
#[derive(Debug, Serialize, TS)]
pub struct IniEditResult {
    pub text: String,
    #[serde(flatten)]
    pub analysis: IniAnalysis,
}

/// Sets `key` in `section` to `value`, or removes it when `value` is None.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct IniEdit {
    pub section: String,
    pub key: String,
    pub value: Option<String>,
}

/// The schema the editor's form is built from. This is the one place the schema comes from:
/// today the keys genpack-init applies; an image's own schema slots in here.
fn schema() -> CommandResult<Schema> {
    genpack_ini::load_schema(SchemaSource::Builtin)
        .map_err(|error| CommandError::invalid(error.to_string()))
}

/// Reads `text`: its sections and keys, and every problem (parse errors first, by line).
pub fn analyze(text: &str, schema: &Schema) -> IniAnalysis {
    let (document, issues) = match Document::parse(text) {
        Ok(document) => {
            let issues = genpack_ini::validate(&document, schema);
            (document, issues)
        }
        Err(error) => {
            let issues = error
                .errors
                .iter()
                .map(|problem| Issue {
                    line: problem.line,
                    section: None,
                    key: None,
                    severity: Severity::Error,
                    message: problem.to_string(),
                })
                .collect();
            (Document::parse_lenient(text), issues)
        }
    };
    let sections = document
        .sections()
        .into_iter()
        .map(|name| Section {
            entries: document.entries(&name),
            name,
        })
        .collect();
    IniAnalysis { sections, issues }
}

fn read_text(path: &Path) -> CommandResult<String> {
    let bytes = std::fs::read(path).map_err(|source| CommandError::io("read", path, source))?;
    String::from_utf8(bytes).map_err(|error| {
        CommandError::invalid(format!(
            "{} is not UTF-8 text (byte {}); save it as UTF-8",
            path.display(),
            error.utf8_error().valid_up_to()
        ))
    })
}

/// The keys the form shows, with types, defaults and help.
#[tauri::command]
pub fn ini_schema() -> CommandResult<Schema> {
    schema()
}

/// Time zone names for the searchable list.
#[tauri::command]
pub fn ini_timezones() -> Vec<String> {
    genpack_ini::timezones()
}

/// Opens a system.ini file.
#[tauri::command]
pub fn ini_open(path: PathBuf) -> CommandResult<IniView> {
    let text = read_text(&path)?;
    let analysis = analyze(&text, &schema()?);
    Ok(IniView {
        path,
        text,
        analysis,
    })
}

/// Reads text typed in the raw editor.
#[tauri::command]
pub fn ini_analyze(text: String) -> CommandResult<IniAnalysis> {
    Ok(analyze(&text, &schema()?))
}

/// Applies form edits, keeping comments, order and unknown keys.
#[tauri::command]
pub fn ini_edit(text: String, edits: Vec<IniEdit>) -> CommandResult<IniEditResult> {
    let text = apply_edits(&text, &edits)?;
    let analysis = analyze(&text, &schema()?);
    Ok(IniEditResult { text, analysis })
}

/// Applies `edits` in order through the lossless document.
pub fn apply_edits(text: &str, edits: &[IniEdit]) -> CommandResult<String> {
    let mut document = Document::parse_lenient(text);
    for edit in edits {
        let result = match &edit.value {
            Some(value) => document.set(&edit.section, &edit.key, value),
            None => document.remove(&edit.section, &edit.key).map(|_| ()),
        };
        result.map_err(|error| CommandError::invalid(error.to_string()))?;
    }
    Ok(document.to_string())
}

/// Checks the text and writes it atomically, exactly as given. A text with errors is refused.
#[tauri::command]
pub fn ini_save(path: PathBuf, text: String) -> CommandResult<()> {
    let analysis = analyze(&text, &schema()?);
    let errors: Vec<String> = analysis
        .issues
        .iter()
        .filter(|issue| issue.severity == Severity::Error)
        .map(|issue| format!("line {}: {}", issue.line, issue.message))
        .collect();
    if !errors.is_empty() {
        return Err(CommandError::invalid(format!(
            "not saved, the file has errors:\n{}",
            errors.join("\n")
        )));
    }
    genpack_ini::write_atomic(&path, text.as_bytes())
        .map_err(|error| CommandError::io("save", &path, std::io::Error::other(error.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "# the name\nhostname = box\n\n; a note\nmy_own_key = keep me\n\n[custom]\nanswer = 42\n";

    #[test]
    fn form_edits_keep_comments_and_unknown_keys() {
        let edits = [
            IniEdit {
                section: "_default".into(),
                key: "hostname".into(),
                value: Some("renamed".into()),
            },
            IniEdit {
                section: "_default".into(),
                key: "timezone".into(),
                value: Some("Europe/Berlin".into()),
            },
        ];
        let text = apply_edits(TEXT, &edits).unwrap();
        for line in [
            "# the name",
            "; a note",
            "my_own_key = keep me",
            "[custom]",
            "answer = 42",
        ] {
            assert!(text.contains(line), "{line:?} lost in:\n{text}");
        }
        assert!(text.contains("renamed"));
        assert!(text.contains("Europe/Berlin"));
    }

    #[test]
    fn the_reading_lists_every_section_and_key() {
        let analysis = analyze(TEXT, &schema().unwrap());
        let names: Vec<_> = analysis.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["_default", "custom"]);
        assert_eq!(analysis.sections[0].entries[1].key, "my_own_key");
        assert_eq!(analysis.sections[1].entries[0].line, 8);
    }

    #[test]
    fn parse_errors_become_issues_at_their_line() {
        let analysis = analyze("hostname = a\nthis line is wrong\n", &schema().unwrap());
        assert!(analysis
            .issues
            .iter()
            .any(|issue| issue.line == 2 && issue.severity == Severity::Error));
    }

    #[test]
    fn save_refuses_errors_and_writes_text_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ini");
        std::fs::write(&path, TEXT).unwrap();
        let error = ini_save(path.clone(), "broken line\n".into()).unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::Invalid);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TEXT);
        ini_save(path.clone(), TEXT.into()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TEXT);
    }
}
