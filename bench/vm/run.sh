#!/usr/bin/env bash
# Time from "run" to the first guest frame (the screen is no longer one flat colour, polled with
# QMP screendump) and to the login prompt on the serial console: `genpack vm run --detach`
# against a plain `qemu-system-x86_64 -kernel ... -initrd ...` of the same kernel, initramfs and
# image with the same display and input devices (those genpack gives an image whose kernel has
# virtio_input, as Debian's cloud kernel does), in the same run, alternating, ROUNDS times. Both use TCG
# on machines without working KVM.
#
#   bench/vm/run.sh IMAGE.squashfs [ROUNDS]
#
# Prints one line per boot and the medians with their ratios (ours / plain).
set -euo pipefail
image=$(realpath "$1")
rounds=${2:-3}
here=$(cd "$(dirname "$0")/../.." && pwd)
genpack=${GENPACK:-$here/target/release/genpack}
[ -x "$genpack" ] || { cargo build --release -p genpack-cli --manifest-path "$here/Cargo.toml" >&2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'hostname=benchvm\n' > "$work/system.ini"

# Kernel and initramfs as genpack extracts them (unsquashfs follows the /boot links).
unsquashfs -q -d "$work/root" "$image" boot >/dev/null
kernel=$(realpath "$work/root/boot/kernel")
initramfs=$(realpath "$work/root/boot/initramfs")

wait_for_login() { # LOGFILE -> seconds on stdout
  local log=$1 start=$2
  for _ in $(seq 1 3000); do
    if grep -q "login:" "$log" 2>/dev/null; then
      echo "$(date +%s.%N) - $start" | bc
      return 0
    fi
    sleep 0.1
  done
  echo "no login prompt in $log" >&2
  return 1
}

first_frame() { # QMP_SOCKET START -> seconds on stdout
  python3 "$here/bench/vm/first_frame.py" "$1" "$2"
}

ours=() plain=() ours_frame=() plain_frame=()
for round in $(seq 1 "$rounds"); do
  name="bench-$$-$round"
  start=$(date +%s.%N)
  "$genpack" vm run "$image" --name "$name" --system-ini "$work/system.ini" -m 1024 --accel tcg --net none --detach 2>/dev/null
  dir=$("$genpack" vm show "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)["runtime_dir"])')
  f=$(first_frame "$dir/qmp.sock" "$start")
  t=$(wait_for_login "$dir/console.log" "$start")
  "$genpack" vm stop -f "$name" >/dev/null
  ours+=("$t") ours_frame+=("$f"); echo "genpack vm run: first frame $f s, login prompt $t s"

  log="$work/plain-$round.log"
  start=$(date +%s.%N)
  qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -m 1024M -nodefaults -no-user-config \
    -display none -serial "file:$log" -kernel "$kernel" -initrd "$initramfs" \
    -append "root=block: ro console=tty0 console=ttyS0,115200 genpack.transient=1" \
    -drive "file=$image,if=virtio,format=raw,readonly=on" \
    -fw_cfg "name=opt/genpack/system.ini,file=$work/system.ini" -device virtio-rng-pci \
    -device virtio-vga -device virtio-keyboard-pci -device virtio-tablet-pci \
    -vnc "unix:$work/vnc-$round.sock" \
    -qmp "unix:$work/qmp-$round.sock,server=on,wait=off" &
  qemu=$!
  f=$(first_frame "$work/qmp-$round.sock" "$start")
  t=$(wait_for_login "$log" "$start")
  kill "$qemu"; wait "$qemu" 2>/dev/null || true
  plain+=("$t") plain_frame+=("$f"); echo "plain qemu -kernel: first frame $f s, login prompt $t s"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
f_ours=$(median "${ours_frame[@]}"); f_plain=$(median "${plain_frame[@]}")
echo "median to first frame: genpack vm run $f_ours s, plain qemu $f_plain s, ratio $(echo "scale=2; $f_ours / $f_plain" | bc)"
m_ours=$(median "${ours[@]}"); m_plain=$(median "${plain[@]}")
echo "median to login prompt: genpack vm run $m_ours s, plain qemu $m_plain s, ratio $(echo "scale=2; $m_ours / $m_plain" | bc)"
