//! Builds a project folder from the command line, printing progress:
//! `cargo run -p genpack-build --example build_project -- DIR [build|lower|upper|pack]`.
//! `FROM=<stage>` reruns that stage of the image tree and the later ones (`FROM=packages`: all).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use genpack_build::{BuildOptions, Builder, Progress};
use genpack_def::Project;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: build_project DIR [build|lower|upper|pack]")?,
    );
    let action = args.next().unwrap_or_else(|| "build".into());
    let project = Project::load(&dir)?;
    let verbose = std::env::var_os("VERBOSE").is_some();
    let progress = Arc::new(move |event: Progress| match &event {
        Progress::Log { .. } if !verbose => {}
        Progress::Amount { .. } if !verbose => {}
        _ => eprintln!("{}", serde_json::to_string(&event).unwrap_or_default()),
    });
    let rerun_from = match std::env::var("FROM") {
        Ok(stage) => Some(stage.parse::<genpack_build::Stage>()?),
        Err(_) => None,
    };
    let options = BuildOptions {
        progress,
        force_lower: action == "lower",
        rerun_from,
        ..BuildOptions::default()
    };
    let builder = Builder::new(&project, options)?;
    let started = Instant::now();
    let report = match action.as_str() {
        "build" => serde_json::to_string_pretty(&builder.build()?)?,
        "lower" => serde_json::to_string_pretty(&builder.lower()?)?,
        "upper" => serde_json::to_string_pretty(&builder.upper()?)?,
        "pack" => serde_json::to_string_pretty(&builder.pack()?)?,
        other => return Err(format!("unknown action {other}").into()),
    };
    println!("{report}");
    eprintln!("{action}: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
