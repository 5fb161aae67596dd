//! Finding a file in the root folder of a btrfs file system without mounting it: where its
//! bytes lie on the disk, so it can be read in place. For the data partition of a stick, which
//! holds the image as `system` when the image is too large for FAT32.
//!
//! Only what such a file system needs is read: the superblock, the chunk tree (logical to
//! physical addresses, one device, `single` or `DUP` profiles), the root tree (where the
//! default file system tree is), and in that tree the root folder's entry for the name, the
//! file's inode (its size) and its extent items. Compressed or encrypted extents are refused
//! with a reason; holes and preallocated extents read as zeros.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Where the primary superblock is, from the start of the file system.
const SUPERBLOCK_OFFSET: u64 = 64 << 10;
const MAGIC: &[u8; 8] = b"_BHRfS_M";
const HEADER_LEN: usize = 101;
const KEY_LEN: usize = 17;
const ITEM_LEN: usize = KEY_LEN + 8;
const KEY_PTR_LEN: usize = KEY_LEN + 16;

const INODE_ITEM: u8 = 1;
const DIR_INDEX: u8 = 96;
const EXTENT_DATA: u8 = 108;
const ROOT_ITEM: u8 = 132;
const CHUNK_ITEM: u8 = 228;

const FS_TREE: u64 = 5;
const ROOT_DIR: u64 = 256;
/// Chunk profiles whose data is striped over several devices or parity: not a stick's.
const STRIPED: u64 = (1 << 3) | (1 << 6) | (1 << 7) | (1 << 8);

/// A btrfs file system at `offset` of a disk.
pub(crate) struct Btrfs<'a> {
    disk: &'a File,
    offset: u64,
    nodesize: usize,
    /// `(logical start, length, physical start on the partition)`.
    chunks: Vec<(u64, u64, u64)>,
    root_tree: u64,
    label: String,
}

/// A file's bytes on the disk, in file order: `(disk offset, length)`, `None` for zeros.
pub(crate) type Runs = Vec<(Option<u64>, u64)>;

/// A key: objectid, type, offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key(u64, u8, u64);

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(bytes)
}

fn key_at(b: &[u8], at: usize) -> Key {
    Key(u64_at(b, at), b[at + 8], u64_at(b, at + 9))
}

/// Reads `len` bytes at `at`, failing on anything past the end of `b`.
fn slice(b: &[u8], at: usize, len: usize) -> io::Result<&[u8]> {
    b.get(at..at + len)
        .ok_or_else(|| bad("a btrfs item reaches past its block"))
}

/// Chunk items packed as `(key, chunk)` pairs; returns the chunks they map.
fn read_chunk(key: Key, item: &[u8]) -> io::Result<Option<(u64, u64, u64)>> {
    if key.1 != CHUNK_ITEM {
        return Ok(None);
    }
    let head = slice(item, 0, 48)?;
    let length = u64_at(head, 0);
    let kind = u64_at(head, 24);
    let stripes = u16_at(head, 44);
    if stripes == 0 {
        return Err(bad("a btrfs chunk without a stripe"));
    }
    if kind & STRIPED != 0 {
        return Err(bad(
            "the btrfs file system spreads data over several devices (RAID), which is not read here",
        ));
    }
    // single or DUP (two copies on the one device) or RAID1 (a full copy per device): the
    // first stripe holds all of it.
    let stripe = slice(item, 48, 32)?;
    Ok(Some((key.2, length, u64_at(stripe, 8))))
}

