//! genpack-init: applies system.ini at boot (as PID 1), or to an image tree on demand.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use genpack_init::runner::ModuleSource;
use genpack_init::{run_all, Context};

#[derive(Parser)]
#[command(
    version,
    about = "Applies system.ini to a genpack system",
    long_about = "As the first process (PID 1) it reads system.ini from the boot partition, the data partition or QEMU's fw_cfg, applies every module and starts /sbin/init. Otherwise use a subcommand."
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Apply a system.ini to a directory tree and print what changed.
    Apply {
        /// Root of the system to configure.
        #[arg(long)]
        root: PathBuf,
        /// The system.ini file.
        #[arg(long)]
        ini: PathBuf,
        /// Only print what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the schema of the system.ini keys this system understands (JSON): the built-in
    /// modules plus the drop-ins' `*.schema.json` under ROOT/usr/lib/genpack-init.
    Schema {
        /// Root of the image tree.
        #[arg(long, default_value = "/")]
        root: PathBuf,
    },
    /// Print one value of system.ini, for drop-in modules written as shell scripts. The file
    /// is GENPACK_INIT_INI (set for drop-ins) unless --ini names another. Exit status 1 when
    /// the key is not set or empty, 2 when the file cannot be read.
    Get {
        /// The key, e.g. `admin_password`.
        key: String,
        /// Section; keys before any header are in `_default`.
        #[arg(long, default_value = genpack_ini::DEFAULT_SECTION)]
        section: String,
        /// The system.ini file.
        #[arg(long)]
        ini: Option<PathBuf>,
    },
    /// List the modules in the order they run.
    Modules {
        /// Root whose drop-in modules (/usr/lib/genpack-init) are listed too.
        #[arg(long, default_value = "/")]
        root: PathBuf,
    },
}

fn main() -> ExitCode {
    if std::process::id() == 1 {
        let args = std::env::args_os().skip(1).collect();
        genpack_init::provision::run_as_pid1(args);
    }
    let cli = Cli::parse();
    match cli.command {
        Commands::Apply { root, ini, dry_run } => apply(root, ini, dry_run),
        Commands::Get { key, section, ini } => get(&key, &section, ini),
        Commands::Schema { root } => {
            match genpack_init::image_schema(&Context::offline(root, None, true)) {
                Ok(schema) => {
                    println!("{}", schema.to_json());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}; fix or remove that file");
                    ExitCode::from(1)
                }
            }
        }
        Commands::Modules { root } => {
            let ctx = Context::offline(root, None, true);
            let mut names: Vec<String> = genpack_init::builtin_modules()
                .iter()
                .map(|m| format!("{}  (built in: {})", m.name, m.keys.join(", ")))
                .collect();
            let (dropins, superseded) = genpack_init::dropin::discover(&ctx);
            names.extend(dropins.iter().map(|d| format!("{}  (drop-in)", d.name)));
            names.sort();
            for n in names {
                println!("{n}");
            }
            for s in superseded {
                println!("{s}  (not run: built into genpack-init)");
            }
            ExitCode::SUCCESS
        }
    }
}

fn get(key: &str, section: &str, ini: Option<PathBuf>) -> ExitCode {
    let Some(ini) = ini.or_else(|| std::env::var_os("GENPACK_INIT_INI").map(PathBuf::from)) else {
        eprintln!("error: no system.ini: pass --ini FILE or set GENPACK_INIT_INI");
        return ExitCode::from(2);
    };
    let doc = match genpack_ini::load_lenient(&ini) {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match doc.value(section, key) {
        Ok(Some(value)) if !value.trim().is_empty() => {
            println!("{}", value.trim());
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}: {e}", ini.display());
            ExitCode::from(2)
        }
    }
}

fn apply(root: PathBuf, ini: PathBuf, dry_run: bool) -> ExitCode {
    if !root.is_dir() {
        eprintln!(
            "error: {} is not a directory; pass the root of an image tree with --root",
            root.display()
        );
        return ExitCode::from(2);
    }
    let doc = match genpack_ini::load_lenient(&ini) {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for problem in doc.problems() {
        eprintln!("warning: {}: {problem}; the line is ignored", ini.display());
    }
    let debug = doc
        .get_bool(genpack_ini::DEFAULT_SECTION, "debug")
        .ok()
        .flatten()
        .unwrap_or(false);
    let ctx = Context::offline(&root, Some(ini.clone()), dry_run);
    let mut failed = 0;
    let mut changed = 0;
    run_all(&ctx, &doc, debug, |report| {
        let tag = match report.source {
            ModuleSource::Builtin => "",
            ModuleSource::Python => " (python)",
            ModuleSource::Executable => " (drop-in)",
        };
        match &report.result {
            Ok(outcome) => {
                for change in &outcome.changes {
                    changed += 1;
                    let verb = if dry_run { "would " } else { "" };
                    println!("{}{tag}: {verb}{change}", report.name);
                }
                for note in &outcome.notes {
                    eprintln!("{}{tag}: {note}", report.name);
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}{tag}: error: {e}", report.name);
            }
        }
        for line in &report.output {
            println!("{}{tag}: | {line}", report.name);
        }
    });
    if changed == 0 && failed == 0 {
        println!("nothing to change");
    }
    if failed > 0 {
        eprintln!("{failed} module(s) failed; the others were applied");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
