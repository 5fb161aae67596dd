//! Settings that only Portage reads: the per-package maps (`use`, `accept_keywords`,
//! `license`, `env`), whose keys are package atoms and whose values are checked for their
//! kind, and `circulardep_breaker`.

use genpack_portage::atom::AtomContext;
use jsonc_parser::ast::Value;
use jsonc_parser::common::{Range, Ranged};

use super::lists::ListKind;
use super::{child_index, child_key, prop_name_range, suggest, Reader};
use crate::atom::check_atom;
use crate::diagnostic::Severity;
use crate::model::{CircularDepBreaker, PackageMap, Setting};
use crate::names::{validate_env_files, validate_keywords, validate_licenses};
use crate::useflags::{normalize_flags, validate_use_flags};

/// Which map: decides how keys and values are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum MapKind {
    Use,
    AcceptKeywords,
    License,
    Env,
}

impl Reader<'_> {
    pub(super) fn package_map(&mut self, value: &Value, path: &str, kind: MapKind) -> PackageMap {
        let Value::Object(object) = value else {
            let expected = match kind {
                MapKind::Use => "an object of package atoms to USE flags, like { \"media-libs/mesa\": \"vulkan -X\" }",
                MapKind::AcceptKeywords => "an object of package atoms to keywords, like { \"app-misc/foo\": null }",
                MapKind::License => "an object of package atoms to license names",
                MapKind::Env => "an object of package atoms to file names in env/",
            };
            self.wrong_type(value, path, expected);
            return PackageMap::new();
        };
        let mut map = PackageMap::with_capacity(object.properties.len());
        for (key, prop) in self.properties(object, path) {
            let key_range = prop_name_range(prop);
            let here = child_key(path, &key);
            if key.starts_with('#') {
                self.warning(
                    key_range,
                    &here,
                    format!("`{key}` starts with `#`, so it is a comment and is ignored"),
                    None,
                );
                continue;
            }
            if let Err(message) = check_atom(&key, AtomContext::PackageSetting) {
                self.error_help(
                    key_range,
                    &here,
                    message,
                    "keys are package atoms like `media-libs/mesa`, or `*/*` for every package",
                );
                continue;
            }
            let setting = match &prop.value {
                Value::NullKeyword(_) => None,
                Value::StringLit(lit) => {
                    self.check_setting(&lit.value, lit.range, &here, kind);
                    Some(Setting::Text(lit.value.to_string()))
                }
                Value::Array(array) => {
                    let mut items = Vec::with_capacity(array.elements.len());
                    for (index, element) in array.elements.iter().enumerate() {
                        let item_path = child_index(&here, index);
                        if let Some(text) = self.string(element, &item_path, "a string") {
                            self.check_setting(&text, element.range(), &item_path, kind);
                            items.push(text);
                        }
                    }
                    Some(Setting::List(items))
                }
                other => {
                    self.wrong_type(other, &here, "null, a string or a list of strings");
                    continue;
                }
            };
            if kind == MapKind::Use && setting.is_none() {
                self.warning(
                    prop.value.range(),
                    &here,
                    format!("`{key}` has no USE flags, so this entry changes nothing"),
                    Some("write the flags as a string, like \"-X wayland\"".into()),
                );
            }
            if kind == MapKind::Env && setting.is_none() {
                self.error_help(
                    prop.value.range(),
                    &here,
                    format!("`{key}` names no environment file"),
                    "give a file name from the env/ folder, like \"debug.conf\"",
                );
                continue;
            }
            map.insert(key, setting);
        }
        map
    }

    fn check_setting(&mut self, text: &str, range: Range, path: &str, kind: MapKind) {
        let result = match kind {
            MapKind::Use => validate_use_flags(text),
            MapKind::AcceptKeywords => validate_keywords(text),
            MapKind::License => validate_licenses(text),
            MapKind::Env => validate_env_files(text),
        };
        if let Err(message) = result {
            self.error(range, path, message);
        }
    }

    pub(super) fn circulardep_breaker(
        &mut self,
        value: &Value,
        path: &str,
    ) -> Option<CircularDepBreaker> {
        let Value::Object(object) = value else {
            self.wrong_type(
                value,
                path,
                "an object like { packages: [...], use: \"-truetype\" }",
            );
            return None;
        };
        let mut breaker = CircularDepBreaker::default();
        for (key, prop) in self.properties(object, path) {
            let here = child_key(path, &key);
            match key.as_str() {
                "packages" => {
                    breaker.packages =
                        self.string_list(&prop.value, &here, ListKind::BuildtimePackages)
                }
                "use" => {
                    if let Some(flags) = self.string(&prop.value, &here, "USE flags (a string)") {
                        match validate_use_flags(&flags) {
                            Ok(()) => breaker.use_flags = normalize_flags(&flags),
                            Err(message) => self.error(prop.value.range(), &here, message),
                        }
                    }
                }
                _ => {
                    let help = suggest(&key, ["packages", "use"].into_iter())
                        .map(|c| format!("did you mean `{c}`?"));
                    self.report(
                        Severity::Error,
                        prop_name_range(prop),
                        &here,
                        format!("unknown key `{key}` in circulardep_breaker"),
                        help.or_else(|| {
                            Some("circulardep_breaker takes `packages` and `use`".into())
                        }),
                    );
                }
            }
        }
        Some(breaker)
    }
}
