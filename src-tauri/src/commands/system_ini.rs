//! system.ini: the schema-driven settings editor. The file's text is the source of truth;
//! edits go through genpack-ini's lossless document, so comments, order and unknown keys stay.

use crate::error::{CommandError, CommandResult};
use genpack_ini::{Document, Issue, Schema, Severity};
use genpack_install::{settings_schema, SchemaPlace, SettingsSchema};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
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

/// Whose settings the editor shows: it decides which image's keys the form offers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, TS)]
#[ts(rename = "SettingsFor")]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SettingsFor {
    /// A project: the image its build writes for this machine's architecture (else the
    /// definition's first) and the default variant.
    Project { dir: PathBuf },
    /// An image file.
    Image { path: PathBuf },
    /// A stick or disk image written by genpack: its system.img.
    Stick { drive: PathBuf },
    /// No image: genpack-init's built-in keys.
    Builtin,
}

impl SettingsFor {
    /// Where the engine looks for the schema.
    fn place(&self) -> SchemaPlace {
        match self {
            SettingsFor::Project { dir } => project_image(dir).map_or_else(
                || {
                    SchemaPlace::NoImage(
                        "the project's image is not known until its definition reads without errors (see Define)"
                            .into(),
                    )
                },
                SchemaPlace::Image,
            ),
            SettingsFor::Image { path } => SchemaPlace::Image(path.clone()),
            SettingsFor::Stick { drive } => SchemaPlace::Disk(drive.clone()),
            SettingsFor::Builtin => {
                SchemaPlace::NoImage("this file belongs to no project or stick".into())
            }
        }
    }
}

/// The image the project in `dir` builds for this machine (or its first architecture) and its
/// default variant.
fn project_image(dir: &Path) -> Option<PathBuf> {
    let project = genpack_def::Project::load(dir).ok()?;
    let arches = project.definition.arch_names();
    let arch = genpack_def::Arch::host()
        .filter(|host| arches.is_empty() || arches.contains(host))
        .or_else(|| arches.first().copied())?;
    project.image_path(arch, None).ok()
}

/// Schemas read when an editor opened, by whose settings it shows: typing in the editor
/// re-checks the text without reading the image again.
fn schemas() -> &'static Mutex<HashMap<SettingsFor, SettingsSchema>> {
    static SCHEMAS: OnceLock<Mutex<HashMap<SettingsFor, SettingsSchema>>> = OnceLock::new();
    SCHEMAS.get_or_init(Default::default)
}

/// Reads the schema for `settings` afresh (from the image, else the built-in one with why).
fn load_schema(settings: &SettingsFor) -> SettingsSchema {
    let found = settings_schema(&settings.place());
    schemas()
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .insert(settings.clone(), found.clone());
    found
}

