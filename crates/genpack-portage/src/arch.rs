//! Target architectures and their Gentoo names.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A target architecture, named as `uname -m` names it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Arch {
    /// 64-bit x86 (`amd64` in Gentoo).
    #[serde(rename = "x86_64")]
    X86_64,
    /// 32-bit x86 (`x86` in Gentoo).
    #[serde(rename = "i686")]
    I686,
    /// 64-bit ARM (`arm64` in Gentoo).
    #[serde(rename = "aarch64")]
    Aarch64,
    /// 64-bit RISC-V (`riscv` in Gentoo, lp64d ABI).
    #[serde(rename = "riscv64")]
    Riscv64,
}

impl Arch {
    /// Every supported architecture.
    pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::I686, Arch::Aarch64, Arch::Riscv64];

    /// The `uname -m` name (`x86_64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I686 => "i686",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// The Gentoo keyword and profile directory name (`amd64`, `x86`, `arm64`, `riscv`).
    pub fn portage_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::I686 => "x86",
            Arch::Aarch64 => "arm64",
            Arch::Riscv64 => "riscv",
        }
    }

    /// The ELF `e_machine` value of the architecture's binaries.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 0x3e,
            Arch::I686 => 0x03,
            Arch::Aarch64 => 0xb7,
            Arch::Riscv64 => 0xf3,
        }
    }

    /// The architecture of the running machine, when it is one of the supported ones.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "x86" => Some(Arch::I686),
            "aarch64" => Some(Arch::Aarch64),
            "riscv64" => Some(Arch::Riscv64),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Arch {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "x86_64" | "amd64" => Ok(Arch::X86_64),
            "i686" | "x86" => Ok(Arch::I686),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            "riscv64" | "riscv" => Ok(Arch::Riscv64),
            _ => Err(Error::UnknownArch(text.to_string())),
        }
    }
}
