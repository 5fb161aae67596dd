//! Lossless editing of definition files.
//!
//! A [`Document`] keeps the exact text of a `genpack.json5` file. Edits go through a
//! concrete syntax tree (jsonc-parser's CST), so every comment, blank line and the author's
//! layout survive, and an unchanged document turns back into identical bytes.
//!
//! ```
//! use genpack_def::edit::{Document, Segment};
//!
//! let mut doc = Document::parse("{\n  // the apps\n  packages: [\"app-misc/screen\"],\n}\n").unwrap();
//! doc.append(&["packages".into()], "app-editors/vim".into()).unwrap();
//! doc.set(&[Segment::key("use"), Segment::key("app-editors/vim")], "-X".into()).unwrap();
//! assert!(doc.as_str().contains("// the apps"));
//! assert!(doc.as_str().contains("\"app-editors/vim\""));
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use jsonc_parser::cst::{
    CstContainerNode, CstInputValue, CstLeafNode, CstNode, CstObject, CstRootNode,
};

use crate::location::LineIndex;
use crate::reader::{child_index, child_key};
use crate::syntax::{describe, json5_options, without_bom, BOM};

/// One step of a path into a document: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A key of an object, like `use` or `media-libs/mesa`.
    Key(String),
    /// A position in a list, from 0.
    Index(usize),
}

impl Segment {
    /// A key segment.
    pub fn key(key: impl Into<String>) -> Self {
        Segment::Key(key.into())
    }
}

impl From<&str> for Segment {
    fn from(key: &str) -> Self {
        Segment::Key(key.to_string())
    }
}

impl From<String> for Segment {
    fn from(key: String) -> Self {
        Segment::Key(key)
    }
}

impl From<usize> for Segment {
    fn from(index: usize) -> Self {
        Segment::Index(index)
    }
}

/// Writes a path the way diagnostics do: `variants.cuda.use."sci-ml/caffe2"`, `packages[3]`.
pub fn display_path(path: &[Segment]) -> String {
    path.iter()
        .fold(String::new(), |text, segment| match segment {
            Segment::Key(key) => child_key(&text, key),
            Segment::Index(index) => child_index(&text, *index),
        })
}

/// Reads a path the way diagnostics write it, so that a [`crate::Diagnostic`]'s `path` can be
/// turned into an edit: `variants.cuda.use."sci-ml/caffe2"` or `packages[3]`.
pub fn parse_path(text: &str) -> Result<Vec<Segment>, EditError> {
    let bad = || EditError::BadPath {
        path: text.to_string(),
    };
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !segments.is_empty() && bytes[i] != b'[' {
            // Keys after the first are introduced by a dot.
            if bytes[i] != b'.' {
                return Err(bad());
            }
            i += 1;
        }
        match bytes.get(i) {
            Some(b'[') => {
                let close = text[i..].find(']').ok_or_else(bad)? + i;
                let index = text[i + 1..close].parse().map_err(|_| bad())?;
                segments.push(Segment::Index(index));
                i = close + 1;
            }
            Some(b'"') => {
                // The end is the first quote not escaped by a backslash.
                let mut end = i + 1;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let quoted = text.get(i..=end).ok_or_else(bad)?;
                let key: String = serde_json::from_str(quoted).map_err(|_| bad())?;
                segments.push(Segment::Key(key));
                i = end + 1;
            }
            Some(_) => {
                let end = text[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .map_or(text.len(), |n| n + i);
                if end == i {
                    return Err(bad());
                }
                segments.push(Segment::Key(text[i..end].to_string()));
                i = end;
            }
            None => return Err(bad()),
        }
    }
    Ok(segments)
}

/// Why an edit or a parse failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The text is not valid JSON5.
    #[error("{line}:{column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (characters).
        column: usize,
        /// What was expected.
        message: String,
    },
    /// Nothing exists at the path (or at one of its parents).
    #[error("nothing at `{path}` in the definition")]
    NotFound {
        /// The path, as diagnostics write it.
        path: String,
    },
    /// The path goes through a value of the wrong kind, like a key into a list.
    #[error("`{path}` is {found}, so it cannot {action}")]
    WrongType {
        /// The path of the value that has the wrong kind.
        path: String,
        /// What it is.
        found: &'static str,
        /// What the edit tried to do.
        action: &'static str,
    },
    /// `insert` of a key that is already there.
    #[error("`{path}` already exists; use set to change it")]
    AlreadyExists {
        /// The path of the existing value.
        path: String,
    },
    /// A path written as text could not be read.
    #[error("`{path}` is not a path like `packages[3]` or `use.\"media-libs/mesa\"`")]
    BadPath {
        /// The text given.
        path: String,
    },
    /// An empty path: the edit must name a place inside the definition.
    #[error("an edit needs a path inside the definition")]
    EmptyPath,
    /// The document has no value at all (it is empty).
    #[error("the document is empty")]
    EmptyDocument,
}

