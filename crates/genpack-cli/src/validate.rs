//! `genpack validate`: every error and warning of one or more projects.

use std::path::PathBuf;
use std::process::ExitCode;

use genpack_build::package_index::{check_packages, IndexState};
use genpack_def::Project;

use crate::report::{print_diagnostics, summary, Failure};
use crate::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project folders to check. Defaults to the project folder (-C) or the current folder.
    dirs: Vec<PathBuf>,
}

pub fn run(context: &Context, args: Args) -> Result<ExitCode, Failure> {
    let dirs = if args.dirs.is_empty() {
        vec![context.project_dir.clone()]
    } else {
        args.dirs
    };
    let mut failed = false;
    for dir in &dirs {
        match Project::load(dir) {
            Ok(mut project) => {
                let check = check_packages(
                    &project,
                    &project.source,
                    context.arch_or_host()?,
                    &genpack_build::cache_root(),
                );
                project.diagnostics.extend(check.diagnostics);
                print_diagnostics(&project.diagnostics, &project.source);
                if let IndexState::NotCheckedYet { reason } = &check.state {
                    println!("{}: note: {reason}", project.file.display());
                }
                let errors = project.diagnostics.iter().filter(|d| d.is_error()).count();
                let warnings = project.diagnostics.len() - errors;
                failed |= errors > 0;
                let verdict = if errors > 0 { "invalid" } else { "ok" };
                println!(
                    "{}: {verdict} ({})",
                    project.file.display(),
                    summary(errors, warnings)
                );
            }
            Err(error) => {
                failed = true;
                Failure::from(error).print();
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
