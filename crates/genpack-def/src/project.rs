//! A definition folder on disk.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Severity};
use crate::edit::{save_atomic, Document, EditError, SaveError};
use crate::effective::{Effective, EffectiveError};
use crate::location::LineIndex;
use crate::model::{Arch, Definition};
use crate::parse::{parse_source, Outcome};

/// The file names a definition may have, in order of preference.
pub const DEFINITION_FILE_NAMES: [&str; 2] = ["genpack.json5", "genpack.json"];

/// The folders of a project that a build reads besides the definition, in archive order:
/// `files/` goes into the image as it is; the others feed a Gentoo base layer (saved
/// configurations, patches, kernel configuration, per-package environments, the project's
/// own ebuild overlay).
pub const INPUT_FOLDERS: [&str; 6] = [
    "files",
    "savedconfig",
    "patches",
    "kernel",
    "env",
    "overlay",
];

/// The largest definition file read (a definition is a few KiB; this keeps a wrong path,
/// such as a device or a huge log, from filling memory).
pub const MAX_DEFINITION_BYTES: u64 = 64 << 20;

/// The settings file of a project, put on the boot partition and handed to VMs.
pub const SYSTEM_INI: &str = "system.ini";

/// The folder of a project where builds keep their layers and logs.
pub const WORK_FOLDER: &str = "work";

/// Why a definition folder could not be loaded.
///
/// Validation problems are not load errors: they are in [`Project::diagnostics`].
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The folder holds neither file name.
    #[error("{}: no genpack.json5 or genpack.json here; create genpack.json5 (or start from a template) in this folder", .dir.display())]
    NotFound {
        /// The folder searched.
        dir: PathBuf,
    },
    /// The folder holds both file names.
    #[error("{}: both genpack.json5 and genpack.json exist, so it is unclear which one to use; keep genpack.json5 and delete or rename genpack.json", .dir.display())]
    Ambiguous {
        /// The folder searched.
        dir: PathBuf,
    },
    /// The file or folder could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The path is not a regular file (a folder, a pipe, a device).
    #[error("{}: not a regular file; a definition is a text file such as genpack.json5", .path.display())]
    NotAFile {
        /// The path given or found.
        path: PathBuf,
    },
    /// The file is larger than any definition.
    #[error("{} is {size} bytes; a definition is at most {MAX_DEFINITION_BYTES} bytes: check that this is the right file", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The definition is a symbolic link to a file outside the project folder.
    #[error("{} is a link to {}, outside the project folder; copy the definition into the project instead", .path.display(), .target.display())]
    OutsideProject {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("{}:{line}:{column}: error: the file is not UTF-8 text (the first bad byte is here); save it with UTF-8 encoding", .file.display())]
    NotUtf8 {
        /// The definition file.
        file: PathBuf,
        /// 1-based line of the first bad byte.
        line: usize,
        /// 1-based column of the first bad byte.
        column: usize,
    },
    /// The file holds only whitespace and comments.
    #[error("{0}")]
    Empty(Box<Diagnostic>),
    /// The file is not valid JSON5.
    #[error("{0}")]
    Syntax(Box<Diagnostic>),
}

impl LoadError {
    /// The error as a diagnostic with a location, when it has one (for editors).
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        match self {
            LoadError::Empty(d) | LoadError::Syntax(d) => Some((**d).clone()),
            LoadError::NotUtf8 { file, line, column } => Some(Diagnostic {
                severity: Severity::Error,
                message: "the file is not UTF-8 text (the first bad byte is here)".into(),
                file: file.clone(),
                line: *line,
                column: *column,
                end_line: *line,
                end_column: column + 1,
                path: String::new(),
                help: Some("save the file with UTF-8 encoding".into()),
            }),
            _ => None,
        }
    }
}

