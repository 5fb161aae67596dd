//! Names that are not Portage atoms: systemd units, user and group names, Debian packages.

/// Unit types `systemctl enable` understands.
const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "timer",
    "target",
    "path",
    "mount",
    "automount",
    "swap",
    "slice",
];

/// The full unit name systemd uses for `service`: `sshd` means `sshd.service`.
pub fn unit_name(service: &str) -> String {
    match service.rsplit_once('.') {
        Some((_, kind)) if UNIT_TYPES.contains(&kind) => service.to_string(),
        _ => format!("{service}.service"),
    }
}

/// Checks a systemd unit name as listed in `services`: `sshd`, `fstrim.timer`,
/// `getty@tty1`, `sshd.socket`.
pub fn validate_unit_name(service: &str) -> Result<(), String> {
    if service.is_empty() {
        return Err("empty service name".into());
    }
    if service.contains(char::is_whitespace) {
        return Err(format!(
            "`{service}` contains spaces; list one service per entry"
        ));
    }
    if service.len() > 255 {
        return Err(format!("`{service}` is longer than 255 characters"));
    }
    let stem = match service.rsplit_once('.') {
        Some((stem, kind)) if UNIT_TYPES.contains(&kind) => stem,
        Some((_, kind)) if kind.chars().all(|c| c.is_ascii_alphabetic()) && !kind.is_empty() => {
            return Err(format!(
                "`{service}`: `.{kind}` is not a unit type systemd can enable (use one of {})",
                UNIT_TYPES.join(", ")
            ));
        }
        _ => service,
    };
    let (prefix, instance) = match stem.split_once('@') {
        Some((prefix, instance)) => (prefix, Some(instance)),
        None => (stem, None),
    };
    let valid_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.\\-".contains(c))
    };
    if service.starts_with('-') {
        return Err(format!(
            "`{service}` starts with `-`, which systemctl would read as an option; unit names start with a letter or digit"
        ));
    }
    if prefix.is_empty() || !valid_chars(prefix) {
        return Err(format!(
            "`{service}` is not a valid unit name (letters, digits, `:`, `_`, `.`, `-`, `\\`, one `@` for templates)"
        ));
    }
    if let Some(instance) = instance {
        if instance.contains('@') || !valid_chars(instance) {
            return Err(format!(
                "`{service}`: `{instance}` is not a valid template instance"
            ));
        }
    }
    Ok(())
}

/// Accounts the Debian base system (base-passwd and the packages every Debian image has)
/// already has.
const DEBIAN_ACCOUNTS: &[&str] = &[
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "_apt",
    "nobody",
    "messagebus",
    "systemd-network",
    "systemd-resolve",
    "systemd-timesync",
    "sshd",
    "polkitd",
];

/// Accounts a Gentoo stage3 (baselayout and the acct-user packages of its @system set)
/// already has.
const GENTOO_ACCOUNTS: &[&str] = &[
    "root",
    "bin",
    "daemon",
    "adm",
    "lp",
    "sync",
    "shutdown",
    "halt",
    "mail",
    "news",
    "uucp",
    "operator",
    "portage",
    "nobody",
    "messagebus",
    "systemd-network",
    "systemd-resolve",
    "systemd-timesync",
    "systemd-journal-remote",
    "systemd-coredump",
    "sshd",
];

/// Whether `name` is an account the base system of `base` already has: genpack creates only
/// new accounts, so settings given for one of these would be ignored.
pub fn is_base_system_account(base: &crate::model::Base, name: &str) -> bool {
    let accounts = if base.is_debian() {
        DEBIAN_ACCOUNTS
    } else {
        GENTOO_ACCOUNTS
    };
    accounts.contains(&name)
}

/// Checks a user or group name: `[a-z_][a-z0-9_-]*` with an optional final `$`,
/// at most 32 characters (the rules of `useradd` on Gentoo and Debian).
pub fn validate_account_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.chars().count() > 32 {
        return Err(format!("`{name}` is longer than 32 characters"));
    }
    let body = name.strip_suffix('$').unwrap_or(name);
    let mut chars = body.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(format!(
            "`{name}` is not a valid name: use lower-case letters, digits, `_` and `-`, starting with a letter or `_`"
        ));
    }
    Ok(())
}

