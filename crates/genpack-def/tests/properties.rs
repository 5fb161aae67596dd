//! Property tests: the reader never panics, and generated definitions read back exactly.

use std::collections::BTreeMap;
use std::path::Path;

use genpack_def::edit::Document;
use genpack_def::{parse_definition, Compression, Definition, PackageMap, Setting, User, Variant};
use proptest::prelude::*;
use serde_json::json;

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "\t",
    "// note\n",
    "/* block */",
    "/*",
    "\"packages\"",
    "packages",
    "use",
    "users",
    "arch",
    "variants",
    "services",
    "name",
    "'a/b'",
    "\"app-misc/screen\"",
    "\"-app-misc/screen\"",
    "\"#x/y\"",
    "null",
    "true",
    "12",
    "0x1F",
    "-Infinity",
    "NaN",
    ".5",
    "+1",
    "\"VIDEO_CARDS: x\"",
    "\"x86_64|aarch64\"",
    "\"\\u00e9\"",
    "\"",
    "'",
    "\\",
    "é",
    "\"lower-layer-capacity\"",
    "default_variant",
    "\"buildtime-packages\"",
    "{ name: 'u', uid: 7 }",
];

fn json5ish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|tokens| tokens.concat())
}

/// A random value tree whose keys are mostly real definition keys.
fn value_tree() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("1000".to_string()),
        Just("-3.5".to_string()),
        Just("\"app-misc/screen\"".to_string()),
        Just("\"-X wayland VIDEO_CARDS: virgl\"".to_string()),
        Just("\"x86_64\"".to_string()),
        "[a-z/:@. -]{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    let keys = prop::sample::select(vec![
        "name",
        "packages",
        "use",
        "users",
        "groups",
        "arch",
        "variants",
        "x86_64",
        "services",
        "setup_commands",
        "default_variant",
        "compression",
        "circulardep_breaker",
        "\"a/b\"",
        "\"*/*\"",
        "profile",
        "uid",
        "env",
        "mask",
        "devel",
        "\"lower-layer-capacity\"",
        "binpkg_excludes",
    ]);
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((keys.clone(), inner), 0..5).prop_map(|props| {
                let body: Vec<String> = props
                    .into_iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                format!("{{{}}}", body.join(",\n"))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in prop_oneof![json5ish(), any::<String>()]) {
        let parsed = parse_definition(&text, Path::new("p/genpack.json5"));
        for d in &parsed.diagnostics {
            prop_assert!(d.line >= 1 && d.column >= 1);
        }
        if let Ok(doc) = Document::parse(&text) {
            prop_assert_eq!(doc.to_string(), text);
        }
    }

    #[test]
    fn random_trees_never_panic(tree in value_tree()) {
        let parsed = parse_definition(&tree, Path::new("p/genpack.json5"));
        if let Some(definition) = &parsed.definition {
            if !parsed.has_errors() {
                for arch in definition.arch_names() {
                    let _ = definition.effective(arch, None);
                }
            }
        }
        let doc = Document::parse(&tree).unwrap();
        prop_assert_eq!(doc.as_str(), tree.as_str());
    }

    #[test]
    fn generated_definitions_read_back_exactly(generated in generated_definition(), style in any::<(bool, bool, bool)>()) {
        let expected = generated.expected();
        let text = generated.render(style);
        let parsed = parse_definition(&text, Path::new("p/genpack.json5"));
        prop_assert!(!parsed.has_errors(), "{}\n{:?}", text, parsed.diagnostics);
        prop_assert_eq!(parsed.definition.as_ref(), Some(&expected));

        let document = Document::parse(&text).unwrap();
        prop_assert_eq!(document.to_string(), text.clone());
        let again = parse_definition(document.as_str(), Path::new("p/genpack.json5"));
        prop_assert_eq!(again.definition.as_ref(), Some(&expected));

        // An edit elsewhere keeps the comments and the rest of the model.
        let mut edited = document.clone();
        edited.set(&["devel".into()], json!(true)).unwrap();
        prop_assert_eq!(edited.as_str().matches("//").count(), text.matches("//").count());
        let mut edited_expected = expected.clone();
        edited_expected.devel = true;
        let reread = parse_definition(edited.as_str(), Path::new("p/genpack.json5"));
        prop_assert_eq!(reread.definition, Some(edited_expected));
    }
}

#[derive(Debug, Clone)]
struct Generated {
    name: String,
    packages: Vec<String>,
    use_flags: BTreeMap<String, String>,
    services: Vec<String>,
    compression: Option<Compression>,
    users: BTreeMap<String, Option<u32>>,
    variant: Option<(String, Vec<String>)>,
}

fn atom() -> impl Strategy<Value = String> {
    "[a-z]{2,5}-[a-z]{2,5}/[a-z][a-z0-9]{1,8}"
}

