//! What the gallery reads from a template's `genpack.json5`: how many packages it lists.
//! (Setting a new project's `name` goes through genpack-def's lossless editor.)

/// Counts the entries of the top-level `packages` list that add a package
/// (entries starting with `-` remove one, entries starting with `#` are
/// disabled).
pub(crate) fn package_count(definition: &genpack_def::Definition) -> usize {
    definition
        .packages
        .iter()
        .filter(|atom| !atom.starts_with('-') && !atom.starts_with('#'))
        .count()
}
