#!/usr/bin/env bash
# The edit -> build -> boot loop on the Debian template, each number next to the tool a user
# would otherwise run, measured in the same run (needs root, network to deb.debian.org,
# squashfs-tools, mmdebstrap, qemu-system-x86 and virtiofsd for the tree preview):
#
#   - no-op `genpack build` (nothing changed),
#   - a files/-only change -> new image (`genpack build`),
#   - a files/-only change -> login prompt: `genpack upper` + `genpack vm run --tree` against
#     `genpack build` + `genpack vm run IMAGE.squashfs`,
#   - `genpack pack` against plain mksquashfs on the same tree with the same options,
#   - a cold build (download cache warm, new folder) against mmdebstrap of the same package
#     set with the same cache plus mksquashfs with the same options.
#
# Usage: bench/incremental-bench.sh [BENCH_DIR]   (RUNS=5, BOOT_RUNS=2, COLD_RUNS=2 by default)
# Prints a Markdown table; nothing here asserts on speed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bench_dir=${1:-${TMPDIR:-/tmp}/genpack-incremental-bench}
runs=${RUNS:-5}
boot_runs=${BOOT_RUNS:-2}
cold_runs=${COLD_RUNS:-2}
target=${CARGO_TARGET_DIR:-$repo/target}

# GENPACK may point at an already built genpack binary.
if [ -z "${GENPACK:-}" ]; then
    cargo build --quiet --release --manifest-path "$repo/Cargo.toml" -p genpack-cli
fi
genpack=${GENPACK:-$target/release/genpack}

project=$bench_dir/debian-minimal
mkdir -p "$project"
cp "$repo/templates/debian-minimal/genpack.json5" "$project/"
rm -rf "$project/files" && cp -r "$repo/templates/debian-minimal/files" "$project/files"
gp() { (cd "$project" && "$genpack" "$@"); }

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { echo "scale=2; $1 / $2" | bc; }
row() { printf '| %s | %s |\n' "$1" "$2"; }
touch_files() { echo "edited $(now)" >> "$project/files/etc/motd"; }

echo "| measurement | seconds (median of the runs noted) |"
echo "|---|---|"

gp build >/dev/null 2>"$bench_dir/first-build.log"

# 1. Nothing changed.
samples=(); for _ in $(seq "$runs"); do t=$(now); gp build >/dev/null 2>&1; samples+=("$(elapsed "$t")"); done
row "no-op \`genpack build\` ($runs runs)" "$(median "${samples[@]}")"

# 2. A files/-only change to a new image.
samples=(); for _ in $(seq "$runs"); do touch_files; t=$(now); gp build >/dev/null 2>&1; samples+=("$(elapsed "$t")"); done
row "files/-only change -> new image, \`genpack build\` ($runs runs)" "$(median "${samples[@]}")"
samples=(); for _ in $(seq "$runs"); do touch_files; t=$(now); gp upper >/dev/null 2>&1; samples+=("$(elapsed "$t")"); done
row "files/-only change -> new image tree, \`genpack upper\` ($runs runs)" "$(median "${samples[@]}")"

# 3. A files/-only change to the login prompt: tree preview against packing and booting.
printf 'hostname = benchloop\n' > "$bench_dir/system.ini"
vm=bench-loop-$$
login() {  # login NAME: waits for the prompt on the VM's serial console, then stops the VM.
    local log deadline=$((SECONDS + 900))
    log=$(gp vm show "$1" | sed -n 's/.*"console_log": "\(.*\)".*/\1/p' | head -1)
    until grep -aq "benchloop login:" "$log" 2>/dev/null; do
        if [ "$SECONDS" -gt "$deadline" ]; then echo "no login prompt from $1" >&2; gp vm stop -f "$1"; exit 1; fi
        sleep 0.2
    done
    gp vm stop -f "$1" >/dev/null
}
tree=(); image=()
for _ in $(seq "$boot_runs"); do
    touch_files; t=$(now)
    gp upper >/dev/null 2>&1
    gp vm run --tree --name "$vm" --no-display --net none -m 1024 --accel tcg \
        --system-ini "$bench_dir/system.ini" --detach >/dev/null 2>&1
    login "$vm"; tree+=("$(elapsed "$t")")
    touch_files; t=$(now)
    gp build >/dev/null 2>&1
    gp vm run "$project/debian-minimal-x86_64.squashfs" --name "$vm" --no-display --net none -m 1024 \
        --accel tcg --system-ini "$bench_dir/system.ini" --detach >/dev/null 2>&1
    login "$vm"; image+=("$(elapsed "$t")")
