//! Reading built genpack images without mounting them.
//!
//! An image is a SquashFS file. [`Image`] opens one (also at an offset, for an image inside a
//! disk or partition), reads files by path following symbolic links, and knows where genpack
//! keeps things: the `/.genpack` metadata, `/boot/kernel`, `/boot/initramfs` and the system.ini
//! schema at [`SYSTEM_INI_SCHEMA_PATH`].
//!
//! ```no_run
//! let image = genpack_image::Image::open(std::path::Path::new("demo-x86_64.squashfs")).unwrap();
//! let meta = image.metadata().unwrap();
//! println!("{} for {}", meta.artifact, meta.arch);
//! let kernel: Vec<u8> = image.kernel().unwrap();
//! ```

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use backhand::{FilesystemReader, InnerNode, Node, SquashfsFileReader};

/// Where an image ships the schema of the system.ini keys its boot-time modules read.
pub const SYSTEM_INI_SCHEMA_PATH: &str = "/usr/share/genpack/system-ini.schema.json";

/// Symbolic links followed before giving up.
const MAX_LINKS: usize = 40;

/// Errors reading an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The image file could not be opened.
    #[error("cannot open image {}: {source}", path.display())]
    Open {
        /// The image file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a readable SquashFS.
    #[error("{} is not a readable SquashFS image: {message}", path.display())]
    Format {
        /// The image file.
        path: PathBuf,
        /// What the SquashFS reader reported.
        message: String,
    },
    /// A path does not exist in the image.
    #[error("{inner} not found in image {}", image.display())]
    NotFound {
        /// The image file.
        image: PathBuf,
        /// Path inside the image.
        inner: String,
    },
    /// A path exists but is not a regular file (after following links).
    #[error("{inner} in image {} is not a regular file", image.display())]
    NotAFile {
        /// The image file.
        image: PathBuf,
        /// Path inside the image.
        inner: String,
    },
    /// Reading file data from the image failed.
    #[error("reading {inner} from image {}: {message}", image.display())]
    Read {
        /// The image file.
        image: PathBuf,
        /// Path inside the image.
        inner: String,
        /// What went wrong.
        message: String,
    },
    /// `/.genpack` is missing or malformed: the file is a SquashFS but not a genpack image.
    #[error("image {} has no usable /.genpack metadata: {message} (was it built by genpack?)", image.display())]
    Metadata {
        /// The image file.
        image: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

/// One package recorded in `/.genpack`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackageRecord {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Licence, when known.
    #[serde(default)]
    pub license: Option<String>,
}

/// The `/.genpack` metadata of an image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageMetadata {
    /// Image name.
    pub artifact: String,
    /// Architecture (`x86_64`...).
    pub arch: String,
    /// Profile, empty when none.
    pub profile: String,
    /// Variant, empty when none.
    pub variant: String,
    /// Build time, seconds since the epoch (when recorded).
    pub timestamp: Option<u64>,
    /// Packages in the image.
    pub packages: Vec<PackageRecord>,
}

/// Kind of an entry in the image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum EntryKind {
    /// Regular file with its size.
    File(u64),
    /// Directory.
    Dir,
    /// Symbolic link with its target.
    Symlink(PathBuf),
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// FIFO.
    Fifo,
    /// Socket.
    Socket,
}

/// One entry of the image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Absolute path inside the image.
    pub path: PathBuf,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits (including set-id and sticky bits).
    pub mode: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u32,
}

/// An opened image.
pub struct Image {
    path: PathBuf,
    fs: FilesystemReader<'static>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image").field("path", &self.path).finish()
    }
}