/// Reads the definition file `file` of the project folder `dir`: a regular file of at most
/// [`MAX_DEFINITION_BYTES`]; a symbolic link only to a file inside the project folder (its
/// content is quoted in error messages).
fn read_definition_file(dir: &Path, file: &Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let io = |source| LoadError::Io {
        path: file.to_path_buf(),
        source,
    };
    if fs::symlink_metadata(file)
        .map_err(io)?
        .file_type()
        .is_symlink()
    {
        let target = fs::canonicalize(file).map_err(io)?;
        let folder = fs::canonicalize(dir).map_err(io)?;
        if !target.starts_with(&folder) {
            return Err(LoadError::OutsideProject {
                path: file.to_path_buf(),
                target,
            });
        }
    }
    let meta = fs::metadata(file).map_err(io)?;
    if !meta.is_file() {
        return Err(LoadError::NotAFile {
            path: file.to_path_buf(),
        });
    }
    if meta.len() > MAX_DEFINITION_BYTES {
        return Err(LoadError::TooLarge {
            path: file.to_path_buf(),
            size: meta.len(),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    fs::File::open(file)
        .map_err(io)?
        .take(MAX_DEFINITION_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_DEFINITION_BYTES {
        return Err(LoadError::TooLarge {
            path: file.to_path_buf(),
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// A definition folder: the `genpack.json5` (or `genpack.json`) file, its text and its model.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder (also holding `files/`, `kernel/`, `patches/` and so on).
    pub dir: PathBuf,
    /// The definition file.
    pub file: PathBuf,
    /// The exact text of the file.
    pub source: String,
    /// The model; with validation errors it holds what could be understood.
    pub definition: Definition,
    /// Validation errors and warnings, each with a location.
    pub diagnostics: Vec<Diagnostic>,
}

impl Project {
    /// The definition file in `dir`. Exactly one of `genpack.json5` and `genpack.json` must exist.
    pub fn find(dir: &Path) -> Result<PathBuf, LoadError> {
        let mut found = Vec::new();
        for name in DEFINITION_FILE_NAMES {
            let path = dir.join(name);
            match fs::metadata(&path) {
                Ok(_) => found.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(LoadError::Io { path, source }),
            }
        }
        match found.len() {
            0 => {
                // Tell "no such folder" apart from "no definition in it".
                if let Err(source) = fs::metadata(dir) {
                    return Err(LoadError::Io {
                        path: dir.to_path_buf(),
                        source,
                    });
                }
                Err(LoadError::NotFound {
                    dir: dir.to_path_buf(),
                })
            }
            1 => Ok(found.remove(0)),
            _ => Err(LoadError::Ambiguous {
                dir: dir.to_path_buf(),
            }),
        }
    }

    /// Loads and checks the definition in the folder `path` (or the definition file `path`
    /// itself, whose folder is then the project folder).
    ///
    /// Fails only when the file cannot be found or read, or is not JSON5; validation errors
    /// and warnings are returned in [`Project::diagnostics`] (see [`Project::has_errors`]).
    pub fn load(path: &Path) -> Result<Project, LoadError> {
        // A folder (or a path that does not exist, to say so) is searched; anything else is
        // the definition file itself.
        let (dir, file) = if path.is_dir() || fs::symlink_metadata(path).is_err() {
            (path.to_path_buf(), Project::find(path)?)
        } else {
            let dir = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            };
            (dir, path.to_path_buf())
        };
        let bytes = read_definition_file(&dir, &file)?;
        let source = match String::from_utf8(bytes) {
            Ok(source) => source,
            Err(error) => {
                let valid = error.utf8_error().valid_up_to();
                let prefix = String::from_utf8_lossy(&error.as_bytes()[..valid]).into_owned();
                let (line, column) = LineIndex::new(&prefix).position(&prefix, valid);
                return Err(LoadError::NotUtf8 { file, line, column });
            }
        };
        match parse_source(&source, &file) {
            Outcome::Syntax(diagnostic) => Err(LoadError::Syntax(Box::new(diagnostic))),
            Outcome::Empty(diagnostic) => Err(LoadError::Empty(Box::new(diagnostic))),
            Outcome::Definition(definition, diagnostics) => Ok(Project {
                dir,
                file,
                source,
                definition: *definition,
                diagnostics,
            }),
        }
    }

    /// True when some diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The error diagnostics.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The image's name: the definition's `name`, else the project folder's name (which
    /// reading the definition already put in with a warning), else `project`.
    pub fn name(&self) -> String {
        crate::parse::image_name(Some(&self.definition), &self.file)
    }

    /// The project's system.ini (which may not exist yet).
    pub fn system_ini_path(&self) -> PathBuf {
        self.dir.join(SYSTEM_INI)
    }

    /// The project's system.ini, when it has one.
    pub fn system_ini(&self) -> Option<PathBuf> {
        Some(self.system_ini_path()).filter(|path| path.is_file())
    }

    /// Where builds keep their layers and logs.
    pub fn work_dir(&self) -> PathBuf {
        self.dir.join(WORK_FOLDER)
    }

    /// The input folders of [`INPUT_FOLDERS`] that exist in this project.
    pub fn input_folders(&self) -> Vec<PathBuf> {
        INPUT_FOLDERS
            .iter()
            .map(|name| self.dir.join(name))
            .filter(|path| path.is_dir())
            .collect()
    }

    /// The image a build for `arch` and `variant` writes: `<project>/<outfile>`.
    pub fn image_path(&self, arch: Arch, variant: Option<&str>) -> Result<PathBuf, EffectiveError> {
        Ok(self.dir.join(self.effective(arch, variant)?.outfile))
    }

    /// The effective definition for `arch` and `variant`; refuses while there are errors.
    pub fn effective(
        &self,
        arch: Arch,
        variant: Option<&str>,
    ) -> Result<Effective, EffectiveError> {
        let count = self.errors().count();
        if count > 0 {
            return Err(EffectiveError::Invalid { count });
        }
        self.definition.effective(arch, variant)
    }

    /// The file as an editable document.
    pub fn document(&self) -> Result<Document, EditError> {
        Document::parse(&self.source)
    }

    /// Saves `document` over the definition file atomically, then re-reads it so that
    /// `source`, `definition` and `diagnostics` describe the new text.
    pub fn save(&mut self, document: &Document) -> Result<(), SaveError> {
        save_atomic(&self.file, document.as_str())?;
        self.source = document.as_str().to_string();
        match parse_source(&self.source, &self.file) {
            Outcome::Definition(definition, diagnostics) => {
                self.definition = *definition;
                self.diagnostics = diagnostics;
            }
            Outcome::Syntax(diagnostic) | Outcome::Empty(diagnostic) => {
                self.definition = Definition::default();
                self.diagnostics = vec![diagnostic];
            }
        }
        Ok(())
    }
}
