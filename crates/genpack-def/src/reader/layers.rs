//! Layers on top of the base settings: `arch` blocks, keyed by one architecture or several
//! joined with `|`, and `variants`, whose names become part of the output file name. Both
//! are read with the same block reader as the top level, in their own scope.

use indexmap::IndexMap;
use jsonc_parser::ast::Value;

use super::keys::Scope;
use super::{child_key, prop_name_range, suggest, Reader};
use crate::model::{Arch, ArchBlock, Variant};

impl Reader<'_> {
    pub(super) fn arch_blocks(&mut self, value: &Value, path: &str) -> IndexMap<String, ArchBlock> {
        let Value::Object(object) = value else {
            self.wrong_type(
                value,
                path,
                "an object of architecture names to settings, like { x86_64: { packages: [...] } }",
            );
            return IndexMap::new();
        };
        let mut blocks = IndexMap::new();
        for (key, prop) in self.properties(object, path) {
            let key_range = prop_name_range(prop);
            let here = child_key(path, &key);
            let mut arches: Vec<Arch> = Vec::new();
            let mut valid = true;
            for name in key.split('|') {
                match name.trim().parse::<Arch>() {
                    Ok(arch) if arches.contains(&arch) => {
                        self.error(
                            key_range,
                            &here,
                            format!("`{name}` appears twice in `{key}`"),
                        );
                        valid = false;
                    }
                    Ok(arch) => arches.push(arch),
                    Err(err) => {
                        let help = suggest(name, Arch::ALL.iter().map(|a| a.as_str()))
                            .map(|close| format!("did you mean `{close}`? join several with `|`, like \"x86_64|aarch64\""))
                            .unwrap_or_else(|| "join several with `|`, like \"x86_64|aarch64\"".into());
                        self.error_help(key_range, &here, err.to_string(), help);
                        valid = false;
                    }
                }
            }
            let Value::Object(inner) = &prop.value else {
                self.wrong_type(
                    &prop.value,
                    &here,
                    "an object of settings for these architectures",
                );
                continue;
            };
            let block = self.read_block(inner, &here, Scope::Arch);
            if valid {
                blocks.insert(key, block.into_arch_block());
            }
        }
        blocks
    }

    pub(super) fn variants(&mut self, value: &Value, path: &str) -> IndexMap<String, Variant> {
        let Value::Object(object) = value else {
            self.wrong_type(
                value,
                path,
                "an object of variant names to settings, like { cuda: { packages: [...] } }",
            );
            return IndexMap::new();
        };
        let mut variants = IndexMap::new();
        for (key, prop) in self.properties(object, path) {
            let here = child_key(path, &key);
            let name_ok =
                self.check_file_name_part(&key, prop_name_range(prop), &here, "variant name");
            let Value::Object(inner) = &prop.value else {
                self.wrong_type(
                    &prop.value,
                    &here,
                    "an object of settings for this variant (it may be empty: {})",
                );
                continue;
            };
            let block = self.read_block(inner, &here, Scope::Variant);
            if !name_ok {
                continue;
            }
            variants.insert(key, block.into_variant());
        }
        variants
    }
}
