//! `genpack binhost serve`: publishes this machine's Gentoo binary package cache over HTTP,
//! so other builders (`genpack build --binhost URL`) install its packages instead of
//! compiling them.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use genpack_build::binhost::BinhostServer;

use crate::report::Failure;
use crate::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve a binary package cache (with its Packages index) over HTTP until Ctrl-C.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The folder to serve. Default: this machine's cache for --arch
    /// (~/.cache/genpack/gentoo/<arch>/binpkgs).
    dir: Option<PathBuf>,
    /// TCP port (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for the network. Serve
    /// only on a network you trust: anyone who can reach it can read the packages, and
    /// builders trust them unless they check signatures (--binhost-verify).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    bind: IpAddr,
}

pub fn run(context: &Context, args: Args) -> Result<ExitCode, Failure> {
    let Command::Serve(args) = args.command;
    let dir = match args.dir {
        Some(dir) => dir,
        None => genpack_build::cache_root()
            .join("gentoo")
            .join(context.arch_or_host()?.as_str())
            .join("binpkgs"),
    };
    let server = BinhostServer::start(&dir, SocketAddr::new(args.bind, args.port))?;
    println!("Serving {} at {}", dir.display(), server.url());
    if args.bind.is_unspecified() {
        println!(
            "Builders on the network use: genpack build --binhost http://<this machine>:{}/",
            server.local_addr().port()
        );
    } else {
        println!("Builders use: genpack build --binhost {}", server.url());
    }
    println!("Stop with Ctrl-C.");
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|error| Failure::new(format!("cannot watch for Ctrl-C: {error}")))?;
    signals.forever().next();
    let served = server.requests_served();
    server.stop();
    println!("Stopped after {served} requests.");
    Ok(ExitCode::SUCCESS)
}
