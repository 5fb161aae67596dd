#!/bin/sh
# Flashing benchmark: genpack-drive's write+verify against dd + cmp, on a loop device.
#
# A 1 GiB image of random data (generated once) is written to a loop device backed by a
# sparse 4 GiB file (the "stick"), alternately by
#   ours: flash_image (O_DIRECT, double-buffered, partition table last, read-back verify)
#   dd:   dd if=img of=/dev/loopN bs=4M oflag=direct conv=fsync && cmp -n SIZE img /dev/loopN
# ROUNDS times each, and the median times and their ratio are printed. Needs root.
#
# Environment: WORK (scratch dir, default /var/tmp/genpack-flash-bench), ROUNDS (default 3),
# LOOP_DIO (on: the loop device writes its file with direct I/O, so the disk's speed counts
# rather than the page cache's; default off), COLD (1: drop the image from the page cache
# before every run, as for an image not read recently; default 0), CARGO_TARGET_DIR
# (default /work/targets/drive).
set -eu

WORK=${WORK:-/var/tmp/genpack-flash-bench}
ROUNDS=${ROUNDS:-3}
TARGET=${CARGO_TARGET_DIR:-/work/targets/drive}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
IMAGE_MIB=1024
STICK_MIB=4096

[ "$(id -u)" = 0 ] || { echo "run as root (loop devices)" >&2; exit 1; }
mkdir -p "$WORK"
IMG=$WORK/image.img
STICK=$WORK/stick.img

(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --quiet --release -p genpack-drive --example flash_image)
FLASH=$TARGET/release/examples/flash_image

if [ ! -f "$IMG" ] || [ "$(stat -c %s "$IMG")" != $((IMAGE_MIB << 20)) ]; then
    echo "generating $IMG ($IMAGE_MIB MiB from /dev/urandom)" >&2
    dd if=/dev/urandom of="$IMG" bs=4M count=$((IMAGE_MIB / 4)) status=none
fi
rm -f "$STICK"
truncate -s ${STICK_MIB}M "$STICK"
LOOP=$(losetup -f --show --direct-io="${LOOP_DIO:-off}" "$STICK")
trap 'losetup -d "$LOOP"; rm -f "$STICK"' EXIT INT TERM

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$WORK/ours.times"
: >"$WORK/dd.times"
: >"$WORK/ddw.times"
: >"$WORK/cmp.times"
drop_image_cache() {
    if [ "${COLD:-0}" = 1 ]; then dd if="$IMG" iflag=nocache count=0 status=none; fi
}
ours_run() {
    drop_image_cache
    t0=$(now)
    "$FLASH" "$IMG" "$LOOP" >"$WORK/ours.out" 2>/dev/null
    t1=$(now)
    awk "BEGIN { print $t1 - $t0 }" >>"$WORK/ours.times"
}
dd_run() {
    drop_image_cache
    t0=$(now)
    dd if="$IMG" of="$LOOP" bs=4M oflag=direct conv=fsync status=none
    t1=$(now)
    cmp -n $((IMAGE_MIB << 20)) "$IMG" "$LOOP"
    t2=$(now)
    awk "BEGIN { print $t2 - $t0 }" >>"$WORK/dd.times"
    awk "BEGIN { print $t1 - $t0 }" >>"$WORK/ddw.times"
    awk "BEGIN { print $t2 - $t1 }" >>"$WORK/cmp.times"
}
# Fill the sparse stick once so neither side pays for first allocation.
dd if="$IMG" of="$LOOP" bs=4M oflag=direct conv=fsync status=none
i=1
while [ $i -le "$ROUNDS" ]; do
    # Alternate who goes first, so neither always meets the other's leftovers.
    if [ $((i % 2)) = 1 ]; then ours_run; dd_run; else dd_run; ours_run; fi
    echo "round $i: ours $(tail -n1 "$WORK/ours.times") s ($(cat "$WORK/ours.out")), dd $(tail -n1 "$WORK/ddw.times") s + cmp $(tail -n1 "$WORK/cmp.times") s" >&2
    i=$((i + 1))
done

ours=$(median <"$WORK/ours.times")
dd=$(median <"$WORK/dd.times")
written=$(sed -n 's/.*bytes_written=\([0-9]*\).*/\1/p' "$WORK/ours.out")
stick=$((STICK_MIB << 20))
echo "image: $IMAGE_MIB MiB random; stick: $STICK_MIB MiB loop device (direct-io=${LOOP_DIO:-off}), image $([ "${COLD:-0}" = 1 ] && echo "dropped from the page cache before each run" || echo "in the page cache") on $(df --output=source "$WORK" | tail -n1)"
echo "dd alone (no verify), median: $(median <"$WORK/ddw.times") s; cmp alone: $(median <"$WORK/cmp.times") s"
echo "write+verify, median of $ROUNDS: ours $ours s, dd+cmp $dd s, ratio ours/dd = $(awk "BEGIN { printf \"%.2f\", $ours / $dd }")"
echo "bytes written: ours $written, whole-stick raw image $stick, ratio = $(awk "BEGIN { printf \"%.3f\", $written / $stick }")"
