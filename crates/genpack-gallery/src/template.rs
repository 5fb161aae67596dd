//! One template: a folder with `template.json5`, an icon and a definition.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::definition;
use crate::error::GalleryError;
use crate::meta::{TemplateMeta, META_FILE};

/// The definition file every template (and every project) has.
pub const DEFINITION_FILE: &str = "genpack.json5";

/// A template of the gallery.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Template {
    /// The folder name, used to pick the template (`genpack new --template <id>`).
    pub id: String,
    /// The template folder.
    pub dir: PathBuf,
    /// What `template.json5` says about it.
    pub meta: TemplateMeta,
    /// How many packages the definition's top-level `packages` list adds.
    pub package_count: usize,
    /// The icon's SVG text, when the icon file exists and is an SVG image.
    pub icon_svg: Option<String>,
    /// The id of the template that shares this one's card as its other flavour (set by
    /// [`crate::Gallery::open`] from either side's `flavour_of`).
    pub other_flavour: Option<String>,
}

impl Template {
    /// Loads the template in `dir`, whose folder name becomes its id.
    pub fn load(dir: &Path) -> Result<Template, GalleryError> {
        let id = dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut meta = TemplateMeta::load(&dir.join(META_FILE))?;

        let definition_path = dir.join(DEFINITION_FILE);
        if !definition_path.is_file() {
            return Err(GalleryError::MissingDefinition {
                dir: dir.to_path_buf(),
            });
        }
        let definition_text =
            std::fs::read_to_string(&definition_path).map_err(|source| GalleryError::Read {
                path: definition_path.clone(),
                source,
            })?;
        let parsed = genpack_def::parse_definition(&definition_text, &definition_path);
        let definition = parsed.definition.ok_or_else(|| {
            let first = parsed.diagnostics.into_iter().find(|d| d.is_error());
            GalleryError::SyntaxAt {
                path: definition_path.clone(),
                line: first.as_ref().map_or(1, |d| d.line),
                column: first.as_ref().map_or(1, |d| d.column),
                message: first.map_or_else(|| "not a definition".to_string(), |d| d.message),
            }
        })?;

        meta.ports = definition.ports.clone();
        let icon_svg = read_svg(&dir.join(&meta.icon))?;
        Ok(Template {
            id,
            dir: dir.to_path_buf(),
            package_count: definition::package_count(&definition),
            meta,
            icon_svg,
            other_flavour: None,
        })
    }

    /// Path of the template's `genpack.json5`.
    pub fn definition_path(&self) -> PathBuf {
        self.dir.join(DEFINITION_FILE)
    }

    /// Path of the template's example `system.ini`, when it has one.
    pub fn system_ini_path(&self) -> Option<PathBuf> {
        Some(self.dir.join("system.ini")).filter(|path| path.is_file())
    }
}

/// Reads an SVG icon; a missing file or one that is not SVG gives `None`,
/// so the gallery can show a placeholder.
fn read_svg(path: &Path) -> Result<Option<String>, GalleryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) if err.kind() == std::io::ErrorKind::InvalidData => return Ok(None),
        Err(source) => {
            return Err(GalleryError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    Ok(looks_like_svg(&text).then_some(text))
}

/// True for text whose first element is `<svg`, after an optional XML
/// declaration and comments.
pub(crate) fn looks_like_svg(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("<?") {
            match after.find("?>") {
                Some(end) => rest = after[end + 2..].trim_start(),
                None => return false,
            }
        } else if let Some(after) = rest.strip_prefix("<!--") {
            match after.find("-->") {
                Some(end) => rest = after[end + 3..].trim_start(),
                None => return false,
            }
        } else {
            return rest.starts_with("<svg") && rest.trim_end().ends_with("</svg>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_svg;

    #[test]
    fn recognises_svg_text() {
        assert!(looks_like_svg(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>\n"
        ));
        assert!(looks_like_svg(
            "<?xml version=\"1.0\"?>\n<!-- icon -->\n<svg></svg>"
        ));
        assert!(!looks_like_svg("<html></html>"));
        assert!(!looks_like_svg("<svg>"));
        assert!(!looks_like_svg("\u{89}PNG"));
    }
}
