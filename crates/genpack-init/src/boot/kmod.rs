//! Loading the kernel modules shipped in the initramfs, in dependency order.

use std::fs::File;
use std::path::Path;

/// Inside the initramfs: the module files to load, one path per line, dependencies first.
pub const LOAD_ORDER_FILE: &str = "lib/modules/genpack-load-order";

/// `MODULE_INIT_COMPRESSED_FILE`: the kernel decompresses the module itself.
const MODULE_INIT_COMPRESSED_FILE: i32 = 4;

/// What happened to one module.
#[derive(Debug)]
pub enum LoadResult {
    /// Loaded now.
    Loaded,
    /// Already loaded (or built in under the same name).
    AlreadyLoaded,
    /// Failed with an error.
    Failed(std::io::Error),
}

/// Loads one module file with finit_module(2).
pub fn load(path: &Path) -> LoadResult {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return LoadResult::Failed(e),
    };
    let name = path.to_string_lossy();
    let flags = if name.ends_with(".ko") {
        0
    } else {
        MODULE_INIT_COMPRESSED_FILE
    };
    match rustix::system::finit_module(&file, c"", flags) {
        Ok(()) => LoadResult::Loaded,
        Err(rustix::io::Errno::EXIST) => LoadResult::AlreadyLoaded,
        Err(e) => LoadResult::Failed(e.into()),
    }
}

/// Loads every module listed in `root/LOAD_ORDER_FILE`; returns the failures (path, error).
pub fn load_all(root: &Path) -> Vec<(String, std::io::Error)> {
    let list = std::fs::read_to_string(root.join(LOAD_ORDER_FILE)).unwrap_or_default();
    let mut failures = Vec::new();
    for line in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let LoadResult::Failed(e) = load(&root.join(line)) {
            failures.push((line.to_string(), e));
        }
    }
    failures
}
