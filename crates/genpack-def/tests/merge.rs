//! The merge rules of effective definitions, one by one.

mod common;

use std::path::Path;

use common::{definition, parse};
use genpack_def::{parse_definition, Arch, Compression, EffectiveError, SetupCommand};
use serde_json::json;

const LAYERED: &str = r#"{
    name: "demo",
    profile: "paravirt",
    packages: ["a/top", "b/top", "c/top"],
    buildtime_packages: ["dev-lang/go"],
    mask: [">=dev-lang/python-3.14"],
    services: ["sshd"],
    binpkg_excludes: "media-libs/mesa",
    use: { "a/top": "x  y", "b/top": ["p", "q"], "*/*": "-X" },
    accept_keywords: { "a/top": null },
    users: ["alice"],
    groups: ["media"],
    setup_commands: ["echo top"],
    arch: {
        "x86_64": {
            packages: ["d/x86", "-b/top"],
            services: ["sshd.service", "fstrim.timer"],
            use: { "a/top": "from-x86" },
        },
        "x86_64|aarch64": {
            packages: ["e/both"],
            mask: [">=dev-lang/python-3.14", "<sys-apps/old-2"],
            setup_commands: ["echo arch"],
        },
        "riscv64": { packages: ["f/riscv"] },
    },
    variants: {
        big: {
            profile: "gnome/baremetal",
            outfile: "big.squashfs",
            compression: "zstd",
            buildtime_packages_first: true,
            packages: ["g/big", "-c/top"],
            use: { "c/new": "z", "a/top": "from-variant" },
            accept_keywords: { "a/top": "**" },
            users: [{ name: "bob", "additional-groups": "wheel,video" }],
            groups: [{ name: "games", gid: 35 }],
            services: ["docker"],
            binpkg_excludes: ["media-libs/mesa", "gui-libs/gtk"],
            setup_commands: ["echo variant"],
            arch: {
                x86_64: { packages: ["-d/x86", "-e/both", "h/big-x86"] },
            },
        },
        small: {},
    },
}"#;

#[test]
fn top_level_alone() {
    let build = definition(LAYERED).effective(Arch::I686, None).unwrap();
    assert_eq!(build.packages, ["a/top", "b/top", "c/top"]);
    assert_eq!(build.outfile, "demo-i686.squashfs");
    assert_eq!(build.profile.as_deref(), Some("paravirt"));
    assert_eq!(build.compression, Compression::Gzip);
    assert_eq!(build.variant, None);
    assert_eq!(build.use_flags["a/top"].as_deref(), Some("x y"));
    assert_eq!(build.use_flags["b/top"].as_deref(), Some("p q"));
    assert_eq!(build.lower_layer_capacity, 128);
}

#[test]
fn arch_blocks_apply_in_file_order_and_removals_see_earlier_layers() {
    let build = definition(LAYERED).effective(Arch::X86_64, None).unwrap();
    assert_eq!(build.packages, ["a/top", "c/top", "d/x86", "e/both"]);
    // `sshd.service` is the same unit as `sshd`.
    assert_eq!(build.services, ["sshd", "fstrim.timer"]);
    assert_eq!(build.mask, [">=dev-lang/python-3.14", "<sys-apps/old-2"]);
    assert_eq!(
        build.setup_commands,
        [
            SetupCommand::Shell("echo top".into()),
            SetupCommand::Shell("echo arch".into())
        ]
    );
    assert_eq!(build.use_flags["a/top"].as_deref(), Some("from-x86"));

    let arm = definition(LAYERED).effective(Arch::Aarch64, None).unwrap();
    assert_eq!(arm.packages, ["a/top", "b/top", "c/top", "e/both"]);
    let riscv = definition(LAYERED).effective(Arch::Riscv64, None).unwrap();
    assert_eq!(riscv.packages, ["a/top", "b/top", "c/top", "f/riscv"]);
}

#[test]
fn removal_inside_a_variants_arch_block() {
    let build = definition(LAYERED)
        .effective(Arch::X86_64, Some("big"))
        .unwrap();
    assert_eq!(build.packages, ["a/top", "g/big", "h/big-x86"]);
    // On another arch the variant's x86_64 block does not apply.
    let arm = definition(LAYERED)
        .effective(Arch::Aarch64, Some("big"))
        .unwrap();
    assert_eq!(arm.packages, ["a/top", "b/top", "e/both", "g/big"]);
}

#[test]
fn per_package_maps_overwrite_and_keep_first_insertion_order() {
    let build = definition(LAYERED)
        .effective(Arch::X86_64, Some("big"))
        .unwrap();
    let keys: Vec<&str> = build.use_flags.keys().map(String::as_str).collect();
    assert_eq!(keys, ["a/top", "b/top", "*/*", "c/new"]);
    assert_eq!(build.use_flags["a/top"].as_deref(), Some("from-variant"));
    assert_eq!(build.accept_keywords["a/top"].as_deref(), Some("**"));
}

#[test]
fn lists_of_accounts_and_commands_are_appended() {
    let build = definition(LAYERED)
        .effective(Arch::X86_64, Some("big"))
        .unwrap();
    let names: Vec<&str> = build.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(build.users[1].additional_groups, ["wheel", "video"]);
    assert!(build.users[1].create_home);
    let groups: Vec<(&str, Option<u32>)> = build
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.gid))
        .collect();
    assert_eq!(groups, [("media", None), ("games", Some(35))]);
    let commands: Vec<String> = build
        .setup_commands
        .iter()
        .map(|c| match c {
            SetupCommand::Shell(s) => s.clone(),
            SetupCommand::Structured(m) => format!("{m:?}"),
        })
        .collect();
    assert_eq!(commands, ["echo top", "echo arch", "echo variant"]);
}