/// The text of a definition file, edited without losing comments or layout.
///
/// The document stores only its text, so it is cheap to clone and can move between threads;
/// each edit parses, changes the syntax tree and prints it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    text: String,
}

impl Document {
    /// Parses `text` as JSON5. Fails with the line and column of the first syntax error.
    pub fn parse(text: &str) -> Result<Document, EditError> {
        parse_tree(text)?;
        Ok(Document {
            text: text.to_string(),
        })
    }

    /// The current text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The current text, consuming the document.
    pub fn into_string(self) -> String {
        self.text
    }

    /// The value at `path` as plain JSON, if there is one.
    pub fn get(&self, path: &[Segment]) -> Option<serde_json::Value> {
        let root = parse_tree(&self.text).ok()?;
        find(&root, path).ok()?.to_serde_value()
    }

    /// Sets the value at `path`, replacing what is there. A missing last key is added to its
    /// object, and missing objects on the way are created.
    pub fn set(&mut self, path: &[Segment], value: serde_json::Value) -> Result<(), EditError> {
        self.edit(|root| {
            let (last, parent_path) = path.split_last().ok_or(EditError::EmptyPath)?;
            let parent = find_or_create_objects(root, parent_path)?;
            let input = to_input(&value);
            match last {
                Segment::Key(key) => {
                    let object = parent
                        .as_object()
                        .ok_or_else(|| wrong(parent_path, &parent, "have keys"))?;
                    match object.get(key) {
                        Some(prop) => prop.set_value(input),
                        None => {
                            object.append(key, input);
                        }
                    }
                }
                Segment::Index(index) => {
                    let array = parent
                        .as_array()
                        .ok_or_else(|| wrong(parent_path, &parent, "have positions"))?;
                    let element = array
                        .elements()
                        .get(*index)
                        .cloned()
                        .ok_or_else(|| not_found(path))?;
                    replace(element, input);
                }
            }
            Ok(())
        })
    }

    /// Inserts `value` at `path`: with an index as the last segment, into that list at that
    /// position (the list's length appends); with a key, as a new entry of that object.
    pub fn insert(&mut self, path: &[Segment], value: serde_json::Value) -> Result<(), EditError> {
        self.edit(|root| {
            let (last, parent_path) = path.split_last().ok_or(EditError::EmptyPath)?;
            let parent = find(root, parent_path)?;
            let input = to_input(&value);
            match last {
                Segment::Key(key) => {
                    let object = parent
                        .as_object()
                        .ok_or_else(|| wrong(parent_path, &parent, "have keys"))?;
                    if object.get(key).is_some() {
                        return Err(EditError::AlreadyExists {
                            path: display_path(path),
                        });
                    }
                    object.append(key, input);
                }
                Segment::Index(index) => {
                    let array = parent
                        .as_array()
                        .ok_or_else(|| wrong(parent_path, &parent, "have positions"))?;
                    if *index > array.elements().len() {
                        return Err(not_found(path));
                    }
                    array.insert(*index, input);
                }
            }
            Ok(())
        })
    }

    /// Appends `value` to the list at `path`. A missing list (and missing objects on the
    /// way) is created.
    pub fn append(&mut self, path: &[Segment], value: serde_json::Value) -> Result<(), EditError> {
        self.edit(|root| {
            let (last, parent_path) = path.split_last().ok_or(EditError::EmptyPath)?;
            let input = to_input(&value);
            let array = match last {
                Segment::Key(key) => {
                    let parent = find_or_create_objects(root, parent_path)?;
                    let object = parent
                        .as_object()
                        .ok_or_else(|| wrong(parent_path, &parent, "have keys"))?;
                    match object.get(key) {
                        Some(prop) => {
                            let value = prop.value().ok_or_else(|| not_found(path))?;
                            value
                                .as_array()
                                .ok_or_else(|| wrong(path, &value, "take list items"))?
                        }
                        None => object.array_value_or_set(key),
                    }
                }
                Segment::Index(_) => {
                    let value = find(root, path)?;
                    value
                        .as_array()
                        .ok_or_else(|| wrong(path, &value, "take list items"))?
                }
            };
            array.append(input);
            Ok(())
        })
    }