/// The schema the editor's form is built from: the one read when the editor opened.
fn schema(settings: Option<&SettingsFor>) -> Schema {
    let settings = settings.cloned().unwrap_or(SettingsFor::Builtin);
    let cached = schemas()
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .get(&settings)
        .map(|found| found.schema.clone());
    cached.unwrap_or_else(|| load_schema(&settings).schema)
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

/// The keys the form shows, with types, defaults and help, and where they came from (the
/// image's own, or the built-in ones and why). Reads the image each time an editor opens.
#[tauri::command]
pub async fn ini_schema(settings: Option<SettingsFor>) -> CommandResult<SettingsSchema> {
    tauri::async_runtime::spawn_blocking(move || {
        load_schema(&settings.unwrap_or(SettingsFor::Builtin))
    })
    .await
    .map_err(|error| CommandError::stopped("schema reader", error))
}

/// Time zone names for the searchable list.
#[tauri::command]
pub fn ini_timezones() -> Vec<String> {
    genpack_ini::timezones()
}

/// Opens a system.ini file.
#[tauri::command]
pub fn ini_open(path: PathBuf, settings: Option<SettingsFor>) -> CommandResult<IniView> {
    let text = read_text(&path)?;
    let analysis = analyze(&text, &schema(settings.as_ref()));
    Ok(IniView {
        path,
        text,
        analysis,
    })
}

/// Reads text typed in the raw editor.
#[tauri::command]
pub fn ini_analyze(text: String, settings: Option<SettingsFor>) -> CommandResult<IniAnalysis> {
    Ok(analyze(&text, &schema(settings.as_ref())))
}

/// Applies form edits, keeping comments, order and unknown keys.
#[tauri::command]
pub fn ini_edit(
    text: String,
    edits: Vec<IniEdit>,
    settings: Option<SettingsFor>,
) -> CommandResult<IniEditResult> {
    let text = apply_edits(&text, &edits)?;
    let analysis = analyze(&text, &schema(settings.as_ref()));
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
pub fn ini_save(path: PathBuf, text: String, settings: Option<SettingsFor>) -> CommandResult<()> {
    let analysis = analyze(&text, &schema(settings.as_ref()));
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
    use genpack_install::SchemaOrigin;

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
        let analysis = analyze(TEXT, &schema(None));
        let names: Vec<_> = analysis.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["_default", "custom"]);
        assert_eq!(analysis.sections[0].entries[1].key, "my_own_key");
        assert_eq!(analysis.sections[1].entries[0].line, 8);
    }

    #[test]
    fn parse_errors_become_issues_at_their_line() {
        let analysis = analyze("hostname = a\nthis line is wrong\n", &schema(None));
        assert!(analysis
            .issues
            .iter()
            .any(|issue| issue.line == 2 && issue.severity == Severity::Error));
    }

    const KIOSK_HELP: &str = "The web page the kiosk shows full screen after it starts.";

    /// A project folder holding the image its build writes for this machine, whose schema
    /// declares `kiosk_url` (a drop-in module's key).
    fn project_with_kiosk_image() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("genpack.json5"),
            r#"{ name: "kiosk", base: "debian:bookworm" }"#,
        )
        .unwrap();
        let image = project_image(dir.path()).unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join(".genpack")).unwrap();
        std::fs::create_dir_all(tree.join("usr/share/genpack")).unwrap();
        std::fs::write(tree.join(".genpack/artifact"), "kiosk\n").unwrap();
        std::fs::write(tree.join(".genpack/timestamp"), "1700000000\n").unwrap();
        let mut schema = Schema::builtin();
        schema.merge(Schema {
            keys: vec![genpack_ini::KeySpec {
                section: "_default".into(),
                key: "kiosk_url".into(),
                title: "Kiosk page".into(),
                kind: genpack_ini::Kind::String,
                default: None,
                help: KIOSK_HELP.into(),
                module: "70kiosk".into(),
                applied_every_boot: true,
                group: "Kiosk".into(),
            }],
        });
        std::fs::write(
            tree.join("usr/share/genpack/system-ini.schema.json"),
            schema.to_json(),
        )
        .unwrap();
        (dir, image)
    }

    fn pack(dir: &Path, image: &Path) {
        let packed = std::process::Command::new("mksquashfs")
            .arg(dir.join("tree"))
            .arg(image)
            .args(["-noappend", "-quiet", "-no-progress"])
            .status()
            .expect("mksquashfs (squashfs-tools) is installed");
        assert!(packed.success());
    }

    fn is_unused_note(issue: &Issue) -> bool {
        issue.key.as_deref() == Some("kiosk_url")
            && issue.message.contains("not used by this image")
    }

    fn schema_for(settings: &SettingsFor) -> SettingsSchema {
        tauri::async_runtime::block_on(ini_schema(Some(settings.clone()))).unwrap()
    }

    #[test]
    fn the_form_offers_the_keys_of_the_project_s_built_image() {
        let (dir, image) = project_with_kiosk_image();
        let settings = SettingsFor::Project {
            dir: dir.path().to_path_buf(),
        };
        let text = "hostname = lobby\nkiosk_url = https://example.org/\n";

        // Not built yet: the built-in keys, and the note says so.
        let found = schema_for(&settings);
        let SchemaOrigin::Builtin { reason } = &found.origin else {
            panic!("{:?}", found.origin)
        };
        assert!(reason.contains("not built yet"), "{reason}");
        assert!(found.schema.find("_default", "kiosk_url").is_none());
        let analysis = ini_analyze(text.into(), Some(settings.clone())).unwrap();
        assert!(analysis.issues.iter().any(is_unused_note));

        // Built: the image's own keys, with their help, and the analysis knows kiosk_url.
        pack(dir.path(), &image);
        let found = schema_for(&settings);
        assert_eq!(
            found.origin,
            SchemaOrigin::Image {
                image: image.clone(),
                built_at: Some(1_700_000_000)
            }
        );
        let spec = found.schema.find("_default", "kiosk_url").unwrap();
        assert_eq!(spec.help, KIOSK_HELP);
        assert_eq!(spec.group, "Kiosk");
        let analysis = ini_analyze(text.into(), Some(settings.clone())).unwrap();
        assert!(
            !analysis.issues.iter().any(is_unused_note),
            "{:?}",
            analysis.issues
        );
        let edited = ini_edit(
            text.into(),
            vec![IniEdit {
                section: "_default".into(),
                key: "kiosk_url".into(),
                value: Some("not a page".into()),
            }],
            Some(settings),
        )
        .unwrap();
        assert!(edited.text.contains("kiosk_url = not a page"));
        assert!(!edited.analysis.issues.iter().any(is_unused_note));

        // The same text with the built-in keys only: kiosk_url is not known.
        let analysis = ini_analyze(text.into(), None).unwrap();
        assert!(analysis.issues.iter().any(is_unused_note));
        let SchemaOrigin::Builtin { reason } = schema_for(&SettingsFor::Builtin).origin else {
            panic!("a file of no project has the built-in keys")
        };
        assert!(reason.contains("belongs to no project"), "{reason}");
    }

    #[test]
    fn save_refuses_errors_and_writes_text_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ini");
        std::fs::write(&path, TEXT).unwrap();
        let error = ini_save(path.clone(), "broken line\n".into(), None).unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::Invalid);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TEXT);
        ini_save(path.clone(), TEXT.into(), None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TEXT);
    }
}
