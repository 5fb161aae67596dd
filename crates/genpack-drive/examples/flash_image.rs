//! Writes an image to a drive and verifies it, printing what was done.
//!
//! `flash_image IMAGE DEVICE` (as root, or with UDisks2). Used by `bench/flash/run.sh`; it
//! confirms the drive itself, so point it only at a drive you mean to overwrite.

use std::process::ExitCode;

use genpack_drive::{drives, Confirmation, FlashOptions, Flasher, Image};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, device] = args.as_slice() else {
        eprintln!("usage: flash_image IMAGE DEVICE");
        return ExitCode::from(2);
    };
    match run(image, device) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(image: &str, device: &str) -> Result<(), genpack_drive::FlashError> {
    let drive = drives::probe(device.as_ref())?;
    eprintln!("writing {image} to {}", drive.description());
    let image = Image::open(image)?;
    let mut flasher = Flasher::open(device, Confirmation::for_drive(&drive))?;
    let report = flasher.write_image(&image, FlashOptions::default())?;
    println!(
        "image_len={} bytes_written={} bytes_verified={} drive_size={} write_s={:.3} verify_s={:.3}",
        report.image_len,
        report.bytes_written,
        report.bytes_verified,
        drive.size,
        report.write_time.as_secs_f64(),
        report.verify_time.as_secs_f64()
    );
    Ok(())
}
