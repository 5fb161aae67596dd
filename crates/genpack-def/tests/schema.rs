//! The JSON Schema describes every key with a title and help text.

use genpack_def::definition_schema;
use serde_json::Value;

/// Every `properties` entry anywhere in `schema`, with its path.
fn all_properties<'a>(value: &'a Value, path: &str, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for (key, prop) in props {
                    out.push((format!("{path}.{key}"), prop));
                }
            }
            for (key, child) in map {
                all_properties(child, &format!("{path}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                all_properties(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_property_has_a_title_and_a_description() {
    let schema = definition_schema();
    assert_eq!(schema["title"], "genpack image definition");
    let mut props = Vec::new();
    all_properties(&schema, "", &mut props);
    assert!(props.len() > 50, "only {} properties", props.len());
    let missing: Vec<&str> = props
        .iter()
        .filter(|(_, p)| {
            let titled = p
                .get("title")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty());
            let described = p
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.len() > 10);
            !(titled && described)
        })
        .map(|(path, _)| path.as_str())
        .collect();
    assert!(missing.is_empty(), "no title or description: {missing:?}");
}

#[test]
fn the_schema_names_every_top_level_key() {
    let schema = definition_schema();
    let keys: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "name",
        "base",
        "profile",
        "packages",
        "buildtime_packages",
        "buildtime_packages_first",
        "accept_keywords",
        "use",
        "license",
        "mask",
        "env",
        "binpkg_excludes",
        "users",
        "groups",
        "services",
        "setup_commands",
        "ports",
        "arch",
        "variants",
        "default_variant",
        "outfile",
        "compression",
        "lower-layer-capacity",
        "independent_binpkgs",
        "binhost",
        "circulardep_breaker",
        "devel",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let compression = serde_json::to_string(&schema).unwrap();
    for name in ["gzip", "xz", "lzo", "zstd", "lz4", "none"] {
        assert!(compression.contains(&format!("\"{name}\"")), "{name}");
    }
}
