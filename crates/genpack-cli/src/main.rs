//! `genpack`: the command-line face of genpack studio.
//!
//! Every subcommand is a thin layer over the library crates; this file only parses arguments,
//! dispatches, and turns errors into messages for people.

mod archive;
mod binhost;
mod build;
mod doctor;
mod ini;
mod install;
mod new;
mod report;
mod show;
mod templates;
mod update;
mod validate;
mod vm;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use genpack_def::Arch;

use crate::report::Failure;

/// Define, validate and package purpose-built Linux appliance images.
#[derive(Debug, Parser)]
#[command(name = "genpack", version, about, long_about = None)]
struct Cli {
    /// The project folder (the one holding genpack.json5). Defaults to the current folder.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    directory: Option<PathBuf>,

    /// Target architecture: x86_64, aarch64, i686 or riscv64. Defaults to this machine's.
    #[arg(long, global = true, value_name = "ARCH")]
    arch: Option<Arch>,

    /// Variant of the definition to use. Defaults to the definition's `default_variant`.
    #[arg(long, global = true, value_name = "NAME")]
    variant: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check definitions and print every error and warning (exit status 1 on any error).
    Validate(validate::Args),
    /// Print the effective definition for an architecture and variant, after merging.
    Show(show::Args),
    /// Create a new project from a template of the gallery.
    New(new::Args),
    /// List the templates of the gallery.
    Templates(templates::Args),
    /// Pack the definition and its folders into genpack-<name>.tar.gz.
    Archive(archive::Args),
    /// Build the image: base layer, image tree stages and SquashFS, each only when its inputs
    /// changed (with nothing changed, nothing runs).
    Build(build::BuildArgs),
    /// Rebuild the base layer (every package, in a container), even when up to date.
    Lower(build::BuildArgs),
    /// Bring the image tree up to date (the stages whose inputs changed), without packing.
    Upper(build::BuildArgs),
    /// Pack the image tree into <name>[-<variant>]-<arch>.squashfs (even when up to date).
    Pack(build::BuildArgs),
    /// A shell (or a command) in the base layer's container.
    Bash(build::ShellArgs),
    /// A shell (or a command) on the base layer with the image tree on top.
    UpperBash(build::ShellArgs),
    /// Delete the project's work folder (base layer and image tree).
    Clean,
    /// Share this machine's Gentoo binary packages with other builders over HTTP.
    Binhost(binhost::Args),
    /// Write an image to a stick, disk, disk image file, ISO or ZIP (BIOS and UEFI).
    Install(install::Args),
    /// Give a stick back to everyday use: one empty FAT32 partition over all of it.
    Restore(install::RestoreArgs),
    /// Install a new image on this running system (or go back with --rollback).
    SelfUpdate(update::Args),
    /// Read, change or check system.ini on a stick, disk or disk image without mounting it.
    Ini(ini::Args),
    /// Run images in QEMU and manage the running VMs.
    Vm(vm::Args),
    /// Check what building, running and installing images need on this machine (and, for an
    /// ordinary user, the user namespace a build runs in), with the fix for what is missing.
    Doctor(doctor::Args),
}

/// Options every subcommand can read.
pub struct Context {
    pub project_dir: PathBuf,
    pub arch: Option<Arch>,
    pub variant: Option<String>,
}

impl Context {
    /// The architecture asked for, or this machine's.
    pub fn arch_or_host(&self) -> Result<Arch, Failure> {
        match self.arch {
            Some(arch) => Ok(arch),
            None => Arch::host().ok_or_else(|| {
                Failure::new("this machine's architecture is not one genpack builds for")
                    .hint("pass --arch x86_64, aarch64, i686 or riscv64")
            }),
        }
    }
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of the output goes away
    // (`genpack validate | head`), instead of failing on the closed pipe.
    // SAFETY: setting a signal's disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The command can serve a build in a user namespace for another program, the way the
    // studio's own child processes do (see genpack_build::worker).
    if let Some(code) = genpack_build::worker::serve_if_worker() {
        return code;
    }
    let cli = Cli::parse();
    let context = Context {
        project_dir: cli.directory.unwrap_or_else(|| PathBuf::from(".")),
        arch: cli.arch,
        variant: cli.variant,
    };
    let outcome = match cli.command {
        Command::Validate(args) => validate::run(&context, args),
        Command::Show(args) => show::run(&context, args),
        Command::New(args) => new::run(&context, args),
        Command::Templates(args) => templates::run(args),
        Command::Archive(args) => archive::run(&context, args),
        Command::Build(args) => build::run(&context, build::Step::Build, args),
        Command::Lower(args) => build::run(&context, build::Step::Lower, args),
        Command::Upper(args) => build::run(&context, build::Step::Upper, args),
        Command::Pack(args) => build::run(&context, build::Step::Pack, args),
        Command::Bash(args) => build::shell(&context, false, args),
        Command::UpperBash(args) => build::shell(&context, true, args),
        Command::Clean => build::clean(&context),
        Command::Binhost(args) => binhost::run(&context, args),
        Command::Install(args) => install::run(args),
        Command::Restore(args) => install::restore(args),
        Command::SelfUpdate(args) => update::run(args),
        Command::Ini(args) => ini::run(&context, args),
        Command::Vm(args) => vm::run(&context, args),
        Command::Doctor(args) => doctor::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(failure) => {
            failure.print();
            ExitCode::FAILURE
        }
    }
}
