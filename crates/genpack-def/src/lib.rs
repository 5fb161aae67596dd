//! `genpack.json5`: the definition of an appliance image.
//!
//! This crate reads definition files with precise line:column diagnostics, checks every value
//! (Portage atoms, USE flags, unit names, accounts, architectures), merges the layers that
//! apply to one architecture and variant into an [`Effective`] definition, edits files without
//! losing comments ([`edit::Document`]), saves them atomically ([`save_atomic`]) and describes
//! the format as a JSON Schema ([`definition_schema`]).
//!
//! ```
//! use genpack_def::{parse_definition, Arch};
//! use std::path::Path;
//!
//! let text = r#"{
//!     name: "demo",
//!     packages: ["app-misc/screen"],
//!     arch: { "x86_64|i686": { packages: ["app-misc/status-beep"] } },
//!     variants: { small: { packages: ["-app-misc/screen"] } },
//! }"#;
//! let parsed = parse_definition(text, Path::new("demo/genpack.json5"));
//! assert!(!parsed.has_errors());
//! let definition = parsed.definition.unwrap();
//! let build = definition.effective(Arch::X86_64, Some("small")).unwrap();
//! assert_eq!(build.packages, ["app-misc/status-beep"]);
//! assert_eq!(build.outfile, "demo-small-x86_64.squashfs");
//! ```

#![warn(missing_docs)]

mod atom;
mod diagnostic;
pub mod edit;
mod effective;
mod location;
mod model;
mod names;
mod parse;
mod profiles;
mod project;
mod reader;
mod schema;
mod syntax;
mod useflags;

pub use atom::validate_atom;
pub use diagnostic::{Diagnostic, Severity};
pub use edit::{parse_path, save_atomic, Document, EditError, SaveError, Segment};
pub use effective::{Effective, EffectiveError, DEFAULT_LOWER_LAYER_CAPACITY};
pub use model::{
    Arch, ArchBlock, Base, CircularDepBreaker, Compression, Definition, Group, PackageMap,
    Protocol, ServicePort, Setting, SetupCommand, UnknownArch, UnknownBase, UnknownCompression,
    User, Variant, WebScheme,
};
pub use names::{unit_name, validate_account_name, validate_debian_package, validate_unit_name};
pub use parse::{diagnostic_at, image_name, parse_definition, Parsed};
pub use profiles::{available_profiles, DEBIAN_PROFILES};
pub use project::{
    LoadError, Project, DEFINITION_FILE_NAMES, INPUT_FOLDERS, MAX_DEFINITION_BYTES, SYSTEM_INI,
    WORK_FOLDER,
};
pub use schema::definition_schema;
pub use useflags::validate_use_flags;
