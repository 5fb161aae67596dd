//! Portage configuration generated from real definitions, compared with expected files written
//! by hand under `tests/fixtures/config/`.

use std::path::{Path, PathBuf};

use genpack_portage::config::{files, profile_target, PortageConfigInput};
use genpack_portage::Arch;
use indexmap::IndexMap;
use serde_json::{Map, Value};

fn corpus(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/artifacts")
        .join(name)
        .join("genpack.json5");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    json5::from_str(&text).unwrap()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().unwrap().to_string())
            .collect(),
        Some(Value::String(text)) => vec![text.clone()],
        _ => Vec::new(),
    }
}

fn merge_map(into: &mut IndexMap<String, Option<String>>, value: Option<&Value>) {
    let Some(Value::Object(map)) = value else {
        return;
    };
    for (atom, setting) in map {
        let setting = match setting {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            Value::Array(items) => Some(
                items
                    .iter()
                    .map(|item| item.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            other => panic!("unexpected setting {other}"),
        };
        into.insert(atom.clone(), setting);
    }
}

/// Applies one block (top level, arch block or variant) the way the definition merge does:
/// `-atom` removes a package, lists are unions, maps overwrite per key.
fn apply(input: &mut PortageConfigInput, block: &Map<String, Value>) {
    for package in strings(block.get("packages")) {
        match package.strip_prefix('-') {
            Some(removed) => input.packages.retain(|existing| existing != removed),
            None if !input.packages.contains(&package) => input.packages.push(package),
            None => {}
        }
    }
    for package in strings(block.get("buildtime_packages")) {
        if !input.buildtime_packages.contains(&package) {
            input.buildtime_packages.push(package);
        }
    }
    for atom in strings(block.get("mask")) {
        if !input.mask.contains(&atom) {
            input.mask.push(atom);
        }
    }
    merge_map(&mut input.use_flags, block.get("use"));
    merge_map(&mut input.accept_keywords, block.get("accept_keywords"));
    merge_map(&mut input.license, block.get("license"));
    merge_map(&mut input.env, block.get("env"));
}

fn effective(name: &str, arch: Arch, variant: Option<&str>) -> PortageConfigInput {
    let definition = corpus(name);
    let top = definition.as_object().unwrap();
    let mut input = PortageConfigInput {
        profile: top
            .get("profile")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Default::default()
    };
    let mut blocks = vec![top.clone()];
    if let Some(variant) = variant {
        blocks.push(top["variants"][variant].as_object().unwrap().clone());
    }
    for block in blocks {
        apply(&mut input, &block);
        if let Some(Value::Object(arches)) = block.get("arch") {
            for (names, arch_block) in arches {
                if names.split('|').any(|name| name == arch.as_str()) {
                    apply(&mut input, arch_block.as_object().unwrap());
                }
            }
        }
    }
    input
}

fn render(arch: Arch, input: &PortageConfigInput) -> String {
    let mut out = format!(
        "profile: {}\n",
        profile_target(arch, input.profile.as_deref()).unwrap()
    );
    for file in files(input).unwrap() {
        out.push_str(&format!("=== {}\n{}", file.path.display(), file.contents));
    }
    out
}

fn check(case: &str, arch: Arch, input: &PortageConfigInput) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(format!("{case}.txt"));
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let actual = render(arch, input);
    if actual != expected {
        for (number, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
            assert_eq!(a, e, "{case}: first difference at line {}", number + 1);
        }
        assert_eq!(
            actual.lines().count(),
            expected.lines().count(),
            "{case}: line count"
        );
        assert_eq!(actual, expected, "{case}");
    }
}

#[test]
fn borg_on_x86_64() {
    check(
        "borg-x86_64",
        Arch::X86_64,
        &effective("borg", Arch::X86_64, None),
    );
}

#[test]
fn stub_on_aarch64_adds_its_arch_block() {
    check(
        "stub-aarch64",
        Arch::Aarch64,
        &effective("stub", Arch::Aarch64, None),
    );
}

#[test]
fn stub_on_x86_64_leaves_the_aarch64_block_out() {
    let input = effective("stub", Arch::X86_64, None);
    assert!(!input
        .accept_keywords
        .contains_key("app-emulation/qemu-guest-agent"));
    assert!(render(Arch::X86_64, &input)
        .starts_with("profile: genpack-overlay:genpack/amd64/paravirt\n"));
}

#[test]
fn torch_cuda_variant_with_env_and_local_overlay() {
    let mut input = effective("torch", Arch::X86_64, Some("cuda"));
    input.local_overlay = true;
    // Keep the fixture readable: the long keyword list is checked for size, the rest in full.
    assert_eq!(input.accept_keywords.len(), 75);
    input.accept_keywords.truncate(3);
    input.packages.truncate(4);
    input.use_flags.retain(|atom, _| {
        !atom.starts_with("sci-libs/")
            && atom != "dev-util/Tensile"
            && atom != "dev-libs/rccl"
            && atom != "dev-util/roctracer"
    });
    check("torch-cuda-x86_64", Arch::X86_64, &input);
}
