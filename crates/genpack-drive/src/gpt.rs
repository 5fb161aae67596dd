//! Where a GPT disk image keeps the copy of its partition table, read from the image's first
//! MiB alone (so it works for a compressed image read as a stream too).

use std::ops::Range;

/// The backup GPT (partition entries and header) of the disk image whose first bytes are
/// `head`, as byte offsets in the image; `None` when `head` holds no GPT header (512- or
/// 4096-byte sectors).
///
/// The backup header sits at the primary header's "alternate LBA", its entries right before
/// it (their size is the primary header's entry count times entry size).
pub(crate) fn backup_region(head: &[u8]) -> Option<Range<u64>> {
    [512u64, 4096]
        .into_iter()
        .find_map(|sector| region_for(head, sector))
}

fn region_for(head: &[u8], sector: u64) -> Option<Range<u64>> {
    let at = usize::try_from(sector).ok()?;
    let header = head.get(at..at + 92)?;
    if &header[..8] != b"EFI PART" {
        return None;
    }
    let u64_at = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap_or([0; 8]));
    let u32_at = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().unwrap_or([0; 4]));
    let (my_lba, alternate_lba) = (u64_at(24), u64_at(32));
    let entries = u64::from(u32_at(80)) * u64::from(u32_at(84));
    // A primary header at LBA 1 pointing further on; entries of a sane size (the usual
    // 128 x 128 bytes, at most a few MiB).
    if my_lba != 1 || alternate_lba <= 1 || entries == 0 || entries > 16 << 20 {
        return None;
    }
    let header_at = alternate_lba.checked_mul(sector)?;
    let entries_len = entries.div_ceil(sector) * sector;
    let start = header_at.checked_sub(entries_len)?;
    Some(start..header_at.checked_add(sector)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(sector: usize, alternate: u64, count: u32, size: u32) -> Vec<u8> {
        let mut head = vec![0u8; 2 * sector];
        let h = &mut head[sector..];
        h[..8].copy_from_slice(b"EFI PART");
        h[24..32].copy_from_slice(&1u64.to_le_bytes());
        h[32..40].copy_from_slice(&alternate.to_le_bytes());
        h[80..84].copy_from_slice(&count.to_le_bytes());
        h[84..88].copy_from_slice(&size.to_le_bytes());
        head
    }

    #[test]
    fn the_backup_sits_at_the_alternate_lba_after_its_entries() {
        // An 8 MiB disk of 512-byte sectors: header at the last LBA, 32 sectors of entries.
        let head = header(512, 16383, 128, 128);
        assert_eq!(backup_region(&head), Some((8 << 20) - 33 * 512..8 << 20));
        // 4096-byte sectors: 4 sectors of entries and the header.
        let head = header(4096, 2047, 128, 128);
        assert_eq!(backup_region(&head), Some((8 << 20) - 5 * 4096..8 << 20));
    }

    #[test]
    fn no_gpt_or_a_broken_header_means_no_backup() {
        assert_eq!(backup_region(&[0u8; 4096]), None);
        assert_eq!(backup_region(&header(512, 0, 128, 128)), None);
        assert_eq!(backup_region(&header(512, 16383, 0, 128)), None);
        assert_eq!(backup_region(&header(512, 16383, u32::MAX, u32::MAX)), None);
    }
}
