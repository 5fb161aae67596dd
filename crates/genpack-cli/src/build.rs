//! `genpack build|lower|upper|pack|bash|upper-bash|clean`: the build pipeline from a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use genpack_build::{
    BaseSettings, Binhost, BuildError, BuildOptions, Builder, CancelToken, EmergeOptions, Progress,
    Stage, Unit, UpperReport,
};
use genpack_def::Project;

use crate::report::{print_diagnostics, Failure};
use crate::Context;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Print every line the build tools write (they are always in work/<arch>/logs/).
    #[arg(short, long)]
    verbose: bool,
    /// Gentoo mirror for the stage3 and the Portage snapshot (https://, http:// or file://);
    /// default: $GENPACK_GENTOO_MIRROR, else the Gentoo distfiles mirror.
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
    /// Rerun this stage of the image tree and every later one, even when nothing changed:
    /// packages, package-scripts, accounts, files, build.d, setup, services, boot, metadata.
    #[arg(long, value_name = "STAGE")]
    from: Option<Stage>,
    /// Gentoo: let emerge build up to N packages at once (--jobs=N --load-average=N).
    #[arg(short = 'j', long, value_name = "N", conflicts_with = "parallel")]
    jobs: Option<usize>,
    /// Gentoo: as many parallel emerge jobs as this machine has processors.
    #[arg(long)]
    parallel: bool,
    /// Gentoo: remove build-time-only packages straight away (depclean --with-bdeps=n).
    #[arg(long)]
    deep_depclean: bool,
    /// Gentoo: take prebuilt packages from a binhost: the URL of another builder's
    /// `genpack binhost serve`, or `gentoo` for Gentoo's official binary packages of the
    /// profile (their signatures are checked). Packages the binhost lacks are compiled.
    /// Overrides the definition's `binhost` key.
    #[arg(long, value_name = "URL|gentoo")]
    binhost: Option<String>,
    /// Gentoo: accept packages from --binhost URL only when signed by a key in the lower's
    /// Portage keyring (/etc/portage/gnupg).
    #[arg(long, requires = "binhost")]
    binhost_verify: bool,
    /// Gentoo: trust this OpenPGP public key (an armored file) for --binhost packages; implies
    /// --binhost-verify. Repeatable.
    #[arg(long, value_name = "FILE", requires = "binhost")]
    binhost_key: Vec<std::path::PathBuf>,
    /// Gentoo: compile on distcc servers too (FEATURES=distcc); HOST[:PORT][/JOBS], repeatable
    /// or comma-separated.
    #[arg(long, value_name = "HOSTS", value_delimiter = ',')]
    distcc: Vec<String>,
    /// Gentoo: sign every binary package this build makes with the OpenPGP key KEY (from
    /// $GNUPGHOME, else ~/.gnupg; it must not need a passphrase), for binhost users who check
    /// signatures.
    #[arg(long, value_name = "KEY")]
    sign_binpkgs: Option<String>,
}

