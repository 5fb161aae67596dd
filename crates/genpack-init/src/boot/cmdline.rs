//! The kernel command line as the initramfs reads it.

use std::time::Duration;

/// Where the root image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootSpec {
    /// `root=systemimg:<FAT volume id>`, e.g. `systemimg:1234-ABCD`.
    SystemImg { volume_id: String },
    /// `root=systemimg:auto`: the first FAT (or ISO 9660) filesystem holding `system.img`.
    SystemImgAuto,
    /// `root=block:…`: the image is the first virtio disk, data the second (virtual machines).
    Block,
    /// `root=virtiofs:<tag>` or `root=9p:<tag>`: the image is a directory tree shared by the
    /// host (a build's image tree, previewed without packing); a data disk is the first
    /// virtio disk.
    Tree {
        /// How the tree is shared.
        transport: TreeTransport,
        /// The share's mount tag.
        tag: String,
    },
}

/// How a shared image tree reaches the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeTransport {
    /// virtio-fs (virtiofsd on the host).
    Virtiofs,
    /// 9p over virtio (built into QEMU).
    NineP,
}

impl TreeTransport {
    /// The filesystem type to mount.
    pub fn fstype(self) -> &'static str {
        match self {
            TreeTransport::Virtiofs => "virtiofs",
            TreeTransport::NineP => "9p",
        }
    }
}

/// The options the initramfs understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootOptions {
    /// The root specification.
    pub root: RootSpec,
    /// `genpack.transient=1`: keep all changes in memory.
    pub transient: bool,
    /// `rd.timeout=<seconds>` to wait for devices (default 30, 1..=180).
    pub timeout: Duration,
    /// `rd.break`: stop in a shell before switching root.
    pub debug_shell: bool,
}

/// Why the command line cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CmdlineError {
    /// No `root=`.
    #[error("the kernel command line has no root= option")]
    NoRoot,
    /// An unknown `root=` form.
    #[error("root={0} is not understood (expected root=systemimg:<UUID|auto>, root=block:, root=virtiofs:<tag> or root=9p:<tag>)")]
    UnknownRoot(String),
}

/// Default wait for the boot device.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// Parses `/proc/cmdline` text.
pub fn parse(cmdline: &str) -> Result<BootOptions, CmdlineError> {
    let mut root = None;
    let mut transient = false;
    let mut timeout = DEFAULT_TIMEOUT_SECS;
    let mut debug_shell = false;
    for word in cmdline.split_whitespace() {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        match key {
            "root" => root = Some(value.to_string()),
            "genpack.transient" => transient = matches!(value, "" | "1" | "yes" | "true"),
            "rd.timeout" => {
                if let Ok(t) = value.parse::<u64>() {
                    timeout = t.clamp(1, 180);
                }
            }
            "rd.break" => debug_shell = true,
            _ => {}
        }
    }
    let root = root.ok_or(CmdlineError::NoRoot)?;
    let spec = if let Some(id) = root.strip_prefix("systemimg:") {
        if id.eq_ignore_ascii_case("auto") || id.is_empty() {
            RootSpec::SystemImgAuto
        } else {
            RootSpec::SystemImg {
                volume_id: id.to_ascii_uppercase(),
            }
        }
    } else if root.starts_with("block:") {
        RootSpec::Block
    } else if let Some((transport, tag)) = root
        .strip_prefix("virtiofs:")
        .map(|tag| (TreeTransport::Virtiofs, tag))
        .or_else(|| {
            root.strip_prefix("9p:")
                .map(|tag| (TreeTransport::NineP, tag))
        })
        .filter(|(_, tag)| !tag.is_empty())
    {
        RootSpec::Tree {
            transport,
            tag: tag.to_string(),
        }
    } else {
        return Err(CmdlineError::UnknownRoot(root));
    };
    Ok(BootOptions {
        root: spec,
        transient,
        timeout: Duration::from_secs(timeout),
        debug_shell,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_root_forms() {
        let o = parse("console=ttyS0 root=systemimg:abcd-1234 rd.timeout=5 genpack.transient=1")
            .unwrap();
        assert_eq!(
            o.root,
            RootSpec::SystemImg {
                volume_id: "ABCD-1234".into()
            }
        );
        assert!(o.transient);
        assert_eq!(o.timeout, Duration::from_secs(5));
        assert_eq!(
            parse("root=systemimg:auto").unwrap().root,
            RootSpec::SystemImgAuto
        );
        assert_eq!(parse("root=block: panic=-1").unwrap().root, RootSpec::Block);
        assert_eq!(
            parse("root=virtiofs:genpack-tree").unwrap().root,
            RootSpec::Tree {
                transport: TreeTransport::Virtiofs,
                tag: "genpack-tree".into()
            }
        );
        assert_eq!(
            parse("root=9p:t").unwrap().root,
            RootSpec::Tree {
                transport: TreeTransport::NineP,
                tag: "t".into()
            }
        );
        assert!(parse("root=9p:").is_err());
        assert_eq!(parse("quiet"), Err(CmdlineError::NoRoot));
        assert!(matches!(
            parse("root=/dev/sda1"),
            Err(CmdlineError::UnknownRoot(_))
        ));
    }
}
