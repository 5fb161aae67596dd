//! The initramfs `/init` of genpack images (see `genpack_init::boot::stage`), and, copied to
//! `/run/initramfs/shutdown`, the last program of a shutdown (see
//! `genpack_init::boot::shutdown`).

fn main() {
    let mut args = std::env::args();
    let called_as = args.next().unwrap_or_default();
    if std::path::Path::new(&called_as).file_name() == Some(std::ffi::OsStr::new("shutdown")) {
        let action = args.next().unwrap_or_else(|| "poweroff".to_string());
        genpack_init::boot::shutdown::run(&action);
    }
    if std::process::id() != 1 {
        eprintln!(
            "genpack-initramfs-init is the /init of a genpack initramfs and only runs as the first \
             process at boot; build an initramfs with `genpack_init::build_initramfs`."
        );
        std::process::exit(2);
    }
    genpack_init::boot::stage::run()
}
