//! Progress events: the single vocabulary every long operation of the pipeline reports in.
//!
//! The CLI renders them as a bar plus log lines, the studio as bars, an ETA and a live log.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Top-level phases of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(rename = "BuildPhase")]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Base system plus every package, in a container.
    Lower,
    /// Runtime closure, users, files, scripts, services, boot side.
    Upper,
    /// SquashFS creation.
    Pack,
}

/// What an [`Progress::Amount`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(rename = "BuildUnit")]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// Package operations (unpack and configure each count once).
    Packages,
    /// Files copied.
    Files,
    /// Bytes written.
    Bytes,
    /// Per cent (mksquashfs reports only this).
    Percent,
}

/// One progress event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(rename = "BuildProgress")]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Progress {
    /// A phase starts. `index` is 1-based among `count` phases of this run.
    Phase {
        /// The phase.
        phase: Phase,
        /// 1-based position of the phase in this run.
        index: usize,
        /// Number of phases in this run.
        count: usize,
    },
    /// A step inside a phase starts (`index` of `count`, 1-based).
    Step {
        /// The phase.
        phase: Phase,
        /// Step name; also the stem of its log file.
        name: String,
        /// 1-based position of the step.
        index: usize,
        /// Number of steps in the phase.
        count: usize,
    },
    /// Quantified progress of the current step.
    Amount {
        /// The phase.
        phase: Phase,
        /// What is counted.
        unit: Unit,
        /// Done so far.
        done: u64,
        /// Expected total, when known.
        total: Option<u64>,
        /// Units per second since the step started.
        rate: Option<f64>,
        /// Estimated time left.
        #[ts(type = "{ secs: number, nanos: number } | null")]
        eta: Option<Duration>,
    },
    /// A line of a step's output (also written to `logs/<step>.log`).
    Log {
        /// Step name.
        step: String,
        /// The line, without its newline.
        line: String,
    },
    /// A decision worth telling the user (e.g. why the lower layer is reused or rebuilt).
    Note {
        /// The phase.
        phase: Phase,
        /// Human-readable message.
        message: String,
    },
}

/// Receiver of progress events. Must be cheap: it is called from the thread running the build.
pub type ProgressSink = Arc<dyn Fn(Progress) + Send + Sync>;

/// A sink that drops everything.
pub fn discard() -> ProgressSink {
    Arc::new(|_| {})
}

/// Turns counts into [`Progress::Amount`] events with rate and ETA.
#[derive(Debug)]
pub(crate) struct Meter {
    phase: Phase,
    unit: Unit,
    total: Option<u64>,
    started: Instant,
    last_emit: Option<Instant>,
    expected_end: Option<Instant>,
}

impl Meter {
    pub(crate) fn new(phase: Phase, unit: Unit, total: Option<u64>) -> Self {
        Self {
            phase,
            unit,
            total,
            started: Instant::now(),
            last_emit: None,
            expected_end: None,
        }
    }

    pub(crate) fn set_total(&mut self, total: Option<u64>) {
        self.total = total;
    }

    /// Expects the work to end `remaining` from now (an estimate from earlier runs); the ETA
    /// follows it instead of the rate of this run until the next call.
    pub(crate) fn expect_end_in(&mut self, remaining: Duration) {
        self.expected_end = Some(Instant::now() + remaining);
    }

    /// Reports `done`, at most ten times a second unless `force` (used for the final value).
    pub(crate) fn report(&mut self, sink: &ProgressSink, done: u64, force: bool) {
        let now = Instant::now();
        if !force {
            if let Some(last) = self.last_emit {
                if now.duration_since(last) < Duration::from_millis(100) {
                    return;
                }
            }
        }
        self.last_emit = Some(now);
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let rate = (elapsed > 0.0 && done > 0).then(|| done as f64 / elapsed);
        let eta = match (self.expected_end, rate, self.total) {
            (Some(end), _, _) => Some(end.saturating_duration_since(now)),
            (None, Some(rate), Some(total)) if total >= done && rate > 0.0 => {
                Some(Duration::from_secs_f64((total - done) as f64 / rate))
            }
            _ => None,
        };
        sink(Progress::Amount {
            phase: self.phase,
            unit: self.unit,
            done,
            total: self.total,
            rate,
            eta,
        });
    }
}
