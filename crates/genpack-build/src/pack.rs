//! Packing the image tree into a SquashFS with mksquashfs: all cores, the definition's
//! compression, and reproducible output (fixed timestamps, sorted directories), so packing
//! the same tree twice gives identical bytes. The image tree already leaves out build
//! leftovers ([`crate::layers::EXCLUDES`]), so mksquashfs runs with no exclude list.
//!
//! A stamp (`work/<arch>/pack.stamp`) records which tree and options the output was packed
//! from, and the output's size and time: while they match, packing again is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::command::Runner;
use crate::error::{BuildError, Result};
use crate::progress::{Meter, Phase, Unit};
use crate::recipe::Compression;

/// How to pack.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackOptions {
    /// Compression method.
    pub compression: Compression,
    /// Timestamp of the file system and of every inode.
    pub source_date_epoch: u64,
    /// Compressor threads; all cores when `None`.
    pub processors: Option<usize>,
}

/// The result of a pack.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PackReport {
    /// The image written.
    pub output: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Wall-clock time of mksquashfs.
    pub duration: Duration,
    /// The output was already packed from the same tree with the same options: nothing ran.
    pub up_to_date: bool,
}

/// What an output image was packed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackStamp {
    /// Identity of the image tree (its stamp).
    pub tree: String,
    /// Compression and timestamps.
    pub options: PackOptions,
    /// The output file.
    pub output: PathBuf,
    /// Its size when it was written.
    pub bytes: u64,
    /// Its modification time when it was written, nanoseconds since the epoch.
    pub mtime_ns: u128,
}

impl PackStamp {
    /// The stamp of `output` as it is now, packed from `tree` with `options`.
    pub fn of(output: &Path, tree: &str, options: &PackOptions) -> Option<PackStamp> {
        let meta = std::fs::metadata(output).ok()?;
        let mtime_ns = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        Some(PackStamp {
            tree: tree.to_string(),
            options: PackOptions {
                processors: None,
                ..options.clone()
            },
            output: output.to_path_buf(),
            bytes: meta.len(),
            mtime_ns,
        })
    }

    /// Whether `output` is still what the stamp at `stamp_path` describes.
    pub fn is_current(stamp_path: &Path, output: &Path, tree: &str, options: &PackOptions) -> bool {
        let Some(now) = Self::of(output, tree, options) else {
            return false;
        };
        std::fs::read_to_string(stamp_path)
            .ok()
            .and_then(|text| serde_json::from_str::<PackStamp>(&text).ok())
            .is_some_and(|old| old == now)
    }

    /// Records that `output` was packed from `tree` with `options`.
    pub fn record(
        stamp_path: &Path,
        output: &Path,
        tree: &str,
        options: &PackOptions,
    ) -> Result<()> {
        let stamp = Self::of(output, tree, options).ok_or_else(|| BuildError::Io {
            action: "reading",
            path: output.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })?;
        let text = serde_json::to_string_pretty(&stamp)
            .map_err(|e| BuildError::Definition(e.to_string()))?;
        crate::fsutil::write_atomic(stamp_path, text.as_bytes())
    }
}

/// mksquashfs arguments selecting `compression`.
pub fn compression_args(compression: Compression) -> Vec<&'static str> {
    match compression {
        Compression::Gzip => vec!["-comp", "gzip", "-Xcompression-level", "1"],
        Compression::Xz => vec!["-comp", "xz", "-b", "1M"],
        Compression::Lzo => vec!["-comp", "lzo"],
        Compression::Zstd => vec!["-comp", "zstd"],
        Compression::Lz4 => vec!["-comp", "lz4"],
        Compression::None => vec!["-noI", "-noD", "-noF", "-noX"],
    }
}

/// The full mksquashfs command for `tree` -> `output`.
pub fn mksquashfs_command(tree: &Path, output: &Path, options: &PackOptions) -> Command {
    let processors = options.processors.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut cmd = Command::new("mksquashfs");
    cmd.arg(tree).arg(output);
    cmd.args(["-noappend", "-no-exports", "-progress"]);
    cmd.args(compression_args(options.compression));
    cmd.arg("-processors").arg(processors.to_string());
    let epoch = options.source_date_epoch.to_string();
    cmd.arg("-mkfs-time")
        .arg(&epoch)
        .arg("-all-time")
        .arg(&epoch);
    // mksquashfs refuses SOURCE_DATE_EPOCH together with explicit times.
    cmd.env_remove("SOURCE_DATE_EPOCH");
    cmd
}

