//! One image, many drives: the image is read (and decompressed) once, block by block, on a
//! helper thread, and each block goes to every drive at once, each drive on its own thread.
//! After the last block every drive verifies and finishes on its own, so a failing drive
//! stops alone while the others go on.

use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::buffer::AlignedBuf;
use crate::device::Device;
use crate::error::FlashError;
use crate::flash::{
    check_region, first_difference, FlashOptions, Flasher, WriteReport, BLOCK_LEN, HEAD_LEN,
};
use crate::gpt;
use crate::image::{Image, ImageReader};
use crate::pipeline::{self, Flow};
use crate::progress::{Meter, Phase, ProgressSink};

/// Blocks and withheld regions are aligned to the largest logical sector a drive has, so the
/// same block can be written to every drive.
const ALIGN: u64 = 4096;

/// Fingerprints cover the image's bytes rounded up to this (the smallest sector); the zeros
/// a drive with larger sectors writes after the image's end are padding, not image.
const HASH_UNIT: u64 = 512;

/// Blocks queued for each drive: a short wait of one drive does not stall the others.
const FEED_DEPTH: usize = 2;

/// Writes `image` to every drive in `flashers` at once and verifies each; returns each
/// drive's outcome, in order. Each drive keeps the guarantees of [`Flasher::write_image`]:
/// its own confirmation (checked when it was opened), its partition table written last and
/// only after its own read-back matched. A drive too small for the image fails before
/// anything is written to it; a drive that fails while writing stops alone. When the image
/// cannot be read (a damaged compressed file), every drive ends with
/// [`FlashError::SourceFailed`] and without a partition table.
pub fn write_to_all(
    image: &Image,
    flashers: &[Flasher],
    mut options: FlashOptions,
) -> Vec<Result<WriteReport, FlashError>> {
    let progress = Mutex::new(options.progress.take());
    let finished = Mutex::new(options.finished.take());
    let cancel = options.cancel.clone();
    let done = |device: &Path, result: Result<WriteReport, FlashError>| {
        if let Some(sink) = lock(&finished).as_mut() {
            sink(device, result.as_ref());
        }
        result
    };

    // The first MiB comes first: it is written last, and it tells where a GPT keeps its copy.
    let mut head = AlignedBuf::zeroed(HEAD_LEN as usize);
    let opened = image.reader().and_then(|mut reader| {
        let got = reader.fill(&mut head)?;
        Ok((reader, got))
    });
    let (reader, head_data) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            let error = Arc::new(error);
            return flashers
                .iter()
                .map(|flasher| {
                    let device = &flasher.device.path;
                    let failed = FlashError::SourceFailed {
                        device: device.clone(),
                        source: Arc::clone(&error),
                    };
                    done(device, Err(failed))
                })
                .collect();
        }
    };
    let start = Start::new(image, &head, head_data, cancel.as_deref());

    let mut results: Vec<Option<Result<WriteReport, FlashError>>> =
        flashers.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let mut feeds = Vec::new();
        let mut workers = Vec::new();
        for (index, flasher) in flashers.iter().enumerate() {
            if let Some(refusal) = start.refusal(&flasher.device) {
                results[index] = Some(done(&flasher.device.path, Err(refusal)));
                continue;
            }
            let (feed, receiver) = mpsc::sync_channel(FEED_DEPTH);
            feeds.push(feed);
            let (start, progress, done) = (&start, &progress, &done);
            let worker = scope.spawn(move || {
                let result = write_one(&flasher.device, start, receiver, progress);
                if result.is_err() {
                    // Best effort: the error at hand matters more than a failure to scrub.
                    let _ = flasher.scrub_head();
                }
                done(&flasher.device.path, result)
            });
            workers.push((index, worker));
        }
        let start = &start;
        scope.spawn(move || feed_all(reader, feeds, start));
        for (index, worker) in workers {
            let device = flashers[index].device.path.clone();
            results[index] = Some(worker.join().unwrap_or_else(|_| {
                Err(FlashError::Io {
                    device,
                    op: "write",
                    offset: 0,
                    source: io::Error::other("the thread writing this drive stopped unexpectedly"),
                })
            }));
        }
    });
    results
        .into_iter()
        .zip(flashers)
        .map(|(result, flasher)| {
            result.unwrap_or_else(|| {
                Err(FlashError::Unsupported {
                    device: flasher.device.path.clone(),
                    why: "the drive was not written".into(),
                })
            })
        })
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// What every drive shares: the image, its first MiB and what is known of its size.
struct Start<'a> {
    image: &'a Image,
    head: &'a AlignedBuf,
    /// Image bytes in `head` (less than 1 MiB only for a tiny image).
    head_data: usize,
    /// The backup GPT's place, written last, aligned to [`ALIGN`].
    withheld: Option<Range<u64>>,
    /// The decompressed length when known.
    exact_len: Option<u64>,
    /// A length the image has at least.
    min_len: u64,
    cancel: Option<&'a AtomicBool>,
}