    /// Removes the entry at `path` (an object entry with its key, or a list item).
    pub fn remove(&mut self, path: &[Segment]) -> Result<(), EditError> {
        self.edit(|root| {
            let (last, parent_path) = path.split_last().ok_or(EditError::EmptyPath)?;
            let parent = find(root, parent_path)?;
            match last {
                Segment::Key(key) => {
                    let object = parent
                        .as_object()
                        .ok_or_else(|| wrong(parent_path, &parent, "have keys"))?;
                    object.get(key).ok_or_else(|| not_found(path))?.remove();
                }
                Segment::Index(index) => {
                    let array = parent
                        .as_array()
                        .ok_or_else(|| wrong(parent_path, &parent, "have positions"))?;
                    array
                        .elements()
                        .get(*index)
                        .cloned()
                        .ok_or_else(|| not_found(path))?
                        .remove();
                }
            }
            Ok(())
        })
    }

    /// Runs `change` on a fresh syntax tree; keeps the result only when it succeeds.
    fn edit(
        &mut self,
        change: impl FnOnce(&CstRootNode) -> Result<(), EditError>,
    ) -> Result<(), EditError> {
        let root = parse_tree(&self.text)?;
        change(&root)?;
        let edited = root.to_string();
        // The tree was parsed with the byte order mark as spaces: put it back.
        self.text = match self.text.starts_with(BOM) {
            true => format!("{BOM}{}", &edited[BOM.len_utf8()..]),
            false => edited,
        };
        Ok(())
    }
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_tree(text: &str) -> Result<CstRootNode, EditError> {
    CstRootNode::parse(&without_bom(text), &json5_options()).map_err(|error| {
        let (offset, message, _) = describe(&error);
        let (line, column) = LineIndex::new(text).position(text, offset);
        EditError::Syntax {
            line,
            column,
            message,
        }
    })
}

fn not_found(path: &[Segment]) -> EditError {
    EditError::NotFound {
        path: display_path(path),
    }
}

fn wrong(path: &[Segment], node: &CstNode, action: &'static str) -> EditError {
    let found = if node.as_object().is_some() {
        "an object"
    } else if node.as_array().is_some() {
        "a list"
    } else if node.as_string_lit().is_some() {
        "a string"
    } else if node.as_number_lit().is_some() {
        "a number"
    } else if node.as_boolean_lit().is_some() {
        "true/false"
    } else if node.as_null_keyword().is_some() {
        "null"
    } else {
        "a value"
    };
    EditError::WrongType {
        path: display_path(path),
        found,
        action,
    }
}

/// The value node at `path`.
fn find(root: &CstRootNode, path: &[Segment]) -> Result<CstNode, EditError> {
    let mut node = root.value().ok_or(EditError::EmptyDocument)?;
    for (depth, segment) in path.iter().enumerate() {
        let here = &path[..depth];
        node = match segment {
            Segment::Key(key) => {
                let object = node
                    .as_object()
                    .ok_or_else(|| wrong(here, &node, "have keys"))?;
                object
                    .get(key)
                    .and_then(|prop| prop.value())
                    .ok_or_else(|| not_found(&path[..=depth]))?
            }
            Segment::Index(index) => {
                let array = node
                    .as_array()
                    .ok_or_else(|| wrong(here, &node, "have positions"))?;
                array
                    .elements()
                    .get(*index)
                    .cloned()
                    .ok_or_else(|| not_found(&path[..=depth]))?
            }
        };
    }
    Ok(node)
}

/// Like [`find`], but creates missing objects for missing keys along the way.
fn find_or_create_objects(root: &CstRootNode, path: &[Segment]) -> Result<CstNode, EditError> {
    let mut node = root.value().ok_or(EditError::EmptyDocument)?;
    for (depth, segment) in path.iter().enumerate() {
        let here = &path[..depth];
        node = match segment {
            Segment::Key(key) => {
                let object: CstObject = node
                    .as_object()
                    .ok_or_else(|| wrong(here, &node, "have keys"))?;
                match object.get(key) {
                    Some(prop) => prop.value().ok_or_else(|| not_found(&path[..=depth]))?,
                    None => CstNode::Container(CstContainerNode::Object(
                        object.object_value_or_set(key),
                    )),
                }
            }
            Segment::Index(index) => {
                let array = node
                    .as_array()
                    .ok_or_else(|| wrong(here, &node, "have positions"))?;
                array
                    .elements()
                    .get(*index)
                    .cloned()
                    .ok_or_else(|| not_found(&path[..=depth]))?
            }
        };
    }
    Ok(node)
}

/// Replaces a value node in place.
fn replace(node: CstNode, value: CstInputValue) {
    match node {
        CstNode::Leaf(CstLeafNode::StringLit(n)) => {
            n.replace_with(value);
        }
        CstNode::Leaf(CstLeafNode::NumberLit(n)) => {
            n.replace_with(value);
        }
        CstNode::Leaf(CstLeafNode::BooleanLit(n)) => {
            n.replace_with(value);
        }
        CstNode::Leaf(CstLeafNode::NullKeyword(n)) => {
            n.replace_with(value);
        }
        CstNode::Leaf(CstLeafNode::WordLit(n)) => {
            n.replace_with(value);
        }
        CstNode::Container(CstContainerNode::Object(n)) => {
            n.replace_with(value);
        }
        CstNode::Container(CstContainerNode::Array(n)) => {
            n.replace_with(value);
        }
        // Values are never tokens, trivia, properties or the root.
        CstNode::Leaf(_) | CstNode::Container(_) => {}
    }
}

fn to_input(value: &serde_json::Value) -> CstInputValue {
    match value {
        serde_json::Value::Null => CstInputValue::Null,
        serde_json::Value::Bool(b) => CstInputValue::Bool(*b),
        serde_json::Value::Number(n) => CstInputValue::Number(n.to_string()),
        serde_json::Value::String(s) => CstInputValue::String(s.clone()),
        serde_json::Value::Array(items) => {
            CstInputValue::Array(items.iter().map(to_input).collect())
        }
        serde_json::Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), to_input(v))).collect())
        }
    }
}

