//! The profiles a definition can name: what its base offers.

use std::path::Path;

use crate::model::{Arch, Base};

/// The profiles the Debian base understands: whether the image runs in a VM or on hardware.
pub const DEBIAN_PROFILES: [&str; 2] = ["paravirt", "baremetal"];

/// The profiles a definition on `base` can name for `arch`, in the overlay's order: on Debian
/// [`DEBIAN_PROFILES`]; on Gentoo those the genpack overlay at `overlay` declares in
/// `profiles/profiles.desc` under `genpack/<gentoo arch>/` (`paravirt`, `gnome/baremetal`...).
/// An overlay that cannot be read offers none.
pub fn available_profiles(base: &Base, overlay: &Path, arch: Arch) -> Vec<String> {
    if base.is_debian() {
        return DEBIAN_PROFILES.iter().map(|p| p.to_string()).collect();
    }
    let Ok(text) = std::fs::read_to_string(overlay.join("profiles/profiles.desc")) else {
        return Vec::new();
    };
    overlay_profiles(&text, arch)
}

/// The profiles of `arch` in the text of a `profiles.desc`.
fn overlay_profiles(profiles_desc: &str, arch: Arch) -> Vec<String> {
    let prefix = format!("genpack/{}/", arch.gentoo_name());
    let mut found: Vec<String> = Vec::new();
    for line in profiles_desc.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(keyword), Some(path)) = (fields.next(), fields.next()) else {
            continue;
        };
        if keyword != arch.gentoo_name() {
            continue;
        }
        if let Some(profile) = path.strip_prefix(&prefix) {
            if !found.iter().any(|known| known == profile) {
                found.push(profile.to_string());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESC: &str = "\
# keyword path status
amd64 genpack/amd64 stable
amd64 genpack/amd64/paravirt stable
amd64 genpack/amd64/gnome/baremetal stable
arm64 genpack/arm64/paravirt stable
arm64 genpack/arm64/weston/paravirt stable
";

    #[test]
    fn the_profiles_of_one_architecture_without_the_base_profile() {
        assert_eq!(
            overlay_profiles(DESC, Arch::X86_64),
            ["paravirt", "gnome/baremetal"]
        );
        assert_eq!(
            overlay_profiles(DESC, Arch::Aarch64),
            ["paravirt", "weston/paravirt"]
        );
        assert!(overlay_profiles(DESC, Arch::Riscv64).is_empty());
    }

    #[test]
    fn debian_offers_its_two_and_the_real_overlay_its_own() {
        let debian: Base = "debian:bookworm".parse().unwrap();
        assert_eq!(
            available_profiles(&debian, Path::new("/nowhere"), Arch::X86_64),
            DEBIAN_PROFILES
        );
        let overlay = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../overlay");
        let gentoo = Base::default();
        let offered = available_profiles(&gentoo, &overlay, Arch::X86_64);
        for profile in ["paravirt", "baremetal", "systemimg", "gnome/baremetal"] {
            assert!(
                offered.iter().any(|p| p == profile),
                "{profile}: {offered:?}"
            );
        }
    }
}
