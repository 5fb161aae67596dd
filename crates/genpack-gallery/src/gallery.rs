//! The gallery: every template in a templates folder.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{CreateError, GalleryError};
use crate::meta::{Category, META_FILE};
use crate::project;
use crate::template::Template;

/// Environment variable naming the templates folder; it wins over every
/// other place.
pub const TEMPLATES_ENV: &str = "GENPACK_TEMPLATES";

/// The templates of one templates folder.
#[derive(Debug, Clone, Serialize)]
pub struct Gallery {
    dir: PathBuf,
    templates: Vec<Template>,
}

impl Gallery {
    /// Reads every template in `dir`: each sub-folder holding a
    /// `template.json5`. Other entries (notes, hidden folders) are ignored.
    pub fn open(dir: impl AsRef<Path>) -> Result<Gallery, GalleryError> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|source| GalleryError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut templates = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| GalleryError::Read {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden || !path.is_dir() || !path.join(META_FILE).is_file() {
                continue;
            }
            templates.push(Template::load(&path)?);
        }
        templates.sort_by(|a, b| {
            (a.meta.category, &a.meta.title, &a.id).cmp(&(b.meta.category, &b.meta.title, &b.id))
        });
        Ok(Gallery {
            dir: dir.to_path_buf(),
            templates,
        })
    }

    /// Finds the templates folder of this installation, trying in order:
    /// 1. the folder named by `GENPACK_TEMPLATES`;
    /// 2. `../share/genpack/templates` next to the running program's folder;
    /// 3. a `templates/` folder in the running program's folder or above it;
    /// 4. a `templates/` folder in or above this crate's source folder (a
    ///    development checkout).
    pub fn default_dir() -> Result<PathBuf, GalleryError> {
        let mut searched = Vec::new();
        if let Some(dir) = std::env::var_os(TEMPLATES_ENV).filter(|v| !v.is_empty()) {
            let dir = PathBuf::from(dir);
            if dir.is_dir() {
                return Ok(dir);
            }
            // An explicit setting that points nowhere is a mistake to report,
            // not to paper over with another folder.
            return Err(GalleryError::EnvNotADirectory { path: dir });
        }
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        if let Some(exe_dir) = &exe_dir {
            if let Some(prefix) = exe_dir.parent() {
                let installed = prefix.join("share").join("genpack").join("templates");
                if installed.is_dir() {
                    return Ok(installed);
                }
                searched.push(installed);
            }
        }
        let source_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        for start in exe_dir.iter().map(PathBuf::as_path).chain([source_dir]) {
            for ancestor in start.ancestors() {
                let candidate = ancestor.join("templates");
                if holds_templates(&candidate) {
                    return Ok(candidate);
                }
            }
            searched.push(start.join("templates"));
        }
        Err(GalleryError::NotFound { searched })
    }

    /// Opens the gallery found by [`Gallery::default_dir`].
    pub fn open_default() -> Result<Gallery, GalleryError> {
        Gallery::open(Gallery::default_dir()?)
    }

    /// The templates folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every template, sorted by category (gallery order), then title.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// The templates grouped by category, in gallery order; categories
    /// without templates are left out.
    pub fn by_category(&self) -> Vec<(Category, Vec<&Template>)> {
        Category::ALL
            .iter()
            .map(|&category| {
                let members = self
                    .templates
                    .iter()
                    .filter(|t| t.meta.category == category)
                    .collect::<Vec<_>>();
                (category, members)
            })
            .filter(|(_, members)| !members.is_empty())
            .collect()
    }

    /// The template with this id (folder name).
    pub fn get(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }

    /// Creates a new project folder `target_dir` from a template, with its
    /// definition renamed to `name`. See [`crate::create_project`] for
    /// exactly what is written. Returns the project folder.
    pub fn create_project(
        &self,
        template_id: &str,
        name: &str,
        target_dir: impl AsRef<Path>,
    ) -> Result<PathBuf, CreateError> {
        let template = self
            .get(template_id)
            .ok_or_else(|| CreateError::UnknownTemplate {
                id: template_id.to_string(),
                available: self.templates.iter().map(|t| t.id.clone()).collect(),
            })?;
        project::create_project(template, name, target_dir.as_ref())
    }
}

/// True if `dir` has at least one template folder in it.
fn holds_templates(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|entry| entry.path().join(META_FILE).is_file())
        })
        .unwrap_or(false)
}
