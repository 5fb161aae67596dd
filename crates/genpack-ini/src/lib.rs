//! system.ini for genpack images: a lossless document with configparser-compatible
//! semantics, the schema of the keys an image understands, and validation.
//!
//! ```
//! use genpack_ini::{Document, Schema, validate, DEFAULT_SECTION};
//!
//! let mut doc = Document::parse("# my stick\nhostname = kiosk\n\n[wg-walbrix]\naddress = 10.0.0.2\n")?;
//! doc.set(DEFAULT_SECTION, "timezone", "Europe/Berlin")?;
//! assert_eq!(
//!     doc.to_string(),
//!     "# my stick\nhostname = kiosk\ntimezone = Europe/Berlin\n\n[wg-walbrix]\naddress = 10.0.0.2\n"
//! );
//! assert_eq!(doc.get(DEFAULT_SECTION, "HOSTNAME").as_deref(), Some("kiosk"));
//! let issues = validate(&doc, &Schema::builtin());
//! assert!(issues.iter().all(|i| i.severity != genpack_ini::Severity::Error));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod document;
mod error;
mod save;
mod schema;
mod ssh;
mod timezone;
mod validate;

pub use document::{
    escape_percent, has_lone_percent, parse_bool, unescape_lenient, Document, DocumentView, Entry,
    SectionView, DEFAULT_SECTION,
};
pub use error::{
    EditError, FileError, LineError, LineErrorKind, ParseError, ValueError, ValueErrorKind,
};
pub use save::{load, load_lenient, save_atomic, write_atomic, SaveOptions};
pub use schema::{
    load_schema, KeySpec, Kind, Schema, SchemaError, SchemaSource, SCHEMA_PATH_IN_IMAGE,
};
pub use ssh::{key_lines, parse_ssh_public_key, SshKeyError, SshPublicKey, SSH_KEY_TYPES};
pub use timezone::{is_zone_name_shape, timezones, KnownTimezones, SYSTEM_ZONEINFO};
pub use validate::{
    check_cidr, check_hostname, check_value, close_key, split_list, validate, validate_with, Issue,
    Severity, ValidationOptions,
};
