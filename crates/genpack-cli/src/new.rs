//! `genpack new`: a project from a template of the gallery.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::report::Failure;
use crate::templates::open_gallery;
use crate::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name of the new appliance; also the name of its folder.
    name: String,
    /// Template to start from (see `genpack templates`).
    #[arg(short, long, default_value = "debian-minimal")]
    template: String,
    /// Folder to create the project in (it must not exist or be empty). Defaults to ./NAME.
    #[arg(long, value_name = "DIR")]
    into: Option<PathBuf>,
}

pub fn run(context: &Context, args: Args) -> Result<ExitCode, Failure> {
    let gallery = open_gallery()?;
    if gallery.get(&args.template).is_none() {
        let known: Vec<&str> = gallery.templates().iter().map(|t| t.id.as_str()).collect();
        return Err(
            Failure::new(format!("there is no template called `{}`", args.template))
                .hint(format!("pick one of: {}", known.join(", "))),
        );
    }
    // The name first, with the same check and suggestion as the studio's "Create project".
    if let Err(error) = genpack_gallery::validate_name(&args.name) {
        let failure = Failure::new(&error);
        return Err(match error.suggestion() {
            Some(name) => failure.hint(format!("genpack new {name} --template {}", args.template)),
            None => failure,
        });
    }
    let target = args
        .into
        .unwrap_or_else(|| context.project_dir.join(&args.name));
    let created = gallery
        .create_project(&args.template, &args.name, &target)
        .map_err(Failure::new)?;
    println!(
        "Created {} from the `{}` template.",
        created.display(),
        args.template
    );
    println!("Next: cd {} && genpack validate", created.display());
    Ok(ExitCode::SUCCESS)
}