#[test]
fn unions_keep_order_without_repeats() {
    let build = definition(LAYERED)
        .effective(Arch::X86_64, Some("big"))
        .unwrap();
    assert_eq!(build.binpkg_excludes, ["media-libs/mesa", "gui-libs/gtk"]);
    assert_eq!(build.services, ["sshd", "fstrim.timer", "docker"]);
    assert_eq!(build.buildtime_packages, ["dev-lang/go"]);
}

#[test]
fn variant_profile_outfile_and_compression_override() {
    let build = definition(LAYERED)
        .effective(Arch::X86_64, Some("big"))
        .unwrap();
    assert_eq!(build.profile.as_deref(), Some("gnome/baremetal"));
    assert_eq!(build.outfile, "big.squashfs");
    assert_eq!(build.compression, Compression::Zstd);
    assert!(build.buildtime_packages_first);
    let small = definition(LAYERED)
        .effective(Arch::X86_64, Some("small"))
        .unwrap();
    assert_eq!(small.profile.as_deref(), Some("paravirt"));
    assert_eq!(small.outfile, "demo-small-x86_64.squashfs");
    assert!(!small.buildtime_packages_first);
}

#[test]
fn default_variant_is_used_when_none_is_given() {
    let text = r#"{ name: "d", packages: ["a/b"], variants: { v1: { packages: ["c/d"] } }, default_variant: "v1" }"#;
    let build = definition(text).effective(Arch::Aarch64, None).unwrap();
    assert_eq!(build.variant.as_deref(), Some("v1"));
    assert_eq!(build.packages, ["a/b", "c/d"]);
    assert_eq!(build.outfile, "d-v1-aarch64.squashfs");
}

#[test]
fn unknown_variants_list_the_choices() {
    let err = definition(LAYERED)
        .effective(Arch::X86_64, Some("huge"))
        .unwrap_err();
    assert_eq!(
        err,
        EffectiveError::UnknownVariant {
            name: "huge".into(),
            available: vec!["big".into(), "small".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "there is no variant `huge`: choose one of big, small"
    );
}

#[test]
fn a_missing_name_comes_from_the_folder() {
    let parsed = parse_definition(
        "{ packages: [\"a/b\"] }",
        Path::new("/srv/images/kiosk/genpack.json5"),
    );
    assert!(parsed
        .diagnostics
        .iter()
        .any(|d| !d.is_error() && d.message.contains("folder name `kiosk`")));
    let build = parsed
        .definition
        .unwrap()
        .effective(Arch::Riscv64, None)
        .unwrap();
    assert_eq!(build.name, "kiosk");
    assert_eq!(build.outfile, "kiosk-riscv64.squashfs");
}

#[test]
fn arch_and_variant_names() {
    let def = definition(LAYERED);
    assert_eq!(def.variant_names(), ["big", "small"]);
    assert_eq!(
        def.arch_names(),
        [Arch::X86_64, Arch::Aarch64, Arch::Riscv64]
    );
    assert_eq!(definition("{ packages: [] }").arch_names(), Arch::ALL);
}

#[test]
fn effective_serializes_with_snake_case_keys_and_normalized_values() {
    let build = definition(LAYERED)
        .effective(Arch::X86_64, Some("big"))
        .unwrap();
    let value = serde_json::to_value(&build).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "base",
            "profile",
            "arch",
            "variant",
            "packages",
            "buildtime_packages",
            "buildtime_packages_first",
            "accept_keywords",
            "use",
            "license",
            "env",
            "mask",
            "binpkg_excludes",
            "users",
            "groups",
            "services",
            "setup_commands",
            "outfile",
            "compression",
            "lower_layer_capacity",
            "independent_binpkgs",
            "binhost",
            "circulardep_breaker",
            "devel"
        ]
    );
    assert_eq!(value["base"], "gentoo");
    assert_eq!(value["arch"], "x86_64");
    assert_eq!(value["compression"], "zstd");
    assert_eq!(value["use"]["b/top"], "p q");
    assert_eq!(
        value["users"][0],
        json!({
            "name": "alice", "additional_groups": [], "create_home": true, "empty_password": false
        })
    );
    // And back.
    let again: genpack_def::Effective = serde_json::from_value(value).unwrap();
    assert_eq!(again, build);
}

#[test]
fn debian_removals_work_too() {
    let text = r#"{ name: "deb", base: "debian", packages: ["openssh-server", "nano"], variants: { min: { packages: ["-nano"] } } }"#;
    let build = definition(text)
        .effective(Arch::X86_64, Some("min"))
        .unwrap();
    assert_eq!(build.packages, ["openssh-server"]);
    assert_eq!(build.base.to_string(), "debian:bookworm");
}

#[test]
fn validation_problems_do_not_leak_into_the_model() {
    let parsed = parse(
        r#"{ name: "x", packages: ["a/b", 5, "nope"], arch: { "mips": { packages: ["z/z"] } } }"#,
    );
    assert!(parsed.has_errors());
    let def = parsed.definition.unwrap();
    assert_eq!(def.packages, ["a/b"]);
    assert!(def.arch.is_empty());
}
