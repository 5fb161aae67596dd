//! `genpack show`: the effective definition for one architecture and variant.

use std::process::ExitCode;

use clap::ValueEnum;
use genpack_def::Project;
use serde_json::Value;

use crate::report::{output, print_diagnostics, Failure};
use crate::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// JSON with snake_case keys; packages keep their order.
    Json,
    /// JSON5 that is itself a definition: saved as genpack.json5 it builds the same image
    /// (keys left at their defaults are left out; the architecture and variant are noted in
    /// a comment).
    Json5,
}

pub fn run(context: &Context, args: Args) -> Result<ExitCode, Failure> {
    let project = Project::load(&context.project_dir)?;
    if project.has_errors() {
        print_diagnostics(&project.diagnostics, &project.source);
        return Err(Failure::new(format!(
            "{} has errors, so there is no effective definition to show",
            project.file.display()
        ))
        .hint("fix the errors above (`genpack validate` lists them)"));
    }
    let arch = context.arch_or_host()?;
    let effective = project
        .definition
        .effective(arch, context.variant.as_deref())
        .map_err(|error| {
            Failure::new(error).hint("`genpack show --variant NAME` picks a variant")
        })?;
    let value = serde_json::to_value(&effective)
        .map_err(|error| Failure::new(format!("cannot render the definition: {error}")))?;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&value)
            .map_err(|error| Failure::new(format!("cannot render the definition: {error}")))?,
        Format::Json5 => as_definition(value, arch.as_str(), context.variant.as_deref()),
    };
    output(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The effective definition as genpack.json5 text: what it was merged for in a comment, then
/// the settings without the merge's own fields (`arch`, `variant`) and without values left at
/// their defaults (null, empty lists and maps), which a definition would not spell out.
fn as_definition(mut value: Value, arch: &str, variant: Option<&str>) -> String {
    if let Value::Object(map) = &mut value {
        map.remove("arch");
        map.remove("variant");
        map.retain(|_, item| !is_default(item));
    }
    let merged_for = match variant {
        Some(variant) => format!("{arch}, variant {variant}"),
        None => arch.to_string(),
    };
    format!(
        "// The effective definition for {merged_for}, from `genpack show --format json5`.\n{}",
        to_json5(&value, 0)
    )
}

fn is_default(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Renders a value as JSON5: identifier keys unquoted, four-space indents, trailing commas.
fn to_json5(value: &Value, depth: usize) -> String {
    let indent = "    ".repeat(depth + 1);
    let close = "    ".repeat(depth);
    match value {
        Value::Object(map) if map.is_empty() => "{}".to_string(),
        Value::Array(items) if items.is_empty() => "[]".to_string(),
        Value::Object(map) => {
            let mut out = String::from("{\n");
            for (key, item) in map {
                out.push_str(&indent);
                out.push_str(&json5_key(key));
                out.push_str(": ");
                out.push_str(&to_json5(item, depth + 1));
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push('}');
            out
        }
        Value::Array(items) => {
            let mut out = String::from("[\n");
            for item in items {
                out.push_str(&indent);
                out.push_str(&to_json5(item, depth + 1));
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push(']');
            out
        }
        scalar => scalar.to_string(),
    }
}

fn json5_key(key: &str) -> String {
    let mut chars = key.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json5_form_leaves_out_what_a_definition_would_not_spell_out() {
        let value = serde_json::json!({
            "name": "x", "arch": "x86_64", "variant": null, "profile": null,
            "use": {}, "packages": ["a"], "devel": false,
        });
        let text = as_definition(value, "x86_64", Some("small"));
        assert!(text.starts_with("// The effective definition for x86_64, variant small"));
        for gone in ["arch:", "variant:", "profile:", "use:"] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
        assert!(text.contains("devel: false"));
        assert!(text.contains("packages: [\n        \"a\",\n    ],"));
    }

    #[test]
    fn json5_quotes_only_keys_that_need_it() {
        let value = serde_json::json!({"name": "x", "media-libs/mesa": "a b", "list": [1, null]});
        let text = to_json5(&value, 0);
        assert!(text.contains("\n    name: \"x\",\n"));
        assert!(text.contains("\"media-libs/mesa\": \"a b\""));
        assert!(text.contains("list: [\n        1,\n        null,\n    ],"));
    }
}
