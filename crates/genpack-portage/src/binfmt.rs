//! Running foreign-architecture binaries through the kernel's binfmt_misc (QEMU user mode).

use std::fs;
use std::path::{Path, PathBuf};

use crate::arch::Arch;
use crate::error::{Error, Result};

/// Where the kernel exposes binfmt_misc.
pub const BINFMT_MISC_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// One registered binfmt_misc handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinfmtEntry {
    /// Registration name (`qemu-aarch64`).
    pub name: String,
    /// Whether the handler is enabled.
    pub enabled: bool,
    /// The interpreter it runs.
    pub interpreter: PathBuf,
    /// Flag letters (`POCF`).
    pub flags: String,
    /// Offset of the magic in the file.
    pub offset: usize,
    /// The magic bytes.
    pub magic: Vec<u8>,
    /// The mask applied before comparing, when given.
    pub mask: Option<Vec<u8>>,
}

impl BinfmtEntry {
    /// Parses the contents of a `/proc/sys/fs/binfmt_misc/<name>` file.
    pub fn parse(name: &str, text: &str) -> Option<BinfmtEntry> {
        let mut entry = BinfmtEntry {
            name: name.to_string(),
            enabled: false,
            interpreter: PathBuf::new(),
            flags: String::new(),
            offset: 0,
            magic: Vec::new(),
            mask: None,
        };
        for line in text.lines() {
            let line = line.trim();
            let (key, value) = line
                .split_once(' ')
                .map_or((line, ""), |(key, value)| (key, value.trim()));
            match key {
                "enabled" => entry.enabled = true,
                "disabled" => entry.enabled = false,
                "interpreter" => entry.interpreter = PathBuf::from(value),
                "flags:" => entry.flags = value.to_string(),
                "offset" => entry.offset = value.parse().ok()?,
                "magic" => entry.magic = decode_hex(value)?,
                "mask" => entry.mask = Some(decode_hex(value)?),
                _ => {}
            }
        }
        (!entry.magic.is_empty()).then_some(entry)
    }

    /// Whether the handler matches ELF executables of `arch` (ELF magic at offset 0 with the
    /// architecture's `e_machine`, little-endian, at bytes 18-19).
    pub fn handles(&self, arch: Arch) -> bool {
        if self.offset != 0 || self.magic.len() < 20 || &self.magic[..4] != b"\x7fELF" {
            return false;
        }
        let machine = arch.elf_machine().to_le_bytes();
        (0..2).all(|i| {
            let mask = self
                .mask
                .as_ref()
                .and_then(|mask| mask.get(18 + i))
                .copied()
                .unwrap_or(0xff);
            self.magic[18 + i] & mask == machine[i] & mask
        })
    }

    /// Whether the interpreter is opened at registration (`F`), so it works inside containers
    /// that do not have it.
    pub fn fix_binary(&self) -> bool {
        self.flags.contains('F')
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether building for `target` on `host` needs emulation (i686 on x86_64 runs natively).
pub fn emulation_needed(host: Arch, target: Arch) -> bool {
    host != target && !(host == Arch::X86_64 && target == Arch::I686)
}

/// Every handler registered in `dir` (normally [`BINFMT_MISC_DIR`]), sorted by name.
pub fn entries(dir: &Path) -> Result<Vec<BinfmtEntry>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|error| Error::io(dir, error))? {
        let path = entry.map_err(|error| Error::io(dir, error))?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if name == "register" || name == "status" || !path.is_file() {
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        if let Some(parsed) = BinfmtEntry::parse(name, &text) {
            out.push(parsed);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The enabled handler with the `F` flag that runs `arch` binaries, or an error telling the
/// user what to install.
pub fn require_handler(dir: &Path, arch: Arch) -> Result<BinfmtEntry> {
    let missing = || Error::NoBinfmtHandler {
        arch: arch.to_string(),
        dir: dir.to_path_buf(),
    };
    let found = entries(dir).map_err(|_| missing())?;
    found
        .into_iter()
        .find(|entry| entry.enabled && entry.fix_binary() && entry.handles(arch))
        .ok_or_else(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AARCH64: &str = "enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POCF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
";

    const RISCV_WITHOUT_F: &str = "enabled
interpreter /usr/bin/qemu-riscv64
flags: P
offset 0
magic 7f454c460201010000000000000000000200f300
mask ffffffffffffff00fffffffffffffffffeffffff
";

    #[test]
    fn finds_the_handler_for_each_arch() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("register"), "").unwrap();
        fs::write(dir.path().join("status"), "enabled\n").unwrap();
        fs::write(dir.path().join("qemu-aarch64"), AARCH64).unwrap();
        fs::write(dir.path().join("qemu-riscv64"), RISCV_WITHOUT_F).unwrap();
        fs::write(
            dir.path().join("python3.11"),
            "enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n",
        )
        .unwrap();
        assert_eq!(entries(dir.path()).unwrap().len(), 3);
        let handler = require_handler(dir.path(), Arch::Aarch64).unwrap();
        assert_eq!(handler.name, "qemu-aarch64");
        assert!(
            matches!(
                require_handler(dir.path(), Arch::Riscv64),
                Err(Error::NoBinfmtHandler { .. })
            ),
            "F flag is required"
        );
        assert!(require_handler(dir.path(), Arch::X86_64).is_err());
        fs::write(
            dir.path().join("qemu-aarch64"),
            AARCH64.replace("enabled", "disabled"),
        )
        .unwrap();
        assert!(
            require_handler(dir.path(), Arch::Aarch64).is_err(),
            "disabled handler"
        );
        assert!(require_handler(&dir.path().join("missing"), Arch::Aarch64).is_err());
    }

    #[test]
    fn i686_and_x86_magic() {
        let i386 = "enabled\nflags: F\noffset 0\nmagic 7f454c4601010100000000000000000002000300\nmask fffffffffffefe00fffffffffffffffffeffffff\n";
        let entry = BinfmtEntry::parse("qemu-i386", i386).unwrap();
        assert!(entry.handles(Arch::I686));
        assert!(!entry.handles(Arch::X86_64));
    }

    #[test]
    fn emulation_rules() {
        assert!(!emulation_needed(Arch::X86_64, Arch::X86_64));
        assert!(!emulation_needed(Arch::X86_64, Arch::I686));
        assert!(emulation_needed(Arch::I686, Arch::X86_64));
        assert!(emulation_needed(Arch::X86_64, Arch::Aarch64));
        assert!(emulation_needed(Arch::Aarch64, Arch::Riscv64));
    }
}
