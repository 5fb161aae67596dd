//! The provisioning modules: each reads its keys from system.ini and configures the tree.
//!
//! Built-in modules run in the order of their names, merged with drop-in modules from
//! `/usr/lib/genpack-init` (see [`crate::dropin`]):
//!
//! | Module | Keys |
//! |---|---|
//! | `10hostname` | `hostname` |
//! | `20timezone` | `timezone` |
//! | `30locale` | `locale` |
//! | `40ssh_pubkey` | `ssh_pubkey` |
//! | `50autologin` | `autologin` |
//! | `50wifi` | `wifi_*` |
//! | `60swapfile` | `swapfile` |
//! | `90network` | `ip_address`, `ip_gateway`, `dns`, `ip6_address`, `ip6_gateway`, `dns6` |
//!
//! `debug` is read by the runner itself (log level). A bad value (unknown time zone,
//! malformed SSH key, lone `%`) is reported as a note and skipped; it never stops the boot.

mod autologin;
mod hostname;
mod locale;
mod network;
mod ssh_pubkey;
mod swapfile;
mod timezone;
mod wifi;

use std::fmt;

use genpack_ini::{Document, DEFAULT_SECTION};

use crate::context::{Change, Context};
use crate::error::ModuleError;

/// What one module did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Files written, removed or linked (or that would be, in a dry run).
    pub changes: Vec<Change>,
    /// Values that were skipped and other remarks, for the log.
    pub notes: Vec<Note>,
}

/// A remark of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Warning (a value was skipped) or information.
    pub level: NoteLevel,
    /// What happened, for people.
    pub message: String,
}

/// Level of a [`Note`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteLevel {
    /// Something was not applied.
    Warning,
    /// For information.
    Info,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            NoteLevel::Warning => write!(f, "warning: {}", self.message),
            NoteLevel::Info => write!(f, "{}", self.message),
        }
    }
}

impl Outcome {
    /// Records a change if there was one.
    pub fn push(&mut self, change: Option<Change>) {
        self.changes.extend(change);
    }

    /// Records a skipped value or other problem.
    pub fn warn(&mut self, message: impl Into<String>) {
        self.notes.push(Note {
            level: NoteLevel::Warning,
            message: message.into(),
        });
    }

    /// Records a remark.
    pub fn info(&mut self, message: impl Into<String>) {
        self.notes.push(Note {
            level: NoteLevel::Info,
            message: message.into(),
        });
    }

    /// A string value of a `_default` key; unset, empty and unreadable values are `None`
    /// (unreadable ones are noted).
    pub fn value(&mut self, ini: &Document, key: &str) -> Option<String> {
        match ini.value(DEFAULT_SECTION, key) {
            Ok(v) => v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()),
            Err(e) => {
                self.warn(format!("{e}; skipped"));
                None
            }
        }
    }

    /// A single-line value: like [`Outcome::value`], noting and skipping multi-line values.
    pub fn line_value(&mut self, ini: &Document, key: &str) -> Option<String> {
        let v = self.value(ini, key)?;
        if v.contains('\n') {
            self.warn(format!("{key} must be a single line; skipped"));
            return None;
        }
        Some(v)
    }

    /// A yes/no value of a `_default` key; invalid ones are noted and treated as unset.
    pub fn bool_value(&mut self, ini: &Document, key: &str) -> Option<bool> {
        match ini.get_bool(DEFAULT_SECTION, key) {
            Ok(v) => v,
            Err(e) => {
                self.warn(format!("{e}; skipped"));
                None
            }
        }
    }
}

/// The signature of a built-in module.
pub type ApplyFn = fn(&Context, &Document) -> Result<Outcome, ModuleError>;

/// A built-in module.
#[derive(Clone, Copy)]
pub struct Module {
    /// Name; the order of names is the order of application.
    pub name: &'static str,
    /// The system.ini keys it reads.
    pub keys: &'static [&'static str],
    /// Applies the module.
    pub apply: ApplyFn,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module").field("name", &self.name).finish()
    }
}

/// The built-in modules, sorted by name.
pub fn builtin_modules() -> Vec<Module> {
    vec![
        Module {
            name: "10hostname",
            keys: &["hostname"],
            apply: hostname::apply,
        },
        Module {
            name: "20timezone",
            keys: &["timezone"],
            apply: timezone::apply,
        },
        Module {
            name: "30locale",
            keys: &["locale"],
            apply: locale::apply,
        },
        Module {
            name: "40ssh_pubkey",
            keys: &["ssh_pubkey"],
            apply: ssh_pubkey::apply,
        },
        Module {
            name: "50autologin",
            keys: &["autologin"],
            apply: autologin::apply,
        },
        Module {
            name: "50wifi",
            keys: wifi::KEYS,
            apply: wifi::apply,
        },
        Module {
            name: "60swapfile",
            keys: &["swapfile"],
            apply: swapfile::apply,
        },
        Module {
            name: "90network",
            keys: network::KEYS,
            apply: network::apply,
        },
    ]
}

/// Names of upstream Python modules that the built-in modules replace; such drop-ins are
/// not run so that nothing is applied twice.
pub const SUPERSEDED_DROPINS: &[&str] = &[
    "hostname.py",
    "timezone.py",
    "locale.py",
    "sshd.py",
    "autologin.py",
    "swapfile.py",
    "50wifi.py",
    "99default_network_interface.py",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schema_names_the_module_that_reads_each_key() {
        let modules = builtin_modules();
        for spec in genpack_ini::Schema::builtin().keys {
            if spec.module == "genpack-init" {
                continue;
            }
            let module = modules
                .iter()
                .find(|m| m.name == spec.module)
                .unwrap_or_else(|| panic!("{}: no module {}", spec.key, spec.module));
            assert!(
                module.keys.contains(&spec.key.as_str()),
                "{} not read by {}",
                spec.key,
                module.name
            );
        }
        let mut names: Vec<&str> = modules.iter().map(|m| m.name).collect();
        names.sort();
        assert_eq!(
            names,
            modules.iter().map(|m| m.name).collect::<Vec<_>>(),
            "listed in run order"
        );
    }
}
