//! system.ini on the boot partition of a stick or disk image, read and edited in place
//! without mounting anything.
//!
//! Edits go through the lossless [`genpack_ini::Document`], so comments, order and spelling
//! of every untouched line are kept. Before the new text is written, the previous text is
//! saved as `system.ini.bak` on the same partition.

use std::path::{Path, PathBuf};

pub use genpack_ini::{Document, DEFAULT_SECTION};

use crate::boot_partition::{BootPartition, BootPartitionError};

/// Name of the file on the boot partition.
pub const SYSTEM_INI: &str = "system.ini";
/// Copy of the previous text, written before every change.
pub const SYSTEM_INI_BACKUP: &str = "system.ini.bak";

/// Why system.ini could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BootIniError {
    /// The boot partition could not be opened or written.
    #[error(transparent)]
    Partition(#[from] BootPartitionError),
    /// The file is not UTF-8 text.
    #[error("system.ini on {} is not UTF-8 text (the first bad byte is at offset {valid_up_to}); `genpack ini edit` converts it from Latin-1", disk.display())]
    NotUtf8 {
        /// The disk image or device.
        disk: PathBuf,
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// The boot partition has no room for the new settings and the backup of the old ones.
    #[error("the boot partition of {} is full: writing system.ini and its backup needs {need} bytes, {free} are free; nothing was changed", disk.display())]
    NoSpace {
        /// The disk image or device.
        disk: PathBuf,
        /// Bytes needed.
        need: u64,
        /// Bytes free.
        free: u64,
    },
    /// The edit was refused by the document model.
    #[error("system.ini on {}: {source}", disk.display())]
    Edit {
        /// The disk image or device.
        disk: PathBuf,
        /// Why the document refused it.
        #[source]
        source: genpack_ini::EditError,
    },
    /// New text for the whole file does not parse.
    #[error("the new system.ini for {} has errors: {source}; nothing was written", disk.display())]
    Parse {
        /// The disk image or device.
        disk: PathBuf,
        /// The parse errors.
        #[source]
        source: genpack_ini::ParseError,
    },
}

/// What [`write_system_ini`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniWrite {
    /// Whether the text changed (nothing is written otherwise).
    pub changed: bool,
    /// Whether a previous system.ini was saved as `system.ini.bak`.
    pub backed_up: bool,
}

/// The current system.ini of `disk` as text, `None` when the partition has none.
pub fn read_system_ini_text(disk: &Path) -> Result<Option<String>, BootIniError> {
    let partition = BootPartition::open_read_only(disk)?;
    let text = read_text(&partition)?;
    partition.close()?;
    Ok(text)
}

/// The bytes of the system.ini of `disk` as they are, when it has one (for converting a file
/// that is not UTF-8).
pub fn read_system_ini_bytes(disk: &Path) -> Result<Option<Vec<u8>>, BootIniError> {
    let partition = BootPartition::open_read_only(disk)?;
    let bytes = partition.read(SYSTEM_INI)?;
    partition.close()?;
    Ok(bytes)
}

/// The current system.ini of `disk` as a document (an empty one when there is none).
/// Malformed lines are kept and listed by [`Document::problems`].
pub fn read_system_ini(disk: &Path) -> Result<Document, BootIniError> {
    Ok(read_system_ini_text(disk)?
        .map(|text| Document::parse_lenient(&text))
        .unwrap_or_default())
}

/// Writes `doc` as system.ini of `disk`, keeping the previous text as `system.ini.bak`.
/// Nothing is written when the text is unchanged.
pub fn write_system_ini(disk: &Path, doc: &Document) -> Result<IniWrite, BootIniError> {
    let mut partition = BootPartition::open(disk)?;
    // The old bytes as they are: a file that is not UTF-8 is kept as its backup too.
    let old = partition.read(SYSTEM_INI)?;
    let new = doc.to_string();
    if old.as_deref() == Some(new.as_bytes()) {
        partition.close()?;
        return Ok(IniWrite {
            changed: false,
            backed_up: false,
        });
    }
    ensure_room(&partition, old.as_deref(), new.len() as u64)?;
    // The backup first: whatever happens next, the previous settings stay on the stick.
    if let Some(old) = &old {
        partition.write(SYSTEM_INI_BACKUP, &mut old.as_slice())?;
    }
    partition.write(SYSTEM_INI, &mut new.as_bytes())?;
    partition.close()?;
    Ok(IniWrite {
        changed: true,
        backed_up: old.is_some(),
    })
}

/// Refuses before anything is written when the file system cannot hold the backup of `old`
/// and the new text side by side with what is there (each file is written next to the one it
/// replaces), plus a cluster for directory entries.
fn ensure_room(
    partition: &BootPartition,
    old: Option<&[u8]>,
    new_len: u64,
) -> Result<(), BootIniError> {
    let old_len = old.map_or(0, |old| old.len() as u64);
    let old_backup = partition
        .read(SYSTEM_INI_BACKUP)?
        .map_or(0, |b| b.len() as u64);
    let free = partition.free_bytes()?;
    let margin = partition.space_for(1)?;
    let for_backup = partition.space_for(old_len)?;
    let after_backup = (free + partition.space_for(old_backup)?).saturating_sub(for_backup);
    let enough =
        free >= for_backup + margin && after_backup >= partition.space_for(new_len)? + margin;
    if enough {
        return Ok(());
    }
    Err(BootIniError::NoSpace {
        disk: partition.disk().to_path_buf(),
        need: for_backup + partition.space_for(new_len)? + margin,
        free,
    })
}

/// Replaces the whole system.ini of `disk` with `text`, which must parse without errors.
pub fn replace_system_ini(disk: &Path, text: &str) -> Result<IniWrite, BootIniError> {
    let doc = Document::parse(text).map_err(|source| BootIniError::Parse {
        disk: disk.to_path_buf(),
        source,
    })?;
    write_system_ini(disk, &doc)
}

/// Sets one key of system.ini on `disk` (`section` is [`genpack_ini::DEFAULT_SECTION`] for
/// keys before any header), keeping everything else byte for byte.
pub fn set_system_ini_value(
    disk: &Path,
    section: &str,
    key: &str,
    value: &str,
) -> Result<IniWrite, BootIniError> {
    let mut doc = read_system_ini(disk)?;
    doc.set(section, key, value)
        .map_err(|source| BootIniError::Edit {
            disk: disk.to_path_buf(),
            source,
        })?;
    write_system_ini(disk, &doc)
}

fn read_text(partition: &BootPartition) -> Result<Option<String>, BootIniError> {
    let Some(bytes) = partition.read(SYSTEM_INI)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| BootIniError::NotUtf8 {
            disk: partition.disk().to_path_buf(),
            valid_up_to: e.utf8_error().valid_up_to(),
        })
}
