//! Packing the upper into a SquashFS with mksquashfs: all cores, the definition's
//! compression, build leftovers excluded, and reproducible output (fixed timestamps, sorted
//! directories), so packing the same tree twice gives identical bytes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::command::Runner;
use crate::error::{BuildError, Result};
use crate::progress::{Meter, Phase, Unit};
use crate::recipe::Compression;

/// Paths (mksquashfs wildcards, relative to the tree) never packed.
pub const EXCLUDES: [&str; 5] = [
    "build",
    "build.d",
    "build.d/*",
    "var/log/*.log",
    "var/tmp/*",
];

/// How to pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Compression method.
    pub compression: Compression,
    /// Timestamp of the file system and of every inode.
    pub source_date_epoch: u64,
    /// Compressor threads; all cores when `None`.
    pub processors: Option<usize>,
}

/// The result of a pack.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PackReport {
    /// The image written.
    pub output: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Wall-clock time of mksquashfs.
    pub duration: Duration,
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
    cmd.arg("-wildcards").arg("-e").args(EXCLUDES);
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
    fn packing_twice_gives_identical_bytes_and_excludes_build_leftovers() {
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
        assert!(!listing.contains("build.d"), "{listing}");
        assert!(!listing.contains("old.log"), "{listing}");
    }
}
