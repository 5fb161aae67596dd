//! `users` and `groups`: account names, uids and gids (with warnings outside the usual
//! range for people's accounts), home directories and shells as absolute paths, group
//! memberships, and accounts defined twice.

use std::collections::HashMap;

use jsonc_parser::ast::{Object, Value};
use jsonc_parser::common::{Range, Ranged};

use super::{child_index, child_key, prop_name, prop_name_range, suggest, Reader};
use crate::diagnostic::Severity;
use crate::model::{Group, User};
use crate::names::validate_account_name;

impl Reader<'_> {
    pub(super) fn users(&mut self, value: &Value, path: &str) -> Vec<User> {
        let Value::Array(array) = value else {
            self.wrong_type(value, path, "a list of users");
            return Vec::new();
        };
        let mut users: Vec<User> = Vec::new();
        let mut seen: HashMap<String, Range> = HashMap::new();
        for (index, element) in array.elements.iter().enumerate() {
            let here = child_index(path, index);
            let user = match element {
                Value::StringLit(lit) => {
                    if let Err(message) = validate_account_name(&lit.value) {
                        self.error(lit.range, &here, message);
                        continue;
                    }
                    Some((User::named(lit.value.to_string()), lit.range))
                }
                Value::Object(object) => self.user(object, &here),
                other => {
                    self.wrong_type(
                        other,
                        &here,
                        "a user name or an object like { name: \"user\", uid: 1000 }",
                    );
                    continue;
                }
            };
            let Some((user, name_range)) = user else {
                continue;
            };
            if let Some(first) = seen.get(&user.name).copied() {
                let first_at = self.position_text(first.start);
                self.error(
                    name_range,
                    &here,
                    format!(
                        "user `{}` is defined twice (first at {first_at})",
                        user.name
                    ),
                );
                continue;
            }
            seen.insert(user.name.clone(), name_range);
            users.push(user);
        }
        users
    }

    fn user(&mut self, object: &Object, path: &str) -> Option<(User, Range)> {
        const KEYS: &[&str] = &[
            "name",
            "uid",
            "comment",
            "home",
            "shell",
            "initial_group",
            "additional_groups",
            "create_home",
            "empty_password",
        ];
        let mut user = User::named("");
        let mut name_range = None;
        let mut spelled: HashMap<String, (String, Range)> = HashMap::new();
        for (key, prop) in self.properties(object, path) {
            let key_range = prop_name_range(prop);
            let here = child_key(path, &key);
            let canonical = key.replace('-', "_");
            if !KEYS.contains(&canonical.as_str()) {
                let help = suggest(&canonical, KEYS.iter().copied())
                    .map(|close| format!("did you mean `{close}`?"));
                self.report(
                    Severity::Error,
                    key_range,
                    &here,
                    format!("unknown user setting `{key}`"),
                    help.or_else(|| Some(format!("user settings: {}", KEYS.join(", ")))),
                );
                continue;
            }
            if let Some((first, first_range)) = spelled.get(&canonical).cloned() {
                let first_at = self.position_text(first_range.start);
                self.error_help(
                    key_range,
                    &here,
                    format!("`{key}` repeats `{first}` (at {first_at})"),
                    "the spellings with `-` and `_` mean the same setting; keep one",
                );
                continue;
            }
            spelled.insert(canonical.clone(), (key.clone(), key_range));
            let value = &prop.value;
            match canonical.as_str() {
                "name" => {
                    if let Some(name) = self.string(value, &here, "a user name (a string)") {
                        match validate_account_name(&name) {
                            Ok(()) => {
                                user.name = name;
                                name_range = Some(value.range());
                            }
                            Err(message) => self.error(value.range(), &here, message),
                        }
                    }
                }
                "uid" => user.uid = self.account_id(value, &here, "uid"),
                "comment" => user.comment = self.string(value, &here, "a comment (a string)"),
                "home" => {
                    user.home =
                        self.absolute_path(value, &here, "a home directory like \"/home/user\"")
                }
                "shell" => {
                    user.shell = self.absolute_path(value, &here, "a shell like \"/bin/bash\"")
                }
                "initial_group" => {
                    if let Some(group) = self.string(value, &here, "a group name (a string)") {
                        match validate_account_name(&group) {
                            Ok(()) => user.initial_group = Some(group),
                            Err(message) => self.error(value.range(), &here, message),
                        }
                    }
                }
                "additional_groups" => user.additional_groups = self.group_names(value, &here),
                "create_home" => {
                    if let Some(flag) = self.boolean(value, &here) {
                        user.create_home = flag;
                    }
                }
                "empty_password" => {
                    if let Some(flag) = self.boolean(value, &here) {
                        user.empty_password = flag;
                    }
                }
                _ => {}
            }
        }
        match name_range {
            Some(range) => Some((user, range)),
            None => {
                if !spelled.contains_key("name") {
                    self.error_help(
                        object.range,
                        path,
                        "this user has no `name`",
                        "add a login name, like name: \"user\"",
                    );
                }
                None
            }
        }
    }

    fn account_id(&mut self, value: &Value, path: &str, what: &str) -> Option<u32> {
        let id = self.whole_number(
            value,
            path,
            &format!("a {what} (a whole number)"),
            4_294_967_294,
        )?;
        let id = u32::try_from(id).ok()?;
        if id < 1000 {
            self.warning(
                value.range(),
                path,
                format!("{what} {id} is in the range reserved for system accounts (below 1000)"),
                Some("people's accounts usually start at 1000".into()),
            );
        } else if id > 60000 {
            self.warning(
                value.range(),
                path,
                format!("{what} {id} is above the usual range for accounts (1000 to 60000)"),
                None,
            );
        }
        Some(id)
    }

    fn absolute_path(&mut self, value: &Value, path: &str, expected: &str) -> Option<String> {
        let text = self.string(value, path, expected)?;
        if !text.starts_with('/') {
            self.error(
                value.range(),
                path,
                format!("`{text}` must be an absolute path, starting with `/`"),
            );
            return None;
        }
        Some(text)
    }

    fn group_names(&mut self, value: &Value, path: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut add = |reader: &mut Self, text: &str, range: Range, here: &str| {
            for name in text.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
                match validate_account_name(name) {
                    Ok(()) if !names.iter().any(|n| n == name) => names.push(name.to_string()),
                    Ok(()) => {}
                    Err(message) => reader.error(range, here, message),
                }
            }
        };
        match value {
            Value::StringLit(lit) => add(self, &lit.value, lit.range, path),
            Value::Array(array) => {
                for (index, element) in array.elements.iter().enumerate() {
                    let here = child_index(path, index);
                    if let Some(text) = self.string(element, &here, "a group name (a string)") {
                        add(self, &text, element.range(), &here);
                    }
                }
            }
            other => self.wrong_type(other, path, "a group name or a list of group names"),
        }
        names
    }

    pub(super) fn groups(&mut self, value: &Value, path: &str) -> Vec<Group> {
        let Value::Array(array) = value else {
            self.wrong_type(value, path, "a list of groups");
            return Vec::new();
        };
        let mut groups: Vec<Group> = Vec::new();
        for (index, element) in array.elements.iter().enumerate() {
            let here = child_index(path, index);
            let group = match element {
                Value::StringLit(lit) => match validate_account_name(&lit.value) {
                    Ok(()) => Group {
                        name: lit.value.to_string(),
                        gid: None,
                    },
                    Err(message) => {
                        self.error(lit.range, &here, message);
                        continue;
                    }
                },
                Value::Object(object) => {
                    let mut name = None;
                    let mut gid = None;
                    for (key, prop) in self.properties(object, &here) {
                        let key_path = child_key(&here, &key);
                        match key.as_str() {
                            "name" => {
                                if let Some(text) =
                                    self.string(&prop.value, &key_path, "a group name (a string)")
                                {
                                    match validate_account_name(&text) {
                                        Ok(()) => name = Some(text),
                                        Err(message) => {
                                            self.error(prop.value.range(), &key_path, message)
                                        }
                                    }
                                }
                            }
                            "gid" => gid = self.account_id(&prop.value, &key_path, "gid"),
                            _ => {
                                let help = suggest(&key, ["name", "gid"].into_iter())
                                    .map(|c| format!("did you mean `{c}`?"));
                                self.report(
                                    Severity::Error,
                                    prop_name_range(prop),
                                    &key_path,
                                    format!("unknown group setting `{key}`"),
                                    help.or_else(|| Some("group settings: name, gid".into())),
                                );
                            }
                        }
                    }
                    match name {
                        Some(name) => Group { name, gid },
                        None => {
                            if !object.properties.iter().any(|p| prop_name(p) == "name") {
                                self.error_help(
                                    object.range,
                                    &here,
                                    "this group has no `name`",
                                    "add a name, like name: \"docker\"",
                                );
                            }
                            continue;
                        }
                    }
                }
                other => {
                    self.wrong_type(
                        other,
                        &here,
                        "a group name or an object like { name: \"docker\", gid: 999 }",
                    );
                    continue;
                }
            };
            if groups.iter().any(|g| g.name == group.name) {
                self.error(
                    element.range(),
                    &here,
                    format!("group `{}` is defined twice", group.name),
                );
                continue;
            }
            groups.push(group);
        }
        groups
    }
}
