//! What kind of file an image is (raw, or compressed with xz, zstd or gzip) and how large it
//! is once decompressed, read from the compressed file's own headers and trailers without
//! decompressing it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// How an image file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A raw disk image (`.img`, `.iso`): written as it is.
    None,
    /// `.xz`
    Xz,
    /// `.zst`
    Zstd,
    /// `.gz`
    Gzip,
}

impl Compression {
    /// The format's name, for people: `xz`, `zstd`, `gzip`, or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        }
    }
}

/// What the first bytes of a file say it is.
pub(crate) enum Detected {
    Image(Compression),
    /// A format genpack does not write to drives, with what to do instead.
    Unsupported(&'static str),
}

const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
const ZSTD_MAGIC: u32 = 0xfd2f_b528;
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

pub(crate) fn detect(start: &[u8]) -> Detected {
    if start.starts_with(XZ_MAGIC) {
        Detected::Image(Compression::Xz)
    } else if start.len() >= 4
        && u32::from_le_bytes([start[0], start[1], start[2], start[3]]) == ZSTD_MAGIC
    {
        Detected::Image(Compression::Zstd)
    } else if start.starts_with(GZIP_MAGIC) {
        Detected::Image(Compression::Gzip)
    } else if start.starts_with(b"BZh") {
        Detected::Unsupported(
            "bzip2-compressed images cannot be written; decompress it first (bunzip2) or use an .xz, .zst or .gz image",
        )
    } else if start.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        Detected::Unsupported(
            "LZ4-compressed images cannot be written; decompress it first (lz4 -d) or use an .xz, .zst or .gz image",
        )
    } else if start.starts_with(b"7z\xbc\xaf\x27\x1c") {
        Detected::Unsupported("this is a 7-Zip archive, not a disk image; unpack it first")
    } else if start.starts_with(b"PK\x03\x04") {
        Detected::Unsupported("this is a ZIP archive, not a disk image; unpack it first")
    } else {
        Detected::Image(Compression::None)
    }
}

/// The decompressed size as far as the file tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SizeHint {
    /// The exact size, when the format records it (xz always, zstd when every frame does).
    pub exact: Option<u64>,
    /// A size the image has at least (gzip's recorded size modulo 4 GiB, zstd's known frames).
    pub at_least: u64,
}

impl SizeHint {
    fn exact(len: u64) -> SizeHint {
        SizeHint {
            exact: Some(len),
            at_least: len,
        }
    }

    fn unknown() -> SizeHint {
        SizeHint {
            exact: None,
            at_least: 0,
        }
    }
}

/// Reads the decompressed size of `file` (`len` bytes, compressed with `compression`).
/// A damaged or unusual trailer only makes the size unknown: decompressing tells the truth.
pub(crate) fn size_hint(file: &File, len: u64, compression: Compression) -> io::Result<SizeHint> {
    Ok(match compression {
        Compression::None => SizeHint::exact(len),
        Compression::Xz => xz_size(file, len)?.map_or_else(SizeHint::unknown, SizeHint::exact),
        Compression::Zstd => zstd_size(file, len)?,
        Compression::Gzip => gzip_size(file, len)?,
    })
}

/// gzip stores the size of the last member's data modulo 2^32 in its last four bytes. Every
/// member is at least as large as its recorded size, so that is a lower bound of the whole.
fn gzip_size(file: &File, len: u64) -> io::Result<SizeHint> {
    if len < 18 {
        return Ok(SizeHint::unknown());
    }
    let mut isize = [0u8; 4];
    file.read_exact_at(&mut isize, len - 4)?;
    Ok(SizeHint {
        exact: None,
        at_least: u64::from(u32::from_le_bytes(isize)),
    })
}

/// An xz file is one or more streams (with zero padding between them), each ending in an
/// index that lists the uncompressed size of each of its blocks, and a 12-byte footer whose
/// "backward size" locates the index. Walks the streams from the end.
fn xz_size(file: &File, len: u64) -> io::Result<Option<u64>> {
    const HEADER: u64 = 12;
    const FOOTER: u64 = 12;
    let mut end = len;
    let mut total = 0u64;
    while end > 0 {
        // Stream padding: multiples of four zero bytes.
        let mut word = [0u8; 4];
        while end >= 4 {
            file.read_exact_at(&mut word, end - 4)?;
            if word != [0; 4] {
                break;
            }
            end -= 4;
        }
        if end < HEADER + FOOTER {
            return Ok(None);
        }
        let mut footer = [0u8; FOOTER as usize];
        file.read_exact_at(&mut footer, end - FOOTER)?;
        if &footer[10..12] != b"YZ" {
            return Ok(None);
        }
        let backward = (u64::from(u32::from_le_bytes([
            footer[4], footer[5], footer[6], footer[7],
        ])) + 1)
            * 4;
        let Some(index_at) = (end - FOOTER).checked_sub(backward) else {
            return Ok(None);
        };
        if backward > 64 << 20 {
            return Ok(None);
        }
        let mut index = vec![0u8; backward as usize];
        file.read_exact_at(&mut index, index_at)?;
        let Some((blocks_len, uncompressed)) = parse_xz_index(&index) else {
            return Ok(None);
        };
        total = match total.checked_add(uncompressed) {
            Some(total) => total,
            None => return Ok(None),
        };
        let Some(stream_start) = index_at
            .checked_sub(blocks_len)
            .and_then(|at| at.checked_sub(HEADER))
        else {
            return Ok(None);
        };
        let mut magic = [0u8; 6];
        file.read_exact_at(&mut magic, stream_start)?;
        if magic != XZ_MAGIC {
            return Ok(None);
        }
        end = stream_start;
    }
    Ok(Some(total))
}

