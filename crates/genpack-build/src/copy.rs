//! Copying file-system entries between trees with everything an image needs kept: mode,
//! owner, timestamps, symlinks, hard links, device nodes and extended attributes (file
//! capabilities such as `security.capability` included).

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{self, Metadata};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use filetime::FileTime;

use crate::error::{BuildError, Result};

/// Who owns copied entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Keep the source's owner and group.
    Preserve,
    /// root:root (files the user supplies from the project folder).
    Root,
}

/// Copies entries from one root to another, remembering hard links across calls.
pub struct TreeCopier {
    src_root: PathBuf,
    dst_root: PathBuf,
    ownership: Ownership,
    /// (device, inode) of multiply-linked sources -> first destination path.
    links: HashMap<(u64, u64), PathBuf>,
    /// Directories whose timestamps must be restored after their content is written.
    dirs: Vec<(PathBuf, FileTime, FileTime)>,
    /// Bytes of regular file data copied.
    pub bytes: u64,
    /// Entries copied.
    pub entries: u64,
    /// Whether a directory of the source goes through the destination's symbolic links to
    /// directories (`files/lib/x` lands in `/usr/lib/x` when `/lib` links to `usr/lib`).
    through_links: bool,
}

impl TreeCopier {
    /// A copier from `src_root` to `dst_root`.
    pub fn new(src_root: &Path, dst_root: &Path, ownership: Ownership) -> Self {
        Self {
            src_root: src_root.to_path_buf(),
            dst_root: dst_root.to_path_buf(),
            ownership,
            links: HashMap::new(),
            dirs: Vec::new(),
            bytes: 0,
            entries: 0,
            through_links: false,
        }
    }

    /// A copier that merges a project's `files/` over an image: the image's symbolic links to
    /// directories (usr-merge's `/bin`, `/lib`, `/sbin`, `/var/run`...) are kept and written
    /// through, resolved inside `dst_root` as the image sees them, as `cp -r files/. /` run in
    /// the image would.
    pub fn merging_through_links(src_root: &Path, dst_root: &Path, ownership: Ownership) -> Self {
        Self {
            through_links: true,
            ..Self::new(src_root, dst_root, ownership)
        }
    }

    /// Where `rel` goes in the destination: through the destination's links to directories
    /// when merging through links, else `dst_root/rel`.
    fn destination(&self, rel: &Path, is_dir: bool) -> PathBuf {
        if !self.through_links {
            return self.dst_root.join(rel);
        }
        // A directory follows a link at its own name too; anything else replaces the link.
        let (through, name) = if is_dir {
            (rel, None)
        } else {
            (rel.parent().unwrap_or(Path::new("")), rel.file_name())
        };
        let inside = genpack_util::resolve_in_root(&self.dst_root, through);
        let mut dst = self
            .dst_root
            .join(inside.strip_prefix("/").unwrap_or(&inside));
        if let Some(name) = name {
            dst.push(name);
        }
        dst
    }

    /// Copies the entry at `rel` (relative to both roots), creating missing parent
    /// directories with the source's metadata. Directories are created, not recursed into.
    /// An entry that already exists in the destination as a directory is kept (its
    /// metadata is refreshed); other existing entries are replaced.
    pub fn copy_entry(&mut self, rel: &Path) -> Result<()> {
        if let Some(parent) = rel.parent() {
            let parent_exists = fs::symlink_metadata(self.destination(parent, true))
                .is_ok_and(|meta| meta.is_dir());
            if !parent.as_os_str().is_empty() && !parent_exists {
                self.copy_entry(parent)?;
            }
        }
        let src = self.src_root.join(rel);
        let meta = fs::symlink_metadata(&src).map_err(BuildError::io("reading", &src))?;
        let dst = self.destination(rel, meta.is_dir());
        self.copy_with_meta(&src, &dst, &meta)
    }

    /// Copies `rel` and, for a directory, everything below it.
    pub fn copy_recursive(&mut self, rel: &Path) -> Result<()> {
        self.copy_entry(rel)?;
        let src = self.src_root.join(rel);
        if fs::symlink_metadata(&src)
            .map(|m| m.is_dir())
            .unwrap_or(false)
        {
            let mut names: Vec<_> = fs::read_dir(&src)
                .map_err(BuildError::io("reading directory", &src))?
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            names.sort();
            for name in names {
                self.copy_recursive(&rel.join(name))?;
            }
        }
        Ok(())
    }

    /// Copies everything below the source root into the destination root, leaving the
    /// destination root's own metadata alone (merging `files/` over `/`).
    pub fn copy_children(&mut self) -> Result<()> {
        let mut names: Vec<_> = fs::read_dir(&self.src_root)
            .map_err(BuildError::io("reading directory", &self.src_root))?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        for name in names {
            self.copy_recursive(Path::new(&name))?;
        }
        Ok(())
    }

