//! Every package and USE flag a Gentoo template of the gallery uses exists in Gentoo: it is in
//! `templates/gentoo-packages.txt`, the record of what was checked against the Gentoo ebuild
//! repository (or, for `genpack/*`, in our own overlay). A template that names a package or a
//! flag nobody checked fails here, with the template and the atom.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use genpack_portage::Atom;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Package (`category/name`) to the USE flags recorded for it.
fn record() -> BTreeMap<String, BTreeSet<String>> {
    let path = repo().join("templates/gentoo-packages.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut packages = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let key = words.next().unwrap().to_string();
        assert!(
            key.split('/').count() == 2,
            "{}:{}: '{key}' is not category/package",
            path.display(),
            number + 1
        );
        let mut flags = BTreeSet::new();
        let mut in_use = false;
        while let Some(word) = words.next() {
            match word {
                "use:" => in_use = true,
                "newest" => {
                    words.next();
                }
                flag if in_use => {
                    flags.insert(flag.trim_end_matches('?').to_string());
                }
                other => panic!("{}:{}: unexpected '{other}'", path.display(), number + 1),
            }
        }
        assert!(
            packages.insert(key.clone(), flags).is_none(),
            "{}:{}: {key} is listed twice",
            path.display(),
            number + 1
        );
    }
    packages
}

/// The flags `genpack/<name>` of our overlay declares in IUSE, when the package exists.
fn overlay_flags(key: &str) -> Option<BTreeSet<String>> {
    let dir = repo().join("overlay").join(key);
    let mut flags = BTreeSet::new();
    let mut found = false;
    for entry in std::fs::read_dir(&dir).ok()? {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ebuild") {
            found = true;
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix("IUSE=\"") {
                    for flag in rest.trim_end_matches('"').split_whitespace() {
                        flags.insert(flag.trim_start_matches(['+', '-']).to_string());
                    }
                }
            }
        }
    }
    found.then_some(flags)
}

/// The definition blocks of a template: the top level and each `arch` and `variants` entry.
fn blocks(definition: &Value) -> Vec<(String, &Value)> {
    let mut out = vec![("top level".to_string(), definition)];
    for section in ["arch", "variants"] {
        if let Some(Value::Object(map)) = definition.get(section) {
            for (name, block) in map {
                out.push((format!("{section}.{name}"), block));
                if let Some(Value::Object(inner)) = block.get("arch") {
                    for (arch, block) in inner {
                        out.push((format!("{section}.{name}.arch.{arch}"), block));
                    }
                }
            }
        }
    }
    out
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(text)) => vec![text.clone()],
        _ => Vec::new(),
    }
}

/// `-X kernel-open GRUB_PLATFORMS: pc efi-64` as the flags Portage sees
/// (`X kernel-open grub_platforms_pc grub_platforms_efi-64`).
fn use_flags(setting: &str) -> Vec<String> {
    let mut flags = Vec::new();
    let mut expand: Option<String> = None;
    for word in setting.split_whitespace() {
        if let Some(name) = word.strip_suffix(':') {
            expand = Some(name.to_lowercase());
            continue;
        }
        let flag = word.trim_start_matches(['-', '+']);
        flags.push(match &expand {
            Some(name) => format!("{name}_{flag}"),
            None => flag.to_string(),
        });
    }
    flags
}

fn gentoo_templates() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let dir = repo().join("templates");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("template.json5").is_file())
        .collect();
    entries.sort();
    for template in entries {
        let meta: Value =
            json5::from_str(&std::fs::read_to_string(template.join("template.json5")).unwrap())
                .unwrap();
        let base = meta.get("base").and_then(Value::as_str).unwrap_or("gentoo");
        if base != "gentoo" {
            continue;
        }
        let file = template.join("genpack.json5");
        let definition: Value = json5::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        out.push((name_of(&template), definition));
    }
    out
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn gentoo_templates_use_only_checked_packages_and_flags() {
    let record = record();
    let templates = gentoo_templates();
    assert!(
        templates.len() >= 10,
        "only {} Gentoo templates",
        templates.len()
    );
    let keywords = [
        "amd64", "~amd64", "arm64", "~arm64", "x86", "~x86", "riscv", "~riscv", "**", "*", "~*",
    ];
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for (template, definition) in &templates {
        for (block_name, block) in blocks(definition) {
            let place = format!("templates/{template}/genpack.json5 ({block_name})");
            let mut atoms: Vec<(String, Option<String>)> = Vec::new();
            for list in ["packages", "buildtime_packages", "mask", "binpkg_excludes"] {
                atoms.extend(strings(block.get(list)).into_iter().map(|a| (a, None)));
            }
            if let Some(breaker) = block.get("circulardep_breaker") {
                atoms.extend(
                    strings(breaker.get("packages"))
                        .into_iter()
                        .map(|a| (a, None)),
                );
            }
            for map in ["use", "accept_keywords", "license", "env"] {
                if let Some(Value::Object(entries)) = block.get(map) {
                    for (atom, value) in entries {
                        let setting = match value {
                            Value::String(text) => Some(text.clone()),
                            Value::Array(items) => Some(
                                items
                                    .iter()
                                    .filter_map(Value::as_str)
                                    .collect::<Vec<_>>()
                                    .join(" "),
                            ),
                            _ => None,
                        };
                        let tagged = setting.map(|s| format!("{map}={s}"));
                        atoms.push((atom.clone(), tagged));
                    }
                }
            }
            for (text, setting) in atoms {
                let atom = match Atom::parse(&text) {
                    Ok(atom) => atom,
                    Err(error) => {
                        problems.push(format!("{place}: '{text}' is not an atom: {error}"));
                        continue;
                    }
                };
                let key = atom.key();
                let known = if key.starts_with("genpack/") {
                    overlay_flags(&key)
                } else {
                    record.get(&key).cloned()
                };
                let Some(flags) = known else {
                    problems.push(format!(
                        "{place}: {key} is not in templates/gentoo-packages.txt (check it in the Gentoo tree and record it)"
                    ));
                    continue;
                };
                used.insert(key.clone());
                match setting.as_deref().and_then(|s| s.split_once('=')) {
                    Some(("use", value)) => {
                        for flag in use_flags(value) {
                            if !flags.contains(&flag) {
                                problems.push(format!(
                                    "{place}: USE flag '{flag}' of {key} is not recorded for it"
                                ));
                            }
                        }
                    }
                    Some(("accept_keywords", value)) => {
                        for keyword in value.split_whitespace() {
                            if !keywords.contains(&keyword) {
                                problems.push(format!(
                                    "{place}: '{keyword}' for {key} is not a keyword of our architectures"
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The record describes the templates: nothing in it is unused.
    let unused: Vec<&String> = record.keys().filter(|key| !used.contains(*key)).collect();
    assert!(
        unused.is_empty(),
        "recorded but used by no Gentoo template (remove from templates/gentoo-packages.txt): {unused:?}"
    );
}

#[test]
fn use_settings_become_the_flags_portage_sees() {
    assert_eq!(
        use_flags("-X kernel-open GRUB_PLATFORMS: pc efi-64"),
        [
            "X",
            "kernel-open",
            "grub_platforms_pc",
            "grub_platforms_efi-64"
        ]
    );
    assert_eq!(use_flags("+dhcp -tftp"), ["dhcp", "tftp"]);
}
