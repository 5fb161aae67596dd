//! vsock context ids: each VM gets a stable CID derived from the user and the VM name.

use sha2::{Digest, Sha256};

/// The CID of VM `name` for user `uid`: the first four bytes of SHA-256(`"<uid>:<name>"`),
/// big-endian, modulo 4294967293, plus 3. Always in 3..=0xFFFF_FFFE (0-2 are reserved and
/// 0xFFFF_FFFF means "any").
pub fn cid_for(uid: u32, name: &str) -> u32 {
    let digest = Sha256::digest(format!("{uid}:{name}").as_bytes());
    let first = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (first % 4_294_967_293) + 3
}

/// The CID of VM `name` for the current user.
pub fn cid_for_current_user(name: &str) -> u32 {
    // SAFETY: geteuid has no preconditions.
    cid_for(unsafe { libc::geteuid() }, name)
}

/// Whether the host can give guests a vsock device.
pub fn host_has_vsock() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/vhost-vsock")
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_is_stable_distinct_and_never_reserved() {
        assert_eq!(cid_for(1000, "web"), cid_for(1000, "web"));
        assert_ne!(cid_for(1000, "web"), cid_for(1001, "web"));
        for name in ["a", "b", "c", "web", "db", "x-1"] {
            let cid = cid_for(0, name);
            assert!((3..=0xFFFF_FFFE).contains(&cid), "{name}: {cid}");
        }
    }
}
