//! Double buffering: a helper thread fills buffers (reads the image or the drive) while the
//! calling thread drains them (writes, hashes, compares).

use std::sync::mpsc;

use crate::buffer::AlignedBuf;
use crate::error::FlashError;

/// Buffers in flight: one being filled, one queued, one being drained.
const BUFFERS: usize = 3;

/// What the draining side wants next.
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Runs `fill` for each `(offset, len)` extent on a helper thread and `drain` on this one, in
/// order. `fill` gets a zeroed-or-reused buffer of exactly `len` bytes and returns a value
/// passed along with it (a hash, or nothing). Stops at the first error or [`Flow::Stop`].
pub(crate) fn run<T, F, D>(
    extents: &[(u64, usize)],
    buffer_size: usize,
    fill: F,
    mut drain: D,
) -> Result<(), FlashError>
where
    T: Send,
    F: FnMut(&mut [u8], u64) -> Result<T, FlashError> + Send,
    D: FnMut(u64, &[u8], T) -> Result<Flow, FlashError>,
{
    if extents.is_empty() {
        return Ok(());
    }
    let mut fill = fill;
    std::thread::scope(|scope| {
        type Item<T> = Result<(u64, usize, AlignedBuf, T), FlashError>;
        let (full_tx, full_rx) = mpsc::sync_channel::<Item<T>>(BUFFERS);
        let (empty_tx, empty_rx) = mpsc::channel::<AlignedBuf>();
        for _ in 0..BUFFERS {
            // A receiver in scope cannot be gone yet.
            let _ = empty_tx.send(AlignedBuf::zeroed(buffer_size));
        }
        scope.spawn(move || {
            for &(offset, len) in extents {
                let Ok(mut buf) = empty_rx.recv() else { return };
                let item = fill(&mut buf[..len], offset).map(|value| (offset, len, buf, value));
                let failed = item.is_err();
                if full_tx.send(item).is_err() || failed {
                    return;
                }
            }
        });
        let result = (|| {
            for _ in extents {
                let Ok(item) = full_rx.recv() else {
                    // The filler ended early without an error: only a panic does that, and
                    // the scope re-raises it when it joins.
                    return Ok(());
                };
                let (offset, len, buf, value) = item?;
                if let Flow::Stop = drain(offset, &buf[..len], value)? {
                    return Ok(());
                }
                let _ = empty_tx.send(buf);
            }
            Ok(())
        })();
        // Unblock the filler whichever channel it waits on.
        drop(full_rx);
        drop(empty_tx);
        result
    })
}

/// Splits `start..end` into pieces of at most `chunk` bytes.
pub(crate) fn chunks(start: u64, end: u64, chunk: usize) -> Vec<(u64, usize)> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let len = (end - at).min(chunk as u64) as usize;
        out.push((at, len));
        at += len as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_every_extent_in_order_and_stops_on_request() {
        let extents = chunks(0, 10_000, 4096);
        assert_eq!(extents, vec![(0, 4096), (4096, 4096), (8192, 1808)]);
        let mut seen = Vec::new();
        run(
            &extents,
            4096,
            |buf, offset| {
                buf.fill((offset / 4096) as u8);
                Ok(buf.len())
            },
            |offset, buf, len| {
                assert_eq!(buf.len(), len);
                seen.push((offset, buf[0]));
                Ok(Flow::Continue)
            },
        )
        .unwrap();
        assert_eq!(seen, vec![(0, 0), (4096, 1), (8192, 2)]);

        let mut count = 0;
        run(
            &extents,
            4096,
            |_, _| Ok(()),
            |_, _, _| {
                count += 1;
                Ok(Flow::Stop)
            },
        )
        .unwrap();
        assert_eq!(count, 1);
    }
}
