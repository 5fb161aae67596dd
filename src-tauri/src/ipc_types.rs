//! The TypeScript types of everything the window and the commands exchange, generated from the
//! Rust types (`ts_rs::TS`, which follows their serde attributes) into one file of the front
//! end, `ui/src/lib/generated/ipc.ts`.
//!
//! The test fails when the checked-in file is not what the Rust types say, so the window never
//! reads a shape the commands do not send. After changing such a type, regenerate the file:
//!
//! ```text
//! GENPACK_UPDATE_TYPES=1 cargo test -p genpack-studio --bin genpack-studio ipc_types
//! ```

use crate::commands::build::{BuildChoices, BuildOutput, BuildResult};
use crate::commands::definition::{Analysis, EditOp, EditResult, ProjectView};
use crate::commands::flash::{
    DriveList, DrivesChanged, EjectResult, FlashRequest, Layout, SeenDrive, StickIni, StickOutcome,
};
use crate::commands::system_ini::{IniAnalysis, IniEdit, IniEditResult, IniView, SettingsFor};
use crate::commands::vm::{ConsoleEvent, VmStarted, VmTarget, VmViewer};
use crate::commands::Startup;
use crate::error::CommandError;
use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use ts_rs::{Config, TypeVisitor, TS};

/// The generated file, in the repository.
const GENERATED: &str = "ui/src/lib/generated/ipc.ts";

/// Set to rewrite the generated file instead of comparing it.
const UPDATE_VARIABLE: &str = "GENPACK_UPDATE_TYPES";

const HEADER: &str = "\
// The shapes the studio's commands take and return, generated from their Rust types (src-tauri
// and the engine crates) by ts-rs. Do not edit: change the Rust type, then regenerate with
//   GENPACK_UPDATE_TYPES=1 cargo test -p genpack-studio --bin genpack-studio ipc_types
";

/// Every type a command takes or returns or sends through a channel, apart from plain values
/// (strings, numbers, lists of them, JSON). The types they hold come along by themselves.
fn visit_command_types(visitor: &mut impl TypeVisitor) {
    visitor.visit::<CommandError>();
    // start page, gallery, definition
    visitor.visit::<Startup>();
    visitor.visit::<genpack_gallery::Template>();
    visitor.visit::<crate::commands::gallery::ProjectPlace>();
    visitor.visit::<genpack_build::needs::GentooNeeds>();
    visitor.visit::<ProjectView>();
    visitor.visit::<Analysis>();
    visitor.visit::<EditOp>();
    visitor.visit::<EditResult>();
    // system.ini
    visitor.visit::<genpack_ini::Schema>();
    visitor.visit::<SettingsFor>();
    visitor.visit::<genpack_install::SettingsSchema>();
    visitor.visit::<IniView>();
    visitor.visit::<IniAnalysis>();
    visitor.visit::<IniEdit>();
    visitor.visit::<IniEditResult>();
    // build
    visitor.visit::<BuildChoices>();
    visitor.visit::<BuildOutput>();
    visitor.visit::<genpack_build::EmergeOptions>();
    visitor.visit::<genpack_build::Progress>();
    visitor.visit::<BuildResult>();
    // virtual machine
    visitor.visit::<VmTarget>();
    visitor.visit::<VmStarted>();
    visitor.visit::<genpack_vm::VmStatus>();
    visitor.visit::<genpack_vm::ConnectInfo>();
    visitor.visit::<genpack_vm::StopOutcome>();
    visitor.visit::<VmViewer>();
    visitor.visit::<ConsoleEvent>();
    // flash and export
    visitor.visit::<DriveList>();
    visitor.visit::<DrivesChanged>();
    visitor.visit::<genpack_install::ExportFormat>();
    visitor.visit::<Layout>();
    visitor.visit::<SeenDrive>();
    visitor.visit::<genpack_install::drive::ImageFile>();
    visitor.visit::<FlashRequest>();
    visitor.visit::<StickOutcome>();
    visitor.visit::<genpack_install::drive::DriveProgress>();
    visitor.visit::<genpack_install::drive::DriveWriteReport>();
    visitor.visit::<genpack_install::drive::RestoreReport>();
    visitor.visit::<EjectResult>();
    visitor.visit::<StickIni>();
}

