//! Which system.ini schema an editor uses. Every image ships the schema of the keys its
//! boot-time modules read (genpack-init's own and those of drop-in modules) at
//! [`genpack_image::SYSTEM_INI_SCHEMA_PATH`]; [`settings_schema`] reads it from the image a
//! project builds or from the image on a stick, in user space and in place: `system.img` on
//! the FAT boot partition, or, for an image too large for FAT32, `system` on the btrfs data
//! partition (labelled `data-<boot volume id>`, `d-…` or `wbdata-…`, else partition 2, as the
//! boot looks for it). Without an image to read it falls back to genpack-init's built-in
//! schema with a note saying why. The command line and the studio both ask this one function.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use genpack_image::Image;
use genpack_ini::Schema;
use serde::Serialize;

use crate::boot_partition::{BootPartition, BootPartitionError};
use crate::update::SYSTEM_IMG;

/// Where to look for the schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SchemaPlace {
    /// An image file (a project's build output); it may not have been built yet.
    Image(PathBuf),
    /// A stick, disk or disk image written by `genpack install`: its `system.img`.
    Disk(PathBuf),
    /// No image to read, for the reason given (the end of "Built-in settings: …"):
    /// genpack-init's built-in schema.
    NoImage(String),
}

/// Where the schema in use came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(rename = "SchemaOrigin")]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum SchemaOrigin {
    /// The schema the image file ships.
    Image {
        /// The image file.
        image: PathBuf,
        /// When it was built, in seconds since the epoch (its `/.genpack` record, else the
        /// file's modification time).
        built_at: Option<u64>,
    },
    /// The schema of `system.img` on the boot partition of a stick or disk image.
    Disk {
        /// The stick, disk or disk image.
        disk: PathBuf,
        /// When the image was built, in seconds since the epoch, when it says.
        built_at: Option<u64>,
    },
    /// genpack-init's built-in schema.
    Builtin {
        /// Why no image's own schema is used, as a sentence for people.
        reason: String,
    },
}

impl SchemaOrigin {
    /// One sentence for people saying where the settings come from.
    pub fn describe(&self) -> String {
        match self {
            SchemaOrigin::Image { image, built_at } => format!(
                "Settings from the image {}{}.",
                image.display(),
                built_at
                    .map(|t| format!(" built {}", utc(t)))
                    .unwrap_or_default()
            ),
            SchemaOrigin::Disk { disk, built_at } => format!(
                "Settings from system.img on {}{}.",
                disk.display(),
                built_at
                    .map(|t| format!(" (built {})", utc(t)))
                    .unwrap_or_default()
            ),
            SchemaOrigin::Builtin { reason } => format!("Built-in settings: {reason}."),
        }
    }

    /// Whether this is genpack-init's built-in schema rather than an image's own.
    pub fn is_builtin(&self) -> bool {
        matches!(self, SchemaOrigin::Builtin { .. })
    }
}

/// A schema and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(rename = "SettingsSchema")]
pub struct SettingsSchema {
    /// The keys the form shows and validation knows.
    pub schema: Schema,
    /// Where they came from.
    pub origin: SchemaOrigin,
}

impl SettingsSchema {
    fn builtin(reason: String) -> Self {
        SettingsSchema {
            schema: Schema::builtin(),
            origin: SchemaOrigin::Builtin { reason },
        }
    }
}

/// The schema for an editor of the settings of `place`: the image's own when it can be read,
/// else the built-in one with the reason. Never fails: a problem with the image is the reason.
pub fn settings_schema(place: &SchemaPlace) -> SettingsSchema {
    match place {
        SchemaPlace::NoImage(reason) => SettingsSchema::builtin(reason.clone()),
        SchemaPlace::Image(path) => from_image_file(path),
        SchemaPlace::Disk(disk) => from_disk(disk),
    }
}

fn from_image_file(path: &Path) -> SettingsSchema {
    let name = file_name(path);
    if !path.exists() {
        return SettingsSchema::builtin(format!(
            "{name} is not built yet; build the image to see its own settings"
        ));
    }
    let image = match Image::open(path) {
        Ok(image) => image,
        Err(error) => {
            return SettingsSchema::builtin(format!("{name} could not be read ({error})"))
        }
    };
    let built_at = image
        .metadata()
        .ok()
        .and_then(|meta| meta.timestamp)
        .or_else(|| modified(path));
    match schema_of(&image) {
        Ok(schema) => SettingsSchema {
            schema,
            origin: SchemaOrigin::Image {
                image: path.to_path_buf(),
                built_at,
            },
        },
        Err(reason) => SettingsSchema::builtin(format!("{name} {reason}")),
    }
}

fn from_disk(disk: &Path) -> SettingsSchema {
    let image = match open_system_img(disk) {
        Ok(image) => image,
        Err(reason) => return SettingsSchema::builtin(reason),
    };
    let built_at = image.metadata().ok().and_then(|meta| meta.timestamp);
    match schema_of(&image) {
        Ok(schema) => SettingsSchema {
            schema,
            origin: SchemaOrigin::Disk {
                disk: disk.to_path_buf(),
                built_at,
            },
        },
        Err(reason) => {
            SettingsSchema::builtin(format!("system.img on {} {reason}", disk.display()))
        }
    }
}

/// The image's schema, or the end of a sentence saying why there is none.
fn schema_of(image: &Image) -> Result<Schema, String> {
    match image.system_ini_schema() {
        Ok(Some(value)) => serde_json::from_value(value)
            .map_err(|error| format!("has a settings schema that cannot be read ({error})")),
        Ok(None) => Err(format!(
            "has no settings schema ({}); it was built by an older genpack",
            genpack_image::SYSTEM_INI_SCHEMA_PATH
        )),
        Err(error) => Err(format!("could not be read ({error})")),
    }
}

