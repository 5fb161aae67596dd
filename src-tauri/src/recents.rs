//! The list of recently opened projects, kept in the app's config folder.
//!
//! Stored as a JSON array of folder paths, newest first, at `<config dir>/recent-projects.json`.

use crate::error::{CommandError, CommandResult};
use serde::Serialize;
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// How many projects the list keeps.
const MAX_RECENTS: usize = 12;

/// The file name inside the app's config folder.
pub const FILE_NAME: &str = "recent-projects.json";

/// One recently opened project as the start page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct RecentProject {
    /// The project folder.
    pub dir: PathBuf,
    /// The folder's name, which is the project's default name.
    pub name: String,
    /// Whether the folder still holds a genpack.json5.
    pub exists: bool,
}

/// The recent-projects file of one app installation.
#[derive(Debug, Clone)]
pub struct Recents {
    file: PathBuf,
}

impl Recents {
    /// The list stored in `file`.
    pub fn new(file: PathBuf) -> Self {
        Recents { file }
    }

    /// The stored folders, newest first. A missing or unreadable file is an empty list.
    pub fn dirs(&self) -> Vec<PathBuf> {
        std::fs::read(&self.file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Vec<PathBuf>>(&bytes).ok())
            .unwrap_or_default()
    }

    /// The list as the start page shows it.
    pub fn list(&self) -> Vec<RecentProject> {
        self.dirs()
            .into_iter()
            .map(|dir| RecentProject {
                name: dir
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| dir.display().to_string()),
                exists: dir.join("genpack.json5").is_file(),
                dir,
            })
            .collect()
    }

    /// Puts `dir` at the top of the list (absolute, without duplicates) and saves it.
    pub fn add(&self, dir: &Path) -> CommandResult<Vec<RecentProject>> {
        let dir = absolute(dir);
        let mut dirs = self.dirs();
        dirs.retain(|known| known != &dir);
        dirs.insert(0, dir);
        dirs.truncate(MAX_RECENTS);
        self.store(&dirs)?;
        Ok(self.list())
    }

    /// Takes `dir` off the list and saves it.
    pub fn remove(&self, dir: &Path) -> CommandResult<Vec<RecentProject>> {
        let dir = absolute(dir);
        let mut dirs = self.dirs();
        dirs.retain(|known| known != &dir);
        self.store(&dirs)?;
        Ok(self.list())
    }

    fn store(&self, dirs: &[PathBuf]) -> CommandResult<()> {
        if let Some(parent) = self.file.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| CommandError::io("create", parent, source))?;
        }
        let text = serde_json::to_string_pretty(dirs)
            .map_err(|error| CommandError::invalid(error.to_string()))?;
        genpack_def::save_atomic(&self.file, &text)
            .map_err(|error| CommandError::invalid(error.to_string()))
    }
}

/// `dir` made absolute against the current directory, with `.` and `..` resolved when the
/// folder exists.
pub fn absolute(dir: &Path) -> PathBuf {
    if let Ok(canonical) = dir.canonicalize() {
        return canonical;
    }
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_without_duplicates() {
        let config = tempfile::tempdir().unwrap();
        let projects = tempfile::tempdir().unwrap();
        let first = projects.path().join("first");
        let second = projects.path().join("second");
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        std::fs::write(first.join("genpack.json5"), "{}").unwrap();

        let recents = Recents::new(config.path().join("nested").join(FILE_NAME));
        recents.add(&first).unwrap();
        recents.add(&second).unwrap();
        let list = recents.add(&first).unwrap();

        let names: Vec<_> = list.iter().map(|recent| recent.name.as_str()).collect();
        assert_eq!(names, ["first", "second"]);
        assert!(list[0].exists);
        assert!(!list[1].exists, "second has no genpack.json5");

        let list = recents.remove(&second).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(
            Recents::new(recents.file.clone()).dirs(),
            [first.canonicalize().unwrap()]
        );
    }

    #[test]
    fn a_damaged_file_reads_as_an_empty_list() {
        let config = tempfile::tempdir().unwrap();
        let file = config.path().join(FILE_NAME);
        std::fs::write(&file, "not json").unwrap();
        assert!(Recents::new(file).list().is_empty());
    }
}
