//! genpack studio: the desktop app.
//!
//! Thin Tauri commands over the engine crates (`genpack-def`, `genpack-gallery`, `genpack-ini`,
//! `genpack-build`, `genpack-vm`, `genpack-drive`, `genpack-install`);
//! the window's web front end lives in `ui/`.

// Keeps a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod content_crash;
mod error;
#[cfg(test)]
mod ipc_types;
mod progress;
mod recents;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use tauri::Manager;

/// The template `--create-example` uses.
const EXAMPLE_TEMPLATE: &str = "debian-web";

/// genpack studio: define, build, flash, configure and run appliance images.
#[derive(Debug, Parser)]
#[command(name = "genpack-studio", version, about)]
struct Args {
    /// A project folder (with a genpack.json5) to open at start.
    project_dir: Option<PathBuf>,

    /// Adds a project folder to the recent projects on the start page (may repeat).
    #[arg(long = "recent", value_name = "DIR")]
    recent: Vec<PathBuf>,

    /// Creates an example project in DIR from the "debian-web" template, then exits
    /// without opening a window.
    #[arg(long, value_name = "DIR")]
    create_example: Option<PathBuf>,
}

/// What the app knows from its start: shared by every command.
pub struct Studio {
    /// The recent-projects list in the app's config folder.
    pub recents: recents::Recents,
    /// The project named on the command line, opened instead of the start page.
    pub startup_project: Option<PathBuf>,
}

fn main() -> ExitCode {
    // As an ordinary user, builds run in a child process that enters a user namespace: the
    // `genpack` command beside this program (WebKit starts a thread before `main`, so this
    // program can serve a build only where no `genpack` is installed; see genpack_build::worker).
    if let Some(code) = genpack_build::worker::serve_if_worker() {
        return code;
    }
    let args = Args::parse();

    if let Some(dir) = &args.create_example {
        return match commands::gallery::create_example(EXAMPLE_TEMPLATE, dir) {
            Ok(created) => {
                println!("created {}", created.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("genpack-studio: cannot create the example project: {error}");
                eprintln!("Check that the folder's parent exists and is writable, and that the template gallery is installed.");
                ExitCode::FAILURE
            }
        };
    }

    let startup_project = args.project_dir.as_deref().map(recents::absolute);
    let recent = args.recent;

    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .setup(move |app| {
            let config_dir = app.path().app_config_dir()?;
            let recents = recents::Recents::new(config_dir.join(recents::FILE_NAME));
            for dir in &recent {
                if let Err(error) = recents.add(dir) {
                    eprintln!("genpack-studio: cannot remember {}: {error}", dir.display());
                }
            }
            if let Some(dir) = &startup_project {
                if let Err(error) = recents.add(dir) {
                    eprintln!("genpack-studio: cannot remember {}: {error}", dir.display());
                }
            }
            app.manage(std::sync::Arc::new(commands::build::Builds::default()));
            app.manage(std::sync::Arc::new(commands::vm::VmSessions::default()));
            app.manage(std::sync::Arc::new(commands::flash::Flashes::default()));
            app.manage(Studio {
                recents,
                startup_project: startup_project.clone(),
            });
            if let Some(window) = app.get_webview_window("main") {
                content_crash::reload_after_crash(&window);
            }
            Ok(())
        })
        .invoke_handler(commands::handler())
        .build(tauri::generate_context!());

    match result {
        Ok(app) => {
            app.run(|app, event| {
                if let tauri::RunEvent::Exit = event {
                    if let Some(sessions) =
                        app.try_state::<std::sync::Arc<commands::vm::VmSessions>>()
                    {
                        sessions.stop_all();
                    }
                }
            });
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("genpack-studio: the window could not start: {error}");
            eprintln!("A display is needed: run it on a desktop, or under Xvfb (scripts/run-studio does that).");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_takes_a_project_and_recent_folders() {
        let args =
            Args::try_parse_from(["genpack-studio", "--recent", "a", "--recent", "b", "proj"])
                .unwrap();
        assert_eq!(args.recent, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(args.project_dir, Some(PathBuf::from("proj")));
        assert!(args.create_example.is_none());
    }

    #[test]
    fn create_example_takes_a_folder() {
        let args =
            Args::try_parse_from(["genpack-studio", "--create-example", "./example"]).unwrap();
        assert_eq!(args.create_example, Some(PathBuf::from("./example")));
    }
}