/// Packs `tree` into `output` (written to a temporary name, then renamed, so a cancelled or
/// failed pack never leaves a truncated image under the final name).
pub(crate) fn pack_tree(
    tree: &Path,
    output: &Path,
    options: &PackOptions,
    runner: &Runner,
) -> Result<PackReport> {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = output.with_file_name(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut cmd = mksquashfs_command(tree, &tmp, options);
    let sink = runner.progress().clone();
    let mut meter = Meter::new(Phase::Pack, Unit::Percent, Some(100));
    let started = Instant::now();
    let result = runner.run("pack", &mut cmd, "squashfs-tools", |line| {
        if let Some(percent) = progress_percent(line) {
            meter.report(&sink, percent, false);
        }
    });
    if let Err(err) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    meter.report(&sink, 100, true);
    let duration = started.elapsed();
    std::fs::rename(&tmp, output).map_err(BuildError::io("moving the image into place", output))?;
    let bytes = std::fs::metadata(output)
        .map_err(BuildError::io("reading", output))?
        .len();
    runner.log_line(
        "pack",
        &format!(
            "{} written: {bytes} bytes in {:.1} s",
            output.display(),
            duration.as_secs_f64()
        ),
    )?;
    Ok(PackReport {
        output: output.to_path_buf(),
        bytes,
        duration,
        up_to_date: false,
    })
}

/// The percentage of a mksquashfs progress line (`[===/ ] 1553/1553 100%`).
fn progress_percent(line: &str) -> Option<u64> {
    let last = line.split_whitespace().last()?;
    let number = last.strip_suffix('%')?;
    line.trim_start().starts_with('[').then_some(())?;
    number.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_parse() {
        assert_eq!(
            progress_percent("[==========/   ] 1553/3000  51%"),
            Some(51)
        );
        assert_eq!(progress_percent("Creating 4.0 filesystem"), None);
    }

    #[test]
    fn every_compression_has_flags() {
        assert_eq!(
            compression_args(Compression::Gzip),
            ["-comp", "gzip", "-Xcompression-level", "1"]
        );
        assert_eq!(
            compression_args(Compression::Xz),
            ["-comp", "xz", "-b", "1M"]
        );
        for c in Compression::ALL {
            assert!(!compression_args(c).is_empty());
        }
    }

    fn sample_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::create_dir_all(dir.path().join("build.d")).unwrap();
        std::fs::create_dir_all(dir.path().join("var/log")).unwrap();
        std::fs::write(dir.path().join("etc/hostname"), "demo\n").unwrap();
        std::fs::write(dir.path().join("build.d/10.sh"), "echo hi").unwrap();
        std::fs::write(dir.path().join("var/log/old.log"), "x").unwrap();
        for i in 0..50 {
            std::fs::write(
                dir.path().join(format!("etc/f{i}")),
                format!("{i}").repeat(1000),
            )
            .unwrap();
        }
        std::os::unix::fs::symlink("hostname", dir.path().join("etc/link")).unwrap();
        dir
    }

    #[test]
    fn packing_twice_gives_identical_bytes() {
        let tree = sample_tree();
        let out = tempfile::tempdir().unwrap();
        let runner = Runner::new(
            out.path().join("logs"),
            crate::CancelToken::new(),
            crate::progress::discard(),
        );
        let options = PackOptions {
            compression: Compression::Gzip,
            source_date_epoch: 1_700_000_000,
            processors: None,
        };
        let a = pack_tree(
            tree.path(),
            &out.path().join("a.squashfs"),
            &options,
            &runner,
        )
        .unwrap();
        // Touch the tree: timestamps must not leak into the image.
        filetime::set_file_mtime(tree.path().join("etc/f1"), filetime::FileTime::now()).unwrap();
        let b = pack_tree(
            tree.path(),
            &out.path().join("b.squashfs"),
            &options,
            &runner,
        )
        .unwrap();
        assert_eq!(
            std::fs::read(&a.output).unwrap(),
            std::fs::read(&b.output).unwrap()
        );
        let listing = Command::new("unsquashfs")
            .arg("-l")
            .arg(&a.output)
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(listing.contains("squashfs-root/etc/hostname"));

        let stamp = out.path().join("pack.stamp");
        assert!(!PackStamp::is_current(
            &stamp, &a.output, "tree-1", &options
        ));
        PackStamp::record(&stamp, &a.output, "tree-1", &options).unwrap();
        assert!(PackStamp::is_current(&stamp, &a.output, "tree-1", &options));
        assert!(!PackStamp::is_current(
            &stamp, &a.output, "tree-2", &options
        ));
        let gzip9 = PackOptions {
            compression: Compression::Xz,
            ..options.clone()
        };
        assert!(!PackStamp::is_current(&stamp, &a.output, "tree-1", &gzip9));
        std::fs::write(&a.output, b"replaced by someone").unwrap();
        assert!(!PackStamp::is_current(
            &stamp, &a.output, "tree-1", &options
        ));
    }
}