impl<'a> Start<'a> {
    fn new(
        image: &'a Image,
        head: &'a AlignedBuf,
        head_data: usize,
        cancel: Option<&'a AtomicBool>,
    ) -> Start<'a> {
        let tiny = head_data < head.len();
        let exact_len = if tiny {
            Some(head_data as u64)
        } else {
            image.len()
        };
        let withheld = if tiny {
            None
        } else {
            gpt::backup_region(head).and_then(|region| {
                let start = (region.start / ALIGN * ALIGN).max(HEAD_LEN);
                let mut end = region.end.div_ceil(ALIGN) * ALIGN;
                if let Some(len) = exact_len {
                    end = end.min(len.div_ceil(ALIGN) * ALIGN);
                }
                (start < end).then_some(start..end)
            })
        };
        Start {
            image,
            head,
            head_data,
            withheld,
            exact_len,
            min_len: image.min_len().max(head_data as u64),
            cancel,
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    /// Why `device` cannot take the image, known before anything is written.
    fn refusal(&self, device: &Device) -> Option<FlashError> {
        let needed = self.min_len.div_ceil(device.block) * device.block;
        (needed > device.size).then(|| FlashError::ImageTooLarge {
            device: device.path.clone(),
            image_len: self.min_len,
            device_len: device.size,
            exact: self.exact_len.is_some(),
        })
    }

    /// Bytes of image the writing phase carries (an estimate when the length is unknown).
    fn body_estimate(&self) -> u64 {
        let len = self.exact_len.unwrap_or(self.min_len);
        let withheld = self
            .withheld
            .as_ref()
            .map_or(0, |region| len.min(region.end).saturating_sub(region.start));
        len.saturating_sub(HEAD_LEN).saturating_sub(withheld)
    }
}

/// A block of the image, shared by every drive; its buffer goes back to the reader once the
/// last drive is done with it.
struct Block {
    offset: u64,
    /// Image bytes in it.
    data_len: usize,
    /// `data_len` rounded up to [`ALIGN`] (zero padded).
    len: usize,
    /// Fingerprint of the image bytes rounded up to [`HASH_UNIT`].
    hash: u128,
    buf: Option<AlignedBuf>,
    home: mpsc::Sender<AlignedBuf>,
}

impl Block {
    fn bytes(&self) -> &[u8] {
        self.buf.as_deref().map_or(&[], |buf| &buf[..self.len])
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            // The reader may be gone already; then the buffer is freed.
            let _ = self.home.send(buf);
        }
    }
}

/// What the reader sends each drive.
enum Feed {
    Block(Arc<Block>),
    /// The image ended cleanly (a compressed one with its checksums checked).
    End(Arc<Ending>),
    /// The image could not be read.
    Failed(Arc<FlashError>),
}

struct Ending {
    image_len: u64,
    /// The backup GPT region as read: `(offset, bytes, image bytes in it)`.
    tail: Option<(u64, AlignedBuf, usize)>,
}

