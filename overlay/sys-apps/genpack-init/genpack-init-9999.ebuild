# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

# Built from the genpack source tree itself, not from a release archive: the image build binds
# the repository read-only into the container and passes its path in GENPACK_SOURCE_DIR
# (/mnt/genpack-source by default). Like any live ebuild, crates are fetched in src_unpack,
# the only phase Portage lets reach the network; compilation then runs offline.

DESCRIPTION="Boot side of genpack images: initramfs init and the system.ini provisioner"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}/${P}"

LICENSE="MIT"
SLOT="0"
PROPERTIES="live"
# The workspace's tests need root, QEMU and network access; they run in the project's CI.
RESTRICT="test"

BDEPEND="|| ( dev-lang/rust-bin dev-lang/rust )"

QA_FLAGS_IGNORED="usr/bin/genpack-init usr/bin/genpack-initramfs-init"

src_unpack() {
	local source_dir=${GENPACK_SOURCE_DIR:-/mnt/genpack-source}
	if [[ ! -f ${source_dir}/Cargo.lock || ! -d ${source_dir}/crates/genpack-init ]]; then
		die "GENPACK_SOURCE_DIR=${source_dir} is not a genpack source tree; the build binds it there"
	fi
	mkdir -p "${S}" || die
	# Copy everything but build output, so the bound tree stays read-only and untouched.
	tar -C "${source_dir}" --exclude=./target --exclude=./node_modules --exclude=./ui/node_modules \
		-cf - . | tar -C "${S}" -xf - || die "copying the source tree failed"
	export CARGO_HOME="${WORKDIR}/cargo-home"
	cd "${S}" || die
	cargo fetch --locked || die "cargo fetch failed (the build container needs access to crates.io)"
}

src_compile() {
	export CARGO_HOME="${WORKDIR}/cargo-home"
	cargo build --release --offline --locked -p genpack-init \
		--bin genpack-init --bin genpack-initramfs-init || die "cargo build failed"
}

src_install() {
	dobin target/release/genpack-init target/release/genpack-initramfs-init
}