/// Why saving a file failed. The old file is left as it was.
#[derive(Debug, thiserror::Error)]
#[error("cannot save {path}: {source}")]
pub struct SaveError {
    /// The file that was being written (or the temporary file next to it).
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: io::Error,
}

/// Writes `text` to `path` atomically: a temporary file in the same folder is written and
/// flushed to disk, then renamed over `path`, and the folder is flushed too. Readers see either
/// the old or the new file, never a mix; on any failure the old file is untouched and the
/// temporary file is removed. A symbolic link at `path` is followed and its target replaced;
/// the old file's permissions are kept.
pub fn save_atomic(path: &Path, text: &str) -> Result<(), SaveError> {
    genpack_util::write_atomic(path, text.as_bytes()).map_err(|source| SaveError {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_display_like_diagnostics() {
        let path = [Segment::key("use"), Segment::key("media-libs/mesa")];
        assert_eq!(display_path(&path), "use.\"media-libs/mesa\"");
        assert_eq!(display_path(&["packages".into(), 3.into()]), "packages[3]");
    }

    #[test]
    fn paths_parse_back() {
        for path in [
            vec![Segment::key("use"), Segment::key("media-libs/mesa")],
            vec!["packages".into(), 3.into()],
            vec![
                Segment::key("variants"),
                Segment::key("cuda"),
                Segment::key("arch"),
                Segment::key("x86_64|aarch64"),
                Segment::key("users"),
                Segment::Index(0),
                Segment::key("additional-groups"),
            ],
            vec![Segment::key("use"), Segment::key("we\"ird\\key")],
            vec![],
        ] {
            assert_eq!(parse_path(&display_path(&path)).unwrap(), path);
        }
        for bad in [
            "packages[",
            "packages[x]",
            ".use",
            "use..x",
            "use.\"open",
            "a b",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_insert_append_remove() {
        let mut doc =
            Document::parse("{\n  // c1\n  packages: [\"a/b\", /* c2 */ \"c/d\"],\n}\n").unwrap();
        doc.set(&["packages".into(), 1.into()], json!("e/f"))
            .unwrap();
        doc.insert(&["packages".into(), 0.into()], json!("x/y"))
            .unwrap();
        doc.append(&["services".into()], json!("sshd")).unwrap();
        doc.set(&["use".into(), "a/b".into()], json!("-X")).unwrap();
        doc.remove(&["packages".into(), 1.into()]).unwrap();
        assert_eq!(doc.get(&["packages".into()]), Some(json!(["x/y", "e/f"])));
        assert_eq!(doc.get(&["services".into()]), Some(json!(["sshd"])));
        assert_eq!(doc.get(&["use".into(), "a/b".into()]), Some(json!("-X")));
        assert!(doc.as_str().contains("// c1"));
        assert!(doc.as_str().contains("/* c2 */"));
    }

    #[test]
    fn failed_edits_leave_the_text_alone() {
        let text = "{ packages: [] }";
        let mut doc = Document::parse(text).unwrap();
        assert!(matches!(
            doc.remove(&["nope".into()]),
            Err(EditError::NotFound { .. })
        ));
        assert!(matches!(
            doc.set(&["packages".into(), "x".into()], json!(1)),
            Err(EditError::WrongType { .. })
        ));
        assert!(matches!(
            doc.insert(&["packages".into()], json!([])),
            Err(EditError::AlreadyExists { .. })
        ));
        assert!(matches!(doc.set(&[], json!(1)), Err(EditError::EmptyPath)));
        assert_eq!(doc.as_str(), text);
    }

    #[test]
    fn syntax_errors_have_positions() {
        match Document::parse("{\n  a: [1 2]\n}") {
            Err(EditError::Syntax {
                line,
                column,
                message,
            }) => {
                assert_eq!((line, column), (2, 8));
                assert!(message.contains("expected `,`"), "{message}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }
}