/// The reader: fills blocks from the image, fingerprints them once, hands each to every drive
/// still writing. Stops early when every drive has stopped or the user cancels.
fn feed_all(mut reader: ImageReader, mut feeds: Vec<SyncSender<Feed>>, start: &Start) {
    let broadcast = |feeds: &mut Vec<SyncSender<Feed>>, make: &dyn Fn() -> Feed| {
        feeds.retain(|feed| feed.send(make()).is_ok());
    };
    if start.head_data < start.head.len() {
        let ending = Arc::new(Ending {
            image_len: start.head_data as u64,
            tail: None,
        });
        broadcast(&mut feeds, &|| Feed::End(Arc::clone(&ending)));
        return;
    }
    let (home, spare) = mpsc::channel();
    for _ in 0..2 * feeds.len() + 2 {
        let _ = home.send(AlignedBuf::zeroed(BLOCK_LEN));
    }
    let fail = |feeds: &mut Vec<SyncSender<Feed>>, error: FlashError| {
        let error = Arc::new(error);
        feeds.retain(|feed| feed.send(Feed::Failed(Arc::clone(&error))).is_ok());
    };
    let mut offset = HEAD_LEN;
    let mut tail = None;
    loop {
        if feeds.is_empty() || start.cancelled() {
            return;
        }
        if let Some(region) = start.withheld.as_ref().filter(|r| r.start == offset) {
            let mut buf = AlignedBuf::zeroed((region.end - region.start) as usize);
            match reader.fill(&mut buf) {
                Ok(got) => {
                    offset += got as u64;
                    let short = got < buf.len();
                    tail = Some((region.start, buf, got));
                    if short {
                        break;
                    }
                    continue;
                }
                Err(error) => return fail(&mut feeds, error),
            }
        }
        let mut want = BLOCK_LEN as u64;
        if let Some(region) = start.withheld.as_ref().filter(|r| r.start > offset) {
            want = want.min(region.start - offset);
        }
        let Ok(mut buf) = spare.recv() else { return };
        let got = match reader.fill(&mut buf[..want as usize]) {
            Ok(got) => got,
            Err(error) => return fail(&mut feeds, error),
        };
        if got == 0 {
            break;
        }
        let len = (got as u64).div_ceil(ALIGN) * ALIGN;
        buf[got..len as usize].fill(0);
        let hashed = (got as u64).div_ceil(HASH_UNIT) * HASH_UNIT;
        let block = Arc::new(Block {
            offset,
            data_len: got,
            len: len as usize,
            hash: block_hash(&buf[..hashed as usize]),
            buf: Some(buf),
            home: home.clone(),
        });
        broadcast(&mut feeds, &|| Feed::Block(Arc::clone(&block)));
        drop(block);
        offset += got as u64;
        if (got as u64) < want {
            break;
        }
    }
    let ending = Arc::new(Ending {
        image_len: offset,
        tail,
    });
    broadcast(&mut feeds, &|| Feed::End(Arc::clone(&ending)));
}

/// A block as written to one drive.
struct Written {
    offset: u64,
    /// Bytes written (the image bytes rounded up to the drive's sector).
    len: usize,
    /// Bytes the fingerprint covers.
    hashed: usize,
    hash: u128,
}

