//! Everything genpack needs to know about Gentoo's Portage, as plain data and pure functions:
//!
//! - [`version`], [`atom`] and [`depend`]: package versions, dependency atoms and dependency
//!   strings, with PMS ordering and matching;
//! - [`vardb`]: the installed-package database of a lower (`/var/db/pkg`) and the runtime
//!   closure of an image;
//! - [`profile`]: the profile stack a lower selected and the package sets that root an image;
//! - [`config`]: the files under `/etc/portage` (sets, `package.*`, repos.conf) and the profile
//!   a definition asks for;
//! - [`emerge`]: the ordered list of commands that builds a lower, and [`progress`]: the
//!   events and failures parsed from their output;
//! - [`stage3`]: where stage3 archives and Portage snapshots come from, checksum verification
//!   and download freshness;
//! - [`kernel`]: the kernel image and initramfs a lower installed;
//! - [`binfmt`]: whether a foreign architecture can run through binfmt_misc emulation.
//!
//! Nothing here runs a process or touches the network; the build pipeline does that.
//!
//! ```
//! use genpack_portage::{Atom, Cpv, Version};
//!
//! let installed = Cpv::parse("dev-libs/openssl-3.3.2-r1").unwrap();
//! assert!(Atom::parse(">=dev-libs/openssl-3.0:0").unwrap().matches(&installed, Some("0/3")));
//! assert!(Version::parse("1.2_rc1").unwrap() < Version::parse("1.2").unwrap());
//! ```

pub mod arch;
pub mod atom;
pub mod binfmt;
pub mod config;
pub mod depend;
pub mod emerge;
mod error;
pub mod history;
pub mod kernel;
pub mod profile;
pub mod progress;
pub mod stage3;
pub mod vardb;
pub mod version;

pub use arch::Arch;
pub use atom::{validate_atom, Atom, AtomContext, Cpv};
pub use depend::{DepNode, DepSpec};
pub use error::{Error, ParseError, Result};
pub use vardb::{Closure, ContentsEntry, ContentsKind, Vardb};
pub use version::Version;