done
tr=$(median "${tree[@]}"); im=$(median "${image[@]}")
row "files/-only change -> login prompt, \`genpack upper\` + \`vm run --tree\` ($boot_runs runs, TCG)" "$tr"
row "files/-only change -> login prompt, \`genpack build\` + \`vm run IMAGE\` ($boot_runs runs, TCG)" "$im"
row "ratio tree preview / packed image" "$(ratio "$tr" "$im")"

# 4. Pack against plain mksquashfs, same tree and options (gzip level 1, fixed times).
upper=$project/work/x86_64/upper
epoch=$(stat -c %Y "$project/genpack.json5")
ours=(); plain=()
for _ in $(seq "$runs"); do
    t=$(now); gp pack >/dev/null 2>&1; ours+=("$(elapsed "$t")")
    t=$(now)
    mksquashfs "$upper" "$bench_dir/plain.sqfs" -noappend -no-exports -comp gzip -Xcompression-level 1 \
        -processors "$(nproc)" -mkfs-time "$epoch" -all-time "$epoch" -quiet -no-progress >/dev/null
    plain+=("$(elapsed "$t")")
done
o=$(median "${ours[@]}"); p=$(median "${plain[@]}")
row "\`genpack pack\` ($runs runs)" "$o"
row "plain mksquashfs, same tree and options ($runs runs)" "$p"
row "ratio genpack pack / plain mksquashfs" "$(ratio "$o" "$p")"
if cmp -s "$project/debian-minimal-x86_64.squashfs" "$bench_dir/plain.sqfs"; then
    row "same bytes as plain mksquashfs" "yes"
else
    row "same bytes as plain mksquashfs" "no"
fi

# 5. Cold build in a new folder (download cache warm) against mmdebstrap + mksquashfs.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/genpack/debian/archives
cold=(); floor=()
for i in $(seq "$cold_runs"); do
    fresh=$bench_dir/cold-$i
    rm -rf "$fresh"; mkdir -p "$fresh"
    cp "$project/genpack.json5" "$fresh/"; cp -r "$repo/templates/debian-minimal/files" "$fresh/files"
    t=$(now); (cd "$fresh" && "$genpack" build >/dev/null 2>&1); cold+=("$(elapsed "$t")")
    # The same package set as genpack's lower, from the command it ran.
    include=$(sed -n 's/.*--include=\([^ ]*\).*/\1/p' "$fresh/work/x86_64/logs/lower.log" | head -1)
    rm -rf "$fresh"
    root=$bench_dir/mmdebstrap-root
    rm -rf "$root"
    t=$(now)
    mmdebstrap --quiet --variant=apt --include="$include" --skip=essential/unlink \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
        --setup-hook="sync-in $cache /var/cache/apt/archives/" \
        bookworm "$root" http://deb.debian.org/debian >/dev/null 2>&1
    mksquashfs "$root" "$bench_dir/mmdebstrap.sqfs" -noappend -no-exports -comp gzip -Xcompression-level 1 \
        -quiet -no-progress >/dev/null
    floor+=("$(elapsed "$t")")
    rm -rf "$root"
done
c=$(median "${cold[@]}"); f=$(median "${floor[@]}")
row "cold \`genpack build\` in a new folder, download cache warm ($cold_runs runs)" "$c"
row "mmdebstrap of the same packages (same cache) + mksquashfs ($cold_runs runs)" "$f"
row "ratio cold genpack build / mmdebstrap + mksquashfs" "$(ratio "$c" "$f")"
row "load average at the end" "$(cut -d' ' -f1-3 /proc/loadavg)"
