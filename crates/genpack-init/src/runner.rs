//! Runs every module (built-in and drop-in) in name order.

use genpack_ini::Document;

use crate::context::Context;
use crate::dropin::{self, DropInKind, PythonSupport};
use crate::modules::{builtin_modules, Module, Outcome};

/// The result of one module.
#[derive(Debug)]
pub struct ModuleReport {
    /// Module name (built-in name or drop-in file name).
    pub name: String,
    /// What kind of module it was.
    pub source: ModuleSource,
    /// Changes and notes, or why the module failed.
    pub result: Result<Outcome, String>,
    /// Output of a drop-in module.
    pub output: Vec<String>,
}

/// Where a module comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleSource {
    /// Compiled into genpack-init.
    Builtin,
    /// A Python drop-in.
    Python,
    /// An executable drop-in.
    Executable,
}

enum Step {
    Builtin(Module),
    DropIn(dropin::DropIn),
}

impl Step {
    fn name(&self) -> &str {
        match self {
            Step::Builtin(m) => m.name,
            Step::DropIn(d) => &d.name,
        }
    }
}

/// Applies all modules to `ctx`, calling `on_report` after each one (for live logging).
/// Drop-ins do not run in a dry run (their effects cannot be predicted).
pub fn run_all(
    ctx: &Context,
    ini: &Document,
    debug: bool,
    mut on_report: impl FnMut(&ModuleReport),
) -> Vec<ModuleReport> {
    let mut steps: Vec<Step> = builtin_modules().into_iter().map(Step::Builtin).collect();
    let (dropins, superseded) = dropin::discover(ctx);
    let mut reports = Vec::new();
    for name in superseded {
        let report = ModuleReport {
            name,
            source: ModuleSource::Python,
            result: Ok(Outcome {
                changes: Vec::new(),
                notes: vec![crate::modules::Note {
                    level: crate::modules::NoteLevel::Info,
                    message: "not run: built into genpack-init".into(),
                }],
            }),
            output: Vec::new(),
        };
        on_report(&report);
        reports.push(report);
    }
    steps.extend(dropins.into_iter().map(Step::DropIn));
    steps.sort_by(|a, b| a.name().cmp(b.name()));
    let needs_python = steps
        .iter()
        .any(|s| matches!(s, Step::DropIn(d) if d.kind == DropInKind::Python));
    let python = (needs_python && !ctx.dry_run)
        .then(|| PythonSupport::prepare(ctx))
        .flatten();
    for step in steps {
        let report = match step {
            Step::Builtin(module) => ModuleReport {
                name: module.name.to_string(),
                source: ModuleSource::Builtin,
                result: (module.apply)(ctx, ini).map_err(|e| e.to_string()),
                output: Vec::new(),
            },
            Step::DropIn(d) => {
                let source = match d.kind {
                    DropInKind::Python => ModuleSource::Python,
                    DropInKind::Executable => ModuleSource::Executable,
                };
                if ctx.dry_run {
                    let mut outcome = Outcome::default();
                    outcome.info("drop-in module not run in a dry run");
                    ModuleReport {
                        name: d.name,
                        source,
                        result: Ok(outcome),
                        output: Vec::new(),
                    }
                } else {
                    let run = dropin::run(ctx, &d, python.as_ref(), debug);
                    ModuleReport {
                        name: d.name,
                        source,
                        result: match run.failure {
                            None => Ok(Outcome::default()),
                            Some(f) => Err(f),
                        },
                        output: run.output,
                    }
                }
            }
        };
        on_report(&report);
        reports.push(report);
    }
    reports
}