/// One drive's whole write: wipe, write the blocks it is fed, verify, partition table last.
fn write_one(
    device: &Device,
    start: &Start,
    feed: Receiver<Feed>,
    progress: &Mutex<Option<ProgressSink>>,
) -> Result<WriteReport, FlashError> {
    let mut emit = |p: &crate::Progress| {
        if let Some(sink) = lock(progress).as_mut() {
            sink(p);
        }
    };
    let mut meter = Meter::new(device.path.clone(), Some(&mut emit));
    let started = Instant::now();
    let cancelled = |written| FlashError::Cancelled {
        device: device.path.clone(),
        bytes_written: written,
    };
    let round = |len: u64| len.div_ceil(device.block) * device.block;

    // 1. Wipe the old partition tables.
    meter.phase(Phase::Preparing, 2 * HEAD_LEN);
    let zeros = AlignedBuf::zeroed(HEAD_LEN as usize);
    let head_end = HEAD_LEN.min(device.size);
    let mut written = device.zero(0, head_end, &zeros)?;
    let tail_start = device.size.saturating_sub(HEAD_LEN).max(head_end);
    written += device.zero(tail_start, device.size, &zeros)?;
    // A backup GPT left at the same place by an earlier write of a same-size image.
    if let Some(region) = &start.withheld {
        let end = region.end.min(device.size);
        if region.start < end {
            written += device.zero(region.start, end, &zeros)?;
        }
    }
    device.sync()?;
    meter.advance(2 * HEAD_LEN);

    // 2. Everything else, as the reader hands it out.
    meter.phase(Phase::Writing, start.body_estimate());
    let mut blocks = Vec::new();
    let ending = loop {
        let next = feed.recv();
        if start.cancelled() {
            return Err(cancelled(written));
        }
        match next {
            Ok(Feed::Block(block)) => {
                let len = round(block.data_len as u64).min(block.len as u64);
                if block.offset + len > device.size {
                    return Err(FlashError::RanPastEnd {
                        device: device.path.clone(),
                        device_len: device.size,
                    });
                }
                device.write_at(&block.bytes()[..len as usize], block.offset)?;
                written += len;
                blocks.push(Written {
                    offset: block.offset,
                    len: len as usize,
                    hashed: (block.data_len as u64).div_ceil(HASH_UNIT) as usize
                        * HASH_UNIT as usize,
                    hash: block.hash,
                });
                meter.advance(block.data_len as u64);
            }
            Ok(Feed::End(ending)) => break ending,
            Ok(Feed::Failed(error)) => {
                return Err(FlashError::SourceFailed {
                    device: device.path.clone(),
                    source: error,
                })
            }
            Err(_) => {
                return Err(FlashError::SourceFailed {
                    device: device.path.clone(),
                    source: Arc::new(FlashError::Image {
                        path: start.image.path().to_path_buf(),
                        source: io::Error::other("reading the image stopped unexpectedly"),
                    }),
                })
            }
        }
    };
    drop(feed);
    device.sync()?;
    let write_time = started.elapsed();

    // The regions written last must fit too (an image that did not tell its size).
    let head_len = round(start.head_data as u64) as usize;
    let tail = ending
        .tail
        .as_ref()
        .filter(|(_, _, data)| *data > 0)
        .map(|(offset, buf, data)| (*offset, buf, (round(*data as u64) as usize).min(buf.len())));
    if let Some((offset, _, len)) = tail {
        if offset + len as u64 > device.size {
            return Err(FlashError::RanPastEnd {
                device: device.path.clone(),
                device_len: device.size,
            });
        }
    }

    // 3. Read back uncached, compare fingerprints.
    let verify_started = Instant::now();
    let body_len: u64 = blocks.iter().map(|b| b.len as u64).sum();
    meter.phase(Phase::Verifying, body_len);
    let extents: Vec<(u64, usize)> = blocks.iter().map(|b| (b.offset, b.len)).collect();
    let mut index = 0;
    pipeline::run(
        &extents,
        BLOCK_LEN,
        |buf, offset| device.read_at(buf, offset),
        |offset, buf, ()| {
            if start.cancelled() {
                return Err(cancelled(written));
            }
            let block = &blocks[index];
            if block_hash(&buf[..block.hashed]) != block.hash {
                return Err(locate_mismatch(
                    device,
                    start.image,
                    offset,
                    &buf[..block.hashed],
                    block.hash,
                ));
            }
            index += 1;
            meter.advance(buf.len() as u64);
            Ok(Flow::Continue)
        },
    )?;
    let mut verify_time = verify_started.elapsed();

    // 4. The partition table, last.
    let finish_started = Instant::now();
    let last_len = (head_len + tail.map_or(0, |(_, _, len)| len)) as u64;
    meter.phase(Phase::Finishing, last_len);
    if let Some((offset, buf, len)) = tail {
        device.write_at(&buf[..len], offset)?;
    }
    device.write_at(&start.head[..head_len], 0)?;
    written += last_len;
    device.sync()?;
    let mut scratch = AlignedBuf::zeroed(head_len.max(tail.map_or(0, |(_, _, len)| len)).max(1));
    check_region(device, &start.head[..head_len], 0, &mut scratch)?;
    if let Some((offset, buf, len)) = tail {
        check_region(device, &buf[..len], offset, &mut scratch)?;
    }
    meter.advance(last_len);
    verify_time += finish_started.elapsed();
    device.reread_partitions();

    Ok(WriteReport {
        device: device.path.clone(),
        image_len: ending.image_len,
        bytes_written: written,
        bytes_verified: body_len + last_len,
        write_time,
        verify_time,
    })
}

/// A block's fingerprint differs. For a raw image, re-read it there to name the first
/// differing byte (or to find that the image itself changed); a compressed image cannot be
/// read there again, so the block is named.
fn locate_mismatch(
    device: &Device,
    image: &Image,
    offset: u64,
    on_drive: &[u8],
    written_hash: u128,
) -> FlashError {
    let mut source = vec![0u8; on_drive.len()];
    match image.read_padded(&mut source, offset) {
        Err(error) => error,
        Ok(false) => FlashError::BlockMismatch {
            device: device.path.clone(),
            offset,
            len: on_drive.len() as u64,
        },
        Ok(true) => {
            let at = first_difference(&source, on_drive).map_or(offset, |i| offset + i as u64);
            if block_hash(&source) != written_hash {
                FlashError::SourceChanged {
                    path: image.path().to_path_buf(),
                    offset: at,
                }
            } else {
                FlashError::Mismatch {
                    device: device.path.clone(),
                    offset: at,
                }
            }
        }
    }
}

/// Fingerprint of one block as written: XXH3-128. It guards against corruption, not against
/// an adversary, and is fast enough (several GB/s) to vanish behind any drive's speed.
fn block_hash(block: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(block)
}
