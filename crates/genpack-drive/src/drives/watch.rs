//! Hotplug: a thread that follows block-device uevents so a drive list stays live.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{list, probe_if_listed, Drive};
use crate::error::DriveError;

/// A change in the set of drives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", content = "drive", rename_all = "snake_case")]
pub enum DriveEvent {
    /// A drive appeared (also sent once for every drive present when watching starts).
    Added(Drive),
    /// A drive's medium, size, partitions or attached file changed.
    Changed(Drive),
    /// The drive at this path is gone (unplugged, medium removed, loop detached).
    Removed { path: PathBuf },
}

/// Watches for drives coming and going until dropped.
///
/// Listens to udevd's events when udevd runs, else to the kernel's (containers and build
/// machines without udevd). Mount changes produce no uevent: re-check a drive's
/// [`Drive::refusal`] (or call [`super::probe`]) right before using it.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How long the thread sleeps between checks of the stop flag.
const POLL_MS: libc::c_int = 200;

impl Watcher {
    /// Starts watching. The receiver first gets an [`DriveEvent::Added`] for each drive present
    /// now (the monitor is opened before listing, so nothing falls in between).
    pub fn start() -> Result<(Watcher, Receiver<DriveEvent>), DriveError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (events, receiver) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("drive-watcher".into())
            .spawn(move || run(thread_stop, events, ready_tx))
            .map_err(|source| DriveError::Udev { source })?;
        let watcher = Watcher {
            stop,
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok((watcher, receiver)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DriveError::Udev {
                source: std::io::Error::other("the drive watcher thread ended at start"),
            }),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn open_monitor() -> std::io::Result<udev::MonitorSocket> {
    let builder = if Path::new("/run/udev/control").exists() {
        udev::MonitorBuilder::new()?
    } else {
        udev::MonitorBuilder::new_kernel()?
    };
    builder.match_subsystem("block")?.listen()
}

fn run(stop: Arc<AtomicBool>, events: Sender<DriveEvent>, ready: Sender<Result<(), DriveError>>) {
    let monitor = match open_monitor() {
        Ok(m) => m,
        Err(source) => {
            let _ = ready.send(Err(DriveError::Udev { source }));
            return;
        }
    };
    let initial = match list() {
        Ok(drives) => drives,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut known: BTreeMap<PathBuf, Drive> = BTreeMap::new();
    for drive in initial {
        known.insert(drive.path.clone(), drive.clone());
        if events.send(DriveEvent::Added(drive)).is_err() {
            return;
        }
    }
    let mut poll = libc::pollfd {
        fd: monitor.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `poll` points at one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, POLL_MS) };
        if ready <= 0 {
            continue;
        }
        let mut touched: Vec<PathBuf> = Vec::new();
        for event in monitor.iter() {
            let device = event.device();
            let disk = match device.devtype().and_then(|t| t.to_str()) {
                Some("disk") => device
                    .devnode()
                    .map(Path::to_path_buf)
                    .or_else(|| Some(PathBuf::from("/dev").join(device.sysname()))),
                Some("partition") => device
                    .parent()
                    .map(|p| PathBuf::from("/dev").join(p.sysname())),
                _ => None,
            };
            if let Some(disk) = disk {
                if !touched.contains(&disk) {
                    touched.push(disk);
                }
            }
        }
        for path in touched {
            let now = probe_if_listed(&path);
            let event = match (known.get(&path), now) {
                (None, Some(drive)) => {
                    known.insert(path.clone(), drive.clone());
                    DriveEvent::Added(drive)
                }
                (Some(before), Some(drive)) if *before != drive => {
                    known.insert(path.clone(), drive.clone());
                    DriveEvent::Changed(drive)
                }
                (Some(_), Some(_)) => continue,
                (Some(_), None) => {
                    known.remove(&path);
                    DriveEvent::Removed { path }
                }
                (None, None) => continue,
            };
            if events.send(event).is_err() {
                return;
            }
        }
    }
}