/// The image on `disk`, read in place: `system.img` on the boot partition through its
/// clusters, else `system` on the data partition through its extents.
fn open_system_img(disk: &Path) -> Result<Image, String> {
    let partition = BootPartition::open_read_only(disk).map_err(|error| match error {
        BootPartitionError::NotFound { .. } => {
            format!("{} has no FAT boot partition with an image", disk.display())
        }
        other => other.to_string(),
    })?;
    let offset = partition.location().offset;
    let volume_id = partition.volume_id().to_string();
    let entry = partition.root_entry(SYSTEM_IMG);
    drop(partition);
    let Some((short_name, size)) = entry else {
        return open_data_system(disk, &volume_id);
    };
    let missing = || {
        format!(
            "{} has no {SYSTEM_IMG} on its boot partition",
            disk.display()
        )
    };
    let unreadable =
        |error: std::io::Error| format!("reading {SYSTEM_IMG} on {}: {error}", disk.display());
    let mut file =
        crate::boot_partition::open_disk(disk, false).map_err(|error| error.to_string())?;
    let extents = crate::fat::root_file_extents(&mut file, offset, &short_name)
        .map_err(unreadable)?
        .ok_or_else(missing)?;
    let found: u64 = extents.iter().map(|(_, length)| length).sum();
    if found != size {
        return Err(unreadable(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("its directory entry says {size} bytes, its clusters hold {found}"),
        )));
    }
    let name = disk.join(SYSTEM_IMG);
    let runs = extents
        .into_iter()
        .map(|(offset, length)| (Some(offset), length))
        .collect();
    Image::from_reader(&name, ExtentReader::new(file, runs)).map_err(|error| {
        format!(
            "{SYSTEM_IMG} on {} could not be read ({error})",
            disk.display()
        )
    })
}

/// The image's name on the data partition.
const DATA_SYSTEM: &str = "system";

/// `system` on the btrfs data partition of `disk`, found as the boot finds it: the partition
/// labelled `data-`, `d-` or `wbdata-` and the boot partition's volume id, else partition 2.
fn open_data_system(disk: &Path, volume_id: &str) -> Result<Image, String> {
    let none = || {
        format!(
            "{} has no {SYSTEM_IMG} on its boot partition and no {DATA_SYSTEM} on a data partition",
            disk.display()
        )
    };
    let unreadable = |error: std::io::Error| {
        format!("reading the data partition of {}: {error}", disk.display())
    };
    let mut file = File::open(disk).map_err(unreadable)?;
    let partitions = crate::boot_partition::partition_offsets(&mut file).map_err(unreadable)?;
    let labels = ["data-", "d-", "wbdata-"].map(|prefix| format!("{prefix}{volume_id}"));
    let mut labelled = None;
    let mut second = None;
    for (number, offset) in partitions {
        let Some(fs) = crate::btrfs::Btrfs::open(&file, offset).map_err(unreadable)? else {
            continue;
        };
        if labels.iter().any(|label| label == fs.label()) && labelled.is_none() {
            labelled = Some(offset);
        }
        if number == 2 {
            second = Some(offset);
        }
    }
    let offset = labelled.or(second).ok_or_else(none)?;
    let found = crate::btrfs::Btrfs::open(&file, offset)
        .and_then(|fs| match fs {
            Some(fs) => fs.root_file(DATA_SYSTEM),
            None => Ok(None),
        })
        .map_err(unreadable)?;
    let (_, runs) = found.ok_or_else(none)?;
    let name = disk.join(DATA_SYSTEM);
    Image::from_reader(&name, ExtentReader::new(file, runs)).map_err(|error| {
        format!(
            "{DATA_SYSTEM} on the data partition of {} could not be read ({error})",
            disk.display()
        )
    })
}

/// A file made of runs of a disk, read as one stream.
struct ExtentReader {
    disk: File,
    /// `(position in the file, disk offset or `None` for zeros, length)`, in file order.
    runs: Vec<(u64, Option<u64>, u64)>,
    size: u64,
    position: u64,
}

impl ExtentReader {
    fn new(disk: File, extents: Vec<(Option<u64>, u64)>) -> Self {
        let mut runs = Vec::with_capacity(extents.len());
        let mut size = 0;
        for (offset, length) in extents {
            runs.push((size, offset, length));
            size += length;
        }
        Self {
            disk,
            runs,
            size,
            position: 0,
        }
    }
}

impl Read for ExtentReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let index = self
            .runs
            .partition_point(|(start, _, _)| *start <= self.position)
            - 1;
        let (start, offset, length) = self.runs[index];
        let within = self.position - start;
        let wanted = (buf.len() as u64).min(length - within) as usize;
        let read = match offset {
            Some(offset) => {
                self.disk.seek(SeekFrom::Start(offset + within))?;
                self.disk.read(&mut buf[..wanted])?
            }
            None => {
                buf[..wanted].fill(0);
                wanted
            }
        };
        self.position += read as u64;
        Ok(read)
    }
}

impl Seek for ExtentReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn modified(path: &Path) -> Option<u64> {
    let time = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}

/// `2026-12-02 10:22 UTC` for a time in seconds since the epoch.
fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn the_reader_joins_runs_and_seeks_across_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::write(&path, b"..abc....defg..").unwrap();
        let mut reader = ExtentReader::new(
            File::open(&path).unwrap(),
            vec![(Some(2), 3), (None, 2), (Some(9), 4)],
        );
        let mut all = String::new();
        reader.read_to_string(&mut all).unwrap();
        assert_eq!(all, "abc\0\0defg");
        reader.seek(SeekFrom::End(-5)).unwrap();
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"\0d");
    }
}
