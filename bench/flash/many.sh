#!/bin/sh
# Many sticks at once: one image written and verified to N loop devices at once (the image
# read once, `write_to_all`) against the same N writes one after the other, and against the
# plain tools doing the same (N `dd` + `cmp` one after the other, and N at once).
#
# A raw image of random data (generated once) and N sparse files attached as loop devices
# (the "sticks"). Each round runs, in an order that changes every round:
#   at once:     flash_many IMG LOOP1 ... LOOPN            (one process, all drives at once)
#   sequential:  flash_many IMG LOOPi, for i = 1..N        (the same code, one drive at a time)
#   dd at once:  N × (dd if=IMG of=LOOPi bs=4M oflag=direct conv=fsync && cmp -n SIZE IMG LOOPi) &, wait
#   dd seq:      the same, one after the other
# Medians over ROUNDS and the ratios are printed. Needs root.
#
# Environment: N (sticks, default 3), IMAGE_MIB (default 512), ROUNDS (default 3),
# LOOP_DIO (on: the loop devices write their files with direct I/O, so the disk's speed counts
# rather than the page cache's; default off), WORK (scratch dir, default
# /var/tmp/genpack-flash-many), CARGO_TARGET_DIR (default: the repository's target/).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${N:-3}
IMAGE_MIB=${IMAGE_MIB:-512}
ROUNDS=${ROUNDS:-3}
WORK=${WORK:-/var/tmp/genpack-flash-many}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
STICK_MIB=$((IMAGE_MIB * 2))

[ "$(id -u)" = 0 ] || { echo "run as root (loop devices)" >&2; exit 1; }
mkdir -p "$WORK"
IMG=$WORK/image.img

(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --quiet --release -p genpack-drive --example flash_many)
FLASH=$TARGET/release/examples/flash_many

if [ ! -f "$IMG" ] || [ "$(stat -c %s "$IMG")" != $((IMAGE_MIB << 20)) ]; then
    echo "generating $IMG ($IMAGE_MIB MiB from /dev/urandom)" >&2
    dd if=/dev/urandom of="$IMG" bs=4M count=$((IMAGE_MIB / 4)) status=none
fi

LOOPS=""
cleanup() {
    for loop in $LOOPS; do losetup -d "$loop" 2>/dev/null || true; done
    rm -f "$WORK"/stick-*.img
}
trap cleanup EXIT INT TERM
i=1
while [ $i -le "$N" ]; do
    rm -f "$WORK/stick-$i.img"
    truncate -s ${STICK_MIB}M "$WORK/stick-$i.img"
    LOOPS="$LOOPS $(losetup -f --show --direct-io="${LOOP_DIO:-off}" "$WORK/stick-$i.img")"
    i=$((i + 1))
done
# Fill every stick once so no side pays for first allocation.
for loop in $LOOPS; do dd if="$IMG" of="$loop" bs=4M oflag=direct conv=fsync status=none; done

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
elapsed() { awk "BEGIN { print $2 - $1 }"; }
for name in once seq ddonce ddseq; do : >"$WORK/$name.times"; done

once_run() {
    t0=$(now)
    # shellcheck disable=SC2086 # one argument per loop device
    "$FLASH" "$IMG" $LOOPS >"$WORK/once.out"
    elapsed "$t0" "$(now)" >>"$WORK/once.times"
}
seq_run() {
    t0=$(now)
    for loop in $LOOPS; do "$FLASH" "$IMG" "$loop" >"$WORK/seq.out"; done
    elapsed "$t0" "$(now)" >>"$WORK/seq.times"
}
dd_one() {
    dd if="$IMG" of="$1" bs=4M oflag=direct conv=fsync status=none
    cmp -n $((IMAGE_MIB << 20)) "$IMG" "$1"
}
ddonce_run() {
    t0=$(now)
    pids=""
    for loop in $LOOPS; do dd_one "$loop" & pids="$pids $!"; done
    for pid in $pids; do wait "$pid"; done
    elapsed "$t0" "$(now)" >>"$WORK/ddonce.times"
}
ddseq_run() {
    t0=$(now)
    for loop in $LOOPS; do dd_one "$loop"; done
    elapsed "$t0" "$(now)" >>"$WORK/ddseq.times"
}

r=1
while [ $r -le "$ROUNDS" ]; do
    # Rotate the order, so no side always meets the others' leftovers.
    case $((r % 4)) in
        1) order="once seq ddonce ddseq" ;;
        2) order="seq ddseq once ddonce" ;;
        3) order="ddonce once ddseq seq" ;;
        0) order="ddseq ddonce seq once" ;;
    esac
    for name in $order; do "${name}_run"; done
    echo "round $r: at once $(tail -n1 "$WORK/once.times") s, sequential $(tail -n1 "$WORK/seq.times") s, dd+cmp at once $(tail -n1 "$WORK/ddonce.times") s, dd+cmp sequential $(tail -n1 "$WORK/ddseq.times") s" >&2
    r=$((r + 1))
done

once=$(median <"$WORK/once.times")
seq=$(median <"$WORK/seq.times")
ddonce=$(median <"$WORK/ddonce.times")
ddseq=$(median <"$WORK/ddseq.times")
echo "image: $IMAGE_MIB MiB random; $N sticks: ${STICK_MIB} MiB loop devices (direct-io=${LOOP_DIO:-off}); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
grep -c ' ok ' "$WORK/once.out" | xargs -I{} echo "drives verified in the last at-once run: {} of $N"
echo "write+verify $N sticks, median of $ROUNDS: at once $once s, one after the other $seq s, ratio at once/sequential = $(awk "BEGIN { printf \"%.2f\", $once / $seq }")"
echo "plain tools (dd + cmp): at once $ddonce s, one after the other $ddseq s, ratio = $(awk "BEGIN { printf \"%.2f\", $ddonce / $ddseq }")"
echo "ours at once / dd+cmp at once = $(awk "BEGIN { printf \"%.2f\", $once / $ddonce }")"