impl<'a> Btrfs<'a> {
    /// Opens the btrfs at `offset` of `disk`; `Ok(None)` when there is none.
    pub fn open(disk: &'a File, offset: u64) -> io::Result<Option<Btrfs<'a>>> {
        let mut sb = vec![0u8; 4096];
        match disk.read_exact_at(&mut sb, offset + SUPERBLOCK_OFFSET) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(error) => return Err(error),
        }
        if &sb[0x40..0x48] != MAGIC {
            return Ok(None);
        }
        let root_tree = u64_at(&sb, 0x50);
        let chunk_root = u64_at(&sb, 0x58);
        let nodesize = u32_at(&sb, 0x94) as usize;
        if !(4096..=65536).contains(&nodesize) || !nodesize.is_power_of_two() {
            return Err(bad(format!("a btrfs node size of {nodesize} bytes")));
        }
        let label_bytes = &sb[0x12b..0x12b + 256];
        let label_len = label_bytes.iter().position(|b| *b == 0).unwrap_or(256);
        let label = String::from_utf8_lossy(&label_bytes[..label_len]).into_owned();
        // The chunks needed to read the chunk tree are in the superblock.
        let array_len = (u32_at(&sb, 0xa0) as usize).min(2048);
        let array = &sb[0x32b..0x32b + array_len];
        let mut chunks = Vec::new();
        let mut at = 0;
        while at + KEY_LEN + 48 <= array.len() {
            let key = key_at(array, at);
            at += KEY_LEN;
            let stripes = u16_at(array, at + 44) as usize;
            let len = 48 + 32 * stripes;
            let item = slice(array, at, len)?;
            if let Some(chunk) = read_chunk(key, item)? {
                chunks.push(chunk);
            }
            at += len;
        }
        let mut fs = Btrfs {
            disk,
            offset,
            nodesize,
            chunks,
            root_tree,
            label,
        };
        let all = fs.items(
            chunk_root,
            Key(0, CHUNK_ITEM, 0),
            Key(u64::MAX, CHUNK_ITEM, u64::MAX),
        )?;
        for (key, item) in all {
            if let Some(chunk) = read_chunk(key, &item)? {
                if !fs.chunks.iter().any(|c| c.0 == chunk.0) {
                    fs.chunks.push(chunk);
                }
            }
        }
        Ok(Some(fs))
    }

    /// The file system's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Where the logical address `logical` is on the partition, and how many bytes follow it
    /// in the same chunk.
    fn physical(&self, logical: u64) -> io::Result<(u64, u64)> {
        self.chunks
            .iter()
            .find(|(start, len, _)| (*start..start + len).contains(&logical))
            .map(|(start, len, physical)| (physical + (logical - start), start + len - logical))
            .ok_or_else(|| bad(format!("btrfs address {logical} is in no chunk")))
    }

    fn node(&self, logical: u64) -> io::Result<Vec<u8>> {
        let (physical, left) = self.physical(logical)?;
        if left < self.nodesize as u64 {
            return Err(bad("a btrfs tree block crosses the end of its chunk"));
        }
        let mut block = vec![0u8; self.nodesize];
        self.disk
            .read_exact_at(&mut block, self.offset + physical)?;
        if u64_at(&block, 0x30) != logical {
            return Err(bad(format!(
                "the btrfs tree block at {logical} is not what the tree points to"
            )));
        }
        Ok(block)
    }

    /// The items of the tree rooted at `root` with keys from `low` to `high`, in order.
    fn items(&self, root: u64, low: Key, high: Key) -> io::Result<Vec<(Key, Vec<u8>)>> {
        let mut found = Vec::new();
        self.collect(root, low, high, &mut found, 0)?;
        Ok(found)
    }

    fn collect(
        &self,
        logical: u64,
        low: Key,
        high: Key,
        found: &mut Vec<(Key, Vec<u8>)>,
        depth: usize,
    ) -> io::Result<()> {
        if depth > 8 {
            return Err(bad("a btrfs tree deeper than btrfs makes them"));
        }
        let block = self.node(logical)?;
        let count = u32_at(&block, 0x60) as usize;
        let level = block[0x64];
        if level == 0 {
            for index in 0..count {
                let at = HEADER_LEN + index * ITEM_LEN;
                let item = slice(&block, at, ITEM_LEN)?;
                let key = key_at(item, 0);
                if key < low || key > high {
                    continue;
                }
                let data_at = HEADER_LEN + u32_at(item, KEY_LEN) as usize;
                let data_len = u32_at(item, KEY_LEN + 4) as usize;
                found.push((key, slice(&block, data_at, data_len)?.to_vec()));
            }
            return Ok(());
        }
        for index in 0..count {
            let at = HEADER_LEN + index * KEY_PTR_LEN;
            let pointer = slice(&block, at, KEY_PTR_LEN)?;
            let first = key_at(pointer, 0);
            let next = (index + 1 < count)
                .then(|| slice(&block, at + KEY_PTR_LEN, KEY_LEN).map(|k| key_at(k, 0)))
                .transpose()?;
            // This child holds the keys from `first` up to (not including) `next`.
            if first > high || next.is_some_and(|next| next <= low) {
                continue;
            }
            self.collect(u64_at(pointer, KEY_LEN), low, high, found, depth + 1)?;
        }
        Ok(())
    }

