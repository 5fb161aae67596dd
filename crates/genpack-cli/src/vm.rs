//! `genpack vm`: run appliance images in QEMU and manage the running VMs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use genpack_vm::{
    AccelPolicy, Boot, DataDisk, Display, FirmwareKind, Forward, Guest, Network, ServiceOptions,
    Share, StopOptions, StopOutcome, VmError, VmSpec,
};

use crate::report::{output, Failure};
use crate::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: VmCommand,
}

#[derive(Debug, Subcommand)]
enum VmCommand {
    /// Boot an image: a .squashfs directly, a disk image or an .iso through firmware.
    Run(Box<RunArgs>),
    /// List the running VMs.
    List {
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Print everything known about a VM as JSON.
    Show { name: String },
    /// How to reach a running VM: the SSH command, its web pages, how to log in on its console.
    Connect {
        name: String,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Power a VM off (ACPI power button, then quit after the timeout).
    Stop {
        name: String,
        /// Quit at once instead of pressing the power button.
        #[arg(short, long)]
        force: bool,
        /// Seconds the guest may take to power off.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Attach to a VM's serial console (Ctrl-] detaches).
    Console { name: String },
    /// Run the VM described by DIR/vm.ini in the foreground.
    Service {
        dir: PathBuf,
        /// VM name; defaults to the folder's name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Create (or grow) a sparse data disk file, btrfs-formatted when new.
    Allocate {
        file: PathBuf,
        /// Size such as 4G or 512M.
        size: String,
    },
    /// Tell a running VM that its data disks grew.
    Expand { name: String },
    /// List host USB devices that can be passed through with --usb.
    Usb,
    /// Print a VM's vsock context id.
    Cid { name: String },
    /// Save a PNG of a VM's screen.
    Screenshot {
        name: String,
        /// Output file.
        #[arg(short, long, default_value = "screenshot.png")]
        output: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The image: NAME.squashfs, a disk image, an .iso, or an image tree (a folder).
    image: Option<PathBuf>,
    /// Boot the project's image tree (work/<arch>/upper) as it is, without packing it: its
    /// kernel and initramfs directly, the tree shared read-only over virtio-fs or 9p. IMAGE may
    /// name a project folder or a tree; default: the project in -C DIR (or here).
    #[arg(long)]
    tree: bool,
    /// VM name; defaults to the image's name, ARTIFACT[-VARIANT]-ARCH as the build names its file.
    #[arg(long)]
    name: Option<String>,
    /// Memory in MiB.
    #[arg(short, long, default_value_t = 2048)]
    memory: u32,
    /// Virtual CPUs.
    #[arg(long, default_value_t = 1)]
    cpus: u32,
    /// Data disk file (kept between boots). Without it, changes are thrown away at power-off.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Size of a data disk created by --data.
    #[arg(long, default_value = "4G", value_name = "SIZE")]
    data_size: String,
    /// system.ini handed to the guest (direct boot of a .squashfs).
    #[arg(long, value_name = "FILE")]
    system_ini: Option<PathBuf>,
    /// Firmware for disk images and ISOs.
    #[arg(long, value_enum, default_value_t = FirmwareArg::Uefi)]
    firmware: FirmwareArg,
    /// Forward a host port to the guest, as HOST:GUEST (repeatable); HOST `auto` takes the first
    /// free port from 2222. Default: auto:22 (SSH). Each service the project's definition
    /// declares in `ports` gets an `auto` forward too, unless one is given here.
    #[arg(long = "forward", value_name = "HOST:GUEST")]
    forwards: Vec<Forward>,
    /// Network: user (default), none, bridge:BRIDGE or tap:IFNAME (the last two as root).
    #[arg(long, default_value = "user")]
    net: String,
    /// Share a host folder over virtio-fs, as PATH[:TAG].
    #[arg(long = "share", value_name = "PATH[:TAG]")]
    shares: Vec<String>,
    /// Share a host folder over 9p, as PATH[:TAG].
    #[arg(long = "share-9p", value_name = "PATH[:TAG]")]
    shares_9p: Vec<String>,
    /// Pass a host USB device through (see `genpack vm usb`), as /dev/bus/usb/BBB/DDD.
    #[arg(long = "usb", value_name = "DEVICE")]
    usb_devices: Vec<PathBuf>,
    /// No screen, serial console only.
    #[arg(long)]
    no_display: bool,
    /// Extra kernel command line (direct boot).
    #[arg(long)]
    append: Option<String>,
    /// Accelerator: auto tries KVM first and falls back to TCG.
    #[arg(long, value_enum, default_value_t = AccelArg::Auto)]
    accel: AccelArg,
    /// Start in the background and return.
    #[arg(short, long)]
    detach: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FirmwareArg {
    Uefi,
    Bios,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

impl From<VmError> for Failure {
    fn from(error: VmError) -> Self {
        Failure::new(error)
    }
}

pub fn run(context: &Context, args: Args) -> Result<ExitCode, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::new(format!("cannot start the async runtime: {error}")))?;
    runtime.block_on(dispatch(context, args.command))
}

async fn dispatch(context: &Context, command: VmCommand) -> Result<ExitCode, Failure> {
    match command {
        VmCommand::Run(args) => run_vm(context, *args).await,
        VmCommand::List { json } => {
            let vms = genpack_vm::list()?;
            if json {
                output(&to_json(&vms)?)?;
            } else if vms.is_empty() {
                output("No VM is running.")?;
            } else {
                let mut text = String::new();
                for vm in vms {
                    let accel = vm.status.accel.map(|a| a.to_string()).unwrap_or_default();
                    let memory = vm
                        .status
                        .memory_mib
                        .map(|m| format!("{m} MiB"))
                        .unwrap_or_default();
                    let uptime = vm
                        .status
                        .uptime_secs
                        .map(|s| format!("up {}", duration(s)))
                        .unwrap_or_default();
                    text.push_str(&format!(
                        "{}\t{:?}\t{accel}\t{memory}\t{uptime}\n",
                        vm.name, vm.status.state
                    ));
                }
                output(text.trim_end())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        VmCommand::Show { name } => {
            output(&to_json(&genpack_vm::show(&name)?)?)?;
            Ok(ExitCode::SUCCESS)
        }
        VmCommand::Connect { name, json } => {
            let info = genpack_vm::connect(&name)?;
            if json {
                output(&to_json(&info)?)?;
            } else {
                output(&info.lines().join("\n"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        VmCommand::Stop {
            name,
            force,
            timeout,
        } => {
            let outcome = genpack_vm::stop(
                &name,
                StopOptions {
                    force,
                    timeout: Duration::from_secs(timeout),
                },
            )
            .await?;
            output(match outcome {
                StopOutcome::PoweredOff => "The VM powered off.",
                StopOutcome::Quit => "QEMU was told to quit.",
                StopOutcome::Killed => "QEMU did not answer and was killed.",
            })?;
            Ok(ExitCode::SUCCESS)
        }
        VmCommand::Console { name } => attach(&name),
        VmCommand::Service { dir, name } => {
            let status = genpack_vm::run_service(
                &dir,
                &ServiceOptions {
                    name,
                    network: None,
                },
            )
            .await?;
            Ok(if status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        VmCommand::Allocate { file, size } => {
            let bytes = genpack_vm::disk::parse_size(&size)?;
            let allocation = genpack_vm::allocate(&file, bytes)?;
            output(&format!("{}: {allocation:?}", file.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        VmCommand::Expand { name } => {
            let resized = genpack_vm::expand(&name).await?;
            output(&format!("{resized:?}"))?;
            Ok(ExitCode::SUCCESS)
        }
        VmCommand::Usb => {
            let devices = genpack_vm::usb::list()?;
            output(&to_json(&devices)?)?;
            Ok(ExitCode::SUCCESS)
        }
        VmCommand::Cid { name } => {
            output(&genpack_vm::cid(&name)?.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        VmCommand::Screenshot { name, output: file } => {
            let png = genpack_vm::screenshot(&name).await?;
            std::fs::write(&file, png).map_err(|error| {
                Failure::new(format!("cannot write {}: {error}", file.display()))
            })?;
            output(&format!("Saved {}.", file.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_vm(context: &Context, args: RunArgs) -> Result<ExitCode, Failure> {
    let spec = spec_from(context, &args)?;
    let handle = genpack_vm::launch(&spec).await?;
    let name = handle.name().to_string();
    eprintln!(
        "Started VM `{name}` with {} ({}).",
        handle.accel().accel,
        handle.accel().reason
    );
    if handle
        .state()
        .input
        .is_some_and(|input| input.keyboard.is_none())
    {
        eprintln!(
            "  The image's kernel drives no keyboard this VM can offer (PS/2, virtio or USB): \
             keys typed on its screen cannot reach it; use the serial console."
        );
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    for line in genpack_vm::connect_info(handle.state(), home.as_deref()).lines() {
        eprintln!("  {line}");
    }
    if args.detach {
        eprintln!(
            "Attach with `genpack vm console {name}`; stop with `genpack vm stop {name}`; \
             `genpack vm connect {name}` repeats how to reach it."
        );
        return Ok(ExitCode::SUCCESS);
    }
    drop(handle);
    attach(&name)
}

fn attach(name: &str) -> Result<ExitCode, Failure> {
    eprintln!("Serial console of `{name}` (Ctrl-] detaches).");
    match genpack_vm::console::attach(name)? {
        genpack_vm::console::ConsoleEnd::Detached => {
            eprintln!("\nDetached; the VM keeps running (`genpack vm stop {name}` stops it).")
        }
        genpack_vm::console::ConsoleEnd::Closed => eprintln!("\nThe VM stopped."),
        genpack_vm::console::ConsoleEnd::InputClosed => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The image tree `--tree` boots: IMAGE when it is a tree, the tree of the project IMAGE (or
/// the current project) names otherwise.
fn tree_to_boot(context: &Context, image: Option<&Path>) -> Result<PathBuf, Failure> {
    let project = match image {
        Some(path) if !path.join("genpack.json5").is_file() => return Ok(path.to_path_buf()),
        Some(path) => path.to_path_buf(),
        None => context.project_dir.clone(),
    };
    let arch = context.arch_or_host()?;
    let tree =
        genpack_build::workdir::WorkDir::new(&project, arch.as_str(), context.variant.as_deref())
            .upper();
    if !tree.join(".genpack").is_dir() {
        return Err(
            Failure::new(format!("{} has no image tree yet", project.display()))
                .hint("run `genpack build` (or `genpack upper`) first"),
        );
    }
    Ok(tree)
}

fn spec_from(context: &Context, args: &RunArgs) -> Result<VmSpec, Failure> {
    let firmware = match args.firmware {
        FirmwareArg::Uefi => FirmwareKind::Uefi,
        FirmwareArg::Bios => FirmwareKind::Bios,
    };
    let as_tree = args.tree || args.image.as_deref().is_some_and(Path::is_dir);
    let (boot, default_name) = if as_tree {
        let tree = tree_to_boot(context, args.image.as_deref())?;
        let name = genpack_vm::name_for_tree(&tree);
        (Boot::Tree { tree }, name)
    } else {
        let Some(image) = args.image.clone() else {
            return Err(Failure::new("which image should the VM boot?")
                .hint("name a .squashfs, disk image or .iso, or pass --tree to boot the project's image tree"));
        };
        let name = genpack_vm::name_for_image(&image);
        let boot = match extension(&image).as_deref() {
            Some("squashfs") => Boot::Squashfs { image },
            Some("iso") => Boot::Iso { image, firmware },
            _ => Boot::Disk {
                image,
                firmware,
                read_only: false,
            },
        };
        (boot, name)
    };
    let name = args.name.clone().unwrap_or(default_name);
    let mut spec = VmSpec::new(name, boot);
    spec.guest = Guest::for_image(spec.image());
    spec.memory_mib = args.memory;
    spec.cpus = args.cpus;
    spec.system_ini = args.system_ini.clone();
    spec.append = args.append.clone();
    spec.usb_devices = args.usb_devices.clone();
    spec.display = if args.no_display {
        Display::None
    } else {
        Display::Vnc
    };
    spec.accel = match args.accel {
        AccelArg::Auto => AccelPolicy::Auto,
        AccelArg::Kvm => AccelPolicy::Kvm,
        AccelArg::Tcg => AccelPolicy::Tcg,
    };
    if let Some(path) = &args.data {
        spec.data = DataDisk::File {
            path: path.clone(),
            size_bytes: genpack_vm::disk::parse_size(&args.data_size)?,
        };
    }
    spec.network = match args.net.split_once(':') {
        None if args.net == "none" => Network::None,
        None if args.net == "user" && args.forwards.is_empty() => Network::user_with_ssh(),
        None if args.net == "user" => Network::User {
            forwards: args.forwards.clone(),
        },
        Some(("bridge", bridge)) => Network::Bridge {
            bridge: bridge.to_string(),
        },
        Some(("tap", ifname)) => Network::Tap {
            ifname: ifname.to_string(),
        },
        _ => {
            return Err(Failure::new(format!("unknown network `{}`", args.net))
                .hint("use user, none, bridge:BRIDGE or tap:IFNAME"))
        }
    };
    for (index, share) in args.shares.iter().enumerate() {
        let (path, tag) = share_parts(share, index);
        spec.shares.push(Share::Virtiofs { path, tag });
    }
    for (index, share) in args.shares_9p.iter().enumerate() {
        let (path, tag) = share_parts(share, index);
        spec.shares.push(Share::NineP {
            path,
            tag,
            read_only: false,
        });
    }
    Ok(spec)
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn share_parts(text: &str, index: usize) -> (PathBuf, String) {
    match text.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => (PathBuf::from(path), tag.to_string()),
        _ => (PathBuf::from(text), format!("fs{index}")),
    }
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map_err(|error| Failure::new(format!("cannot render JSON: {error}")))
}
