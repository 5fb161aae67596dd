//! The template gallery of genpack.
//!
//! A gallery is a folder of templates, one sub-folder each:
//!
//! ```text
//! templates/
//!   nextcloud/
//!     template.json5   title, summary, description, category, tags, icon, base, arches, size
//!     icon.svg         64x64 icon
//!     genpack.json5    the appliance definition
//!     system.ini       an example of the boot-time settings
//!     files/ env/ ...  whatever else the definition uses
//! ```
//!
//! [`Gallery`] reads such a folder for the studio's gallery and for
//! `genpack new`; [`Gallery::create_project`] turns a template into a new
//! project folder.
//!
//! ```no_run
//! use genpack_gallery::Gallery;
//!
//! let gallery = Gallery::open(Gallery::default_dir()?)?;
//! for template in gallery.templates() {
//!     println!("{:<24} {}", template.id, template.meta.summary);
//! }
//! gallery.create_project("debian-web", "intranet", "intranet")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod definition;
mod error;
mod gallery;
mod meta;
mod project;
mod template;

pub use error::{CreateError, GalleryError, NameError};
pub use gallery::{Card, Gallery, TEMPLATES_ENV};
pub use meta::{
    Category, Flavour, Measured, Protocol, ServicePort, TemplateMeta, WebScheme, KNOWN_ARCHES,
    META_FILE,
};
pub use project::{
    check_target_dir, create_project, suggest_name, validate_name, GITIGNORE, MAX_NAME_LEN,
};
pub use template::{Template, DEFINITION_FILE};