/// An xz index: indicator 0, record count, then per block its unpadded and uncompressed
/// size (all variable-length integers). Returns the blocks' total padded length and their
/// uncompressed size.
fn parse_xz_index(index: &[u8]) -> Option<(u64, u64)> {
    if index.first() != Some(&0) {
        return None;
    }
    let mut at = 1usize;
    let mut read = || -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..63).step_by(7) {
            let byte = *index.get(at)?;
            at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    };
    let records = read()?;
    if records > index.len() as u64 {
        return None;
    }
    let (mut blocks, mut uncompressed) = (0u64, 0u64);
    for _ in 0..records {
        let unpadded = read()?;
        let size = read()?;
        blocks = blocks.checked_add(unpadded.div_ceil(4) * 4)?;
        uncompressed = uncompressed.checked_add(size)?;
    }
    Some((blocks, uncompressed))
}

/// A zstd file is a sequence of frames (and skippable frames). Each frame header may record
/// its content size; the blocks after it are walked by their 3-byte headers to find the next
/// frame. Exact when every frame records its size.
fn zstd_size(file: &File, len: u64) -> io::Result<SizeHint> {
    let mut at = 0u64;
    let mut known = 0u64;
    let mut all_known = true;
    // Block headers are read one by one: a few thousand small reads per GiB of image.
    while at < len {
        let mut magic = [0u8; 4];
        if file.read_exact_at(&mut magic, at).is_err() {
            return Ok(partial(known));
        }
        let magic = u32::from_le_bytes(magic);
        if (0x184d_2a50..=0x184d_2a5f).contains(&magic) {
            let mut size = [0u8; 4];
            file.read_exact_at(&mut size, at + 4)?;
            at += 8 + u64::from(u32::from_le_bytes(size));
            continue;
        }
        if magic != ZSTD_MAGIC {
            return Ok(partial(known));
        }
        let mut header = [0u8; 14];
        let available = (len - at - 4).min(14) as usize;
        file.read_exact_at(&mut header[..available], at + 4)?;
        let descriptor = header[0];
        let fcs_flag = descriptor >> 6;
        let single_segment = descriptor & 0x20 != 0;
        let checksum = descriptor & 0x04 != 0;
        let dictionary_len = [0usize, 1, 2, 4][usize::from(descriptor & 3)];
        let window_len = usize::from(!single_segment);
        let fcs_len = match fcs_flag {
            0 if single_segment => 1,
            0 => 0,
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let fcs_at = 1 + window_len + dictionary_len;
        if fcs_at + fcs_len > available {
            return Ok(partial(known));
        }
        let mut fcs = [0u8; 8];
        fcs[..fcs_len].copy_from_slice(&header[fcs_at..fcs_at + fcs_len]);
        match fcs_len {
            0 => all_known = false,
            2 => known = known.saturating_add(u64::from_le_bytes(fcs) + 256),
            _ => known = known.saturating_add(u64::from_le_bytes(fcs)),
        }
        at += 4 + (fcs_at + fcs_len) as u64;
        loop {
            let mut block = [0u8; 3];
            if file.read_exact_at(&mut block, at).is_err() {
                return Ok(partial(known));
            }
            let header = u32::from_le_bytes([block[0], block[1], block[2], 0]);
            let last = header & 1 != 0;
            let size = u64::from(header >> 3);
            at += 3 + match (header >> 1) & 3 {
                1 => 1, // RLE: one byte repeated
                3 => return Ok(partial(known)),
                _ => size,
            };
            if last {
                break;
            }
        }
        if checksum {
            at += 4;
        }
    }
    Ok(if all_known && at == len {
        SizeHint::exact(known)
    } else {
        partial(known)
    })
}

fn partial(known: u64) -> SizeHint {
    SizeHint {
        exact: None,
        at_least: known,
    }
}