    /// The file `name` in the root folder of the default file system tree: its size and where
    /// its bytes are. `Ok(None)` when there is no such file.
    pub fn root_file(&self, name: &str) -> io::Result<Option<(u64, Runs)>> {
        let roots = self.items(
            self.root_tree,
            Key(FS_TREE, ROOT_ITEM, 0),
            Key(FS_TREE, ROOT_ITEM, u64::MAX),
        )?;
        let (_, root_item) = roots
            .last()
            .ok_or_else(|| bad("the btrfs file system has no file tree"))?;
        let fs_tree = u64_at(slice(root_item, 176, 8)?, 0);

        let entries = self.items(
            fs_tree,
            Key(ROOT_DIR, DIR_INDEX, 0),
            Key(ROOT_DIR, DIR_INDEX, u64::MAX),
        )?;
        let mut inode = None;
        for (_, entry) in &entries {
            let head = slice(entry, 0, 30)?;
            let name_len = u16_at(head, 27) as usize;
            if slice(entry, 30, name_len)? == name.as_bytes() {
                let location = key_at(head, 0);
                if location.1 == INODE_ITEM {
                    inode = Some(location.0);
                }
            }
        }
        let Some(inode) = inode else {
            return Ok(None);
        };
        let items = self.items(
            fs_tree,
            Key(inode, INODE_ITEM, 0),
            Key(inode, EXTENT_DATA, u64::MAX),
        )?;
        let size = items
            .iter()
            .find(|(key, _)| key.1 == INODE_ITEM)
            .map(|(_, item)| slice(item, 16, 8).map(|b| u64_at(b, 0)))
            .transpose()?
            .ok_or_else(|| bad(format!("{name} has no inode on the btrfs file system")))?;
        let mut runs: Runs = Vec::new();
        let mut position = 0u64;
        for (key, extent) in items.iter().filter(|(key, _)| key.1 == EXTENT_DATA) {
            let head = slice(extent, 0, 21)?;
            if head[16] != 0 {
                return Err(bad(format!(
                    "{name} is stored compressed on the btrfs file system, which is not read here"
                )));
            }
            if head[17] != 0 || u16_at(head, 18) != 0 {
                return Err(bad(format!("{name} is stored encrypted or encoded")));
            }
            if key.2 > position {
                runs.push((None, key.2 - position));
                position = key.2;
            } else if key.2 < position {
                return Err(bad(format!("{name} has overlapping extents")));
            }
            match head[20] {
                // Inline: the bytes are in the tree block; a file this small is no image.
                0 => {
                    return Err(bad(format!(
                        "{name} is only a few bytes, kept inside the btrfs tree"
                    )))
                }
                kind @ (1 | 2) => {
                    let body = slice(extent, 21, 32)?;
                    let disk_start = u64_at(body, 0);
                    let within = u64_at(body, 16);
                    let len = u64_at(body, 24);
                    if disk_start == 0 || kind == 2 {
                        runs.push((None, len));
                    } else {
                        let mut logical = disk_start + within;
                        let mut left = len;
                        while left > 0 {
                            let (physical, in_chunk) = self.physical(logical)?;
                            let take = left.min(in_chunk);
                            runs.push((Some(self.offset + physical), take));
                            logical += take;
                            left -= take;
                        }
                    }
                    position += len;
                }
                other => return Err(bad(format!("{name} has an extent of unknown kind {other}"))),
            }
        }
        if position < size {
            runs.push((None, size - position));
        } else if position > size {
            // The last extent is rounded up to a whole sector.
            let mut excess = position - size;
            while excess > 0 {
                let Some(last) = runs.last_mut() else { break };
                let cut = excess.min(last.1);
                last.1 -= cut;
                excess -= cut;
                if last.1 == 0 {
                    runs.pop();
                }
            }
        }
        Ok(Some((size, runs)))
    }
}
