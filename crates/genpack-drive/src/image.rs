//! The image to write: a raw disk image file (`.img`, a hybrid `.iso`, or a block device to
//! clone), or one compressed with xz, zstd or gzip, decompressed while it is read.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::checksum::Sha256;
use crate::error::FlashError;
use crate::format::{self, Compression, Detected, SizeHint};

/// An image file opened for reading.
#[derive(Debug)]
pub struct Image {
    file: Arc<File>,
    path: PathBuf,
    compression: Compression,
    file_len: u64,
    size: SizeHint,
}

impl Image {
    /// Opens `path` and tells its format from its first bytes (not its name): xz, zstd and
    /// gzip are decompressed while writing, anything else is written as it is. Archives
    /// (ZIP, 7-Zip) and compressions other than those three are refused, saying what to do.
    pub fn open(path: impl AsRef<Path>) -> Result<Image, FlashError> {
        let path = path.as_ref();
        let fail = |source| FlashError::Image {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(fail)?;
        let meta = file.metadata().map_err(fail)?;
        let file_len = if meta.file_type().is_file() {
            meta.len()
        } else {
            block_device_len(&file).map_err(fail)?
        };
        if file_len == 0 {
            return Err(FlashError::UnsupportedImage {
                path: path.to_path_buf(),
                why: "the file is empty".into(),
            });
        }
        let mut start = [0u8; 8];
        let got = (file_len as usize).min(start.len());
        file.read_exact_at(&mut start[..got], 0).map_err(fail)?;
        let compression = match format::detect(&start[..got]) {
            Detected::Image(compression) => compression,
            Detected::Unsupported(why) => {
                return Err(FlashError::UnsupportedImage {
                    path: path.to_path_buf(),
                    why: why.into(),
                })
            }
        };
        let size = format::size_hint(&file, file_len, compression).map_err(fail)?;
        advise_sequential(&file);
        Ok(Image {
            file: Arc::new(file),
            path: path.to_path_buf(),
            compression,
            file_len,
            size,
        })
    }

    /// The image file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the file is compressed ([`Compression::None`] for a raw image).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Length of the file itself, compressed or not.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Length of the image once decompressed (what gets written), when known before
    /// decompressing: always for raw and xz images, for zstd when its frames record it.
    pub fn len(&self) -> Option<u64> {
        self.size.exact
    }

    /// A length the decompressed image has at least (the exact one when known): a drive
    /// smaller than this is refused before anything is written.
    pub fn min_len(&self) -> u64 {
        self.size.exact.unwrap_or(self.size.at_least)
    }

    /// Whether the image file is empty (never: [`Image::open`] refuses empty files).
    pub fn is_empty(&self) -> bool {
        self.file_len == 0
    }

    /// The SHA-256 of the file's bytes as they are on disk (for a compressed image, of the
    /// compressed file, as distributors publish it). `progress` gets bytes done and the total;
    /// setting `cancel` stops with [`FlashError::ChecksumCancelled`].
    pub fn sha256(
        &self,
        cancel: Option<&AtomicBool>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Sha256, FlashError> {
        crate::checksum::hash_file(&self.file, self.file_len, &self.path, cancel, progress)
    }

    /// A fresh reader of the decompressed bytes, from the start.
    pub(crate) fn reader(&self) -> Result<ImageReader, FlashError> {
        let raw = At {
            file: Arc::clone(&self.file),
            at: 0,
        };
        let inner: Box<dyn Read + Send> = match self.compression {
            Compression::None => Box::new(raw),
            Compression::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(
                    u64::MAX,
                    liblzma::stream::CONCATENATED,
                )
                .map_err(|e| self.decompress_error(0, io::Error::other(e)))?;
                Box::new(liblzma::read::XzDecoder::new_stream(
                    BufReader::with_capacity(1 << 20, raw),
                    stream,
                ))
            }
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(1 << 20, raw))
                    .map_err(|e| self.decompress_error(0, e))?,
            ),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                BufReader::with_capacity(1 << 20, raw),
            )),
        };
        Ok(ImageReader {
            inner,
            path: self.path.clone(),
            compression: self.compression,
            done: 0,
        })
    }

    /// Reads `buf.len()` bytes of a raw image at `offset`; bytes past its end read as zero.
    /// `false` for a compressed image, which can only be read from the start.
    pub(crate) fn read_padded(&self, buf: &mut [u8], offset: u64) -> Result<bool, FlashError> {
        if self.compression != Compression::None {
            return Ok(false);
        }
        let available = self.file_len.saturating_sub(offset).min(buf.len() as u64) as usize;
        let (data, padding) = buf.split_at_mut(available);
        self.file
            .read_exact_at(data, offset)
            .map_err(|source| FlashError::Image {
                path: self.path.clone(),
                source,
            })?;
        padding.fill(0);
        Ok(true)
    }

    fn decompress_error(&self, offset: u64, source: io::Error) -> FlashError {
        FlashError::Decompress {
            path: self.path.clone(),
            format: self.compression.name(),
            offset,
            source,
        }
    }
}

