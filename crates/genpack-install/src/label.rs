//! FAT volume labels: the name a stick shows in a file manager.

use std::fmt;

/// The most characters a FAT volume label holds.
pub const LABEL_MAX: usize = 11;

/// Characters a FAT label may hold besides letters, digits and spaces.
const LABEL_PUNCTUATION: &str = "!#$%&'()-@^_`{}~";

/// The rule, for help texts and error messages.
pub const LABEL_RULE: &str = "at most 11 characters: letters A-Z (stored in upper case), digits, \
                              spaces and ! # $ % & ' ( ) - @ ^ _ ` { } ~";

/// The label of a new boot partition when none is given.
pub const DEFAULT_LABEL: &str = "GENPACK";

/// A valid FAT volume label, in upper case as FAT stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeLabel(String);

/// Why a text cannot be a FAT volume label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// Nothing but spaces.
    #[error("the label is empty; a FAT label has {LABEL_RULE}")]
    Empty,
    /// More than [`LABEL_MAX`] characters.
    #[error("{label:?} has {count} characters; a FAT label has {LABEL_RULE}")]
    TooLong {
        /// The label given.
        label: String,
        /// Its length in characters.
        count: usize,
    },
    /// A character FAT labels cannot hold.
    #[error("{label:?} contains {character:?}, which a FAT label cannot hold; a FAT label has {LABEL_RULE}")]
    BadCharacter {
        /// The label given.
        label: String,
        /// The first character that cannot be used.
        character: char,
    },
}

impl VolumeLabel {
    /// Checks `text` against the FAT label rule ([`LABEL_RULE`]); lower-case letters are
    /// turned into upper case, surrounding spaces are dropped.
    pub fn parse(text: &str) -> Result<VolumeLabel, LabelError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(LabelError::Empty);
        }
        if let Some(character) = trimmed
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == ' ' || LABEL_PUNCTUATION.contains(*c)))
        {
            return Err(LabelError::BadCharacter {
                label: text.to_string(),
                character,
            });
        }
        let count = trimmed.chars().count();
        if count > LABEL_MAX {
            return Err(LabelError::TooLong {
                label: text.to_string(),
                count,
            });
        }
        Ok(VolumeLabel(trimmed.to_ascii_uppercase()))
    }

    /// A label known to follow the rule (the crate's own constants).
    pub(crate) fn known(text: &'static str) -> VolumeLabel {
        debug_assert!(VolumeLabel::parse(text).is_ok(), "{text}");
        VolumeLabel(text.to_string())
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 11 bytes of the boot sector's label field, padded with spaces.
    pub fn to_bytes(&self) -> [u8; LABEL_MAX] {
        let mut bytes = [b' '; LABEL_MAX];
        bytes[..self.0.len()].copy_from_slice(self.0.as_bytes());
        bytes
    }
}

impl Default for VolumeLabel {
    fn default() -> Self {
        VolumeLabel(DEFAULT_LABEL.to_string())
    }
}

impl fmt::Display for VolumeLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for VolumeLabel {
    type Err = LabelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        VolumeLabel::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_stored_in_upper_case_and_trimmed() {
        assert_eq!(
            VolumeLabel::parse(" my stick ").unwrap().as_str(),
            "MY STICK"
        );
        assert_eq!(
            &VolumeLabel::parse("usb").unwrap().to_bytes(),
            b"USB        "
        );
        assert_eq!(VolumeLabel::parse("A-B_C(1)").unwrap().as_str(), "A-B_C(1)");
    }

    #[test]
    fn too_long_counts_characters_not_bytes() {
        assert_eq!(
            VolumeLabel::parse("ABCDEFGHIJKL"),
            Err(LabelError::TooLong {
                label: "ABCDEFGHIJKL".into(),
                count: 12
            })
        );
    }

    #[test]
    fn characters_fat_cannot_hold_are_named() {
        for (text, bad) in [
            ("A*B", '*'),
            ("WHAT?", '?'),
            ("A/B", '/'),
            ("A\\B", '\\'),
            ("A|B", '|'),
            ("<A>", '<'),
            ("\"Q\"", '"'),
            ("A:B", ':'),
            ("A.B", '.'),
            ("ÉTÉ", 'É'),
        ] {
            match VolumeLabel::parse(text) {
                Err(LabelError::BadCharacter { character, .. }) => {
                    assert_eq!(character, bad, "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(VolumeLabel::parse("   "), Err(LabelError::Empty));
    }

    #[test]
    fn the_error_states_the_rule() {
        let message = VolumeLabel::parse("a*b").unwrap_err().to_string();
        assert!(message.contains("'*'"), "{message}");
        assert!(message.contains("at most 11 characters"), "{message}");
    }
}