    fn copy_with_meta(&mut self, src: &Path, dst: &Path, meta: &Metadata) -> Result<()> {
        let kind = meta.file_type();
        let existing = fs::symlink_metadata(dst).ok();
        if let Some(existing) = &existing {
            if !(kind.is_dir() && existing.is_dir()) {
                if existing.is_dir() {
                    fs::remove_dir_all(dst).map_err(BuildError::io("replacing", dst))?;
                } else {
                    fs::remove_file(dst).map_err(BuildError::io("replacing", dst))?;
                }
            }
        }
        if !kind.is_dir() && meta.nlink() > 1 {
            if let Some(first) = self.links.get(&(meta.dev(), meta.ino())) {
                fs::hard_link(first, dst).map_err(BuildError::io("hard-linking", dst))?;
                self.entries += 1;
                return Ok(());
            }
            self.links
                .insert((meta.dev(), meta.ino()), dst.to_path_buf());
        }
        if kind.is_dir() {
            if existing.as_ref().is_some_and(Metadata::is_dir) {
                // Merging over an existing directory keeps its owner and mode.
                return Ok(());
            }
            fs::create_dir(dst).map_err(BuildError::io("creating directory", dst))?;
        } else if kind.is_symlink() {
            let target = fs::read_link(src).map_err(BuildError::io("reading link", src))?;
            std::os::unix::fs::symlink(&target, dst)
                .map_err(BuildError::io("creating symlink", dst))?;
        } else if kind.is_file() {
            self.bytes += fs::copy(src, dst).map_err(BuildError::io("copying", dst))?;
        } else if kind.is_char_device()
            || kind.is_block_device()
            || kind.is_fifo()
            || kind.is_socket()
        {
            mknod(dst, meta.mode(), meta.rdev())?;
        }
        self.apply_metadata(src, dst, meta)?;
        self.entries += 1;
        Ok(())
    }

    fn apply_metadata(&mut self, src: &Path, dst: &Path, meta: &Metadata) -> Result<()> {
        let is_link = meta.file_type().is_symlink();
        let (uid, gid) = match self.ownership {
            Ownership::Preserve => (meta.uid(), meta.gid()),
            Ownership::Root => (0, 0),
        };
        // chown first: it clears set-id bits and capabilities, which are restored below.
        std::os::unix::fs::lchown(dst, Some(uid), Some(gid))
            .map_err(BuildError::io("changing owner of", dst))?;
        if !is_link {
            fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(BuildError::io("changing mode of", dst))?;
        }
        copy_xattrs(src, dst)?;
        let atime = FileTime::from_last_access_time(meta);
        let mtime = FileTime::from_last_modification_time(meta);
        if meta.is_dir() {
            self.dirs.push((dst.to_path_buf(), atime, mtime));
        } else {
            filetime::set_symlink_file_times(dst, atime, mtime)
                .map_err(BuildError::io("setting times of", dst))?;
        }
        Ok(())
    }

    /// Restores directory timestamps (writing into a directory changes its mtime, so this
    /// runs after all content is in place).
    pub fn finish(&mut self) -> Result<()> {
        for (dir, atime, mtime) in self.dirs.drain(..).rev() {
            filetime::set_symlink_file_times(&dir, atime, mtime)
                .map_err(BuildError::io("setting times of", &dir))?;
        }
        Ok(())
    }
}