fn generated_definition() -> impl Strategy<Value = Generated> {
    (
        "[a-z][a-z0-9-]{0,10}",
        prop::collection::vec(atom(), 0..8),
        prop::collection::btree_map(
            atom(),
            prop::collection::vec("-?[a-z][a-z0-9_]{0,6}", 0..4),
            0..4,
        ),
        prop::collection::vec("[a-z][a-z0-9-]{0,8}(\\.timer)?", 0..4),
        prop::option::of(prop::sample::select(Compression::ALL.to_vec())),
        // New accounts only: names the base system already has ("lp", "bin", ...) are errors.
        prop::collection::btree_map("gp[a-z0-9]{0,6}", prop::option::of(1000u32..60000), 0..3),
        prop::option::of((
            "[a-z][a-z0-9]{0,6}",
            prop::collection::vec(atom().prop_map(|a| format!("-{a}")), 0..3),
        )),
    )
        .prop_map(
            |(name, packages, use_flags, services, compression, users, variant)| Generated {
                name,
                packages,
                use_flags: use_flags
                    .into_iter()
                    .map(|(k, v)| (k, v.join(" ")))
                    .collect(),
                services,
                compression,
                users,
                variant,
            },
        )
}

impl Generated {
    fn expected(&self) -> Definition {
        let use_flags: PackageMap = self
            .use_flags
            .iter()
            .map(|(k, v)| (k.clone(), Some(Setting::Text(v.clone()))))
            .collect();
        Definition {
            name: Some(self.name.clone()),
            packages: self.packages.clone(),
            use_flags,
            services: self.services.clone(),
            compression: self.compression,
            users: self
                .users
                .iter()
                .map(|(name, uid)| User {
                    uid: *uid,
                    ..User::named(name.clone())
                })
                .collect(),
            variants: self
                .variant
                .iter()
                .map(|(name, packages)| {
                    (
                        name.clone(),
                        Variant {
                            packages: packages.clone(),
                            ..Variant::default()
                        },
                    )
                })
                .collect(),
            ..Definition::default()
        }
    }

    /// JSON5 text in one of several styles: quoted or bare keys, single or double quotes,
    /// with or without comments and trailing commas.
    fn render(&self, (quote_keys, single_quotes, comments): (bool, bool, bool)) -> String {
        let key = |k: &str| {
            if quote_keys {
                format!("\"{k}\"")
            } else {
                k.to_string()
            }
        };
        let string = |s: &str| {
            if single_quotes {
                format!("'{s}'")
            } else {
                format!("\"{s}\"")
            }
        };
        let comment = |text: &str| {
            if comments {
                format!(" // {text}\n")
            } else {
                "\n".to_string()
            }
        };
        let list = |items: &[String]| {
            let body: Vec<String> = items.iter().map(|i| string(i)).collect();
            if comments {
                format!(
                    "[{}{}]",
                    body.join(", "),
                    if body.is_empty() { "" } else { "," }
                )
            } else {
                format!("[{}]", body.join(", "))
            }
        };
        let mut out = String::new();
        if comments {
            out.push_str("// generated\n");
        }
        out.push_str("{\n");
        out.push_str(&format!(
            "  {}: {},{}",
            key("name"),
            string(&self.name),
            comment("the name")
        ));
        out.push_str(&format!(
            "  {}: {},{}",
            key("packages"),
            list(&self.packages),
            comment("apps")
        ));
        out.push_str(&format!("  {}: {{\n", key("use")));
        for (atom, flags) in &self.use_flags {
            out.push_str(&format!(
                "    {}: {},{}",
                string(atom),
                string(flags),
                comment("flags")
            ));
        }
        out.push_str("  },\n");
        out.push_str(&format!(
            "  {}: {},\n",
            key("services"),
            list(&self.services)
        ));
        if let Some(compression) = self.compression {
            out.push_str(&format!(
                "  /* fast */ {}: {},\n",
                key("compression"),
                string(compression.as_str())
            ));
        }
        out.push_str(&format!("  {}: [\n", key("users")));
        for (name, uid) in &self.users {
            match uid {
                Some(uid) => out.push_str(&format!(
                    "    {{ {}: {}, {}: {uid} }},\n",
                    key("name"),
                    string(name),
                    key("uid")
                )),
                None => out.push_str(&format!("    {},\n", string(name))),
            }
        }
        out.push_str("  ],\n");
        if let Some((name, packages)) = &self.variant {
            out.push_str(&format!(
                "  {}: {{ {}: {{ {}: {} }} }},\n",
                key("variants"),
                string(name),
                key("packages"),
                list(packages)
            ));
        }
        out.push('}');
        out.push_str(&comment("end"));
        out
    }
}
