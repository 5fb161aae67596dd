//! New projects made from templates.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{CreateError, NameError};
use crate::meta::META_FILE;
use crate::template::{Template, DEFINITION_FILE};

/// The longest project name accepted, in characters.
pub const MAX_NAME_LEN: usize = 64;

/// What a new project ignores in version control: the build's work folder
/// and the images it produces.
pub const GITIGNORE: &str = "/work/\n/*.squashfs\n/*.img\n/*.iso\n/*.tar.gz\n";

/// Checks a project (appliance) name: lowercase letters, digits, `-` and `_`,
/// starting with a letter, at most [`MAX_NAME_LEN`] characters.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let Some(first) = name.chars().next() else {
        return Err(NameError::Empty);
    };
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            name: name.to_string(),
            len,
        });
    }
    if !first.is_ascii_lowercase() {
        return Err(NameError::BadStart {
            name: name.to_string(),
            first,
        });
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(NameError::BadChar {
            name: name.to_string(),
            bad,
        });
    }
    Ok(())
}

/// A valid project name made from any text a person might type as one: `My Web Server` ->
/// `my-web-server`, `Café 2` -> `caf-2`. Letters are lowercased, every run of other characters
/// becomes one `-`, and what precedes the first letter is dropped. `None` when the text holds
/// no letter a-z at all.
pub fn suggest_name(text: &str) -> Option<String> {
    let mut name = String::new();
    let mut gap = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let keep = c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if !keep {
            gap = true;
            continue;
        }
        if name.is_empty() && !c.is_ascii_lowercase() {
            continue;
        }
        if gap && !name.is_empty() {
            name.push('-');
        }
        gap = false;
        name.push(c);
    }
    let mut name: String = name.chars().take(MAX_NAME_LEN).collect();
    while name.ends_with(['-', '_']) {
        name.pop();
    }
    (!name.is_empty()).then_some(name)
}

/// What creating a project at `target_dir` would meet: `Ok` when it may be created there
/// (missing, or an empty folder), else the reason it is refused.
pub fn check_target_dir(target_dir: &Path) -> Result<(), CreateError> {
    check_target(target_dir)
}

/// Creates the project folder `target_dir` from `template`:
///
/// - every file of the template is copied, with its permissions (so build
///   scripts stay executable), except `template.json5` and the icon;
/// - the `name` in `genpack.json5` is set to `name`, keeping every comment
///   and all formatting;
/// - a `.gitignore` for the build's outputs is written.
///
/// `target_dir` may be missing or an empty folder; anything else is refused
/// so nothing is overwritten. The project is assembled in a hidden folder
/// next to the target and renamed into place at the end, so a failure
/// leaves no half-made project behind. Returns the project folder.
pub fn create_project(
    template: &Template,
    name: &str,
    target_dir: &Path,
) -> Result<PathBuf, CreateError> {
    validate_name(name)?;
    check_target(target_dir)?;

    let parent = match target_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_error("create", &parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".genpack-new-")
        .tempdir_in(&parent)
        .map_err(io_error("create a temporary folder in", &parent))?;

    let skip = [
        template.dir.join(META_FILE),
        template.dir.join(&template.meta.icon),
    ];
    copy_tree(&template.dir, staging.path(), &skip)?;
    copy_permissions(&template.dir, staging.path())?;

    let definition_path = staging.path().join(DEFINITION_FILE);
    let text = fs::read_to_string(&definition_path).map_err(io_error("read", &definition_path))?;
    let set_name_error = |source| CreateError::SetName {
        path: template.definition_path(),
        source,
    };
    let mut document = genpack_def::Document::parse(&text).map_err(set_name_error)?;
    document
        .set(&["name".into()], name.into())
        .map_err(set_name_error)?;
    write_synced(&definition_path, document.as_str().as_bytes())?;
    name_the_machine(&staging.path().join("system.ini"), name)?;
    write_synced(&staging.path().join(".gitignore"), GITIGNORE.as_bytes())?;

    // An empty target folder is replaced by the rename; re-check right
    // before it so a folder filled in the meantime is never touched.
    check_target(target_dir)?;
    if target_dir.is_dir() {
        fs::remove_dir(target_dir).map_err(io_error("replace the empty folder", target_dir))?;
    }
    let staged = staging.keep();
    if let Err(source) = fs::rename(&staged, target_dir) {
        // Best effort: the staged copy is ours and of no use now.
        let _ = fs::remove_dir_all(&staged);
        return Err(CreateError::Io {
            action: "move the new project to",
            path: target_dir.to_path_buf(),
            source,
        });
    }
    if let Ok(dir) = fs::File::open(&parent) {
        // Make the rename durable; failure to sync a folder is not fatal.
        let _ = dir.sync_all();
    }
    Ok(target_dir.to_path_buf())
}

/// A template's `system.ini` names the machine after the template (`hostname = debian-web`):
/// a new project's names it after the project, keeping every comment. Underscores, which a
/// host name cannot hold, become `-`.
fn name_the_machine(system_ini: &Path, name: &str) -> Result<(), CreateError> {
    let Ok(text) = fs::read_to_string(system_ini) else {
        // No system.ini (or not text): nothing to rename.
        return Ok(());
    };
    let mut document = genpack_ini::Document::parse_lenient(&text);
    if document
        .get(genpack_ini::DEFAULT_SECTION, "hostname")
        .is_none()
    {
        return Ok(());
    }
    let hostname = name.replace('_', "-");
    if document
        .set(genpack_ini::DEFAULT_SECTION, "hostname", &hostname)
        .is_err()
    {
        // A file the editor cannot change is copied as the template has it.
        return Ok(());
    }
    write_synced(system_ini, document.to_string().as_bytes())
}

