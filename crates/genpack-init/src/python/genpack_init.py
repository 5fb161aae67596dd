"""The `genpack_init` API for system.ini modules written in Python.

Modules in /usr/lib/genpack-init/*.py define `configure(ini)` (a configparser.ConfigParser
holding system.ini, with the keys before any header in section "_default") or `configure()`,
and may use the helpers below. Paths honour GENPACK_INIT_ROOT so that a module can be tried
on an image tree with `genpack-init apply --root DIR`.
"""

import fcntl
import logging
import os
import pathlib
import struct
import subprocess

_ROOT = os.environ.get("GENPACK_INIT_ROOT", "/")
_coldplugged = False


def _base(*parts):
    return pathlib.PosixPath(_ROOT, *[p.lstrip("/") for p in parts])


def _join(base, a):
    if not a:
        return base
    return pathlib.PosixPath(base, a[0].lstrip("/"), *a[1:])


def root_path(*a):
    """A path in the system being configured."""
    return _join(_base(), a)


def boot_path(*a):
    """A path on the boot partition (/run/initramfs/boot)."""
    return _join(_base("run/initramfs/boot"), a)


def ro_path(*a):
    """A path in the read-only system image (/run/initramfs/ro)."""
    return _join(_base("run/initramfs/ro"), a)


def rw_path(*a):
    """A path on the writable layer (/run/initramfs/rw)."""
    return _join(_base("run/initramfs/rw"), a)


def _run(*command):
    logging.debug("running %s", " ".join(str(c) for c in command))
    try:
        return subprocess.call([str(c) for c in command])
    except OSError as e:
        logging.error("%s: %s", command[0], e)
        return 1


def coldplug():
    """Loads the kernel modules for all devices present (once per process)."""
    global _coldplugged
    if _coldplugged:
        return
    _coldplugged = True
    aliases = set()
    for dirpath, _dirs, files in os.walk("/sys/devices"):
        if "modalias" in files:
            try:
                with open(os.path.join(dirpath, "modalias")) as f:
                    alias = f.read().strip()
                if alias:
                    aliases.add(alias)
            except OSError:
                pass
    if not aliases:
        return
    try:
        out = subprocess.run(["/sbin/modprobe", "-a", "-q", "-R"] + sorted(aliases),
                             capture_output=True, text=True).stdout.split()
        modules = sorted(set(out))
        if modules:
            _run("/sbin/modprobe", "-a", "-b", *modules)
    except OSError as e:
        logging.error("coldplug: %s", e)


def get_block_device_info(path):
    """Name, sector sizes and size in logical sectors of a block device, or None."""
    BLKSSZGET, BLKPBSZGET, BLKGETSIZE64 = 0x1268, 0x127B, 0x80081272
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        lss = struct.unpack("i", fcntl.ioctl(fd, BLKSSZGET, b"\0" * 4))[0]
        pss = struct.unpack("I", fcntl.ioctl(fd, BLKPBSZGET, b"\0" * 4))[0]
        size = struct.unpack("Q", fcntl.ioctl(fd, BLKGETSIZE64, b"\0" * 8))[0]
    except OSError:
        return None
    finally:
        os.close(fd)
    return {"name": str(path), "logical_sector_size": lss, "physical_sector_size": pss,
            "num_logical_sectors": size // lss if lss else 0}


def get_partition_info(path):
    """UUID and filesystem type of a device (via blkid), or None."""
    try:
        out = subprocess.run(["blkid", "-o", "export", str(path)], capture_output=True, text=True)
    except OSError:
        return None
    if out.returncode != 0:
        return None
    values = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return {"name": str(path), "uuid": values.get("UUID"), "type": values.get("TYPE")}


def get_mount_info(path):
    """The mount holding `path`: {"source", "mountpoint", "fstype", "options"}, or None."""
    target = os.path.realpath(str(path))
    best = None
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                source, mountpoint, fstype, options = line.split()[:4]
                mountpoint = mountpoint.replace("\\040", " ")
                inside = target == mountpoint or target.startswith(mountpoint.rstrip("/") + "/")
                if inside and (best is None or len(mountpoint) >= len(best["mountpoint"])):
                    best = {"source": source, "mountpoint": mountpoint, "fstype": fstype,
                            "options": options}
    except OSError:
        return None
    return best


def parted(disk, command):
    return _run("parted", "--script", disk, *str(command).split())


def mkfs(device, fstype, label=None):
    return _run("mkfs." + fstype, *(["-L", label] if label else []), device)


def mkswap(device, label=None):
    return _run("mkswap", *(["-L", label] if label else []), device)


def mount(device, mountpoint, *, fstype=None, options=None):
    args = ["mount"]
    if fstype:
        args += ["-t", fstype]
    if options:
        args += ["-o", options]
    return _run(*args, device, mountpoint)


def umount(mountpoint):
    return _run("umount", mountpoint)


def _first_line(path):
    try:
        with open(path, errors="replace") as f:
            return f.readline().rstrip("\n\0")
    except OSError:
        return ""


def is_raspberry_pi():
    return _first_line("/sys/firmware/devicetree/base/model").startswith("Raspberry Pi")


def is_qemu():
    return _first_line("/sys/class/dmi/id/sys_vendor") == "QEMU"


def read_qemu_firmware_config(name):
    """Contents of a QEMU fw_cfg item (e.g. "opt/timezone") as text, or None."""
    path = os.path.join("/sys/firmware/qemu_fw_cfg/by_name", name, "raw")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


def _systemctl(action, name):
    args = ["systemctl"]
    if _ROOT != "/":
        args.append("--root=" + _ROOT)
    rc = _run(*args, action, name)
    if rc == 0:
        logging.info("%sd %s", action, name)
    else:
        logging.error("systemctl %s %s failed (%d)", action, name, rc)
    return rc


def enable_systemd_service(name):
    return _systemctl("enable", name)


def disable_systemd_service(name):
    return _systemctl("disable", name)


def chown(user, *paths, group=None, recursive=False):
    owner = f"{user}:{group}" if group else str(user)
    return _run("chown", *(["-R"] if recursive else []), owner, *paths)


def chgrp(group, *paths, recursive=False):
    return _run("chgrp", *(["-R"] if recursive else []), group, *paths)


def chmod(mode, *paths, recursive=False):
    return _run("chmod", *(["-R"] if recursive else []), str(mode), *paths)
