//! genpack.json5: opening projects, reading text, applying form edits, the effective result
//! and saving. The text is the source of truth; every edit goes through genpack-def's lossless
//! editor, so comments and layout survive and an unchanged file stays byte-identical.

use crate::error::{CommandError, CommandResult};
use crate::Studio;
use genpack_def::{edit::Document, parse_definition, Arch, Base, Diagnostic, Project, Segment};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tauri::State;
use ts_rs::TS;

/// The engine's reading of a definition text.
#[derive(Debug, Serialize, TS)]
pub struct Analysis {
    /// The document as plain data, exactly as written (None when the text is not JSON5).
    pub value: Option<Value>,
    /// The typed definition (None when the text cannot be read as one).
    pub definition: Option<Value>,
    /// Errors, warnings and notes with line:column.
    pub diagnostics: Vec<Diagnostic>,
    /// The architectures the definition builds for.
    pub arches: Vec<String>,
    /// The variant names, in file order.
    pub variants: Vec<String>,
    /// Why the package names were not checked against the base's package index (none on
    /// disk before the first build), when they were not.
    pub packages_unchecked: Option<String>,
}

/// An opened project.
#[derive(Debug, Serialize, TS)]
pub struct ProjectView {
    pub dir: PathBuf,
    pub file: PathBuf,
    /// The image name (the definition's `name`, else the folder name).
    pub name: String,
    pub text: String,
    /// The project's system.ini, when it has one.
    pub system_ini: Option<PathBuf>,
    #[serde(flatten)]
    pub analysis: Analysis,
}

/// The text after form edits, with its reading.
#[derive(Debug, Serialize, TS)]
pub struct EditResult {
    pub text: String,
    #[serde(flatten)]
    pub analysis: Analysis,
}

/// One step of a path as the window sends it: a key or a list index.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(untagged)]
pub enum PathStep {
    Index(usize),
    Key(String),
}

impl From<PathStep> for Segment {
    fn from(step: PathStep) -> Segment {
        match step {
            PathStep::Index(index) => Segment::Index(index),
            PathStep::Key(key) => Segment::Key(key),
        }
    }
}

/// One change a form asks for.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum EditOp {
    /// Replace (or add) the value at `path`.
    Set { path: Vec<PathStep>, value: Value },
    /// Add `value` at the end of the list at `path`.
    Append { path: Vec<PathStep>, value: Value },
    /// Delete the value at `path`.
    Remove { path: Vec<PathStep> },
}

fn segments(path: Vec<PathStep>) -> Vec<Segment> {
    path.into_iter().map(Segment::from).collect()
}

/// Reads `text` as the definition in `file`, with its package names checked against the
/// package index of its base for this machine's architecture.
pub fn analyze(text: &str, file: &Path) -> Analysis {
    let mut parsed = parse_definition(text, file);
    let mut packages_unchecked = None;
    if let (Some(definition), Some(arch)) = (&parsed.definition, Arch::host()) {
        let project = Project {
            dir: file.parent().unwrap_or(Path::new(".")).to_path_buf(),
            file: file.to_path_buf(),
            source: text.to_string(),
            definition: definition.clone(),
            diagnostics: Vec::new(),
        };
        let check = genpack_build::package_index::check_packages(
            &project,
            text,
            arch,
            &genpack_build::cache_root(),
        );
        if let genpack_build::package_index::IndexState::NotCheckedYet { reason } = check.state {
            packages_unchecked = Some(reason);
        }
        parsed.diagnostics.extend(check.diagnostics);
    }
    let value = Document::parse(text).ok().and_then(|doc| doc.get(&[]));
    let (definition, arches, variants) = match &parsed.definition {
        Some(definition) => (
            serde_json::to_value(definition).ok(),
            definition
                .arch_names()
                .into_iter()
                .map(|arch| arch.as_str().to_string())
                .collect(),
            definition
                .variant_names()
                .into_iter()
                .map(str::to_string)
                .collect(),
        ),
        None => (None, Vec::new(), Vec::new()),
    };
    Analysis {
        value,
        definition,
        diagnostics: parsed.diagnostics,
        arches,
        variants,
        packages_unchecked,
    }
}