/// Refuses a target that exists and is not an empty folder.
fn check_target(target: &Path) -> Result<(), CreateError> {
    match fs::symlink_metadata(target) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CreateError::Io {
            action: "inspect",
            path: target.to_path_buf(),
            source,
        }),
        Ok(meta) if !meta.is_dir() => Err(CreateError::TargetNotDirectory {
            path: target.to_path_buf(),
        }),
        Ok(_) => {
            let mut entries = fs::read_dir(target).map_err(io_error("read", target))?;
            if entries.next().is_some() {
                Err(CreateError::TargetNotEmpty {
                    path: target.to_path_buf(),
                })
            } else {
                Ok(())
            }
        }
    }
}

/// Copies the contents of `src` into the existing folder `dst`, keeping
/// permissions and symbolic links, and leaving out the paths in `skip`.
fn copy_tree(src: &Path, dst: &Path, skip: &[PathBuf]) -> Result<(), CreateError> {
    let entries = fs::read_dir(src).map_err(io_error("read", src))?;
    for entry in entries {
        let entry = entry.map_err(io_error("read", src))?;
        let from = entry.path();
        if skip.contains(&from) {
            continue;
        }
        let to = dst.join(entry.file_name());
        let kind = entry.file_type().map_err(io_error("inspect", &from))?;
        if kind.is_dir() {
            fs::create_dir(&to).map_err(io_error("create", &to))?;
            copy_tree(&from, &to, skip)?;
            copy_permissions(&from, &to)?;
        } else if kind.is_file() {
            fs::copy(&from, &to).map_err(io_error("copy", &from))?;
        } else if kind.is_symlink() {
            let link = fs::read_link(&from).map_err(io_error("read the link", &from))?;
            make_symlink(&link, &to)?;
        } else {
            return Err(CreateError::Io {
                action: "copy",
                path: from,
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "only files, folders and symbolic links can be part of a template",
                ),
            });
        }
    }
    Ok(())
}

fn copy_permissions(from: &Path, to: &Path) -> Result<(), CreateError> {
    let permissions = fs::metadata(from)
        .map_err(io_error("inspect", from))?
        .permissions();
    fs::set_permissions(to, permissions).map_err(io_error("set permissions of", to))
}

#[cfg(unix)]
fn make_symlink(link: &Path, at: &Path) -> Result<(), CreateError> {
    std::os::unix::fs::symlink(link, at).map_err(io_error("create the link", at))
}

#[cfg(not(unix))]
fn make_symlink(_link: &Path, at: &Path) -> Result<(), CreateError> {
    Err(CreateError::Io {
        action: "create the link",
        path: at.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::Unsupported,
            "symbolic links in templates need a Unix system",
        ),
    })
}

/// Writes a file and flushes it to disk.
fn write_synced(path: &Path, contents: &[u8]) -> Result<(), CreateError> {
    let mut file = fs::File::create(path).map_err(io_error("write", path))?;
    file.write_all(contents).map_err(io_error("write", path))?;
    file.sync_all().map_err(io_error("write", path))
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CreateError {
    let path = path.to_path_buf();
    move |source| CreateError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_a_valid_name_for_what_people_type() {
        for (typed, expected) in [
            ("My Web Server", Some("my-web-server")),
            ("my-web", Some("my-web")),
            ("  Kitchen  Pi!  ", Some("kitchen-pi")),
            ("2nd box", Some("nd-box")),
            ("my.box", Some("my-box")),
            ("café 2", Some("caf-2")),
            ("1234", None),
            ("", None),
        ] {
            let suggestion = suggest_name(typed);
            assert_eq!(suggestion.as_deref(), expected, "{typed:?}");
            if let Some(name) = suggestion {
                assert_eq!(validate_name(&name), Ok(()), "{name}");
            }
        }
        let long = suggest_name(&"Word ".repeat(40)).unwrap();
        assert!(long.len() <= MAX_NAME_LEN && !long.ends_with('-'), "{long}");
    }

    #[test]
    fn a_refused_name_says_what_to_use_instead() {
        let error = validate_name("My Web Server").unwrap_err();
        assert_eq!(error.suggestion().as_deref(), Some("my-web-server"));
        assert!(
            error.to_string().ends_with("; try \"my-web-server\""),
            "{error}"
        );
        assert_eq!(NameError::Empty.suggestion(), None);
    }

    #[test]
    fn accepts_good_names() {
        for name in ["a", "nextcloud", "my-router_2", &"x".repeat(MAX_NAME_LEN)] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_bad_names_with_the_rule_in_the_message() {
        let cases = [
            ("", "empty"),
            ("1box", "starts with '1'"),
            ("-box", "starts with '-'"),
            ("My-Box", "starts with 'M'"),
            ("my box", "contains ' '"),
            ("my.box", "contains '.'"),
            ("café", "contains 'é'"),
        ];
        for (name, expected) in cases {
            let err = validate_name(name).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(expected), "{name:?}: {message}");
            assert!(message.contains("lowercase letters"), "{message}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(
            validate_name(&long),
            Err(NameError::TooLong { len: 65, .. })
        ));
    }
}
