#!/usr/bin/env bash
# Measures the genpack build pipeline on the Debian template (needs root, network to
# deb.debian.org, squashfs-tools and qemu-system-x86):
#
#   - a full build (the lower is built only if the bench folder has none yet),
#   - a forced lower rebuild with the download cache warm (and how many .debs it fetched),
#   - a build with nothing changed (stamps compared, nothing runs),
#   - the image tree from scratch (every stage, FROM=packages), without packing,
#   - the pack phase against plain mksquashfs on the same tree with the same options, in the
#     same run,
#   - boot time to the login prompt (QEMU TCG, direct kernel boot, system.ini via fw_cfg).
#
# Usage: bench/build-bench.sh [BENCH_DIR]   (RUNS=3 by default)
# Prints a Markdown table; nothing here asserts on speed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bench_dir=${1:-${TMPDIR:-/tmp}/genpack-bench}
project=$bench_dir/debian-minimal
target=${CARGO_TARGET_DIR:-$repo/target}
runs=${RUNS:-3}

# BUILD_PROJECT may point at an already built `build_project` example.
if [ -z "${BUILD_PROJECT:-}" ]; then
    cargo build --quiet --release --manifest-path "$repo/Cargo.toml" -p genpack-build --example build_project
fi
build_project=${BUILD_PROJECT:-$target/release/examples/build_project}

mkdir -p "$project"
cp "$repo/templates/debian-minimal/genpack.json5" "$project/"
rm -rf "$project/files" && cp -r "$repo/templates/debian-minimal/files" "$project/files"

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
# Median of the arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

row() { printf '| %s | %s |\n' "$1" "$2"; }

echo "| measurement | seconds (median of $runs unless noted) |"
echo "|---|---|"

t=$(now); "$build_project" "$project" build >/dev/null 2>"$bench_dir/first-build.log"
row "first build in this folder (lower built if absent, single run)" "$(elapsed "$t")"

# A forced lower rebuild: every .deb should come from the download cache by now.
t=$(now); "$build_project" "$project" lower >"$bench_dir/lower.json" 2>/dev/null
row "lower rebuild, warm download cache (single run)" "$(elapsed "$t")"
row "packages downloaded by that rebuild" "$(sed -n 's/.*"downloaded_packages": \([0-9]*\).*/\1/p' "$bench_dir/lower.json")"

samples=(); for _ in $(seq "$runs"); do t=$(now); "$build_project" "$project" build >/dev/null 2>/dev/null; samples+=("$(elapsed "$t")"); done
row "build with nothing changed" "$(median "${samples[@]}")"

samples=(); for _ in $(seq "$runs"); do t=$(now); FROM=packages "$build_project" "$project" upper >/dev/null 2>/dev/null; samples+=("$(elapsed "$t")"); done
row "image tree from scratch (every stage, no pack)" "$(median "${samples[@]}")"

upper=$project/work/x86_64/upper
epoch=$(stat -c %Y "$project/genpack.json5")
pack=(); plain_same=(); plain_default=()
for _ in $(seq "$runs"); do
    t=$(now); "$build_project" "$project" pack >/dev/null 2>/dev/null; pack+=("$(elapsed "$t")")
    t=$(now); mksquashfs "$upper" "$bench_dir/plain.sqfs" -noappend -no-exports -no-progress -quiet -comp gzip -Xcompression-level 1 \
        -processors "$(nproc)" -mkfs-time "$epoch" -all-time "$epoch" >/dev/null; plain_same+=("$(elapsed "$t")")
    t=$(now); mksquashfs "$upper" "$bench_dir/plain.sqfs" -noappend -no-progress -quiet >/dev/null; plain_default+=("$(elapsed "$t")")
done
p=$(median "${pack[@]}"); s=$(median "${plain_same[@]}"); d=$(median "${plain_default[@]}")
row "genpack pack (gzip level 1, reproducible)" "$p"
row "plain mksquashfs, same tree and options" "$s"
row "plain mksquashfs, defaults (gzip level 9)" "$d"
row "ratio genpack pack / plain mksquashfs same options" "$(echo "scale=2; $p / $s" | bc)"
image=$(ls "$project"/*.squashfs | head -1)
row "image size (bytes)" "$(stat -c %s "$image")"
row "upper tree (bytes, du)" "$(du -sb "$upper" | cut -f1)"

# Boot: direct kernel boot until "<hostname> login:" on the serial console.
boot=$bench_dir/boot; rm -rf "$boot"; mkdir -p "$boot"
unsquashfs -q -no-progress -d "$boot/x" "$image" boot >/dev/null
printf 'hostname = benchboot\n' > "$boot/system.ini"
kernel=$(readlink -f "$boot/x/boot/kernel")
samples=()
for _ in $(seq "$runs"); do
    : > "$boot/serial.log"
    t=$(now)
    qemu-system-x86_64 -accel tcg -m 1024 -nographic -no-reboot -nodefaults -serial stdio \
        -kernel "$kernel" -initrd "$boot/x/boot/initramfs" -append "console=ttyS0,115200 root=block: panic=-1" \
        -drive "file=$image,format=raw,if=virtio,readonly=on" \
        -fw_cfg "name=opt/genpack/system.ini,file=$boot/system.ini" </dev/null >"$boot/serial.log" 2>&1 &
    qemu=$!
    until grep -aq "benchboot login:" "$boot/serial.log"; do
        if ! kill -0 "$qemu" 2>/dev/null; then echo "QEMU exited before the login prompt" >&2; exit 1; fi
        sleep 0.2
    done
    samples+=("$(elapsed "$t")")
    kill "$qemu"; wait "$qemu" 2>/dev/null || true
done
row "boot to login prompt (QEMU TCG, 1 vCPU, direct kernel)" "$(median "${samples[@]}")"
