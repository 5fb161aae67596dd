//! The JSON Schema of `genpack.json5`, for forms and editor completion.

use serde_json::Value;

use crate::model::Definition;

/// The JSON Schema (draft 2020-12) of a definition file, generated from the model.
///
/// Every property carries a `title` (a short label) and a `description` (help text written for
/// people who do not know Gentoo), so a form can be built from the schema alone. Descriptions
/// are plain paragraphs: line breaks only separate paragraphs.
pub fn definition_schema() -> Value {
    let mut schema = schemars::schema_for!(Definition).to_value();
    unwrap_descriptions(&mut schema);
    schema
}

/// Joins the lines of each paragraph of every `description` (doc comments wrap at 100 columns).
fn unwrap_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(text) if key == "description" => {
                        *text = text
                            .split("\n\n")
                            .map(|paragraph| {
                                paragraph
                                    .split('\n')
                                    .map(str::trim)
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                            .collect::<Vec<_>>()
                            .join("\n\n");
                    }
                    _ => unwrap_descriptions(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}
