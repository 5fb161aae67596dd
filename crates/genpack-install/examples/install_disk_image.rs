//! `cargo run -p genpack-install --example install_disk_image -- IMAGE DISK [SYSTEM_INI]`
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(image), Some(disk)) = (args.first(), args.get(1)) else {
        return Err("usage: install_disk_image IMAGE DISK [SYSTEM_INI]".into());
    };
    let options = genpack_install::InstallOptions {
        system_ini: args.get(2).map(PathBuf::from),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let report = genpack_install::install_to_disk_image(image.as_ref(), disk.as_ref(), &options)?;
    println!("{report:?} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
