//! The gallery: every template in a templates folder.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{CreateError, GalleryError};
use crate::meta::{Category, Flavour, META_FILE};
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
        pair_flavours(&mut templates)?;
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

    /// The gallery's cards, in gallery order: one per appliance, with its ready-made and its
    /// compiled flavour where both exist. A template that names another in `flavour_of`
    /// appears on that template's card.
    pub fn cards(&self) -> Vec<Card<'_>> {
        self.templates
            .iter()
            .filter(|t| t.meta.flavour_of.is_none())
            .map(|main| {
                let other = main.other_flavour.as_deref().and_then(|id| self.get(id));
                let (ready_made, compiled) = match main.meta.flavour() {
                    Flavour::ReadyMade => (Some(main), other),
                    Flavour::Compiled => (other, Some(main)),
                };
                Card {
                    main,
                    ready_made,
                    compiled,
                }
            })
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

/// One card of the gallery: an appliance with up to two flavours.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Card<'a> {
    /// The template the card is titled after (the one without `flavour_of`).
    pub main: &'a Template,
    /// Built from Debian packages, in minutes.
    pub ready_made: Option<&'a Template>,
    /// Compiled from Gentoo sources, in hours, with more control.
    pub compiled: Option<&'a Template>,
}

/// Checks every `flavour_of` and records the pairs in [`Template::other_flavour`].
fn pair_flavours(templates: &mut [Template]) -> Result<(), GalleryError> {
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (index, template) in templates.iter().enumerate() {
        let Some(target_id) = &template.meta.flavour_of else {
            continue;
        };
        let invalid = |message: String| GalleryError::InvalidMeta {
            path: template.dir.join(META_FILE),
            message,
        };
        let Some(target_index) = templates.iter().position(|t| &t.id == target_id) else {
            return Err(invalid(format!(
                "`flavour_of` names {target_id:?}, which is not a template of this gallery"
            )));
        };
        let target = &templates[target_index];
        if target.meta.flavour() == template.meta.flavour() {
            return Err(invalid(format!(
                "`flavour_of` pairs a ready-made (Debian) with a compiled (Gentoo) template, but {target_id:?} is made the same way as this one"
            )));
        }
        if target.meta.flavour_of.is_some() {
            return Err(invalid(format!(
                "{target_id:?} itself names another template in `flavour_of`; only one of a pair names the other"
            )));
        }
        if target.meta.category != template.meta.category {
            return Err(invalid(format!(
                "`category` is {} but {target_id:?} is in {}; flavours on one card share the category",
                template.meta.category, target.meta.category
            )));
        }
        if target.meta.no_ready_made.is_some() {
            return Err(invalid(format!(
                "{target_id:?} says it has no ready-made flavour (`no_ready_made`); remove that line there"
            )));
        }
        if let Some((claimed_by, _)) = pairs.iter().find(|(_, t)| *t == target_index) {
            return Err(invalid(format!(
                "{target_id:?} already has another flavour, {:?}",
                templates[*claimed_by].id
            )));
        }
        pairs.push((index, target_index));
    }
    for (index, target_index) in pairs {
        templates[target_index].other_flavour = Some(templates[index].id.clone());
        templates[index].other_flavour = Some(templates[target_index].id.clone());
    }
    Ok(())
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
