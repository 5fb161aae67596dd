//! Messages for people: failures with a hint, and diagnostics with the offending source line.

use std::fmt::Display;
use std::io::Write;

use anstyle::{AnsiColor, Style};
use genpack_def::{Diagnostic, Severity};

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const GUTTER: Style = AnsiColor::Blue.on_default().bold();

/// A command that could not do its job: what went wrong and, when we know, what to do next.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hint: Option<String>,
}

impl Failure {
    pub fn new(message: impl Display) -> Self {
        Failure {
            message: message.to_string(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Display) -> Self {
        self.hint = Some(hint.to_string());
        self
    }

    pub fn print(&self) {
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{ERROR}error{ERROR:#}: {}", self.message);
        if let Some(hint) = &self.hint {
            let _ = writeln!(err, "  {HINT}hint{HINT:#}: {hint}");
        }
    }
}

/// A definition that could not be loaded: syntax errors are shown with their source line.
impl From<genpack_def::LoadError> for Failure {
    fn from(error: genpack_def::LoadError) -> Self {
        if let Some(diagnostic) = error.diagnostic() {
            let source = std::fs::read(&diagnostic.file)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            print_diagnostics(std::slice::from_ref(&diagnostic), &source);
            return Failure::new(format!(
                "{} could not be read as a definition",
                diagnostic.file.display()
            ))
            .hint("fix the error above, then run `genpack validate` again");
        }
        Failure::new(error)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::new(error)
    }
}

/// Writes a command's output to stdout. A closed pipe (`genpack show | head`) is not an error.
pub fn output(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::new(format!("cannot write the output: {error}")))
        }
        _ => Ok(()),
    }
}

/// Prints diagnostics the way compilers do: location, message, the source line, a caret, help.
pub fn print_diagnostics(diagnostics: &[Diagnostic], source: &str) {
    let mut err = anstream::stderr().lock();
    for diagnostic in diagnostics {
        let (style, label) = match diagnostic.severity {
            Severity::Error => (ERROR, "error"),
            Severity::Warning => (WARNING, "warning"),
        };
        let _ = writeln!(
            err,
            "{}:{}:{}: {style}{label}{style:#}: {}",
            diagnostic.file.display(),
            diagnostic.line,
            diagnostic.column,
            diagnostic.message
        );
        if let Some(text) = source.lines().nth(diagnostic.line.saturating_sub(1)) {
            let number = diagnostic.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_start = diagnostic.column.saturating_sub(1);
            let width = if diagnostic.end_line == diagnostic.line {
                diagnostic
                    .end_column
                    .saturating_sub(diagnostic.column)
                    .max(1)
            } else {
                text.chars().count().saturating_sub(caret_start).max(1)
            };
            let _ = writeln!(err, "{GUTTER}{number} |{GUTTER:#} {text}");
            let _ = writeln!(
                err,
                "{GUTTER}{pad} |{GUTTER:#} {}{style}{}{style:#}",
                " ".repeat(caret_start),
                "^".repeat(width.min(120))
            );
        }
        if let Some(help) = &diagnostic.help {
            let _ = writeln!(err, "  {HINT}help{HINT:#}: {help}");
        }
    }
}

/// "1 error, 2 warnings" style counts.
pub fn summary(errors: usize, warnings: usize) -> String {
    fn plural(n: usize, word: &str) -> String {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    }
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}
