//! The image to write: a raw disk image file (or a block device to clone).

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::FlashError;

/// A raw disk image opened for reading.
#[derive(Debug)]
pub struct Image {
    file: File,
    path: PathBuf,
    len: u64,
    gpt_backup: Option<Range<u64>>,
}

impl Image {
    /// Opens `path` and looks for a GPT (512- or 4096-byte sectors) to locate its backup
    /// header and partition entries.
    pub fn open(path: impl AsRef<Path>) -> Result<Image, FlashError> {
        let path = path.as_ref();
        let fail = |source| FlashError::Image {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(fail)?;
        let len = file.seek(SeekFrom::End(0)).map_err(fail)?;
        let mut image = Image {
            file,
            path: path.to_path_buf(),
            len,
            gpt_backup: None,
        };
        image.gpt_backup = image.find_gpt_backup().map_err(fail)?;
        advise_sequential(&image.file);
        Ok(image)
    }

    /// The image file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length in bytes: exactly what gets written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the image is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Byte range of the backup GPT (partition entries and header) when the image is a GPT
    /// disk. Written together with the first MiB, after everything else is verified.
    pub fn gpt_backup(&self) -> Option<Range<u64>> {
        self.gpt_backup.clone()
    }

    /// Reads `buf.len()` bytes at `offset`; bytes past the end of the image read as zero.
    pub(crate) fn read_padded(&self, buf: &mut [u8], offset: u64) -> Result<(), FlashError> {
        let available = self.len.saturating_sub(offset).min(buf.len() as u64) as usize;
        let (data, padding) = buf.split_at_mut(available);
        self.file
            .read_exact_at(data, offset)
            .map_err(|source| FlashError::Image {
                path: self.path.clone(),
                source,
            })?;
        padding.fill(0);
        Ok(())
    }

    fn find_gpt_backup(&self) -> io::Result<Option<Range<u64>>> {
        for sector in [512u64, 4096] {
            if let Some(range) = self.gpt_backup_for(sector)? {
                return Ok(Some(range));
            }
        }
        Ok(None)
    }

    fn gpt_backup_for(&self, sector: u64) -> io::Result<Option<Range<u64>>> {
        let Some(primary) = self.gpt_header(sector)? else {
            return Ok(None);
        };
        let backup_at = primary.alternate_lba.saturating_mul(sector);
        let Some(backup) = self.gpt_header(backup_at)? else {
            return Ok(None);
        };
        let entries = backup.entries_lba.saturating_mul(sector);
        let start = entries.min(backup_at);
        let end = backup_at + sector;
        Ok((start < end && end <= self.len).then_some(start..end))
    }

    fn gpt_header(&self, offset: u64) -> io::Result<Option<GptHeader>> {
        if offset + 92 > self.len {
            return Ok(None);
        }
        let mut header = [0u8; 92];
        self.file.read_exact_at(&mut header, offset)?;
        if &header[..8] != b"EFI PART" {
            return Ok(None);
        }
        let u64_at = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        Ok(Some(GptHeader {
            alternate_lba: u64_at(32),
            entries_lba: u64_at(72),
        }))
    }
}

struct GptHeader {
    alternate_lba: u64,
    entries_lba: u64,
}

fn advise_sequential(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid fd; the advice is only a hint.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::Command;

    #[test]
    fn finds_the_backup_gpt_of_a_gpt_disk_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        File::create(&path).unwrap().set_len(8 << 20).unwrap();
        let status = Command::new("sfdisk")
            .arg("-q")
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(b"label: gpt\nstart=2048, type=uefi\n")?;
                child.wait()
            })
            .unwrap();
        assert!(status.success());
        let image = Image::open(&path).unwrap();
        // 32 sectors of entries + the header, at the very end of an 8 MiB disk.
        assert_eq!(image.gpt_backup(), Some((8 << 20) - 33 * 512..8 << 20));
    }

    #[test]
    fn a_plain_file_has_no_gpt_and_reads_zero_padded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.img");
        std::fs::write(&path, b"hello").unwrap();
        let image = Image::open(&path).unwrap();
        assert_eq!(image.gpt_backup(), None);
        let mut buf = [0xffu8; 8];
        image.read_padded(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"hello\0\0\0");
    }
}
