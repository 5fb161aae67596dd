//! `ssh_pubkey`: adds the listed keys to `~/.ssh/authorized_keys` of root and of every
//! normal user (uid 1000-64999, a login shell, an existing home). Keys are compared by type
//! and body; existing keys are never removed.

use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::Path;

use genpack_ini::{key_lines, parse_ssh_public_key, Document, SshPublicKey};

use super::Outcome;
use crate::context::{Action, Change, Context};
use crate::error::ModuleError;
use crate::fsops::{display_path, write_file};

/// A user from /etc/passwd.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

pub fn apply(ctx: &Context, ini: &Document) -> Result<Outcome, ModuleError> {
    let mut out = Outcome::default();
    let Some(value) = out.value(ini, "ssh_pubkey") else {
        return Ok(out);
    };
    let mut keys: Vec<SshPublicKey> = Vec::new();
    for (i, line) in key_lines(&value) {
        match parse_ssh_public_key(line) {
            Ok(key) => {
                if !keys.iter().any(|k| k.same_key(&key)) {
                    keys.push(key);
                }
            }
            Err(e) => out.warn(format!(
                "ssh_pubkey line {} of the value: {e}; skipped",
                i + 1
            )),
        }
    }
    if keys.is_empty() {
        return Ok(out);
    }
    for user in target_users(ctx) {
        add_keys(ctx, &user, &keys, &mut out)?;
    }
    Ok(out)
}

fn target_users(ctx: &Context) -> Vec<User> {
    let passwd = fs::read_to_string(ctx.path("etc/passwd")).unwrap_or_default();
    let mut users: Vec<User> = passwd
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some((
                User {
                    name: f[0].to_string(),
                    uid: f[2].parse().ok()?,
                    gid: f[3].parse().ok()?,
                    home: f[5].to_string(),
                },
                f[6].to_string(),
            ))
        })
        .filter(|(u, shell)| {
            u.uid == 0
                || ((1000..=64999).contains(&u.uid)
                    && !shell.ends_with("nologin")
                    && !shell.ends_with("false")
                    && !u.home.is_empty()
                    && ctx.path(&u.home).is_dir())
        })
        .map(|(u, _)| u)
        .collect();
    if !users.iter().any(|u| u.uid == 0) {
        users.insert(
            0,
            User {
                name: "root".into(),
                uid: 0,
                gid: 0,
                home: "/root".into(),
            },
        );
    }
    users
}

fn add_keys(
    ctx: &Context,
    user: &User,
    keys: &[SshPublicKey],
    out: &mut Outcome,
) -> Result<(), ModuleError> {
    let ssh_dir_rel = format!("{}/.ssh", user.home.trim_end_matches('/'));
    let file_rel = format!("{ssh_dir_rel}/authorized_keys");
    let file = ctx.path(&file_rel);
    let existing_text = fs::read_to_string(&file).unwrap_or_default();
    let existing: Vec<SshPublicKey> = existing_text
        .lines()
        .filter_map(|l| {
            // Lines may carry options before the key type; find the type word.
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words
                .iter()
                .position(|w| genpack_ini::SSH_KEY_TYPES.contains(w))?;
            parse_ssh_public_key(&words[at..].join(" ")).ok()
        })
        .collect();
    let missing: Vec<&SshPublicKey> = keys
        .iter()
        .filter(|k| !existing.iter().any(|e| e.same_key(k)))
        .collect();
    let ssh_dir = ctx.path(&ssh_dir_rel);
    if !ssh_dir.is_dir() {
        if !ctx.dry_run {
            fs::create_dir_all(&ssh_dir).map_err(|e| ModuleError::io("creating", &ssh_dir, e))?;
        }
        out.changes.push(Change {
            path: display_path(&ssh_dir_rel),
            action: Action::Wrote,
            summary: format!("created for {}", user.name),
        });
    }
    if !missing.is_empty() {
        let mut text = existing_text.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for k in &missing {
            let line = if k.comment.is_empty() {
                format!("{} {}\n", k.key_type, k.base64)
            } else {
                format!("{} {} {}\n", k.key_type, k.base64, k.comment)
            };
            text.push_str(&line);
        }
        let summary = format!("{} key(s) added for {}", missing.len(), user.name);
        out.push(write_file(ctx, &file_rel, text.as_bytes(), 0o600, summary)?);
    }
    if !ctx.dry_run {
        fix_owner_and_mode(&ssh_dir, user, 0o700, out, &ssh_dir_rel)?;
        if file.exists() {
            fix_owner_and_mode(&file, user, 0o600, out, &file_rel)?;
        }
    }
    Ok(())
}

fn fix_owner_and_mode(
    path: &Path,
    user: &User,
    mode: u32,
    out: &mut Outcome,
    rel: &str,
) -> Result<(), ModuleError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|e| ModuleError::io("reading", path, e))?;
    let mut changed = false;
    if meta.mode() & 0o7777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| ModuleError::io("chmod", path, e))?;
        changed = true;
    }
    if meta.uid() != user.uid || meta.gid() != user.gid {
        match chown(path, Some(user.uid), Some(user.gid)) {
            Ok(()) => changed = true,
            Err(e) => out.warn(format!(
                "could not give {} to {}: {e}",
                path.display(),
                user.name
            )),
        }
    }
    if changed && !out.changes.iter().any(|c| c.path == display_path(rel)) {
        out.changes.push(Change {
            path: display_path(rel),
            action: Action::Permissions,
            summary: format!("mode {mode:o}, owned by {}", user.name),
        });
    }
    Ok(())
}
