//! Resolving kernel modules and their dependencies from `modules.dep`.

use std::collections::BTreeMap;

/// The parsed `modules.dep` of one kernel: module path -> dependency paths, plus the
/// `pre:` soft dependencies of `modules.softdep` (e.g. btrfs needs a crc32c provider) resolved
/// through the plain aliases of `modules.alias`.
#[derive(Clone, Debug, Default)]
pub struct ModuleDeps {
    deps: BTreeMap<String, Vec<String>>,
    by_name: BTreeMap<String, String>,
    soft_pre: BTreeMap<String, Vec<String>>,
    aliases: BTreeMap<String, Vec<String>>,
}

/// Module names compare with `-` and `_` equal.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a path such as `kernel/fs/fat/vfat.ko.xz`.
pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    normalize(stem)
}

impl ModuleDeps {
    /// Parses `modules.dep` text (`path: dep dep ...`).
    pub fn parse(text: &str) -> Self {
        let mut me = Self::default();
        for line in text.lines() {
            let Some((path, deps)) = line.split_once(':') else {
                continue;
            };
            let path = path.trim().to_string();
            me.by_name.insert(module_name(&path), path.clone());
            me.deps
                .insert(path, deps.split_whitespace().map(str::to_string).collect());
        }
        me
    }

    /// Adds `modules.softdep` (`softdep NAME pre: A B post: C`) and the plain (non-wildcard)
    /// aliases of `modules.alias` (`alias NAME MODULE`).
    pub fn with_soft_dependencies(mut self, softdep: &str, alias: &str) -> Self {
        for line in softdep.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("softdep") {
                continue;
            }
            let Some(module) = words.next() else {
                continue;
            };
            let mut in_pre = false;
            for w in words {
                match w {
                    "pre:" => in_pre = true,
                    "post:" => in_pre = false,
                    name if in_pre => self
                        .soft_pre
                        .entry(normalize(module))
                        .or_default()
                        .push(name.to_string()),
                    _ => {}
                }
            }
        }
        for line in alias.lines() {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(name), Some(module)) =
                (words.next(), words.next(), words.next())
            {
                if !name.contains(['*', '?', '[']) {
                    self.aliases
                        .entry(name.to_string())
                        .or_default()
                        .push(normalize(module));
                }
            }
        }
        self
    }

    /// Module paths providing `name` (a module name or a plain alias).
    fn providers(&self, name: &str) -> Vec<String> {
        if let Some(path) = self.path_of(name) {
            return vec![path.to_string()];
        }
        self.aliases
            .get(name)
            .map(|mods| {
                mods.iter()
                    .filter_map(|m| self.path_of(m))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The path of a module by name.
    pub fn path_of(&self, name: &str) -> Option<&str> {
        self.by_name.get(&normalize(name)).map(String::as_str)
    }

    /// The module and everything it needs, dependencies first, each once; appended to
    /// `order`.
    pub fn resolve_into(&self, path: &str, order: &mut Vec<String>) {
        if order.iter().any(|p| p == path) {
            return;
        }
        // Guard against cycles: mark as visiting by checking depth through a stack.
        let mut stack = vec![path.to_string()];
        self.visit(path, order, &mut stack);
    }

    fn visit(&self, path: &str, order: &mut Vec<String>, stack: &mut Vec<String>) {
        // Soft "pre" dependencies first (e.g. a crc32c implementation before libcrc32c).
        let soft: Vec<String> = self
            .soft_pre
            .get(&module_name(path))
            .map(|names| names.iter().flat_map(|n| self.providers(n)).collect())
            .unwrap_or_default();
        // modules.dep lists the full closure, last-needed first; load in reverse.
        let hard = self.deps.get(path).cloned().unwrap_or_default();
        {
            let deps: Vec<&String> = soft.iter().chain(hard.iter().rev()).collect();
            for dep in deps {
                if order.iter().any(|p| p == dep) || stack.iter().any(|p| p == dep) {
                    continue;
                }
                stack.push(dep.clone());
                self.visit(dep, order, stack);
                stack.pop();
            }
        }
        if !order.iter().any(|p| p == path) {
            order.push(path.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_first() {
        let deps = ModuleDeps::parse(
            "kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\nkernel/fs/fat/fat.ko:\nkernel/drivers/usb/storage/uas.ko: kernel/drivers/usb/storage/usb-storage.ko kernel/drivers/scsi/scsi_mod.ko\nkernel/drivers/usb/storage/usb-storage.ko: kernel/drivers/scsi/scsi_mod.ko\nkernel/drivers/scsi/scsi_mod.ko:\n",
        );
        let mut order = Vec::new();
        deps.resolve_into(deps.path_of("vfat").unwrap(), &mut order);
        deps.resolve_into(deps.path_of("uas").unwrap(), &mut order);
        assert_eq!(
            order,
            [
                "kernel/fs/fat/fat.ko",
                "kernel/fs/fat/vfat.ko",
                "kernel/drivers/scsi/scsi_mod.ko",
                "kernel/drivers/usb/storage/usb-storage.ko",
                "kernel/drivers/usb/storage/uas.ko"
            ]
        );
        assert_eq!(
            deps.path_of("usb_storage"),
            Some("kernel/drivers/usb/storage/usb-storage.ko")
        );
    }

    #[test]
    fn soft_dependencies_resolve_through_aliases_and_load_first() {
        let deps = ModuleDeps::parse(
            "kernel/lib/libcrc32c.ko:\nkernel/fs/btrfs/btrfs.ko: kernel/lib/libcrc32c.ko\nkernel/crypto/crc32c_generic.ko:\n",
        )
        .with_soft_dependencies(
            "softdep libcrc32c pre: crc32c\nsoftdep btrfs pre: crypto-crc32c sha256\n",
            "alias crypto-crc32c crc32c_generic\nalias crc32c crc32c_generic\nalias pci:v*d* ahci\n",
        );
        let mut order = Vec::new();
        deps.resolve_into(deps.path_of("btrfs").unwrap(), &mut order);
        assert_eq!(
            order,
            [
                "kernel/crypto/crc32c_generic.ko",
                "kernel/lib/libcrc32c.ko",
                "kernel/fs/btrfs/btrfs.ko"
            ]
        );
    }
}
