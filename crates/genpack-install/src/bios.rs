//! GRUB for BIOS: `boot.img` in the first sector, `core.img` in the gap before the first
//! partition (MBR) or in the BIOS boot partition (GPT), patched the way grub-bios-setup does.

use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::InstallError;
use crate::layout::{Extent, SECTOR};
use crate::Result;

/// Offset in boot.img of the LBA of core.img's first sector.
const KERNEL_SECTOR: usize = 0x5c;
/// Offset in boot.img of the boot drive (0xff: the drive the BIOS booted from).
const BOOT_DRIVE: usize = 0x64;
/// Offset in boot.img of the jump that checks the BIOS's drive number.
const DRIVE_CHECK: usize = 0x66;
/// Boot code ends here; the disk signature and partition table follow.
const CODE_END: usize = 0x1b8;
/// Segment core.img's remaining sectors are loaded to.
const CORE_SEGMENT: u16 = 0x820;
/// Size of a block list entry at the end of core.img's first sector.
const BLOCKLIST_ENTRY: usize = 12;

/// Writes `core` at `place` and `boot_sector`'s code into the first sector of `disk`
/// (keeping its disk signature and partition table).
pub fn install_bios_loader(
    disk: &Path,
    boot_sector: &[u8],
    core: &[u8],
    place: Extent,
) -> Result<()> {
    if boot_sector.len() != SECTOR as usize {
        return Err(InstallError::Loader {
            name: "boot.img".into(),
            message: format!("is {} bytes, not 512", boot_sector.len()),
        });
    }
    let core = patch_core(core, place)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(disk)
        .map_err(InstallError::io("opening", disk))?;
    file.write_all_at(&core, place.offset)
        .map_err(InstallError::io("writing GRUB's core image to", disk))?;

    let mut first = [0u8; 512];
    file.read_exact_at(&mut first, 0)
        .map_err(InstallError::io("reading the first sector of", disk))?;
    first[..CODE_END].copy_from_slice(&boot_sector[..CODE_END]);
    first[KERNEL_SECTOR..KERNEL_SECTOR + 8].copy_from_slice(&(place.offset / SECTOR).to_le_bytes());
    first[BOOT_DRIVE] = 0xff;
    // A hard disk: skip the check that works around BIOSes passing a wrong drive number.
    first[DRIVE_CHECK] = 0x90;
    first[DRIVE_CHECK + 1] = 0x90;
    first[510] = 0x55;
    first[511] = 0xaa;
    file.write_all_at(&first, 0)
        .map_err(InstallError::io("writing the boot sector of", disk))?;
    file.sync_all()
        .map_err(InstallError::io("flushing", disk))?;
    Ok(())
}

/// core.img padded to whole sectors, with the block list in its first sector pointing at
/// the rest of it at `place`.
fn patch_core(core: &[u8], place: Extent) -> Result<Vec<u8>> {
    let bad = |message: String| InstallError::Loader {
        name: "core.img".into(),
        message,
    };
    let sector = SECTOR as usize;
    if core.len() < sector {
        return Err(bad(format!("is only {} bytes", core.len())));
    }
    let mut core = core.to_vec();
    core.resize(core.len().div_ceil(sector) * sector, 0);
    if core.len() as u64 > place.size {
        return Err(bad(format!(
            "is {} bytes but only {} bytes are free before the first partition",
            core.len(),
            place.size
        )));
    }
    let rest = u16::try_from(core.len() / sector - 1)
        .map_err(|_| bad(format!("is {} bytes, too large", core.len())))?;
    let entry = sector - BLOCKLIST_ENTRY;
    core[entry..entry + 8].copy_from_slice(&(place.offset / SECTOR + 1).to_le_bytes());
    core[entry + 8..entry + 10].copy_from_slice(&rest.to_le_bytes());
    core[entry + 10..entry + 12].copy_from_slice(&CORE_SEGMENT.to_le_bytes());
    // The list ends with an empty entry.
    core[entry - BLOCKLIST_ENTRY..entry].fill(0);
    Ok(core)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_list_points_after_the_first_core_sector() {
        let core = vec![0xaau8; 3 * 512 + 10];
        let patched = patch_core(
            &core,
            Extent {
                offset: 34 * 512,
                size: 100 * 512,
            },
        )
        .unwrap();
        assert_eq!(patched.len(), 4 * 512);
        let e = 512 - 12;
        assert_eq!(
            u64::from_le_bytes(patched[e..e + 8].try_into().unwrap()),
            35
        );
        assert_eq!(u16::from_le_bytes([patched[e + 8], patched[e + 9]]), 3);
        assert_eq!(
            u16::from_le_bytes([patched[e + 10], patched[e + 11]]),
            0x820
        );
        assert!(patched[e - 12..e].iter().all(|b| *b == 0));
    }

    #[test]
    fn core_too_large_for_the_gap_is_refused() {
        let core = vec![0u8; 8 * 512];
        let err = patch_core(
            &core,
            Extent {
                offset: 512,
                size: 4 * 512,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("free before the first partition"));
    }
}
