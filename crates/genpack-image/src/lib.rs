//! Reading built genpack images without mounting them.
//!
//! An image is a SquashFS file. [`Image`] opens one (also at an offset, for an image inside a
//! disk or partition), reads files by path following symbolic links, and knows where genpack
//! keeps things: the `/.genpack` metadata, the kernel and initramfs it boots
//! ([`Image::boot_entry`]), the drivers of that kernel ([`Image::kernel_drivers`]) and the
//! system.ini schema at [`SYSTEM_INI_SCHEMA_PATH`]. The VM runner, `genpack install` and the
//! studio all read images through this crate.
//!
//! ```no_run
//! let image = genpack_image::Image::open(std::path::Path::new("demo-x86_64.squashfs")).unwrap();
//! let meta = image.metadata().unwrap();
//! println!("{} for {}", meta.artifact, meta.arch);
//! let kernel: Vec<u8> = image.kernel().unwrap();
//! ```

use std::fs::File;
use std::io::{BufReader, Write};
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
    /// The image has no kernel and initramfs pair to boot.
    #[error("image {} has nothing to boot: {reason}", image.display())]
    NoBootFiles {
        /// The image file.
        image: PathBuf,
        /// What was looked for and what is missing.
        reason: String,
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

    /// Opens a SquashFS read through `reader` (for an image that is not a plain file, e.g.
    /// `system.img` inside the FAT boot partition of a stick); `name` is what messages call it.
    pub fn from_reader<R>(name: &Path, reader: R) -> Result<Self>
    where
        R: std::io::Read + std::io::Seek + Send + 'static,
    {
        let fs = FilesystemReader::from_reader(BufReader::new(reader)).map_err(|e| {
            ImageError::Format {
                path: name.to_path_buf(),
                message: e.to_string(),
            }
        })?;
        Ok(Self {
            path: name.to_path_buf(),
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
        // backhand keeps the nodes sorted by path.
        let nodes = &self.fs.root.nodes;
        nodes
            .binary_search_by(|node| node.fullpath.as_path().cmp(path))
            .ok()
            .map(|index| &nodes[index])
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
        let file = self.regular_file(path)?;
        let mut data = Vec::with_capacity(file.file_len());
        self.copy_to(path, &mut data)?;
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

    /// Copies the regular file at `path` (following symbolic links) into `out` without holding
    /// it in memory; returns the number of bytes copied.
    pub fn copy_to(&self, path: &str, out: &mut impl Write) -> Result<u64> {
        let file = self.regular_file(path)?;
        let mut reader = self.fs.file(file).reader();
        std::io::copy(&mut reader, out).map_err(|e| ImageError::Read {
            image: self.path.clone(),
            inner: path.to_string(),
            message: e.to_string(),
        })
    }

    fn regular_file(&self, path: &str) -> Result<&SquashfsFileReader> {
        let real = self.resolve(path)?;
        let node = self.node(&real).ok_or_else(|| ImageError::NotFound {
            image: self.path.clone(),
            inner: path.to_string(),
        })?;
        match &node.inner {
            InnerNode::File(file) => Ok(file),
            _ => Err(ImageError::NotAFile {
                image: self.path.clone(),
                inner: path.to_string(),
            }),
        }
    }

    /// The kernel and initramfs this image boots.
    ///
    /// The rule, for every reader (the VM runner, `genpack install`, the studio):
    /// 1. `/boot/kernel` with `/boot/initramfs`: what genpack writes and what the boot menu of an
    ///    installed image boots. One without the other is an error, not a reason to guess.
    /// 2. Otherwise the newest kernel release installed as `/boot/vmlinuz-<release>` (or
    ///    `kernel-<release>`), newest by version (`6.1.0-10` is newer than `6.1.0-9`), with the
    ///    initramfs made for that same release (`initramfs-<release>.img`,
    ///    `initrd.img-<release>` or `initramfs-<release>`). A kernel is never paired with
    ///    another release's initramfs.
    pub fn boot_entry(&self) -> Result<BootEntry> {
        let no_boot = |reason: String| ImageError::NoBootFiles {
            image: self.path.clone(),
            reason,
        };
        match (
            self.resolve(GENPACK_KERNEL),
            self.resolve(GENPACK_INITRAMFS),
        ) {
            (Ok(kernel), Ok(initramfs)) => {
                let release = release_of_kernel_path(&kernel);
                return Ok(BootEntry {
                    kernel,
                    initramfs,
                    release,
                });
            }
            (Ok(_), Err(_)) => {
                return Err(no_boot(format!(
                    "it has {GENPACK_KERNEL} but no {GENPACK_INITRAMFS}"
                )))
            }
            (Err(_), Ok(_)) => {
                return Err(no_boot(format!(
                    "it has {GENPACK_INITRAMFS} but no {GENPACK_KERNEL}"
                )))
            }
            (Err(_), Err(_)) => {}
        }
        let boot = self
            .resolve("/boot")
            .unwrap_or_else(|_| PathBuf::from("/boot"));
        let mut releases: Vec<(String, PathBuf)> = self
            .children(&boot)
            .filter_map(|node| {
                let name = node.fullpath.file_name()?.to_string_lossy().into_owned();
                let release = release_of_kernel_file(&name)?.to_string();
                Some((release, node.fullpath.clone()))
            })
            .collect();
        releases.sort_by(|a, b| compare_versions(&a.0, &b.0));
        let Some((release, kernel)) = releases.pop() else {
            return Err(no_boot(format!(
                "no {GENPACK_KERNEL} and {GENPACK_INITRAMFS}, and no /boot/vmlinuz-<release>"
            )));
        };
        let candidates = [
            format!("/boot/initramfs-{release}.img"),
            format!("/boot/initrd.img-{release}"),
            format!("/boot/initramfs-{release}"),
        ];
        let initramfs = candidates
            .iter()
            .find_map(|candidate| self.resolve(candidate).ok())
            .ok_or_else(|| {
                no_boot(format!(
                    "{} has no initramfs of its release (looked for {})",
                    kernel.display(),
                    candidates.join(", ")
                ))
            })?;
        Ok(BootEntry {
            kernel: self.resolve(&kernel.to_string_lossy())?,
            initramfs,
            release: Some(release),
        })
    }

    /// The kernel the image boots (see [`Image::boot_entry`]).
    pub fn kernel(&self) -> Result<Vec<u8>> {
        self.read(&self.boot_entry()?.kernel.to_string_lossy())
    }

    /// The initramfs the image boots (see [`Image::boot_entry`]).
    pub fn initramfs(&self) -> Result<Vec<u8>> {
        self.read(&self.boot_entry()?.initramfs.to_string_lossy())
    }

    /// The drivers the image's kernel has, built in or as modules, read from
    /// `/lib/modules/<release>` of the release [`Image::boot_entry`] boots (the only release
    /// there when the boot entry does not name one). Empty when the image does not say.
    pub fn kernel_drivers(&self) -> KernelDrivers {
        let release = self.boot_entry().ok().and_then(|entry| entry.release);
        let modules_dir = match release {
            Some(release) => self.resolve(&format!("/lib/modules/{release}")).ok(),
            None => {
                let dirs: Vec<PathBuf> = self.resolve("/lib/modules").map_or_else(
                    |_| Vec::new(),
                    |dir| {
                        self.children(&dir)
                            .filter(|n| matches!(n.inner, InnerNode::Dir(_)))
                            .map(|n| n.fullpath.clone())
                            .collect()
                    },
                );
                match dirs.as_slice() {
                    [only] => Some(only.clone()),
                    _ => None,
                }
            }
        };
        let Some(dir) = modules_dir.filter(|d| self.node(d).is_some()) else {
            return KernelDrivers::default();
        };
        let mut names = std::collections::BTreeSet::new();
        let builtin = dir.join("modules.builtin");
        if let Ok(text) = self.read_text(&builtin.to_string_lossy()) {
            names.extend(text.lines().filter_map(module_name));
        }
        let prefix = dir.join("kernel");
        for node in self.fs.root.nodes.iter() {
            if matches!(node.inner, InnerNode::File(_)) && node.fullpath.starts_with(&prefix) {
                names.extend(module_name(&node.fullpath.to_string_lossy()));
            }
        }
        KernelDrivers { known: true, names }
    }

    /// The entries directly inside the folder `dir` (an exact, resolved path).
    fn children<'a>(
        &'a self,
        dir: &'a Path,
    ) -> impl Iterator<Item = &'a Node<SquashfsFileReader>> + 'a {
        self.fs
            .root
            .nodes
            .iter()
            .filter(move |node| node.fullpath.parent() == Some(dir))
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

/// Where genpack puts the kernel an image boots (a symlink to the installed kernel).
pub const GENPACK_KERNEL: &str = "/boot/kernel";
/// Where genpack puts the initramfs an image boots.
pub const GENPACK_INITRAMFS: &str = "/boot/initramfs";

/// The kernel and initramfs an image boots, as resolved paths inside the image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BootEntry {
    /// The kernel file.
    pub kernel: PathBuf,
    /// The initramfs file.
    pub initramfs: PathBuf,
    /// The kernel release (`6.1.0-57-cloud-amd64`), when the kernel's file name says it.
    pub release: Option<String>,
}

/// The drivers an image's kernel has, by module name (`atkbd`, `virtio_input`, `usbhid`...),
/// whether built in or loadable.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KernelDrivers {
    known: bool,
    names: std::collections::BTreeSet<String>,
}

impl KernelDrivers {
    /// A list made from module names (for callers that learnt them elsewhere, and tests).
    pub fn from_names<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        KernelDrivers {
            known: true,
            names: names
                .into_iter()
                .map(|n| n.as_ref().replace('-', "_"))
                .collect(),
        }
    }

    /// Whether the image said which drivers its kernel has.
    pub fn is_known(&self) -> bool {
        self.known
    }

    /// Whether the kernel has the driver `name` (`-` and `_` are the same, as for modprobe).
    pub fn has(&self, name: &str) -> bool {
        self.names.contains(&name.replace('-', "_"))
    }
}

/// The release in a kernel file name: `vmlinuz-6.1.0-9-amd64` → `6.1.0-9-amd64`.
fn release_of_kernel_file(name: &str) -> Option<&str> {
    ["vmlinuz-", "kernel-"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .filter(|release| release.starts_with(|c: char| c.is_ascii_digit()))
}

/// The release of a kernel at `/boot/vmlinuz-<release>` or `/lib/modules/<release>/vmlinuz`
/// (Gentoo's distribution kernels).
fn release_of_kernel_path(kernel: &Path) -> Option<String> {
    let name = kernel.file_name()?.to_string_lossy();
    if let Some(release) = release_of_kernel_file(&name) {
        return Some(release.to_string());
    }
    let folder = kernel.parent()?;
    (folder.parent()? == Path::new("/lib/modules")
        || folder.parent()? == Path::new("/usr/lib/modules"))
    .then(|| folder.file_name().map(|n| n.to_string_lossy().into_owned()))
    .flatten()
}

/// The module name of a `modules.builtin` line or a module file path:
/// `kernel/drivers/input/keyboard/atkbd.ko` → `atkbd`, `hid-generic.ko.xz` → `hid_generic`.
fn module_name(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split(".ko").next().filter(|_| file.contains(".ko"))?;
    Some(stem.replace('-', "_"))
}

/// Compares kernel releases as versions: runs of digits by value, everything else as text.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
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

    fn squashfs_of(dir: &Path, files: &[(&str, &str)], links: &[(&str, &str)]) -> Image {
        let root = dir.join("root");
        for (path, content) in files {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, content).unwrap();
        }
        for (path, target) in links {
            let link = root.join(path);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, link).unwrap();
        }
        let image = dir.join("test.squashfs");
        let status = Command::new("mksquashfs")
            .arg(&root)
            .arg(&image)
            .args(["-noappend", "-quiet", "-no-progress"])
            .status()
            .unwrap();
        assert!(status.success());
        Image::open(&image).unwrap()
    }

    #[test]
    fn without_boot_kernel_the_newest_release_boots_with_its_own_initramfs() {
        let dir = tempfile::tempdir().unwrap();
        let image = squashfs_of(
            dir.path(),
            &[
                ("boot/vmlinuz-6.1.0-9-amd64", "K9"),
                ("boot/vmlinuz-6.1.0-10-amd64", "K10"),
                ("boot/initrd.img-6.1.0-9-amd64", "I9"),
            ],
            &[],
        );
        // 6.1.0-10 is the newest (by version, not by text) and has no initramfs of its own:
        // the 6.1.0-9 one is not borrowed.
        let err = image.boot_entry().unwrap_err();
        assert!(matches!(err, ImageError::NoBootFiles { .. }), "{err}");
        assert!(err.to_string().contains("vmlinuz-6.1.0-10-amd64"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let image = squashfs_of(
            dir.path(),
            &[
                ("boot/vmlinuz-6.1.0-9-amd64", "K9"),
                ("boot/vmlinuz-6.1.0-10-amd64", "K10"),
                ("boot/initrd.img-6.1.0-9-amd64", "I9"),
                ("boot/initramfs-6.1.0-10-amd64.img", "I10"),
            ],
            &[("vmlinuz", "boot/vmlinuz-6.1.0-9-amd64")],
        );
        let entry = image.boot_entry().unwrap();
        assert_eq!(entry.release.as_deref(), Some("6.1.0-10-amd64"));
        assert_eq!(image.kernel().unwrap(), b"K10");
        assert_eq!(image.initramfs().unwrap(), b"I10");
    }

    #[test]
    fn boot_kernel_without_boot_initramfs_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let image = squashfs_of(
            dir.path(),
            &[
                ("boot/vmlinuz-6.1.0-9-amd64", "K9"),
                ("boot/initrd.img-6.1.0-9-amd64", "I9"),
            ],
            &[("boot/kernel", "vmlinuz-6.1.0-9-amd64")],
        );
        let err = image.boot_entry().unwrap_err();
        assert!(err.to_string().contains("no /boot/initramfs"), "{err}");
    }

    #[test]
    fn kernel_drivers_come_from_the_booted_release() {
        let dir = tempfile::tempdir().unwrap();
        let image = squashfs_of(
            dir.path(),
            &[
                ("boot/vmlinuz-6.1.0-57-cloud-amd64", "K"),
                ("boot/initramfs", "I"),
                (
                    "usr/lib/modules/6.1.0-57-cloud-amd64/modules.builtin",
                    "kernel/drivers/input/serio/i8042.ko\nkernel/drivers/input/keyboard/atkbd.ko\n",
                ),
                (
                    "usr/lib/modules/6.1.0-57-cloud-amd64/kernel/drivers/virtio/virtio_input.ko.xz",
                    "",
                ),
                (
                    "usr/lib/modules/6.1.0-57-cloud-amd64/kernel/drivers/hid/hid-generic.ko",
                    "",
                ),
                (
                    "usr/lib/modules/5.0.0-old/kernel/drivers/hid/usbhid/usbhid.ko",
                    "",
                ),
            ],
            &[
                ("boot/kernel", "vmlinuz-6.1.0-57-cloud-amd64"),
                ("lib", "usr/lib"),
            ],
        );
        let drivers = image.kernel_drivers();
        assert!(drivers.is_known());
        for present in [
            "atkbd",
            "i8042",
            "virtio_input",
            "hid_generic",
            "hid-generic",
        ] {
            assert!(drivers.has(present), "{present}");
        }
        assert!(!drivers.has("usbhid"), "another release's module counts");

        let dir = tempfile::tempdir().unwrap();
        let image = squashfs_of(dir.path(), &[("etc/hostname", "x")], &[]);
        assert!(!image.kernel_drivers().is_known());
    }

    #[test]
    fn kernel_releases_compare_as_versions() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("6.1.0-10-amd64", "6.1.0-9-amd64"), Greater);
        assert_eq!(compare_versions("6.10.1", "6.9.12"), Greater);
        assert_eq!(compare_versions("6.1.0", "6.1.0"), Equal);
        assert_eq!(compare_versions("6.1", "6.1.0"), Less);
    }

    #[test]
    fn a_non_image_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk");
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        assert!(matches!(Image::open(&path), Err(ImageError::Format { .. })));
    }
}
