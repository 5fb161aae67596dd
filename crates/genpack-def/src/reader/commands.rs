//! `setup_commands`: shell commands run while the image is built. Empty commands are
//! reported; the object form, which has no defined meaning yet, is kept as written.

use jsonc_parser::ast::Value;

use super::{child_index, parse_whole_number, prop_name, Reader};
use crate::model::SetupCommand;

impl Reader<'_> {
    pub(super) fn setup_commands(&mut self, value: &Value, path: &str) -> Vec<SetupCommand> {
        let Value::Array(array) = value else {
            self.wrong_type(value, path, "a list of shell commands");
            return Vec::new();
        };
        let mut commands = Vec::with_capacity(array.elements.len());
        for (index, element) in array.elements.iter().enumerate() {
            let here = child_index(path, index);
            match element {
                Value::StringLit(lit) => {
                    if lit.value.trim().is_empty() {
                        self.warning(
                            lit.range,
                            &here,
                            "empty command",
                            Some("remove the entry".into()),
                        );
                        continue;
                    }
                    commands.push(SetupCommand::Shell(lit.value.to_string()));
                }
                Value::Object(object) => {
                    self.warning(
                        object.range,
                        &here,
                        "object-form setup commands have no defined meaning yet; this one is kept as written",
                        Some("write the command as a string to have it run".into()),
                    );
                    let mut map = serde_json::Map::new();
                    for (key, prop) in self.properties(object, &here) {
                        map.insert(key, to_json(&prop.value));
                    }
                    commands.push(SetupCommand::Structured(map));
                }
                other => self.wrong_type(other, &here, "a shell command (a string)"),
            }
        }
        commands
    }
}

/// The syntax tree of a value as plain JSON (numbers that JSON cannot hold become strings).
fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::StringLit(lit) => serde_json::Value::String(lit.value.to_string()),
        Value::NumberLit(lit) => {
            let text = lit.value.strip_prefix('+').unwrap_or(lit.value);
            if let Some(n) = parse_whole_number(text) {
                serde_json::Value::from(n)
            } else if let Some(n) = text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                serde_json::Value::Number(n)
            } else {
                serde_json::Value::String(lit.value.to_string())
            }
        }
        Value::BooleanLit(lit) => serde_json::Value::Bool(lit.value),
        Value::NullKeyword(_) => serde_json::Value::Null,
        Value::Array(array) => {
            serde_json::Value::Array(array.elements.iter().map(to_json).collect())
        }
        Value::Object(object) => serde_json::Value::Object(
            object
                .properties
                .iter()
                .map(|prop| (prop_name(prop), to_json(&prop.value)))
                .collect(),
        ),
    }
}