/// Opens the project in `dir` (or the folder of a genpack.json5 given directly). A file with
/// syntax errors still opens, with its errors listed, so it can be fixed in the studio.
pub fn open_project(dir: &Path) -> CommandResult<ProjectView> {
    let dir = if dir.is_file() {
        dir.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        dir.to_path_buf()
    };
    if !dir.is_dir() {
        return Err(CommandError::not_found(&dir));
    }
    let file = Project::find(&dir)?;
    let bytes = std::fs::read(&file).map_err(|source| CommandError::io("read", &file, source))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        CommandError::invalid(format!(
            "{} is not UTF-8 text (byte {}); save it with UTF-8 encoding",
            file.display(),
            error.utf8_error().valid_up_to()
        ))
    })?;
    let analysis = analyze(&text, &file);
    let name = analysis
        .definition
        .as_ref()
        .and_then(|definition| definition.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| genpack_def::image_name(None, &file));
    let system_ini = Some(dir.join(genpack_def::SYSTEM_INI)).filter(|path| path.is_file());
    Ok(ProjectView {
        dir,
        file,
        name,
        text,
        system_ini,
        analysis,
    })
}

/// Opens a project folder and adds it to the recent projects.
#[tauri::command]
pub fn project_open(studio: State<'_, Studio>, dir: PathBuf) -> CommandResult<ProjectView> {
    let project = open_project(&dir)?;
    studio.recents.add(&project.dir)?;
    Ok(project)
}

/// The JSON Schema of genpack.json5: the form is generated from it.
#[tauri::command]
pub fn definition_schema() -> Value {
    genpack_def::definition_schema()
}

/// Reads text typed in the raw editor.
#[tauri::command]
pub fn definition_analyze(text: String, file: PathBuf) -> Analysis {
    analyze(&text, &file)
}

/// Applies form edits to the text, keeping every comment and the layout.
#[tauri::command]
pub fn definition_edit(
    text: String,
    file: PathBuf,
    edits: Vec<EditOp>,
) -> CommandResult<EditResult> {
    let text = apply_edits(&text, edits)?;
    let analysis = analyze(&text, &file);
    Ok(EditResult { text, analysis })
}

/// Applies `edits` in order to `text` through the lossless editor.
pub fn apply_edits(text: &str, edits: Vec<EditOp>) -> CommandResult<String> {
    let mut document = Document::parse(text).map_err(|error| {
        CommandError::invalid(format!(
            "the text has a syntax error at {error}; fix it in the genpack.json5 tab first"
        ))
    })?;
    for edit in edits {
        let result = match edit {
            EditOp::Set { path, value } => document.set(&segments(path), value),
            EditOp::Append { path, value } => document.append(&segments(path), value),
            EditOp::Remove { path } => document.remove(&segments(path)),
        };
        result.map_err(|error| CommandError::invalid(error.to_string()))?;
    }
    Ok(document.to_string())
}

/// The merged definition for one architecture and variant.
#[tauri::command]
pub fn definition_effective(
    text: String,
    file: PathBuf,
    arch: String,
    variant: Option<String>,
) -> CommandResult<Value> {
    let arch: Arch = arch.parse()?;
    let parsed = parse_definition(&text, &file);
    let definition = parsed.definition.ok_or_else(|| {
        CommandError::definition("the definition has errors; fix them to see the result")
    })?;
    let effective =
        definition.effective(arch, variant.as_deref().filter(|name| !name.is_empty()))?;
    serde_json::to_value(effective).map_err(|error| CommandError::definition(error.to_string()))
}

/// Writes the text to the project's file atomically.
#[tauri::command]
pub fn definition_save(file: PathBuf, text: String) -> CommandResult<()> {
    genpack_def::save_atomic(&file, &text)
        .map_err(|error| CommandError::io("save", &file, std::io::Error::other(error.to_string())))
}

/// The profiles a definition with this base can use.
#[tauri::command]
pub fn definition_profiles(base: String) -> Vec<String> {
    let base = base.parse::<Base>().unwrap_or_default();
    let arch = Arch::host().unwrap_or(Arch::X86_64);
    genpack_def::available_profiles(&base, &genpack_build::base::gentoo::default_overlay(), arch)
}

