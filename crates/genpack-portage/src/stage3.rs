//! Where a lower's starting point comes from: the stage3 archive of each architecture, the
//! Portage tree snapshot, their published checksums, and whether a cached download is still
//! current. Downloading itself is the build pipeline's job; this module only builds URLs,
//! parses what the mirror publishes and verifies files.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha512};

use crate::arch::Arch;
use crate::error::{Error, ParseError, Result};

/// The mirror used when none is configured.
pub const DEFAULT_MIRROR: &str = "https://distfiles.gentoo.org/";

/// Path of the Portage snapshot under a mirror.
pub const PORTAGE_SNAPSHOT: &str = "snapshots/portage-latest.tar.xz";

/// A Gentoo mirror (`https://...`, `http://...` or `file:///...`): everything is addressed
/// relative to its base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    base: String,
}

impl Default for Mirror {
    fn default() -> Mirror {
        Mirror::new(DEFAULT_MIRROR)
    }
}

impl Mirror {
    /// A mirror rooted at `base`; a missing trailing slash is added.
    pub fn new(base: &str) -> Mirror {
        let mut base = base.trim().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Mirror { base }
    }

    /// The base URL, ending with `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// URL of the file naming the newest systemd stage3 of `arch`.
    pub fn latest_stage3_list(&self, arch: Arch) -> String {
        let (dir, flavour) = stage3_names(arch);
        format!(
            "{}releases/{dir}/autobuilds/latest-stage3-{flavour}-systemd.txt",
            self.base
        )
    }

    /// URL of a stage3 given the path the latest file names (`20250105T170325Z/stage3-...tar.xz`).
    pub fn stage3(&self, arch: Arch, relative: &str) -> String {
        let (dir, _) = stage3_names(arch);
        format!(
            "{}releases/{dir}/autobuilds/{}",
            self.base,
            relative.trim_start_matches('/')
        )
    }

    /// URL of the Portage tree snapshot.
    pub fn portage_snapshot(&self) -> String {
        format!("{}{PORTAGE_SNAPSHOT}", self.base)
    }
}

/// The mirror directory and stage3 flavour of an architecture: `(amd64, amd64)`,
/// `(x86, i686)`, `(arm64, arm64)`, `(riscv, rv64_lp64d)`.
pub fn stage3_names(arch: Arch) -> (&'static str, &'static str) {
    match arch {
        Arch::X86_64 => ("amd64", "amd64"),
        Arch::I686 => ("x86", "i686"),
        Arch::Aarch64 => ("arm64", "arm64"),
        Arch::Riscv64 => ("riscv", "rv64_lp64d"),
    }
}

/// URL of the checksums file published next to a download (`<url>.DIGESTS`).
pub fn digests_url(url: &str) -> String {
    format!("{url}.DIGESTS")
}

/// Reads the (PGP clear-signed) `latest-stage3-*.txt` file and returns the path of the newest
/// stage3 relative to the autobuilds directory. The signed-message header and its hash lines
/// up to the first blank line are skipped, `#` comments ignored, reading stops at the
/// signature block, and the first token of the first line with two or more tokens is the answer.
pub fn parse_latest(text: &str) -> Result<String, ParseError> {
    let mut lines = text.lines().peekable();
    if lines
        .peek()
        .is_some_and(|line| line.trim() == "-----BEGIN PGP SIGNED MESSAGE-----")
    {
        for line in lines.by_ref() {
            if line.trim().is_empty() {
                break;
            }
        }
    }
    for line in lines {
        let line = line.trim();
        if line.starts_with("-----BEGIN PGP SIGNATURE-----") {
            break;
        }
        if line.starts_with('#') {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.len() >= 2 {
            return Ok(tokens[0].to_string());
        }
    }
    Err(ParseError::new(
        "latest-stage3 list",
        text.lines().next().unwrap_or(""),
        "no '<path> <size>' line",
    ))
}

/// One checksum of a `.DIGESTS` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEntry {
    /// Algorithm as named by the `# <ALGO> HASH` header (`SHA512`, `BLAKE2B`).
    pub algorithm: String,
    /// Hexadecimal digest, lower case.
    pub hash: String,
    /// File name the digest is for.
    pub file: String,
}

/// The contents of a `.DIGESTS` file: `# SHA512 HASH` section headers followed by
/// `<hex>  <file>` lines; PGP armour, if present, is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    /// Every checksum, in file order.
    pub entries: Vec<DigestEntry>,
}