impl BuildArgs {
    /// How emerge runs, from the flags; `arch` picks Gentoo's official binhost.
    fn emerge_options(&self, arch: Option<genpack_def::Arch>) -> Result<EmergeOptions, Failure> {
        let jobs = match (self.jobs, self.parallel) {
            (Some(0), _) => return Err(Failure::new("--jobs must be at least 1")),
            (Some(jobs), _) => Some(jobs),
            (None, true) => std::thread::available_parallelism().ok().map(|n| n.get()),
            (None, false) => None,
        };
        let binhost = match self.binhost.as_deref() {
            None => None,
            Some(url) if url == genpack_build::OFFICIAL_BINHOST => {
                let arch = arch.or_else(genpack_def::Arch::host).ok_or_else(|| {
                    Failure::new("this machine's architecture is not one genpack builds for")
                })?;
                if genpack_build::gentoo_binhost(arch).is_none() {
                    return Err(Failure::new(format!(
                        "Gentoo publishes no binary packages for {arch}"
                    ))
                    .hint("use --binhost with the URL of a builder of your own"));
                }
                Some(Binhost {
                    url: url.to_string(),
                    verify_signature: true,
                })
            }
            Some(url) => Some(Binhost {
                url: url.to_string(),
                verify_signature: self.binhost_verify || !self.binhost_key.is_empty(),
            }),
        };
        let sign_binpkgs = match &self.sign_binpkgs {
            None => None,
            Some(key) => {
                let gnupg_home = std::env::var_os("GNUPGHOME")
                    .filter(|home| !home.is_empty())
                    .map(std::path::PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("HOME")
                            .map(|home| std::path::PathBuf::from(home).join(".gnupg"))
                    })
                    .ok_or_else(|| {
                        Failure::new("no GnuPG home for --sign-binpkgs").hint("set GNUPGHOME")
                    })?;
                Some(genpack_build::SigningKey {
                    gnupg_home,
                    key: key.clone(),
                })
            }
        };
        Ok(EmergeOptions {
            jobs,
            deep_depclean: self.deep_depclean,
            binhost,
            distcc_hosts: self
                .distcc
                .iter()
                .map(|host| host.trim().to_string())
                .filter(|host| !host.is_empty())
                .collect(),
            sign_binpkgs,
            binhost_keys: self.binhost_key.clone(),
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct ShellArgs {
    /// A command to run instead of an interactive shell (fails when the command fails).
    command: Vec<String>,
}

/// Which part of the pipeline to run.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Build,
    Lower,
    Upper,
    Pack,
}

impl From<BuildError> for Failure {
    fn from(error: BuildError) -> Self {
        let hint = error.hint();
        let failure = Failure::new(&error);
        match hint {
            Some(hint) => failure.hint(hint),
            None => failure,
        }
    }
}

/// As an ordinary user, the rest of the command runs in a user namespace over the user's
/// subordinate ids (nothing changes for root). It must happen before any thread starts.
fn enter_user_namespace() -> Result<(), Failure> {
    genpack_build::userns::enter().map_err(|error| {
        Failure::new(error).hint("`genpack doctor` checks everything a build needs")
    })
}

pub fn run(context: &Context, step: Step, args: BuildArgs) -> Result<ExitCode, Failure> {
    enter_user_namespace()?;
    let project = load(context)?;
    let cancel = CancelToken::new();
    cancel_on_interrupt(&cancel)?;
    let emerge = args.emerge_options(context.arch)?;
    let mut settings = BaseSettings::default();
    if let Some(mirror) = args.mirror {
        settings.gentoo_mirror = mirror;
    }
    let builder = Builder::with_settings(
        &project,
        BuildOptions {
            arch: context.arch,
            variant: context.variant.clone(),
            cancel,
            progress: progress_printer(args.verbose),
            force_lower: matches!(step, Step::Lower),
            rerun_from: args.from,
            emerge,
        },
        settings,
    )?;
    let started = std::time::Instant::now();
    match step {
        Step::Build => {
            let report = builder.build()?;
            finish_line();
            let image = report.pack.output.display();
            if report.up_to_date {
                println!("{image} is up to date: nothing changed since it was built.");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Built {image} ({}, {} packages) in {:.1} s.",
                genpack_util::human_size(report.pack.bytes),
                report.upper.closure_packages,
                started.elapsed().as_secs_f64()
            );
            if !report.lower.rebuilt {
                println!("The base layer was up to date.");
            } else {
                print_package_counts(&report.lower);
            }
            println!("{}", stages_line(&report.upper));
        }
        Step::Lower => {
            let report = builder.lower()?;
            finish_line();
            println!(
                "Base layer ready ({} packages downloaded).",
                report.downloaded_packages
            );
            print_package_counts(&report);
        }
        Step::Upper => {
            let report = builder.upper()?;
            finish_line();
            println!(
                "Image tree ready: {} packages, {} copied from the base layer.",
                report.closure_packages,
                genpack_util::human_size(report.bytes_copied)
            );
            println!("{}", stages_line(&report));
        }
        Step::Pack => {
            let report = builder.pack()?;
            finish_line();
            println!(
                "Packed {} ({}).",
                report.output.display(),
                genpack_util::human_size(report.bytes)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Which stages of the image tree ran, in one sentence.
fn stages_line(report: &UpperReport) -> String {
    let rerun: Vec<&str> = report
        .stages
        .iter()
        .filter(|s| s.rerun.is_some())
        .map(|s| s.stage.name())
        .collect();
    match report.stages.iter().find_map(|s| s.rerun.as_deref()) {
        None if report.up_to_date => "The image tree was up to date.".to_string(),
        None => "Every stage was up to date; the image tree was assembled again.".to_string(),
        Some(reason) => format!("Stages run: {} ({reason}).", rerun.join(", ")),
    }
}

pub fn shell(context: &Context, upper: bool, args: ShellArgs) -> Result<ExitCode, Failure> {
    enter_user_namespace()?;
    let project = load(context)?;
    let builder = Builder::new(
        &project,
        BuildOptions {
            arch: context.arch,
            variant: context.variant.clone(),
            ..BuildOptions::default()
        },
    )?;
    let status = if upper {
        builder.upper_bash(&args.command)?
    } else {
        builder.bash(&args.command)?
    };
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

pub fn clean(context: &Context) -> Result<ExitCode, Failure> {
    // A build as an ordinary user leaves files owned by its subordinate ids: only the
    // namespace's root can remove them. Without a namespace, what the user owns still goes.
    let entered = enter_user_namespace();
    match genpack_build::clean(&context.project_dir) {
        Ok(()) => {}
        Err(error) => return Err(entered.err().unwrap_or_else(|| error.into())),
    }
    println!("Removed {}.", context.project_dir.join("work").display());
    Ok(ExitCode::SUCCESS)
}

fn load(context: &Context) -> Result<Project, Failure> {
    let mut project = Project::load(&context.project_dir)?;
    if !project.has_errors() {
        // A package the base does not have fails here, on its line, not deep in the build.
        let check = genpack_build::package_index::check_packages(
            &project,
            &project.source,
            context.arch_or_host()?,
            &genpack_build::cache_root(),
        );
        project.diagnostics.extend(check.diagnostics);
    }
    if project.has_errors() {
        print_diagnostics(&project.diagnostics, &project.source);
        return Err(Failure::new(format!(
            "{} has errors, so it cannot be built",
            project.file.display()
        ))
        .hint("fix the errors above (`genpack validate` lists them)"));
    }
    Ok(project)
}

/// Ctrl-C asks the build to stop; it kills its tools and leaves the work folder usable.
fn cancel_on_interrupt(cancel: &CancelToken) -> Result<(), Failure> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|error| Failure::new(format!("cannot watch for Ctrl-C: {error}")))?;
    let cancel = cancel.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            eprintln!("\nStopping: ending the running step…");
            cancel.cancel();
        }
    });
    Ok(())
}

/// Renders progress events on stderr: phases and steps as lines, amounts as one line that is
/// redrawn in place on a terminal.
fn progress_printer(verbose: bool) -> genpack_build::ProgressSink {
    let terminal = std::io::stderr().is_terminal();
    let last_amount = Arc::new(Mutex::new(String::new()));
    Arc::new(move |event: Progress| {
        let mut err = std::io::stderr().lock();
        let Ok(mut pending) = last_amount.lock() else {
            return;
        };
        let line = match event {
            Progress::Phase {
                phase,
                index,
                count,
            } => Some(format!("==> {phase:?} ({index} of {count})")),
            Progress::Step {
                name, index, count, ..
            } => Some(format!("  -> {name} ({index} of {count})")),
            Progress::Note { message, .. } => Some(format!("     {message}")),
            Progress::Log { step, line } => verbose.then(|| format!("     [{step}] {line}")),
            Progress::Amount {
                unit,
                done,
                total,
                rate,
                eta,
                ..
            } => {
                let text = amount(unit, done, total, rate, eta);
                if terminal {
                    let _ = write!(err, "\r\x1b[2K     {text}");
                    *pending = text;
                }
                None
            }
        };
        if let Some(line) = line {
            if terminal && !pending.is_empty() {
                let _ = writeln!(err);
                pending.clear();
            }
            let _ = writeln!(err, "{line}");
        }
    })
}

/// How a Gentoo lower got its packages (nothing for bases that do not compile).
fn print_package_counts(report: &genpack_build::LowerReport) {
    if report.compiled_packages + report.binary_packages == 0 {
        return;
    }
    println!(
        "Packages: {} compiled, {} from binary packages ({} downloaded from a binhost).",
        report.compiled_packages, report.binary_packages, report.downloaded_packages
    );
}

fn finish_line() {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

fn amount(
    unit: Unit,
    done: u64,
    total: Option<u64>,
    rate: Option<f64>,
    eta: Option<Duration>,
) -> String {
    let value = |n: u64| match unit {
        Unit::Bytes => genpack_util::human_size(n),
        Unit::Percent => format!("{n}%"),
        Unit::Packages => format!("{n} package steps"),
        Unit::Files => format!("{n} files"),
    };
    let mut text = match total {
        Some(total) if unit != Unit::Percent => format!("{} of {}", value(done), value(total)),
        _ => value(done),
    };
    if let (Unit::Bytes, Some(rate)) = (unit, rate) {
        text.push_str(&format!(", {}/s", genpack_util::human_size(rate as u64)));
    }
    if let Some(eta) = eta {
        text.push_str(&format!(", about {} s left", eta.as_secs()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_like_sentences() {
        assert_eq!(genpack_util::human_size(512), "512 B");
        assert_eq!(genpack_util::human_size(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(
            amount(
                Unit::Bytes,
                1024,
                Some(4096),
                Some(1024.0),
                Some(Duration::from_secs(3))
            ),
            "1.0 KiB of 4.0 KiB, 1.0 KiB/s, about 3 s left"
        );
        assert_eq!(amount(Unit::Percent, 40, Some(100), None, None), "40%");
    }
}