/// Checks one package entry as it is typed: a Portage atom on Gentoo, a package name on
/// Debian. Returns what is wrong, or nothing.
#[tauri::command]
pub fn check_atom(atom: String, base: Option<String>) -> Option<String> {
    let debian = matches!(
        base.as_deref().map(str::parse::<Base>),
        Some(Ok(Base::Debian { .. }))
    );
    let result = if debian {
        genpack_def::validate_debian_package(&atom)
    } else {
        genpack_def::validate_atom(&atom)
    };
    result.err()
}

/// Checks a USE flag string as it is typed. Returns what is wrong, or nothing.
#[tauri::command]
pub fn check_use_flags(flags: String) -> Option<String> {
    genpack_def::validate_use_flags(&flags).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "// a comment\n{\n  name: \"demo\", // the name\n  packages: [\"app-misc/screen\"],\n}\n";

    #[test]
    fn form_edits_keep_comments() {
        let edits = vec![
            EditOp::Set {
                path: vec![PathStep::Key("name".into())],
                value: Value::String("renamed".into()),
            },
            EditOp::Append {
                path: vec![PathStep::Key("packages".into())],
                value: Value::String("app-editors/nano".into()),
            },
        ];
        let text = apply_edits(TEXT, edits).unwrap();
        assert!(text.contains("// a comment"));
        assert!(text.contains("// the name"));
        assert!(text.contains("\"renamed\""));
        assert!(text.contains("app-editors/nano"));
    }

    #[test]
    fn no_edits_leave_the_text_byte_identical() {
        assert_eq!(apply_edits(TEXT, Vec::new()).unwrap(), TEXT);
    }

    #[test]
    fn edits_arrive_as_the_window_sends_them() {
        let json = serde_json::json!([
            {"op": "set", "path": ["users", 0, "name"], "value": "admin"},
            {"op": "remove", "path": ["packages", 0]},
        ]);
        let edits: Vec<EditOp> = serde_json::from_value(json).unwrap();
        assert!(
            matches!(&edits[0], EditOp::Set { path, .. } if matches!(path[1], PathStep::Index(0)))
        );
        assert!(matches!(&edits[1], EditOp::Remove { .. }));
    }

    #[test]
    fn a_syntax_error_is_reported_at_its_line() {
        let analysis = analyze(
            "{\n  name: \"demo\",\n  packages: [\n}\n",
            Path::new("x/genpack.json5"),
        );
        let error = analysis
            .diagnostics
            .iter()
            .find(|diagnostic| diagnostic.is_error())
            .expect("an error");
        assert_eq!(error.line, 4);
        assert!(analysis.value.is_none());
    }

    #[test]
    fn the_document_value_is_what_the_file_says() {
        let analysis = analyze(TEXT, Path::new("demo/genpack.json5"));
        let value = analysis.value.unwrap();
        assert_eq!(value["name"], "demo");
        assert_eq!(value["packages"][0], "app-misc/screen");
        assert!(analysis.definition.is_some());
    }

    #[test]
    fn a_malformed_project_still_opens_with_its_errors() {
        let dir = tempfile::tempdir().unwrap();
        // The comma after the list on line 4 is missing.
        let text = "// broken\n{\n  name: \"x\",\n  packages: [\"a/b\"]\n  services: [],\n}\n";
        std::fs::write(dir.path().join("genpack.json5"), text).unwrap();
        let project = open_project(dir.path()).unwrap();
        assert_eq!(project.text, text);
        let errors: Vec<_> = project
            .analysis
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 4);
    }

    #[test]
    fn a_folder_without_a_definition_is_not_a_project() {
        let dir = tempfile::tempdir().unwrap();
        let error = open_project(dir.path()).unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::NotAProject);
    }

    #[test]
    fn debian_profiles_are_fewer() {
        assert_eq!(
            definition_profiles("debian:bookworm".into()),
            ["paravirt", "baremetal"]
        );
        assert!(definition_profiles("gentoo".into()).contains(&"gnome/baremetal".to_string()));
    }
}
