//! `genpack templates`: the gallery, as a table or as JSON.

use std::process::ExitCode;

use genpack_gallery::{Flavour, Gallery};

use crate::report::{output, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the gallery as JSON (for scripts).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let gallery = open_gallery()?;
    if args.json {
        let text = serde_json::to_string_pretty(gallery.templates())
            .map_err(|error| Failure::new(format!("cannot render the gallery: {error}")))?;
        output(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = gallery
        .templates()
        .iter()
        .map(|t| t.id.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    let mut category = "";
    for template in gallery.templates() {
        if template.meta.category.as_str() != category {
            category = template.meta.category.as_str();
            text.push_str(&format!("{category}:\n"));
        }
        let how = match template.meta.flavour() {
            Flavour::ReadyMade => "ready-made",
            Flavour::Compiled => "compiled",
        };
        text.push_str(&format!(
            "  {:width$}  {} [{how} from {}; {}]\n",
            template.id,
            template.meta.summary,
            template.meta.base,
            template.meta.arches.join(", ")
        ));
    }
    text.push_str("\nCreate a project with: genpack new NAME --template ID");
    output(&text)?;
    Ok(ExitCode::SUCCESS)
}

pub fn open_gallery() -> Result<Gallery, Failure> {
    Gallery::open_default().map_err(|error| {
        Failure::new(error).hint("set GENPACK_TEMPLATES to the folder that holds the templates")
    })
}