impl Digests {
    /// Parses a digests file.
    pub fn parse(text: &str) -> Result<Digests, ParseError> {
        let mut entries = Vec::new();
        let mut algorithm: Option<String> = None;
        let mut in_signature = false;
        let mut in_armor_header = false;
        for line in text.lines() {
            let line = line.trim();
            if line == "-----BEGIN PGP SIGNED MESSAGE-----" {
                in_armor_header = true;
                continue;
            }
            if in_armor_header {
                in_armor_header = !line.is_empty();
                continue;
            }
            if line == "-----BEGIN PGP SIGNATURE-----" {
                in_signature = true;
            }
            if in_signature {
                in_signature = line != "-----END PGP SIGNATURE-----";
                continue;
            }
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let words: Vec<&str> = comment.split_whitespace().collect();
                algorithm = match words.as_slice() {
                    [name, "HASH"] => Some(name.to_ascii_uppercase()),
                    _ => None,
                };
                continue;
            }
            let Some(current) = &algorithm else { continue };
            let mut tokens = line.split_whitespace();
            let (Some(hash), Some(file), None) = (tokens.next(), tokens.next(), tokens.next())
            else {
                return Err(ParseError::new(
                    "digests line",
                    line,
                    "expected '<hash>  <file>'",
                ));
            };
            if !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ParseError::new(
                    "digests line",
                    line,
                    "the hash is not hexadecimal",
                ));
            }
            entries.push(DigestEntry {
                algorithm: current.clone(),
                hash: hash.to_ascii_lowercase(),
                file: file.to_string(),
            });
        }
        Ok(Digests { entries })
    }

    /// The SHA512 digest published for `file` (matched on the file name).
    pub fn sha512(&self, file: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|entry| entry.algorithm == "SHA512" && file_name(&entry.file) == file_name(file))
            .map(|entry| entry.hash.as_str())
    }

    /// Checks a downloaded file against its SHA512 entry (looked up by `published_name`, the
    /// name the mirror uses, since the local copy may be renamed). `digests` names the digests
    /// file in errors.
    pub fn verify(&self, path: &Path, published_name: &str, digests: &Path) -> Result<()> {
        let expected = self.sha512(published_name).ok_or_else(|| Error::NoDigest {
            digests: digests.to_path_buf(),
            file: published_name.to_string(),
        })?;
        let actual = sha512_file(path)?;
        if actual != expected {
            return Err(Error::ChecksumMismatch {
                path: path.to_path_buf(),
                expected: expected.to_string(),
                actual,
            });
        }
        Ok(())
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// SHA512 of a file, as lower-case hexadecimal.
pub fn sha512_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|error| Error::io(path, error))?;
    let mut hasher = Sha512::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|error| Error::io(path, error))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// What a `HEAD` request says about a remote file, to decide whether a cached copy is current.
/// Stored next to the download as a `.headers` file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Freshness {
    /// `Last-Modified` header.
    pub last_modified: Option<String>,
    /// `ETag` header.
    pub etag: Option<String>,
    /// `Content-Length` header.
    pub content_length: Option<u64>,
}