/// Checks a Debian package name, optionally with an architecture (`libc6:i386`) or a
/// version (`openssh-server=1:9.2p1-2`).
pub fn validate_debian_package(package: &str) -> Result<(), String> {
    if package.is_empty() {
        return Err("empty package name".into());
    }
    if package.contains(char::is_whitespace) {
        return Err(format!(
            "`{package}` contains spaces; write one package per entry"
        ));
    }
    let (rest, version) = match package.split_once('=') {
        Some((rest, version)) => (rest, Some(version)),
        None => (package, None),
    };
    let (name, arch) = match rest.split_once(':') {
        Some((name, arch)) => (name, Some(arch)),
        None => (rest, None),
    };
    if name.contains('/') {
        return Err(format!(
            "`{package}` looks like a Gentoo atom; a Debian base takes Debian package names like `openssh-server`"
        ));
    }
    let mut chars = name.chars();
    let valid = name.len() >= 2
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
    if !valid {
        return Err(format!(
            "`{package}` is not a valid Debian package name (at least two characters: lower-case letters, digits, `+`, `-`, `.`, starting with a letter or digit)"
        ));
    }
    if let Some(arch) = arch {
        if arch.is_empty()
            || !arch
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "`{package}`: `{arch}` is not a Debian architecture"
            ));
        }
    }
    if let Some(version) = version {
        let ok = version.chars().next().is_some_and(|c| c.is_ascii_digit())
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+-~:".contains(c));
        if !ok {
            return Err(format!("`{package}`: `{version}` is not a Debian version"));
        }
    }
    Ok(())
}

/// Checks the value of an `accept_keywords` entry: keywords like `~amd64`, `amd64`, `**`,
/// `~*` or `-*`, separated by spaces.
pub(crate) fn validate_keywords(text: &str) -> Result<(), String> {
    text.split_whitespace().try_for_each(|word| {
        let bare = word.trim_start_matches(['~', '-']);
        let plain = !bare.is_empty()
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if plain || matches!(word, "**" | "*" | "~*" | "-*") {
            Ok(())
        } else {
            Err(format!("`{word}` is not a keyword (like `~amd64` or `**`)"))
        }
    })
}

/// Checks the value of a `license` entry: license names or `@GROUPS`, optionally negated
/// with `-`, or `*` / `-*`, separated by spaces.
pub(crate) fn validate_licenses(text: &str) -> Result<(), String> {
    text.split_whitespace().try_for_each(|word| {
        let bare = word.trim_start_matches('-').trim_start_matches('@');
        let valid_name = bare
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c));
        if valid_name || matches!(word, "*" | "-*") {
            Ok(())
        } else {
            Err(format!(
                "`{word}` is not a license name (like `linux-fw-redistributable` or `@BINARY-REDISTRIBUTABLE`)"
            ))
        }
    })
}

/// Checks the value of an `env` entry: one or more file names inside the `env/` folder.
pub(crate) fn validate_env_files(text: &str) -> Result<(), String> {
    if text.split_whitespace().next().is_none() {
        return Err("empty file name".to_string());
    }
    text.split_whitespace().try_for_each(|word| {
        if word.starts_with('/') || word.split('/').any(|part| part == "..") {
            Err(format!("`{word}` must be a file inside the env/ folder"))
        } else {
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names() {
        for unit in [
            "sshd",
            "fstrim.timer",
            "getty@tty1",
            "getty@tty1.service",
            "sshd.socket",
            "systemd-homed",
            "NetworkManager",
            "foo@.service",
        ] {
            assert_eq!(validate_unit_name(unit), Ok(()), "{unit}");
        }
        for unit in ["", "ssh d", "foo.servce", "@foo", "a@b@c"] {
            assert!(validate_unit_name(unit).is_err(), "{unit}");
        }
        assert_eq!(unit_name("sshd"), "sshd.service");
        assert_eq!(unit_name("fstrim.timer"), "fstrim.timer");
        assert_eq!(unit_name("getty@tty1"), "getty@tty1.service");
    }

    #[test]
    fn account_names() {
        for name in ["user", "_apt", "user-1", "machine$", "a_b"] {
            assert_eq!(validate_account_name(name), Ok(()), "{name}");
        }
        for name in ["", "User", "1user", "-x", "a b", &"a".repeat(33)] {
            assert!(validate_account_name(name).is_err(), "{name}");
        }
    }

    #[test]
    fn package_setting_values() {
        assert_eq!(validate_keywords("~amd64 **"), Ok(()));
        assert_eq!(validate_keywords("-* ~arm64"), Ok(()));
        assert!(validate_keywords("amd64!").is_err());
        assert_eq!(
            validate_licenses("linux-fw-redistributable @BINARY-REDISTRIBUTABLE -NVIDIA-2025"),
            Ok(())
        );
        assert!(validate_licenses("GPL/2").is_err());
        assert_eq!(validate_env_files("debug.conf sub/x.conf"), Ok(()));
        assert!(validate_env_files("../x.conf").is_err());
        assert!(validate_env_files("/etc/x").is_err());
        assert!(validate_env_files(" ").is_err());
    }

    #[test]
    fn debian_packages() {
        for name in [
            "openssh-server",
            "libc6:i386",
            "g++",
            "python3.11",
            "foo=1:2.0-1",
        ] {
            assert_eq!(validate_debian_package(name), Ok(()), "{name}");
        }
        for name in ["a", "Foo", "app-misc/screen", "foo bar", "-foo"] {
            assert!(validate_debian_package(name).is_err(), "{name}");
        }
    }
}