fn mknod(path: &Path, mode: u32, rdev: u64) -> Result<()> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| BuildError::Io {
        action: "creating device node",
        path: path.to_path_buf(),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    // SAFETY: valid NUL-terminated path; mode and rdev come from lstat of the source.
    if unsafe { libc::mknod(c_path.as_ptr(), mode as libc::mode_t, rdev as libc::dev_t) } != 0 {
        return Err(BuildError::Io {
            action: "creating device node",
            path: path.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Copies every extended attribute of `src` to `dst` (without following symlinks).
/// File systems without xattr support are tolerated on the source side.
pub(crate) fn copy_xattrs(src: &Path, dst: &Path) -> Result<()> {
    let names = match xattr::list(src) {
        Ok(names) => names,
        Err(err) if err.raw_os_error() == Some(libc::ENOTSUP) => return Ok(()),
        Err(err) => return Err(BuildError::io("listing xattrs of", src)(err)),
    };
    for name in names {
        if let Some(value) =
            xattr::get(src, &name).map_err(BuildError::io("reading xattr of", src))?
        {
            xattr::set(dst, &name, &value).map_err(BuildError::io("writing xattr of", dst))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod merge_tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn files_go_through_the_images_links_to_directories() {
        let image = tempfile::tempdir().unwrap();
        let files = tempfile::tempdir().unwrap();
        fs::create_dir_all(image.path().join("usr/lib")).unwrap();
        fs::create_dir_all(image.path().join("run")).unwrap();
        fs::create_dir_all(image.path().join("var")).unwrap();
        symlink("usr/lib", image.path().join("lib")).unwrap();
        // Absolute, as Debian has it: resolved inside the image, never on this machine.
        symlink("/run", image.path().join("var/run")).unwrap();
        symlink("/etc/hostname", image.path().join("hostname-link")).unwrap();
        for dir in ["lib/firmware", "var/run/app"] {
            fs::create_dir_all(files.path().join(dir)).unwrap();
        }
        fs::write(files.path().join("lib/firmware/blob"), "fw").unwrap();
        fs::write(files.path().join("var/run/app/pid"), "1").unwrap();
        fs::write(files.path().join("hostname-link"), "file").unwrap();

        let mut copier =
            TreeCopier::merging_through_links(files.path(), image.path(), Ownership::Preserve);
        copier.copy_children().unwrap();
        copier.finish().unwrap();

        let lib = fs::symlink_metadata(image.path().join("lib")).unwrap();
        assert!(
            lib.file_type().is_symlink(),
            "/lib is still the image's link"
        );
        assert_eq!(
            fs::read_to_string(image.path().join("usr/lib/firmware/blob")).unwrap(),
            "fw"
        );
        assert!(fs::symlink_metadata(image.path().join("var/run"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read_to_string(image.path().join("run/app/pid")).unwrap(),
            "1"
        );
        // A file in files/ replaces a link of the same name (it is not written through).
        let replaced = fs::symlink_metadata(image.path().join("hostname-link")).unwrap();
        assert!(replaced.is_file());
    }

    #[test]
    fn a_plain_copy_still_replaces_links() {
        let dst = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(dst.path().join("usr/lib")).unwrap();
        symlink("usr/lib", dst.path().join("lib")).unwrap();
        fs::create_dir_all(src.path().join("lib")).unwrap();
        let mut copier = TreeCopier::new(src.path(), dst.path(), Ownership::Preserve);
        copier.copy_children().unwrap();
        assert!(fs::symlink_metadata(dst.path().join("lib"))
            .unwrap()
            .is_dir());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn copies_modes_symlinks_hardlinks_and_parents() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("usr/bin")).unwrap();
        fs::write(src.path().join("usr/bin/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            src.path().join("usr/bin/tool"),
            fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        fs::hard_link(
            src.path().join("usr/bin/tool"),
            src.path().join("usr/bin/tool2"),
        )
        .unwrap();
        symlink("usr/bin", src.path().join("bin")).unwrap();
        fs::set_permissions(src.path().join("usr"), fs::Permissions::from_mode(0o751)).unwrap();
        let old = FileTime::from_unix_time(1_000_000, 0);
        filetime::set_file_mtime(src.path().join("usr/bin/tool"), old).unwrap();

        let mut copier = TreeCopier::new(src.path(), dst.path(), Ownership::Preserve);
        copier.copy_entry(Path::new("usr/bin/tool")).unwrap();
        copier.copy_entry(Path::new("usr/bin/tool2")).unwrap();
        copier.copy_entry(Path::new("bin")).unwrap();
        copier.finish().unwrap();

        let tool = fs::metadata(dst.path().join("usr/bin/tool")).unwrap();
        assert_eq!(tool.mode() & 0o7777, 0o4755);
        assert_eq!(FileTime::from_last_modification_time(&tool), old);
        let tool2 = fs::metadata(dst.path().join("usr/bin/tool2")).unwrap();
        assert_eq!(tool.ino(), tool2.ino(), "hard link not preserved");
        assert_eq!(
            fs::read_link(dst.path().join("bin")).unwrap(),
            PathBuf::from("usr/bin")
        );
        assert_eq!(
            fs::metadata(dst.path().join("usr")).unwrap().mode() & 0o7777,
            0o751
        );
        assert_eq!(copier.entries, 5);
    }

    #[test]
    fn copies_user_xattrs() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::write(src.path().join("f"), "x").unwrap();
        if xattr::set(src.path().join("f"), "user.genpack", b"1").is_err() {
            return; // the temp file system has no user xattrs
        }
        let mut copier = TreeCopier::new(src.path(), dst.path(), Ownership::Preserve);
        copier.copy_entry(Path::new("f")).unwrap();
        assert_eq!(
            xattr::get(dst.path().join("f"), "user.genpack").unwrap(),
            Some(b"1".to_vec())
        );
    }
}
