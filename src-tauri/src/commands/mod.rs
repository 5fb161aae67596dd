//! The commands the window calls. Each is a thin layer over an engine crate: it converts
//! arguments, calls the engine and maps its errors to [`CommandError`](crate::error::CommandError).

pub mod build;
pub mod definition;
pub mod flash;
pub mod gallery;
pub mod system_ini;
pub mod vm;

use crate::error::CommandResult;
use crate::recents::RecentProject;
use crate::Studio;
use serde::Serialize;
use std::path::PathBuf;
use tauri::State;
use ts_rs::TS;

/// Registers every command with the window. A type a command takes, returns or sends on a
/// channel is listed in `ipc_types`, which renders it for the window's TypeScript.
pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        startup,
        recent_list,
        recent_remove,
        gallery::gallery_templates,
        gallery::gallery_check_project,
        gallery::gallery_create_project,
        gallery::gentoo_needs,
        definition::project_open,
        definition::definition_schema,
        definition::definition_analyze,
        definition::definition_edit,
        definition::definition_effective,
        definition::definition_save,
        definition::definition_profiles,
        definition::check_atom,
        definition::check_use_flags,
        system_ini::ini_schema,
        system_ini::ini_timezones,
        system_ini::ini_open,
        system_ini::ini_analyze,
        system_ini::ini_edit,
        system_ini::ini_save,
        build::build_choices,
        build::build_output,
        build::build_start,
        build::build_cancel,
        vm::vm_target,
        vm::vm_start,
        vm::vm_status,
        vm::vm_connect,
        vm::open_web_page,
        vm::vm_stop,
        vm::vm_screenshot,
        vm::vm_console_tail,
        vm::vm_console_send,
        vm::vm_reset,
        vm::vm_viewer,
        vm::vm_console_open,
        vm::vm_console_close,
        vm::vm_save_thumbnail,
        vm::project_thumbnail,
        flash::flash_drives,
        flash::flash_watch_drives,
        flash::flash_unwatch_drives,
        flash::flash_settings_draft,
        flash::flash_export_formats,
        flash::flash_image,
        flash::flash_write,
        flash::flash_restore,
        flash::flash_check_label,
        flash::flash_cancel,
        flash::flash_export,
        flash::flash_eject,
        flash::stick_ini_open,
        flash::stick_ini_write,
    ]
}

/// What the window needs when it starts.
#[derive(Debug, Serialize, TS)]
pub struct Startup {
    /// The project named on the command line, to open instead of the start page.
    pub project: Option<PathBuf>,
    /// The recent projects for the start page.
    pub recents: Vec<RecentProject>,
    /// Whether the studio runs as root, which it does not need: it runs as the user, and
    /// writing a stick asks for permission through polkit (UDisks2).
    pub running_as_root: bool,
}

#[tauri::command]
pub fn startup(studio: State<'_, Studio>) -> Startup {
    Startup {
        project: studio.startup_project.clone(),
        recents: studio.recents.list(),
        // SAFETY: geteuid has no preconditions.
        running_as_root: unsafe { libc::geteuid() } == 0,
    }
}

#[tauri::command]
pub fn recent_list(studio: State<'_, Studio>) -> Vec<RecentProject> {
    studio.recents.list()
}

#[tauri::command]
pub fn recent_remove(studio: State<'_, Studio>, dir: PathBuf) -> CommandResult<Vec<RecentProject>> {
    studio.recents.remove(&dir)
}