impl Image {
    /// Opens the SquashFS file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_at(path, 0)
    }

    /// Opens a SquashFS that starts `offset` bytes into `path` (a partition inside a disk
    /// image, for instance).
    pub fn open_at(path: &Path, offset: u64) -> Result<Self> {
        let file = File::open(path).map_err(|source| ImageError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let fs = FilesystemReader::from_reader_with_offset(BufReader::new(file), offset).map_err(
            |e| ImageError::Format {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        )?;
        Ok(Self {
            path: path.to_path_buf(),
            fs,
        })
    }

    /// The image file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, in path order.
    pub fn entries(&self) -> Vec<Entry> {
        self.fs
            .files()
            .map(|node| Entry {
                path: node.fullpath.clone(),
                kind: match &node.inner {
                    InnerNode::File(file) => EntryKind::File(file.file_len() as u64),
                    InnerNode::Dir(_) => EntryKind::Dir,
                    InnerNode::Symlink(link) => EntryKind::Symlink(link.link.clone()),
                    InnerNode::CharacterDevice(_) => EntryKind::CharDevice,
                    InnerNode::BlockDevice(_) => EntryKind::BlockDevice,
                    InnerNode::NamedPipe => EntryKind::Fifo,
                    InnerNode::Socket => EntryKind::Socket,
                },
                mode: node.header.permissions,
                uid: node.header.uid,
                gid: node.header.gid,
                mtime: node.header.mtime,
            })
            .collect()
    }

    fn node(&self, path: &Path) -> Option<&Node<SquashfsFileReader>> {
        self.fs.files().find(|node| node.fullpath == path)
    }

    /// The entry at `path` without following a final symlink.
    pub fn entry(&self, path: &str) -> Option<Entry> {
        let wanted = normalise(Path::new(path));
        self.entries().into_iter().find(|e| e.path == wanted)
    }

    /// Whether `path` exists (a dangling symlink counts as existing).
    pub fn exists(&self, path: &str) -> bool {
        self.node(&normalise(Path::new(path))).is_some()
    }

    /// Follows symbolic links (in every component) and returns the final path.
    pub fn resolve(&self, path: &str) -> Result<PathBuf> {
        let mut pending: Vec<PathBuf> = normalise(Path::new(path))
            .components()
            .rev()
            .map(|c| PathBuf::from(c.as_os_str()))
            .collect();
        let mut current = PathBuf::from("/");
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match Path::new(&part).components().next() {
                Some(Component::RootDir) | Some(Component::CurDir) | None => continue,
                Some(Component::ParentDir) => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            let candidate = current.join(&part);
            let node = self.node(&candidate).ok_or_else(|| ImageError::NotFound {
                image: self.path.clone(),
                inner: path.to_string(),
            })?;
            if let InnerNode::Symlink(link) = &node.inner {
                hops += 1;
                if hops > MAX_LINKS {
                    return Err(ImageError::NotFound {
                        image: self.path.clone(),
                        inner: path.to_string(),
                    });
                }
                if link.link.is_absolute() {
                    current = PathBuf::from("/");
                }
                for c in link.link.components().rev() {
                    pending.push(PathBuf::from(c.as_os_str()));
                }
            } else {
                current = candidate;
            }
        }
        Ok(current)
    }

    /// The content of the regular file at `path`, following symbolic links.
    pub fn read(&self, path: &str) -> Result<Vec<u8>> {
        let real = self.resolve(path)?;
        let node = self.node(&real).ok_or_else(|| ImageError::NotFound {
            image: self.path.clone(),
            inner: path.to_string(),
        })?;
        let InnerNode::File(file) = &node.inner else {
            return Err(ImageError::NotAFile {
                image: self.path.clone(),
                inner: path.to_string(),
            });
        };
        let mut data = Vec::with_capacity(file.file_len());
        self.fs
            .file(file)
            .reader()
            .read_to_end(&mut data)
            .map_err(|e| ImageError::Read {
                image: self.path.clone(),
                inner: path.to_string(),
                message: e.to_string(),
            })?;
        Ok(data)
    }

    /// Like [`Image::read`], as UTF-8 text (invalid bytes replaced).
    pub fn read_text(&self, path: &str) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.read(path)?).into_owned())
    }

    /// The `/.genpack` metadata.
    pub fn metadata(&self) -> Result<ImageMetadata> {
        let field = |name: &str| -> Result<String> {
            match self.read_text(&format!("/.genpack/{name}")) {
                Ok(text) => Ok(text.trim().to_string()),
                Err(ImageError::NotFound { .. }) => Ok(String::new()),
                Err(e) => Err(e),
            }
        };
        let artifact = field("artifact")?;
        if artifact.is_empty() {
            return Err(ImageError::Metadata {
                image: self.path.clone(),
                message: "/.genpack/artifact is missing".into(),
            });
        }
        let packages = match self.read("/.genpack/packages.json") {
            Ok(json) => serde_json::from_slice(&json).map_err(|e| ImageError::Metadata {
                image: self.path.clone(),
                message: format!("/.genpack/packages.json: {e}"),
            })?,
            Err(ImageError::NotFound { .. }) => parse_packages_text(&field("packages")?),
            Err(e) => return Err(e),
        };
        Ok(ImageMetadata {
            artifact,
            arch: field("arch")?,
            profile: field("profile")?,
            variant: field("variant")?,
            timestamp: field("timestamp")?.parse().ok(),
            packages,
        })
    }

    /// The kernel: `/boot/kernel`, else the newest `/boot/vmlinuz-*`.
    pub fn kernel(&self) -> Result<Vec<u8>> {
        self.read_first(&["/boot/kernel", "/boot/vmlinuz"], "/boot/vmlinuz-")
    }

    /// The initramfs: `/boot/initramfs`, else `/boot/initramfs.img` or `/boot/initrd.img`.
    pub fn initramfs(&self) -> Result<Vec<u8>> {
        self.read_first(
            &["/boot/initramfs", "/boot/initramfs.img", "/boot/initrd.img"],
            "/boot/initrd.img-",
        )
    }

    fn read_first(&self, names: &[&str], versioned_prefix: &str) -> Result<Vec<u8>> {
        for name in names {
            match self.read(name) {
                Err(ImageError::NotFound { .. }) => continue,
                other => return other,
            }
        }
        let mut versioned: Vec<String> = self
            .fs
            .files()
            .map(|n| n.fullpath.to_string_lossy().into_owned())
            .filter(|p| p.starts_with(versioned_prefix))
            .collect();
        versioned.sort();
        match versioned.pop() {
            Some(path) => self.read(&path),
            None => Err(ImageError::NotFound {
                image: self.path.clone(),
                inner: names.join(" or "),
            }),
        }
    }

    /// The system.ini schema the image ships, when it ships one.
    pub fn system_ini_schema(&self) -> Result<Option<serde_json::Value>> {
        match self.read(SYSTEM_INI_SCHEMA_PATH) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| ImageError::Metadata {
                        image: self.path.clone(),
                        message: format!("{SYSTEM_INI_SCHEMA_PATH}: {e}"),
                    })
            }
            Err(ImageError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Parses the text form of `/.genpack/packages`: `name version` lines, each followed by
/// optional `# DESCRIPTION:` and `# LICENSE:` lines.
pub fn parse_packages_text(text: &str) -> Vec<PackageRecord> {
    let mut records: Vec<PackageRecord> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# DESCRIPTION:") {
            if let Some(last) = records.last_mut() {
                last.description = rest.trim().to_string();
            }
        } else if let Some(rest) = line.strip_prefix("# LICENSE:") {
            if let Some(last) = records.last_mut() {
                last.license = Some(rest.trim().to_string());
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let mut parts = line.split_whitespace();
            let name = parts.next().unwrap_or_default().to_string();
            let version = parts.next().unwrap_or_default().to_string();
            records.push(PackageRecord {
                name,
                version,
                description: String::new(),
                license: None,
            });
        }
    }
    records
}

fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn build_image(dir: &Path) -> PathBuf {
        let root = dir.join("root");
        std::fs::create_dir_all(root.join(".genpack")).unwrap();
        std::fs::create_dir_all(root.join("boot")).unwrap();
        std::fs::create_dir_all(root.join("usr/share/genpack")).unwrap();
        std::fs::write(root.join(".genpack/artifact"), "demo\n").unwrap();
        std::fs::write(root.join(".genpack/arch"), "x86_64\n").unwrap();
        std::fs::write(root.join(".genpack/timestamp"), "1700000000\n").unwrap();
        std::fs::write(
            root.join(".genpack/packages"),
            "bash 5.2\n# DESCRIPTION: shell\n# LICENSE: GPL-3+\nzlib1g 1.2\n",
        )
        .unwrap();
        std::fs::write(root.join("boot/vmlinuz-6.1.0-9"), b"KERNEL").unwrap();
        std::os::unix::fs::symlink("vmlinuz-6.1.0-9", root.join("boot/kernel")).unwrap();
        std::fs::write(root.join("boot/initramfs"), b"INITRD").unwrap();
        std::fs::write(
            root.join("usr/share/genpack/system-ini.schema.json"),
            r#"{"keys":[]}"#,
        )
        .unwrap();
        let image = dir.join("demo.squashfs");
        let status = Command::new("mksquashfs")
            .arg(&root)
            .arg(&image)
            .args(["-noappend", "-quiet", "-no-progress"])
            .status()
            .unwrap();
        assert!(status.success());
        image
    }

    #[test]
    fn reads_metadata_kernel_initramfs_and_schema_from_a_mksquashfs_image() {
        let dir = tempfile::tempdir().unwrap();
        let image = Image::open(&build_image(dir.path())).unwrap();
        let meta = image.metadata().unwrap();
        assert_eq!(meta.artifact, "demo");
        assert_eq!(meta.arch, "x86_64");
        assert_eq!(meta.variant, "");
        assert_eq!(meta.timestamp, Some(1_700_000_000));
        assert_eq!(meta.packages.len(), 2);
        assert_eq!(meta.packages[0].license.as_deref(), Some("GPL-3+"));
        assert_eq!(image.kernel().unwrap(), b"KERNEL");
        assert_eq!(image.initramfs().unwrap(), b"INITRD");
        assert_eq!(
            image.resolve("/boot/kernel").unwrap(),
            PathBuf::from("/boot/vmlinuz-6.1.0-9")
        );
        assert!(image.system_ini_schema().unwrap().is_some());
        assert!(matches!(
            image.read("/nope"),
            Err(ImageError::NotFound { .. })
        ));
        assert!(matches!(
            image.read("/boot"),
            Err(ImageError::NotAFile { .. })
        ));
    }

    #[test]
    fn a_non_image_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk");
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        assert!(matches!(Image::open(&path), Err(ImageError::Format { .. })));
    }
}
