//! `genpack doctor`: what this machine has and lacks for building, running and installing
//! images, each with the fix.

use std::process::ExitCode;

use genpack_build::doctor::{checks, Area, Status};

use crate::report::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit status 1 when something a build or a run needs is missing.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let all = checks();
    if args.json {
        let text = serde_json::to_string_pretty(&all)
            .map_err(|error| Failure::new(format!("cannot write the checks as JSON: {error}")))?;
        println!("{text}");
    } else {
        for area in [Area::Build, Area::Run, Area::Install] {
            println!(
                "{}",
                match area {
                    Area::Build => "Building images:",
                    Area::Run => "Running images in QEMU:",
                    Area::Install => "Writing images to disks, ISOs and ZIPs:",
                }
            );
            for check in all.iter().filter(|c| c.area == area) {
                let label = match check.status {
                    Status::Ok => "ok     ",
                    Status::Warning => "warning",
                    Status::Missing => "missing",
                };
                println!("  {label}  {}: {}", check.name, check.detail);
                if let Some(fix) = &check.fix {
                    println!("           fix: {fix}");
                }
            }
        }
    }
    let missing = all.iter().filter(|c| c.status == Status::Missing).count();
    if missing > 0 {
        if !args.json {
            println!("{missing} missing: see the fixes above.");
        }
        return Ok(ExitCode::FAILURE);
    }
    if !args.json {
        println!("Everything needed is here.");
    }
    Ok(ExitCode::SUCCESS)
}
