//! When the window's web content dies (WebKit's web process crashed or was killed), the
//! window would stay blank for good. It loads the page again instead, and says so on standard
//! error. Builds, flashes and running VMs live in this process, not in the page, and go on.

use tauri::{Runtime, WebviewWindow};

/// Makes `window` load its page again whenever its web process ends.
pub fn reload_after_crash<R: Runtime>(window: &WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    {
        let watched = window.with_webview(|webview| {
            use webkit2gtk::WebViewExt;
            webview
                .inner()
                .connect_web_process_terminated(|view, reason| {
                    eprintln!(
                        "genpack-studio: the window's web process ended ({reason:?}); loading the page again. Builds, flashes and running VMs go on."
                    );
                    view.reload();
                });
        });
        if let Err(error) = watched {
            eprintln!("genpack-studio: cannot watch the window's web process: {error}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