/// Collects the declaration of every visited type and of everything it holds, by TypeScript
/// name.
struct Declarations<'a> {
    config: &'a Config,
    seen: HashSet<TypeId>,
    /// TypeScript name → (Rust type, declaration).
    by_name: BTreeMap<String, (&'static str, String)>,
    /// Two Rust types that would share one TypeScript name.
    clashes: Vec<String>,
}

impl TypeVisitor for Declarations<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        // Only named types have a declaration; lists, options and plain values are written
        // inline where they are used.
        if T::output_path().is_some() {
            let mut declaration = T::docs().unwrap_or_default();
            declaration.push_str("export ");
            declaration.push_str(&indent_fields(&T::decl(self.config)));
            let rust = std::any::type_name::<T>();
            let name = T::ident(self.config);
            // A type that stands in for another (serde_json's Value for ts-rs's JsonValue)
            // declares the same thing under the same name.
            let previous = self.by_name.insert(name, (rust, declaration.clone()));
            if let Some((other, _)) = previous.filter(|(_, earlier)| *earlier != declaration) {
                self.clashes.push(format!(
                    "{rust} and {other} are both called {} in TypeScript: give one a \
                     #[ts(rename = \"...\")]",
                    T::ident(self.config)
                ));
            }
        }
        T::visit_dependencies(self);
        T::visit_generics(self);
    }
}

/// ts-rs writes each field of a declaration (and its doc comment) on a line of its own with no
/// indentation: indents them under the first line and drops trailing spaces.
fn indent_fields(declaration: &str) -> String {
    let mut lines = declaration.lines();
    let mut text = lines.next().unwrap_or_default().trim_end().to_string();
    for line in lines {
        text.push_str("\n  ");
        text.push_str(line.trim_end());
    }
    text
}

/// The text of the generated file.
fn render() -> String {
    // JSON numbers reach the window as `number`, 64-bit ones too.
    let config = Config::new().with_large_int("number");
    let mut declarations = Declarations {
        config: &config,
        seen: HashSet::new(),
        by_name: BTreeMap::new(),
        clashes: Vec::new(),
    };
    visit_command_types(&mut declarations);
    assert!(
        declarations.clashes.is_empty(),
        "{}",
        declarations.clashes.join("\n")
    );
    let mut text = HEADER.to_string();
    for (_, declaration) in declarations.by_name.values() {
        text.push('\n');
        text.push_str(declaration);
        text.push('\n');
    }
    text
}

fn generated_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(GENERATED)
}

/// Where `expected` and `found` first differ, as two numbered lines.
fn first_difference(expected: &str, found: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut found_lines = found.lines();
    for number in 1.. {
        match (expected_lines.next(), found_lines.next()) {
            (Some(want), Some(have)) if want == have => continue,
            (None, None) => break,
            (want, have) => {
                return format!(
                    "line {number}:\n  the Rust types say: {}\n  the file says:      {}",
                    want.unwrap_or("(end of file)"),
                    have.unwrap_or("(end of file)")
                )
            }
        }
    }
    "the files differ only in line endings".to_string()
}

#[test]
fn the_checked_in_typescript_types_are_the_rust_types() {
    let path = generated_path();
    let expected = render();
    if std::env::var_os(UPDATE_VARIABLE).is_some_and(|value| !value.is_empty()) {
        let options = genpack_util::AtomicOptions {
            create_parents: true,
            ..Default::default()
        };
        genpack_util::write_atomic_with(&path, expected.as_bytes(), options)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        return;
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "{GENERATED} is not what the Rust types say; regenerate it with\n  \
         {UPDATE_VARIABLE}=1 cargo test -p genpack-studio --bin genpack-studio ipc_types\n\
         and commit it. First difference, {}",
        first_difference(&expected, &found)
    );
}

#[test]
fn every_type_is_declared_once_with_what_it_holds() {
    let text = render();
    for name in [
        "CommandError",
        "ErrorKind",
        "Diagnostic",
        "DiagnosticSeverity",
        "TemplateMeta",
        "IniKeySpec",
        "IniKind",
        "BuildProgress",
        "BuildPhase",
        "Binhost",
        "InputDevices",
        "FlashProgress",
        "FlashPhase",
        "FlashTable",
        "JsonValue",
    ] {
        let declaration = format!("export type {name} =");
        assert_eq!(
            text.matches(&declaration).count(),
            1,
            "{name} is declared once:\n{text}"
        );
    }
}
