//! Progress events of long drive operations.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The step a write is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(rename = "FlashPhase")]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Wiping the old partition table (first and last MiB).
    Preparing,
    /// Writing the image, except its partition table.
    Writing,
    /// Reading the drive back and comparing.
    Verifying,
    /// Writing and checking the partition table, last.
    Finishing,
}

/// One progress report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Progress {
    /// The drive it is about.
    pub device: PathBuf,
    pub phase: Phase,
    pub bytes_done: u64,
    /// Bytes of this phase; for a compressed image that does not tell its size, an estimate
    /// that grows as the image turns out larger.
    pub bytes_total: u64,
    /// Recent speed (over the last few seconds).
    pub bytes_per_second: f64,
    /// Time left in this phase at the recent speed; `None` until there is a speed.
    pub eta: Option<Duration>,
}

impl Progress {
    /// Speed in MB/s (10^6 bytes), as drives are labelled.
    pub fn megabytes_per_second(&self) -> f64 {
        self.bytes_per_second / 1e6
    }

    /// Done fraction of this phase, 0.0 to 1.0.
    pub fn fraction(&self) -> f64 {
        if self.bytes_total == 0 {
            1.0
        } else {
            self.bytes_done as f64 / self.bytes_total as f64
        }
    }
}

/// Where progress goes. `Send`, so options can be built on one thread and the write run on
/// another; it is called from the threads doing the work (one per drive), one call at a time.
pub type ProgressSink = Box<dyn FnMut(&Progress) + Send>;

/// Reports the start of each phase and every block done (4 MiB, so at most a few hundred
/// events per second on the fastest drives).
pub(crate) struct Meter<'a> {
    device: PathBuf,
    sink: Option<&'a mut (dyn FnMut(&Progress) + Send)>,
    phase: Phase,
    total: u64,
    done: u64,
    samples: VecDeque<(Instant, u64)>,
}

impl<'a> Meter<'a> {
    /// The speed is measured over this much recent time.
    const WINDOW: Duration = Duration::from_secs(3);

    pub fn new(device: PathBuf, sink: Option<&'a mut (dyn FnMut(&Progress) + Send)>) -> Meter<'a> {
        Meter {
            device,
            sink,
            phase: Phase::Preparing,
            total: 0,
            done: 0,
            samples: VecDeque::new(),
        }
    }

    pub fn phase(&mut self, phase: Phase, total: u64) {
        self.phase = phase;
        self.total = total;
        self.done = 0;
        self.samples.clear();
        self.samples.push_back((Instant::now(), 0));
        self.report();
    }

    pub fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        self.total = self.total.max(self.done);
        let now = Instant::now();
        self.samples.push_back((now, self.done));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > Self::WINDOW)
        {
            self.samples.pop_front();
        }
        self.report();
    }

    fn report(&mut self) {
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        let rate = match (self.samples.front(), self.samples.back()) {
            (Some((t0, b0)), Some((t1, b1))) if t1 > t0 => {
                (b1 - b0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        };
        let eta = (rate > 0.0)
            .then(|| Duration::from_secs_f64(self.total.saturating_sub(self.done) as f64 / rate));
        sink(&Progress {
            device: self.device.clone(),
            phase: self.phase,
            bytes_done: self.done,
            bytes_total: self.total,
            bytes_per_second: rate,
            eta,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn every_phase_reports_its_start_and_its_end() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let mut sink: ProgressSink = Box::new(move |p| log.lock().unwrap().push(p.clone()));
        let mut meter = Meter::new("/dev/sdz".into(), Some(&mut *sink));
        meter.phase(Phase::Writing, 100);
        for _ in 0..10 {
            meter.advance(10);
        }
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.first().map(|p| (p.phase, p.bytes_done)),
            Some((Phase::Writing, 0))
        );
        let last = seen.last().unwrap();
        assert_eq!((last.bytes_done, last.bytes_total), (100, 100));
        assert_eq!(last.fraction(), 1.0);
    }
}
