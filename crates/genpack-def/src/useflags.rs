//! USE flag strings, as written in the values of `use` and `circulardep_breaker.use`.
//!
//! A string is a space-separated list of flags (`wayland`, `-X`) and USE_EXPAND groups: an
//! upper-case variable name followed by a colon, then its values, as in
//! `-X wayland VIDEO_CARDS: virgl zink APACHE2_MODULES: -http2 proxy`. The expanded flag
//! form (`python_targets_python3_12`) is an ordinary flag.

use crate::atom::is_use_flag_name;

/// Checks a USE flag string such as `"-X wayland VIDEO_CARDS: virgl zink"`.
///
/// Returns a plain-language explanation of the first problem.
pub fn validate_use_flags(flags: &str) -> Result<(), String> {
    let mut open_group: Option<&str> = None;
    let mut group_has_values = false;
    for token in flags.split_whitespace() {
        if let Some(name) = token.strip_suffix(':') {
            if let Some(previous) = open_group {
                if !group_has_values {
                    return Err(format!("`{previous}:` has no values after it"));
                }
            }
            if !is_expand_name(name) {
                let upper = name.to_ascii_uppercase();
                return Err(if is_expand_name(&upper) {
                    format!("`{token}`: USE_EXPAND names are upper case, like `{upper}:`")
                } else {
                    format!("`{token}` is not a valid USE_EXPAND name (like `VIDEO_CARDS:`)")
                });
            }
            open_group = Some(name);
            group_has_values = false;
            continue;
        }
        if let Some((name, value)) = token.split_once(':') {
            return Err(format!(
                "`{token}`: put a space after the colon, like `{name}: {value}`"
            ));
        }
        let name = token.strip_prefix('-').unwrap_or(token);
        if token == "-*" || token == "*" {
            group_has_values |= open_group.is_some();
            continue;
        }
        let valid = if open_group.is_some() {
            is_expand_value(name)
        } else {
            is_use_flag_name(name)
        };
        if !valid {
            return Err(if token.starts_with("--") {
                format!(
                    "`{token}` has two minus signs; use `-{}` to turn a flag off",
                    token.trim_start_matches('-')
                )
            } else if let Some(bare) = token.strip_prefix('+') {
                format!("`{token}`: write flags without `+` (just `{bare}`) to turn them on")
            } else {
                format!("`{token}` is not a valid USE flag (letters, digits, `+`, `_`, `@`, `-`; a leading `-` turns it off)")
            });
        }
        group_has_values |= open_group.is_some();
    }
    if let Some(name) = open_group {
        if !group_has_values {
            return Err(format!("`{name}:` has no values after it"));
        }
    }
    Ok(())
}

/// The flag string with single spaces between tokens.
pub(crate) fn normalize_flags(flags: &str) -> String {
    flags.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_expand_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// USE_EXPAND values are flag names that may also contain dots (`python3.12` is not used,
/// but `QEMU_SOFTMMU_TARGETS: x86_64` and `AMDGPU_TARGETS: gfx1200` are).
fn is_expand_value(value: &str) -> bool {
    value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+_@.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_flags_and_use_expand_groups() {
        for flags in [
            "",
            "X",
            "-X wayland vulkan VIDEO_CARDS: virgl zink",
            "APACHE2_MODULES: -http2 proxy remoteip APACHE2_MPMS: prefork",
            "python_targets_python3_12 -python_targets_python3_13",
            "QEMU_SOFTMMU_TARGETS: x86_64 aarch64 QEMU_USER_TARGETS: aarch64",
            "GRUB_PLATFORMS: pc efi-32",
            "CPU_FLAGS_X86: avx512_bf16 sse4_1",
            "-*",
        ] {
            assert_eq!(validate_use_flags(flags), Ok(()), "{flags}");
        }
    }

    #[test]
    fn rejects_malformed_strings_with_reasons() {
        for (flags, fragment) in [
            ("VIDEO_CARDS:virgl", "put a space after the colon"),
            ("video_cards: virgl", "upper case"),
            ("VIDEO_CARDS:", "no values"),
            ("VIDEO_CARDS: APACHE2_MODULES: proxy", "no values"),
            ("--X", "two minus signs"),
            ("+wayland", "without `+`"),
            ("foo$bar", "not a valid USE flag"),
        ] {
            let err = validate_use_flags(flags).expect_err(flags);
            assert!(err.contains(fragment), "{flags}: {err}");
        }
    }

    #[test]
    fn normalizes_whitespace() {
        assert_eq!(normalize_flags("  -X\twayland \n zink "), "-X wayland zink");
    }
}
