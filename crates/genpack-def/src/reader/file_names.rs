//! Values that end up in file names and paths: the image name and variant names (parts of
//! the output file name), `outfile` (the output file itself) and `profile` (a path of
//! genpack profile folders).

use jsonc_parser::common::Range;

use super::Reader;
use crate::profiles::DEBIAN_PROFILES;

impl Reader<'_> {
    pub(super) fn check_file_name_part(
        &mut self,
        text: &str,
        range: Range,
        path: &str,
        what: &str,
    ) -> bool {
        let valid = !text.is_empty()
            && !text.starts_with(['.', '-'])
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
        if !valid {
            self.error_help(
                range,
                path,
                format!("`{text}` is not a usable {what}: it becomes part of a file name"),
                "use letters, digits, `.`, `_`, `+` and `-`, not starting with `.` or `-`",
            );
        }
        valid
    }

    pub(super) fn check_outfile(&mut self, outfile: &str, range: Range, path: &str) -> bool {
        if outfile.is_empty() || outfile.contains(['/', '\\']) || outfile == "." || outfile == ".."
        {
            self.error_help(
                range,
                path,
                format!("`{outfile}` is not a file name"),
                "give just a file name like \"vpnhub.squashfs\"; it is written next to the definition",
            );
            return false;
        }
        if !outfile.ends_with(".squashfs") {
            self.warning(
                range,
                path,
                format!("`{outfile}` does not end in `.squashfs`"),
                Some(
                    "images are SquashFS files; other tools look for the `.squashfs` ending".into(),
                ),
            );
        }
        true
    }

    pub(super) fn check_profile(&mut self, profile: &str, range: Range, path: &str) {
        let valid = !profile.is_empty()
            && profile.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
            });
        if !valid {
            self.error_help(
                range,
                path,
                format!("`{profile}` is not a profile name"),
                "profiles look like `paravirt`, `baremetal` or `gnome/baremetal`",
            );
            return;
        }
        if self.base.is_debian() && !DEBIAN_PROFILES.contains(&profile) {
            self.warning(
                range,
                path,
                format!("on a Debian base the profile only chooses between `paravirt` and `baremetal`; `{profile}` does nothing there"),
                None,
            );
        }
    }
}
