//! The initramfs `/init` of genpack images. See `genpack_init::boot::stage`.

fn main() {
    if std::process::id() != 1 {
        eprintln!(
            "genpack-initramfs-init is the /init of a genpack initramfs and only runs as the first \
             process at boot; build an initramfs with `genpack_init::build_initramfs`."
        );
        std::process::exit(2);
    }
    genpack_init::boot::stage::run()
}
