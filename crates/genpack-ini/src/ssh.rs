//! OpenSSH public key lines.

use base64::Engine;

/// Key types accepted in authorized_keys.
pub const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// A parsed public key line: `type base64 [comment]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshPublicKey {
    /// Key type, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// The base64 key body.
    pub base64: String,
    /// The comment (often `user@host`), possibly empty.
    pub comment: String,
}

impl SshPublicKey {
    /// Two keys are the same key when type and body match (comments do not matter).
    pub fn same_key(&self, other: &SshPublicKey) -> bool {
        self.key_type == other.key_type && self.base64 == other.base64
    }
}

/// Why a line is not a usable public key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SshKeyError {
    /// The first word is not a known key type.
    #[error("`{0}` is not an SSH public key type (expected e.g. ssh-ed25519 or ssh-rsa); paste the whole line of the .pub file")]
    UnknownType(String),
    /// Only the type was given.
    #[error("the key body after `{0}` is missing; paste the whole line of the .pub file")]
    MissingBody(String),
    /// The body is not base64.
    #[error("the key body is not valid base64 (was the line cut or changed?)")]
    NotBase64,
    /// The body encodes another type than the line says.
    #[error("the key body is a `{found}` key but the line says `{declared}`")]
    TypeMismatch { declared: String, found: String },
}

/// Parses and checks one public key line.
pub fn parse_ssh_public_key(line: &str) -> Result<SshPublicKey, SshKeyError> {
    let mut words = line.split_whitespace();
    let key_type = words.next().unwrap_or_default().to_string();
    if !SSH_KEY_TYPES.contains(&key_type.as_str()) {
        return Err(SshKeyError::UnknownType(key_type));
    }
    let Some(body) = words.next() else {
        return Err(SshKeyError::MissingBody(key_type));
    };
    let comment = words.collect::<Vec<_>>().join(" ");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| SshKeyError::NotBase64)?;
    let embedded = embedded_type(&blob).ok_or(SshKeyError::NotBase64)?;
    if embedded != key_type {
        return Err(SshKeyError::TypeMismatch {
            declared: key_type,
            found: embedded,
        });
    }
    Ok(SshPublicKey {
        key_type,
        base64: body.to_string(),
        comment,
    })
}

/// The key lines of a multi-line value: blank lines and `#` lines are ignored.
pub fn key_lines(value: &str) -> impl Iterator<Item = (usize, &str)> {
    value
        .lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// The type string at the start of an SSH wire-format key blob (u32 length + bytes).
fn embedded_type(blob: &[u8]) -> Option<String> {
    let len_bytes: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let name = blob.get(4..4usize.checked_add(len)?)?;
    String::from_utf8(name.to_vec()).ok()
}