impl Freshness {
    /// Picks the relevant headers (names compared case-insensitively) from a response.
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Freshness {
        let mut freshness = Freshness::default();
        for (name, value) in headers {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "last-modified" => freshness.last_modified = Some(value.to_string()),
                "etag" => freshness.etag = Some(value.to_string()),
                "content-length" => freshness.content_length = value.parse().ok(),
                _ => {}
            }
        }
        freshness
    }

    /// Whether the response carried anything to compare.
    pub fn is_known(&self) -> bool {
        self.last_modified.is_some() || self.etag.is_some() || self.content_length.is_some()
    }

    /// Whether a cached download described by `stored` is still the remote file described by
    /// `self`. Without any header to compare, the answer is no (download again).
    pub fn matches(&self, stored: &Freshness) -> bool {
        self.is_known() && self == stored
    }

    /// The `.headers` file contents: one `Name: value` line per known header.
    pub fn to_headers_file(&self) -> String {
        let mut out = String::new();
        if let Some(value) = &self.last_modified {
            out.push_str(&format!("Last-Modified: {value}\n"));
        }
        if let Some(value) = &self.etag {
            out.push_str(&format!("ETag: {value}\n"));
        }
        if let Some(value) = self.content_length {
            out.push_str(&format!("Content-Length: {value}\n"));
        }
        out
    }

    /// Reads a `.headers` file written by [`Freshness::to_headers_file`].
    pub fn parse_headers_file(text: &str) -> Freshness {
        Freshness::from_headers(text.lines().filter_map(|line| line.split_once(':')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATEST: &str = "-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

# Latest as of Sun, 05 Jan 2025 17:03:25 +0000
# ts=1736096605
20250105T170325Z/stage3-amd64-systemd-20250105T170325Z.tar.xz 264578120
-----BEGIN PGP SIGNATURE-----

iQKTBAEBCgB9FiEEVDuNq1bS3rmNAi3dC8nL1EuVCOMFAmd6v0hfFIAAAAAALgAo
=abcd
-----END PGP SIGNATURE-----
";

    #[test]
    fn urls_per_arch() {
        let mirror = Mirror::default();
        assert_eq!(
            mirror.latest_stage3_list(Arch::X86_64),
            "https://distfiles.gentoo.org/releases/amd64/autobuilds/latest-stage3-amd64-systemd.txt"
        );
        assert_eq!(
            mirror.latest_stage3_list(Arch::I686),
            "https://distfiles.gentoo.org/releases/x86/autobuilds/latest-stage3-i686-systemd.txt"
        );
        assert_eq!(
            mirror.latest_stage3_list(Arch::Aarch64),
            "https://distfiles.gentoo.org/releases/arm64/autobuilds/latest-stage3-arm64-systemd.txt"
        );
        assert_eq!(
            mirror.latest_stage3_list(Arch::Riscv64),
            "https://distfiles.gentoo.org/releases/riscv/autobuilds/latest-stage3-rv64_lp64d-systemd.txt"
        );
        let local = Mirror::new("file:///srv/gentoo");
        assert_eq!(
            local.portage_snapshot(),
            "file:///srv/gentoo/snapshots/portage-latest.tar.xz"
        );
        let relative = parse_latest(LATEST).unwrap();
        assert_eq!(
            local.stage3(Arch::X86_64, &relative),
            "file:///srv/gentoo/releases/amd64/autobuilds/20250105T170325Z/stage3-amd64-systemd-20250105T170325Z.tar.xz"
        );
        assert_eq!(
            digests_url("https://x/a.tar.xz"),
            "https://x/a.tar.xz.DIGESTS"
        );
    }

    #[test]
    fn latest_file_without_signature_and_with_a_hash_line_first() {
        assert_eq!(
            parse_latest("# comment\n\n20250101/stage3-arm64-systemd.tar.xz 1234\n").unwrap(),
            "20250101/stage3-arm64-systemd.tar.xz"
        );
        // A header line with two tokens ("Hash: SHA512") must not be taken for the answer.
        assert_eq!(
            parse_latest(LATEST).unwrap(),
            "20250105T170325Z/stage3-amd64-systemd-20250105T170325Z.tar.xz"
        );
        assert!(parse_latest(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n# only comments\n"
        )
        .is_err());
    }

    const PAYLOAD: &str = "genpack stage3 test payload\n";
    const PAYLOAD_SHA512: &str = "877cfd199124013843c81967b644435f8647deb550c43555d85bcea41ba8fc547b4b4e23e2f20004c81a6d14f2d4f3c908661e941419b375db82d6637baa4499";
    const PAYLOAD_BLAKE2B: &str = "d704ec8f6ebc85ae79ed9d1e2b3c95dd0bfabac4e960c94f90c2a76591e042e4cd45b4200a5a9ec6f67a509fb936301662b72b2519bf2fb83b66947aad5e2d2d";

    fn digests_text() -> String {
        format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n\
             # BLAKE2B HASH\n{PAYLOAD_BLAKE2B}  stage3-amd64-systemd-20250105T170325Z.tar.xz\n\
             # SHA512 HASH\n{PAYLOAD_SHA512}  stage3-amd64-systemd-20250105T170325Z.tar.xz\n\
             # SHA512 HASH\n{}  stage3-amd64-systemd-20250105T170325Z.tar.xz.CONTENTS.gz\n\
             -----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCgAdFiEE\n=x1y2\n-----END PGP SIGNATURE-----\n",
            "ab".repeat(64)
        )
    }

    #[test]
    fn digests_verify_the_download() {
        let digests = Digests::parse(&digests_text()).unwrap();
        assert_eq!(digests.entries.len(), 3);
        assert_eq!(digests.entries[0].algorithm, "BLAKE2B");
        let published = "stage3-amd64-systemd-20250105T170325Z.tar.xz";
        assert_eq!(digests.sha512(published), Some(PAYLOAD_SHA512));
        assert_eq!(
            digests.sha512(&format!("20250105T170325Z/{published}")),
            Some(PAYLOAD_SHA512)
        );

        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("stage3.tar.xz");
        std::fs::write(&local, PAYLOAD).unwrap();
        let digests_path = dir.path().join("stage3.tar.xz.DIGESTS");
        digests.verify(&local, published, &digests_path).unwrap();

        std::fs::write(&local, "tampered").unwrap();
        let error = digests
            .verify(&local, published, &digests_path)
            .unwrap_err();
        assert!(matches!(error, Error::ChecksumMismatch { .. }), "{error}");
        let error = digests
            .verify(&local, "other.tar.xz", &digests_path)
            .unwrap_err();
        assert!(matches!(error, Error::NoDigest { .. }), "{error}");
        assert!(Digests::parse("# SHA512 HASH\nnot-hex  file\n").is_err());
        assert!(Digests::parse("# SHA512 HASH\nabcdef\n").is_err());
    }

    #[test]
    fn freshness_round_trips_and_compares() {
        let remote = Freshness::from_headers([
            ("last-modified", "Sun, 05 Jan 2025 17:03:25 GMT"),
            ("ETAG", "\"677abc-fc5e048\""),
            ("Content-Length", "264578120"),
            ("Server", "nginx"),
        ]);
        let file = remote.to_headers_file();
        assert_eq!(file, "Last-Modified: Sun, 05 Jan 2025 17:03:25 GMT\nETag: \"677abc-fc5e048\"\nContent-Length: 264578120\n");
        let stored = Freshness::parse_headers_file(&file);
        assert!(remote.matches(&stored));
        let newer = Freshness {
            content_length: Some(264578121),
            ..remote.clone()
        };
        assert!(!newer.matches(&stored));
        assert!(
            !Freshness::default().matches(&Freshness::default()),
            "no headers means download again"
        );
    }
}
