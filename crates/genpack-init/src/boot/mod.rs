//! The initramfs `/init`: finds the system image and the writable layer, builds the
//! overlay root and switches into it.

pub mod blockdev;
pub mod cmdline;
pub mod emergency;
pub mod kmod;
pub mod loopdev;
pub mod shutdown;
pub mod stage;
pub mod switch_root;
