//! The genpack build pipeline.
//!
//! A definition goes in, a SquashFS comes out:
//!
//! 1. **lower** ([`lower`]): the base system plus every package (runtime and build-time),
//!    made by the base provider ([`base::BaseProvider`]; Debian uses mmdebstrap, Gentoo a
//!    stage3 plus the emerge pipeline in a container) in
//!    `work/<arch>/lower/`. It is rebuilt only when its inputs change (`lower.stamp`).
//! 2. **upper** ([`upper`], [`stages`], [`layers`]): the image tree, made in stages (the
//!    runtime closure copied from the lower, accounts, `files/`, `build.d` scripts, setup
//!    commands, services, package scripts, the boot side, `/.genpack`). Each stage writes into
//!    its own overlayfs layer over the layers before it and records its inputs in a stamp; a
//!    build reruns only the stages whose inputs (or an earlier stage) changed, then assembles
//!    `work/<arch>/upper` from the layers with hard links.
//! 3. **pack** ([`pack`]): mksquashfs, reproducible; skipped while the image was packed from
//!    the same tree with the same options.
//!
//! With nothing changed, a build compares stamps and runs nothing.
//!
//! Every long step reports [`Progress`] events, writes `work/<arch>/logs/<step>.log`, can be
//! cancelled with a [`CancelToken`], and fails with a [`BuildError`] naming the step, the
//! command and the end of its log.
//!
//! ```no_run
//! use genpack_build::{BuildOptions, Builder};
//! use genpack_def::Project;
//!
//! let project = Project::load(std::path::Path::new("my-appliance")).unwrap();
//! let report = Builder::new(&project, BuildOptions::default()).unwrap().build().unwrap();
//! println!("{} ({} bytes)", report.pack.output.display(), report.pack.bytes);
//! ```

pub mod base;
pub mod binhost;
pub mod boot;
mod builder;
mod cancel;
pub mod closure;
mod command;
pub mod container;
pub mod copy;
pub mod doctor;
pub mod download;
mod error;
pub mod fingerprint;
mod fsutil;
pub mod layers;
pub mod lower;
pub mod metadata;
pub mod needs;
pub mod overlay;
pub mod pack;
pub mod package_index;
pub mod package_scripts;
pub mod progress;
pub mod recipe;
pub mod select;
pub mod stages;
pub mod times;
pub mod upper;
pub mod userns;
pub mod workdir;
pub mod worker;

pub use base::gentoo::{gentoo_binhost, EmergeOptions, SigningKey, OFFICIAL_BINHOST};
pub use builder::{
    cache_root, clean, image_tree, BaseSettings, BuildOptions, BuildReport, Builder, ImageTree,
};
pub use cancel::CancelToken;
pub use error::{BuildError, Cause, NetworkProblem, Result};
pub use genpack_portage::config::Binhost;
pub use lower::LowerReport;
pub use pack::PackReport;
pub use progress::{Phase, Progress, ProgressSink, Unit};
pub use recipe::Recipe;
pub use stages::Stage;
pub use times::BuildTimes;
pub use upper::{StageReport, UpperReport};
