//! The schema an image ships: the keys of the built-in modules plus those declared by
//! drop-in modules in `/usr/lib/genpack-init/*.schema.json` (same JSON format as
//! [`genpack_ini::Schema`]). The image build writes it to
//! [`genpack_ini::SCHEMA_PATH_IN_IMAGE`] so editors show exactly what the image understands.

use std::fs;

use genpack_ini::{Schema, SchemaError};

use crate::context::Context;
use crate::dropin::DROPIN_DIR;

/// The built-in schema merged with every drop-in fragment under the tree, in name order.
/// A fragment that cannot be read is an error naming the file.
pub fn image_schema(ctx: &Context) -> Result<Schema, SchemaError> {
    let mut schema = Schema::builtin();
    let dir = ctx.path(DROPIN_DIR);
    let mut fragments: Vec<_> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".schema.json"))
                .collect()
        })
        .unwrap_or_default();
    fragments.sort();
    for path in fragments {
        schema.merge(Schema::from_file(&path)?);
    }
    Ok(schema)
}
