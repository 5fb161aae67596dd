//! Reading a drive back and comparing it with an image.

use std::path::Path;

use crate::device::{Access, Device, OpenMethod};
use crate::drives;
use crate::error::FlashError;
use crate::flash::{first_difference, FlashOptions, BLOCK_LEN};
use crate::image::Image;
use crate::pipeline::{self, Flow};
use crate::progress::{Meter, Phase};

/// The result of comparing a drive with an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The drive starts with exactly the image's bytes.
    Verified,
    /// The first differing byte, counted from the start of the drive.
    Mismatch { offset: u64 },
}

/// Compares the drive at `path` with `image` without writing: opens it read-only and
/// uncached (root: directly; otherwise through UDisks2). No confirmation is needed. A
/// compressed image is decompressed while comparing.
pub fn verify_drive(
    path: impl AsRef<Path>,
    image: &Image,
    mut options: FlashOptions,
) -> Result<Verdict, FlashError> {
    let drive = drives::probe(path.as_ref())?;
    let device = Device::open(
        &drive.path,
        Access::Read,
        OpenMethod::Auto,
        drive.size,
        drive.logical_sector_size,
    )?;
    let mut sink = options.progress.take();
    let mut meter = Meter::new(
        device.path.clone(),
        sink.as_mut()
            .map(|sink| &mut **sink as &mut (dyn FnMut(&crate::Progress) + Send)),
    );
    compare(&device, image, &options, &mut meter)
}

/// Reads the drive from its start (uncached, in the background) and compares it with the
/// image's bytes, block by block, until the image ends.
pub(crate) fn compare(
    device: &Device,
    image: &Image,
    options: &FlashOptions,
    meter: &mut Meter,
) -> Result<Verdict, FlashError> {
    let min = image.min_len().div_ceil(device.block) * device.block;
    if min > device.size {
        return Ok(Verdict::Mismatch {
            offset: device.size,
        });
    }
    meter.phase(Phase::Verifying, image.min_len());
    let end = image.len().map_or(device.size, |len| {
        (len.div_ceil(device.block) * device.block).min(device.size)
    });
    let extents = pipeline::chunks(0, end, BLOCK_LEN);
    let mut reader = image.reader()?;
    let mut expected = vec![0u8; BLOCK_LEN];
    let mut verdict = Verdict::Verified;
    let mut image_over = false;
    pipeline::run(
        &extents,
        BLOCK_LEN,
        |buf, offset| device.read_at(buf, offset),
        |offset, on_drive, ()| {
            if options.cancelled() {
                return Err(FlashError::VerificationCancelled {
                    device: device.path.clone(),
                });
            }
            // Only the image's own bytes count, not the sector padding after its end.
            let len = reader.fill(&mut expected[..on_drive.len()])?;
            if let Some(i) = first_difference(&expected[..len], &on_drive[..len]) {
                verdict = Verdict::Mismatch {
                    offset: offset + i as u64,
                };
                return Ok(Flow::Stop);
            }
            meter.advance(len as u64);
            if len < on_drive.len() {
                image_over = true;
                return Ok(Flow::Stop);
            }
            Ok(Flow::Continue)
        },
    )?;
    if verdict == Verdict::Verified && !image_over && reader.fill(&mut expected[..1])? > 0 {
        // The image goes on past the drive's end.
        verdict = Verdict::Mismatch { offset: end };
    }
    Ok(verdict)
}
