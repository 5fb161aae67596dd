//! Replacing files atomically: write a temporary file next to the target, flush it to disk,
//! rename it over the target, flush the folder. Readers see the old or the new file, never a
//! mix; on any failure the old file is untouched and the temporary file is removed.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How [`write_atomic_with`] treats the new file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AtomicOptions {
    /// Permission bits of the new file. `None` keeps those of the file being replaced (or the
    /// process default, 0666 minus the umask, for a new file).
    pub mode: Option<u32>,
    /// Create missing parent folders first.
    pub create_parents: bool,
    /// Replace a symbolic link at the path with the new file, instead of following it and
    /// replacing its target (what an editor does with a user's file).
    pub replace_symlink: bool,
}

/// Replaces `path` with `bytes` atomically, keeping the replaced file's permissions. A symbolic
/// link at `path` is followed and its target replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, bytes, AtomicOptions::default())
}

/// [`write_atomic`] with explicit [`AtomicOptions`].
pub fn write_atomic_with(path: &Path, bytes: &[u8], options: AtomicOptions) -> io::Result<()> {
    let target = if options.replace_symlink {
        path.to_path_buf()
    } else {
        follow_symlink(path)?
    };
    if options.create_parents {
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
    }
    let mut staged = StagedFile::create(&target)?;
    let mode = match options.mode {
        Some(mode) => Some(mode),
        None => fs::metadata(&target)
            .ok()
            .map(|meta| meta.permissions().mode()),
    };
    if let Some(mode) = mode {
        staged
            .file()
            .set_permissions(fs::Permissions::from_mode(mode))?;
    }
    staged.file().write_all(bytes)?;
    staged.commit()
}

/// A file being made at a temporary path next to its target, renamed into place by
/// [`StagedFile::commit`] and removed when dropped uncommitted.
///
/// For content written through the [`File`] ([`StagedFile::file`]) or by another program
/// given [`StagedFile::path`] (mksquashfs, xorriso).
#[derive(Debug)]
pub struct StagedFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl StagedFile {
    /// Creates an empty temporary file in the folder of `target` (which must exist).
    pub fn create(target: &Path) -> io::Result<StagedFile> {
        let dir = folder_of(target);
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut temp_name = OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(
            ".{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let temp = dir.join(temp_name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&temp)?;
        Ok(StagedFile {
            file,
            temp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// The temporary file's path, for a program that writes the content itself.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The file it will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Flushes the temporary file to disk, renames it over the target and flushes the folder.
    pub fn commit(mut self) -> io::Result<()> {
        // Another program may have replaced the file at the path: flush what is there now.
        File::open(&self.temp)?.sync_all()?;
        self.file.sync_all()?;
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        sync_folder(folder_of(&self.target));
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the error that stopped the write matters more.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Makes a rename in `dir` durable. Some file systems (FAT) cannot flush a folder; the rename
/// has happened either way, so this is best effort.
pub fn sync_folder(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn follow_symlink(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path),
        _ => Ok(path.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_content_and_keeps_the_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ini");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(leftovers(dir.path()), ["system.ini"]);
    }

    #[test]
    fn a_symlink_is_followed_and_stays_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json5");
        let link = dir.path().join("genpack.json5");
        fs::write(&real, "{}").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"{ name: 'x' }").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "{ name: 'x' }");
    }

    #[test]
    fn a_symlink_can_be_replaced_instead_of_followed() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("stub-resolv.conf");
        let link = dir.path().join("resolv.conf");
        fs::write(&real, "nameserver 127.0.0.53\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let options = AtomicOptions {
            replace_symlink: true,
            ..AtomicOptions::default()
        };
        write_atomic_with(&link, b"nameserver 192.0.2.1\n", options).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
        assert_eq!(
            fs::read_to_string(&real).unwrap(),
            "nameserver 127.0.0.53\n"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keep");
        fs::write(&path, "old").unwrap();
        // The target is a folder: the rename fails after the temporary file was written.
        let folder = dir.path().join("folder");
        fs::create_dir(&folder).unwrap();
        fs::write(folder.join("inside"), "x").unwrap();
        assert!(write_atomic(&folder, b"new").is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(leftovers(dir.path()), ["folder", "keep"]);
    }

    #[test]
    fn an_explicit_mode_and_missing_parents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/key");
        let options = AtomicOptions {
            mode: Some(0o640),
            create_parents: true,
            ..AtomicOptions::default()
        };
        write_atomic_with(&path, b"secret", options).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn a_staged_file_written_by_another_program_is_committed_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("image.iso");
        let staged = StagedFile::create(&target).unwrap();
        fs::write(staged.path(), "made elsewhere").unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "made elsewhere");

        let dropped = StagedFile::create(&target).unwrap();
        fs::write(dropped.path(), "half").unwrap();
        drop(dropped);
        assert_eq!(fs::read_to_string(&target).unwrap(), "made elsewhere");
        assert_eq!(leftovers(dir.path()), ["image.iso"]);
    }
}