/// The decompressed bytes of an image, in order.
pub(crate) struct ImageReader {
    inner: Box<dyn Read + Send>,
    path: PathBuf,
    compression: Compression,
    done: u64,
}

impl ImageReader {
    /// Fills `buf`; fewer bytes only at the end of the image (0 once it is over). A
    /// compressed stream ends only after its checksums and trailers were checked.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize, FlashError> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    let offset = self.done + got as u64;
                    return Err(match self.compression {
                        Compression::None => FlashError::Image {
                            path: self.path.clone(),
                            source,
                        },
                        compression => FlashError::Decompress {
                            path: self.path.clone(),
                            format: compression.name(),
                            offset,
                            source,
                        },
                    });
                }
            }
        }
        self.done += got as u64;
        Ok(got)
    }
}

/// Sequential reads through positional reads on a shared file, so that readers never move
/// each other's offset.
struct At {
    file: Arc<File>,
    at: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Size of a block device given as the image (cloning a drive).
fn block_device_len(file: &File) -> io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut handle = file;
    let len = handle.seek(SeekFrom::End(0))?;
    handle.seek(SeekFrom::Start(0))?;
    Ok(len)
}

fn advise_sequential(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid fd; the advice is only a hint.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn pattern(len: usize) -> Vec<u8> {
        // Compressible but not trivially: a counter mixed into text.
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[(i % 3) + 1] & 0x3f)
            .collect()
    }

    fn compressed(dir: &Path, data: &[u8], program: &str, args: &[&str], ext: &str) -> PathBuf {
        let raw = dir.join("disk.img");
        std::fs::write(&raw, data).unwrap();
        let status = Command::new(program)
            .args(args)
            .arg(&raw)
            .status()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(status.success());
        let out = dir.join(format!("disk.img.{ext}"));
        assert!(out.exists(), "{program} made {}", out.display());
        out
    }

    fn read_all(image: &Image) -> Vec<u8> {
        let mut reader = image.reader().unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.fill(&mut buf).unwrap();
            out.extend_from_slice(&buf[..n]);
            if n < buf.len() {
                return out;
            }
        }
    }

    #[test]
    fn compressed_images_are_told_by_their_bytes_and_sized_without_decompressing() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(3 << 20 | 12_345);
        let len = data.len() as u64;
        for (program, args, ext, compression, exact) in [
            ("xz", &["-k", "-1"][..], "xz", Compression::Xz, true),
            ("zstd", &["-q", "-k"][..], "zst", Compression::Zstd, true),
            ("gzip", &["-k"][..], "gz", Compression::Gzip, false),
        ] {
            let path = compressed(dir.path(), &data, program, args, ext);
            // Named like anything: the contents decide.
            let renamed = dir.path().join("download.bin");
            std::fs::rename(&path, &renamed).unwrap();
            let image = Image::open(&renamed).unwrap();
            assert_eq!(image.compression(), compression);
            assert_eq!(image.len(), exact.then_some(len), "{program}");
            assert_eq!(
                image.min_len(),
                len,
                "{program}: at least the recorded size"
            );
            assert_eq!(read_all(&image), data, "{program}");
            std::fs::remove_file(dir.path().join("disk.img")).unwrap();
        }
    }

    #[test]
    fn concatenated_xz_streams_and_zstd_frames_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let first = pattern(1 << 20);
        let second = pattern(777_777);
        let mut whole = first.clone();
        whole.extend_from_slice(&second);
        for (program, ext, args) in [
            ("xz", "xz", &["-k", "-0"][..]),
            ("zstd", "zst", &["-q", "-k"][..]),
        ] {
            let mut joined = Vec::new();
            for part in [&first, &second] {
                let path = compressed(dir.path(), part, program, args, ext);
                joined.extend(std::fs::read(&path).unwrap());
                std::fs::remove_file(path).unwrap();
                std::fs::remove_file(dir.path().join("disk.img")).unwrap();
            }
            if program == "xz" {
                // Stream padding between streams is allowed.
                joined.extend_from_slice(&[0; 8]);
            }
            let path = dir.path().join(format!("joined.{ext}"));
            std::fs::write(&path, &joined).unwrap();
            let image = Image::open(&path).unwrap();
            assert_eq!(image.len(), Some(whole.len() as u64), "{program}");
            assert_eq!(read_all(&image), whole, "{program}");
        }
    }

    #[test]
    fn a_zstd_stream_without_recorded_size_is_sized_by_decompressing() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(2 << 20);
        let path = dir.path().join("piped.zst");
        // Compressed from a pipe, zstd cannot record the content size.
        let mut child = Command::new("zstd")
            .args(["-q", "-c", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::fs::File::create(&path).unwrap())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&data).unwrap();
        assert!(child.wait().unwrap().success());
        let image = Image::open(&path).unwrap();
        assert_eq!(image.len(), None);
        assert_eq!(read_all(&image), data);
    }

    #[test]
    fn a_damaged_xz_image_fails_while_reading_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(4 << 20);
        let path = compressed(dir.path(), &data, "xz", &["-k", "-1"], "xz");
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let image = Image::open(&path).unwrap();
        let mut reader = image.reader().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let error = loop {
            match reader.fill(&mut buf) {
                Ok(n) if n < buf.len() => panic!("a damaged image read to its end"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        match &error {
            FlashError::Decompress {
                format, path: at, ..
            } => {
                assert_eq!(*format, "xz");
                assert_eq!(at, &path);
            }
            other => panic!("expected a decompression error, got {other}"),
        }
        assert!(error.to_string().contains("download"), "{error}");
    }

    #[test]
    fn archives_and_other_compressions_are_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        for (bytes, says) in [
            (&b"BZh91AY&SY"[..], "bunzip2"),
            (&b"PK\x03\x04rest"[..], "unpack it"),
            (&b""[..], "empty"),
        ] {
            let path = dir.path().join("file");
            std::fs::write(&path, bytes).unwrap();
            let error = Image::open(&path).unwrap_err();
            assert!(
                matches!(error, FlashError::UnsupportedImage { .. }),
                "{error}"
            );
            assert!(error.to_string().contains(says), "{error}");
        }
    }

    #[test]
    fn a_raw_image_reads_zero_padded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.img");
        std::fs::write(&path, b"hello").unwrap();
        let image = Image::open(&path).unwrap();
        assert_eq!(image.compression(), Compression::None);
        assert_eq!(image.len(), Some(5));
        let mut buf = [0xffu8; 8];
        assert!(image.read_padded(&mut buf, 0).unwrap());
        assert_eq!(&buf, b"hello\0\0\0");
    }
}
