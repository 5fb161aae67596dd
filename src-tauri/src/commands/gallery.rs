//! The template gallery: listing templates and creating projects from them.

use super::definition::{open_project, ProjectView};
use crate::error::{CommandError, CommandResult};
use crate::Studio;
use genpack_gallery::{Gallery, Template};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tauri::State;
use ts_rs::TS;

fn open_gallery() -> CommandResult<Gallery> {
    Gallery::open_default().map_err(CommandError::gallery)
}

/// Every template, in gallery order.
#[tauri::command]
pub fn gallery_templates() -> CommandResult<Vec<Template>> {
    Ok(open_gallery()?.templates().to_vec())
}

/// What creating a project named `name` in `parent_dir` would meet, checked as it is typed:
/// the engine's name rule (the same as `genpack new`), a valid name made from the text, and the
/// folder.
#[derive(Debug, Serialize, TS)]
pub struct ProjectPlace {
    /// Why the name is refused, in words; `None` when it is fine.
    pub name_problem: Option<String>,
    /// A valid name made from what was typed (`My Web Server` -> `my-web-server`), when it
    /// differs from it.
    pub suggestion: Option<String>,
    /// `<parent_dir>/<name>`.
    pub target: PathBuf,
    /// `parent_dir` does not exist yet (creating the project can make it).
    pub folder_missing: bool,
    /// Why the project cannot go to `target` (a non-empty folder, a file), if so.
    pub target_problem: Option<String>,
}

/// Checks a new project's name and folder without creating anything.
#[tauri::command]
pub fn gallery_check_project(name: String, parent_dir: PathBuf) -> ProjectPlace {
    check_place(&name, &parent_dir)
}

fn check_place(name: &str, parent_dir: &Path) -> ProjectPlace {
    let name_error = genpack_gallery::validate_name(name).err();
    let suggestion = name_error.as_ref().and_then(|error| error.suggestion());
    let target = parent_dir.join(name);
    let target_problem = match &name_error {
        Some(_) => None,
        None => genpack_gallery::check_target_dir(&target)
            .err()
            .map(|error| error.to_string()),
    };
    ProjectPlace {
        name_problem: name_error.map(|error| error.to_string()),
        suggestion,
        folder_missing: !parent_dir.as_os_str().is_empty() && !parent_dir.is_dir(),
        target,
        target_problem,
    }
}

/// What building a Gentoo definition of `packages` packages needs on this machine: the base
/// download, the expected time of the first build and the mirror (`mirror`, the studio's
/// setting, else the default).
#[tauri::command]
pub fn gentoo_needs(packages: usize, mirror: Option<String>) -> genpack_build::needs::GentooNeeds {
    let arch = genpack_def::Arch::host().unwrap_or(genpack_def::Arch::X86_64);
    genpack_build::needs::gentoo_needs(
        arch,
        packages,
        &genpack_build::cache_root(),
        mirror.as_deref(),
    )
}

/// Creates `<parent_dir>/<name>` from a template, remembers it and opens it. A missing
/// `parent_dir` is made only when `create_folder` says so.
#[tauri::command]
pub fn gallery_create_project(
    studio: State<'_, Studio>,
    template_id: String,
    name: String,
    parent_dir: PathBuf,
    create_folder: bool,
) -> CommandResult<ProjectView> {
    let created = create(
        &open_gallery()?,
        &template_id,
        &name,
        &parent_dir,
        create_folder,
    )?;
    studio.recents.add(&created)?;
    open_project(&created)
}

fn create(
    gallery: &Gallery,
    template_id: &str,
    name: &str,
    parent_dir: &Path,
    create_folder: bool,
) -> CommandResult<PathBuf> {
    if !parent_dir.is_dir() && !create_folder {
        return Err(CommandError::not_found(parent_dir).with_hint(Some(
            "choose a folder that exists, or let the studio create this one",
        )));
    }
    gallery
        .create_project(template_id, name, parent_dir.join(name))
        .map_err(CommandError::gallery)
}

/// Creates the example project `dir` from `template_id` of this installation's gallery (for
/// `--create-example`); the project is named after the folder.
pub fn create_example(template_id: &str, dir: &Path) -> CommandResult<PathBuf> {
    create_example_from(&open_gallery()?, template_id, dir)
}

fn create_example_from(gallery: &Gallery, template_id: &str, dir: &Path) -> CommandResult<PathBuf> {
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| {
            CommandError::invalid(format!("{} does not end in a folder name", dir.display()))
        })?;
    gallery
        .create_project(template_id, &name, dir)
        .map_err(CommandError::gallery)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gallery of this source tree.
    fn gallery() -> Gallery {
        Gallery::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates")).unwrap()
    }

    #[test]
    fn the_example_project_is_named_after_its_folder_and_opens() {
        let dir = tempfile::tempdir().unwrap();
        let example = dir.path().join("example");
        let created = create_example_from(&gallery(), "debian-web", &example).unwrap();
        let project = open_project(&created).unwrap();
        assert_eq!(project.name, "example");
        assert!(
            project.text.contains("name: \"example\""),
            "{}",
            project.text
        );
        assert!(
            project.system_ini.is_some(),
            "the template's system.ini comes along"
        );
        assert!(!project.analysis.diagnostics.iter().any(|d| d.is_error()));
    }

    #[test]
    fn an_unknown_template_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let error =
            create_example_from(&gallery(), "no-such-template", &dir.path().join("x")).unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::Gallery);
        assert!(error.to_string().contains("no-such-template"), "{error}");
    }

    #[test]
    fn a_missing_parent_folder_is_reported_unless_it_may_be_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing/deeper");
        let error = create(&gallery(), "debian-web", "demo", &missing, false).unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::NotFound);
        assert!(!missing.exists());
        let created = create(&gallery(), "debian-web", "demo", &missing, true).unwrap();
        assert_eq!(created, missing.join("demo"));
        assert!(created.join("genpack.json5").is_file());
    }

    #[test]
    fn a_name_is_checked_as_typed_with_a_suggestion_and_the_folder_state() {
        let dir = tempfile::tempdir().unwrap();
        let place = check_place("My Web Server", dir.path());
        assert!(
            place
                .name_problem
                .as_deref()
                .unwrap()
                .contains("starts with 'M'"),
            "{place:?}"
        );
        assert_eq!(place.suggestion.as_deref(), Some("my-web-server"));
        assert!(!place.folder_missing);

        let fine = check_place("my-web-server", &dir.path().join("projects"));
        assert_eq!(fine.name_problem, None);
        assert_eq!(fine.suggestion, None);
        assert!(fine.folder_missing);
        assert_eq!(fine.target_problem, None);

        std::fs::create_dir(dir.path().join("taken")).unwrap();
        std::fs::write(dir.path().join("taken/notes.txt"), "mine").unwrap();
        let taken = check_place("taken", dir.path());
        assert!(
            taken
                .target_problem
                .as_deref()
                .unwrap()
                .contains("not empty"),
            "{taken:?}"
        );
    }
}
