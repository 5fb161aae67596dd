//! docs/ARCHITECTURE.md's crate map says what Cargo says: every crate of the workspace has a
//! row, and each row's "used by" column names exactly the crates that depend on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `crate name -> names of the workspace crates that depend on it` (normal dependencies).
fn users_from_cargo() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let members: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut users: BTreeMap<String, BTreeSet<String>> = members
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for package in packages {
        let name = package["name"].as_str().unwrap();
        for dependency in package["dependencies"].as_array().unwrap() {
            let dep = dependency["name"].as_str().unwrap();
            let normal = dependency["kind"].is_null();
            if normal && members.contains(dep) {
                users.get_mut(dep).unwrap().insert(name.to_string());
            }
        }
    }
    users
}

/// The crate map's rows: `crate name -> the crate names in its "used by" column`.
fn users_from_docs() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(workspace_root().join("docs/ARCHITECTURE.md")).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `crates/genpack-def` | one job | used by |
        let Some(first) = cells.get(1) else { continue };
        let Some(path) = first.strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            continue;
        };
        let name = match path {
            "src-tauri" => "genpack-studio",
            other => match other.strip_prefix("crates/") {
                Some(name) => name,
                None => continue,
            },
        };
        let used_by = cells.get(3).copied().unwrap_or("");
        let names: BTreeSet<String> = used_by
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|n| n.starts_with("genpack-"))
            .map(str::to_string)
            .collect();
        rows.insert(name.to_string(), names);
    }
    rows
}

#[test]
fn the_crate_map_matches_cargo() {
    let cargo = users_from_cargo();
    let docs = users_from_docs();
    let missing: Vec<&String> = cargo.keys().filter(|c| !docs.contains_key(*c)).collect();
    assert!(
        missing.is_empty(),
        "crates without a row in the crate map: {missing:?}"
    );
    let unknown: Vec<&String> = docs.keys().filter(|c| !cargo.contains_key(*c)).collect();
    assert!(
        unknown.is_empty(),
        "rows for crates that do not exist: {unknown:?}"
    );
    let mut wrong = Vec::new();
    for (name, users) in &cargo {
        if docs[name] != *users {
            wrong.push(format!(
                "{name}: the map says used by {:?}, Cargo says {:?}",
                docs[name], users
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
