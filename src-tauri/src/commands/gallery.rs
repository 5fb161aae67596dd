//! The template gallery: listing templates and creating projects from them.

use super::definition::{open_project, ProjectView};
use crate::error::{CommandError, CommandResult};
use crate::Studio;
use genpack_gallery::{Gallery, Template};
use std::path::{Path, PathBuf};
use tauri::State;

fn open_gallery() -> CommandResult<Gallery> {
    Gallery::open_default().map_err(CommandError::gallery)
}

/// Every template, in gallery order.
#[tauri::command]
pub fn gallery_templates() -> CommandResult<Vec<Template>> {
    Ok(open_gallery()?.templates().to_vec())
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

/// Creates `<parent_dir>/<name>` from a template, remembers it and opens it.
#[tauri::command]
pub fn gallery_create_project(
    studio: State<'_, Studio>,
    template_id: String,
    name: String,
    parent_dir: PathBuf,
) -> CommandResult<ProjectView> {
    let created = create(&open_gallery()?, &template_id, &name, &parent_dir)?;
    studio.recents.add(&created)?;
    open_project(&created)
}

fn create(
    gallery: &Gallery,
    template_id: &str,
    name: &str,
    parent_dir: &Path,
) -> CommandResult<PathBuf> {
    if !parent_dir.is_dir() {
        return Err(CommandError::not_found(parent_dir));
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
    fn a_missing_parent_folder_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let error = create(
            &gallery(),
            "debian-web",
            "demo",
            &dir.path().join("missing"),
        )
        .unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::NotFound);
    }
}
