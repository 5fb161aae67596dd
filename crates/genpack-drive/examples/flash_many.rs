//! Writes one image to several drives at once (read once, each drive verified on its own),
//! printing each drive's outcome and the whole time.
//!
//! `flash_many IMAGE DEVICE...` (as root, or with UDisks2). Used by `bench/flash/many.sh`;
//! it confirms the drives itself, so point it only at drives you mean to overwrite. Exits
//! non-zero when any drive failed.

use std::process::ExitCode;
use std::time::Instant;

use genpack_drive::{drives, write_to_all, Confirmation, FlashOptions, Flasher, Image};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, devices @ ..] = args.as_slice() else {
        eprintln!("usage: flash_many IMAGE DEVICE...");
        return ExitCode::from(2);
    };
    if devices.is_empty() {
        eprintln!("usage: flash_many IMAGE DEVICE...");
        return ExitCode::from(2);
    }
    match run(image, devices) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(image: &str, devices: &[String]) -> Result<bool, genpack_drive::FlashError> {
    let started = Instant::now();
    let image = Image::open(image)?;
    let mut flashers = Vec::new();
    for device in devices {
        let drive = drives::probe(device.as_ref())?;
        flashers.push(Flasher::open(device, Confirmation::for_drive(&drive))?);
    }
    let results = write_to_all(&image, &flashers, FlashOptions::default());
    let mut all_ok = true;
    for (device, result) in devices.iter().zip(results) {
        match result {
            Ok(report) => println!(
                "{device} ok image_len={} bytes_written={} bytes_verified={} write_s={:.3} verify_s={:.3}",
                report.image_len,
                report.bytes_written,
                report.bytes_verified,
                report.write_time.as_secs_f64(),
                report.verify_time.as_secs_f64()
            ),
            Err(error) => {
                all_ok = false;
                println!("{device} FAILED {error}");
            }
        }
    }
    println!("total_s={:.3}", started.elapsed().as_secs_f64());
    Ok(all_ok)
}
