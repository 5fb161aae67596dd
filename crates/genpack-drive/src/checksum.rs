//! SHA-256 sums of image files: typed by the user or read from a `<file>.sha256` beside the
//! image (`sha256sum` and BSD `SHA256 (file) = ...` lines, or the bare sum).

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::FlashError;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256(pub [u8; 32]);

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a text is not a SHA-256 sum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotASum(String);

impl FromStr for Sha256 {
    type Err = NotASum;

    /// 64 hexadecimal digits, in either case; a `sha256:` prefix and surrounding spaces are
    /// allowed (as pasted from a download page).
    fn from_str(text: &str) -> Result<Sha256, NotASum> {
        let text = text.trim();
        let hex = text
            .strip_prefix("sha256:")
            .or_else(|| text.strip_prefix("SHA256:"))
            .unwrap_or(text)
            .trim();
        if hex.len() != 64 {
            return Err(NotASum(format!(
                "a SHA-256 sum has 64 hexadecimal digits, this has {} characters",
                hex.chars().count()
            )));
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(high), Some(low)) => out[i] = (high * 16 + low) as u8,
                _ => {
                    return Err(NotASum(format!(
                        "'{}' is not a hexadecimal digit",
                        hex[i * 2..]
                            .chars()
                            .find(|c| !c.is_ascii_hexdigit())
                            .unwrap_or('?')
                    )))
                }
            }
        }
        Ok(Sha256(out))
    }
}

/// The SHA-256 of the file at `path` as it is on disk, whatever it holds (a disk image, a
/// ZIP). `progress` gets bytes done and the total; setting `cancel` stops with
/// [`FlashError::ChecksumCancelled`].
pub fn file_sha256(
    path: &Path,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Sha256, FlashError> {
    let failed = |source| FlashError::Image {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(failed)?;
    let len = file.metadata().map_err(failed)?.len();
    hash_file(&file, len, path, cancel, progress)
}

/// The SHA-256 of the first `len` bytes of `file` (named `path` in errors).
pub(crate) fn hash_file(
    file: &File,
    len: u64,
    path: &Path,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Sha256, FlashError> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    let mut at = 0u64;
    progress(0, len);
    while at < len {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(FlashError::ChecksumCancelled {
                path: path.to_path_buf(),
            });
        }
        let n = (len - at).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], at)
            .map_err(|source| FlashError::Image {
                path: path.to_path_buf(),
                source,
            })?;
        hasher.update(&buf[..n]);
        at += n as u64;
        progress(at, len);
    }
    Ok(Sha256(hasher.finalize().into()))
}

/// Where a sum file for `image` is looked for: `<image>.sha256` in the same folder.
pub fn sum_file_beside(image: &Path) -> PathBuf {
    let mut name = image.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Reads the sum of the file named `image_name` from the sum file at `path`: the line that
/// names it (`<sum>  <name>`, `<sum> *<name>`, `SHA256 (<name>) = <sum>`), or the file's
/// only sum when its lines name no file. Errors name the file and line.
pub fn read_sum_file(path: &Path, image_name: &str) -> Result<Sha256, FlashError> {
    let bad = |line: usize, why: String| FlashError::SumFile {
        path: path.to_path_buf(),
        line,
        why,
    };
    let bytes = std::fs::read(path).map_err(|source| FlashError::Image {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| bad(1, "not a text file".into()))?;
    let mut unnamed = Vec::new();
    let mut names = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (sum, name) = if let Some(rest) = line.strip_prefix("SHA256 (") {
            match rest.rsplit_once(") = ") {
                Some((name, sum)) => (sum, Some(name)),
                None => return Err(bad(number, "expected `SHA256 (<file>) = <sum>`".into())),
            }
        } else {
            match line.split_once(char::is_whitespace) {
                Some((sum, name)) => {
                    let name = name.trim_start();
                    (sum, Some(name.strip_prefix('*').unwrap_or(name)))
                }
                None => (line, None),
            }
        };
        let sum: Sha256 = sum.parse().map_err(|e: NotASum| bad(number, e.0))?;
        match name {
            None => unnamed.push(sum),
            Some(name) => {
                let base = Path::new(name).file_name().and_then(|n| n.to_str());
                if name == image_name || base == Some(image_name) {
                    return Ok(sum);
                }
                names.push(name.to_string());
            }
        }
    }
    match (unnamed.as_slice(), names.is_empty()) {
        ([sum], _) => Ok(*sum),
        ([], true) => Err(bad(1, "holds no SHA-256 sum".into())),
        ([], false) => Err(bad(
            1,
            format!(
                "has no sum for {image_name} (it lists {})",
                names.join(", ")
            ),
        )),
        _ => Err(bad(1, "holds several sums without file names".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_sum_is_64_hex_digits_in_any_case() {
        let sum: Sha256 = SUM.parse().unwrap();
        assert_eq!(sum.to_string(), SUM);
        let upper: Sha256 = format!(" sha256:{} ", SUM.to_uppercase()).parse().unwrap();
        assert_eq!(upper, sum);
        let short = "abc".parse::<Sha256>().unwrap_err();
        assert!(short.0.contains("64 hexadecimal digits"), "{short}");
        let bad = format!("{}g", &SUM[..63]).parse::<Sha256>().unwrap_err();
        assert!(bad.0.contains("'g'"), "{bad}");
    }

    #[test]
    fn sum_files_of_the_usual_shapes_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.sha256");
        let other = "0".repeat(64);
        for text in [
            format!("{SUM}\n"),
            format!("{SUM}  disk.img.xz\n"),
            format!("{other}  other.img\n{SUM} *disk.img.xz\n"),
            format!("# made by hand\nSHA256 (disk.img.xz) = {SUM}\n"),
            format!("{SUM}  ./downloads/disk.img.xz\n"),
        ] {
            std::fs::write(&file, &text).unwrap();
            assert_eq!(
                read_sum_file(&file, "disk.img.xz").unwrap().to_string(),
                SUM,
                "{text}"
            );
        }
        std::fs::write(&file, format!("{other}  other.img\n")).unwrap();
        let error = read_sum_file(&file, "disk.img.xz").unwrap_err();
        assert!(
            error.to_string().contains("no sum for disk.img.xz"),
            "{error}"
        );
        std::fs::write(&file, "\nnot-a-sum  disk.img.xz\n").unwrap();
        let error = read_sum_file(&file, "disk.img.xz").unwrap_err();
        assert!(error.to_string().contains("x.sha256:2:"), "{error}");
        assert_eq!(
            sum_file_beside(Path::new("/a/disk.img.xz")),
            Path::new("/a/disk.img.xz.sha256")
        );
    }
}
