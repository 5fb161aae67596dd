# genpack studio: `make run` starts the studio, `make test` runs every check.
# Both install what is missing first (Debian 12; as an ordinary user through sudo, only for
# apt). `make deb` builds the Debian package.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
NPM ?= npm
export CARGO_TERM_COLOR ?= never

# System packages the build, the tests and the studio need.
APT_PACKAGES := \
	build-essential pkg-config curl ca-certificates git \
	libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev librsvg2-dev \
	libayatana-appindicator3-dev libgtk-3-dev libxdo-dev libudev-dev libssl-dev \
	webkit2gtk-driver xvfb xauth imagemagick fonts-dejavu-core \
	squashfs-tools mmdebstrap debootstrap systemd-container bubblewrap uidmap \
	grub-efi-amd64-bin grub-efi-ia32-bin grub-pc-bin grub-common xorriso dosfstools mtools \
	ovmf ovmf-ia32 qemu-efi-aarch64 seabios busybox-static linux-image-amd64 cpio zstd xz-utils btrfs-progs fdisk gdisk unzip libmagickcore-6.q16-6-extra \
	libseccomp-dev libcap-ng-dev \
	udisks2 polkitd dbus-daemon \
	openssh-client wireguard-tools wireguard-go smbclient borgbackup restic \
	python3-pip gnupg distcc
# Node.js and npm from Debian, only when no node is on PATH (these machines carry Node 20 already).
APT_NODE_PACKAGES := nodejs npm
# QEMU comes from bookworm-backports (QEMU 10), matching the qemu-utils these machines carry.
APT_BACKPORTS_PACKAGES := qemu-system-x86 qemu-system-arm qemu-utils
BACKPORTS_SOURCE := /etc/apt/sources.list.d/bookworm-backports.sources

TAURI_DRIVER := $(HOME)/.cargo/bin/tauri-driver
# virtiofsd shares an image tree with a VM (Run without packing); Debian 12 has no package of it.
VIRTIOFSD := $(HOME)/.cargo/bin/virtiofsd

.PHONY: help deps apt-deps cross-deps ui-deps tauri-driver virtiofsd arm64-boot-parts build ui studio cli run deb test lint lint-sources test-rust test-ui test-e2e test-deb test-bins test-appliances test-gentoo test-large-image test-boots clean

help:
	@echo "make run    install what is missing, build, start the studio"
	@echo "make test   install what is missing, run every check and test"
	@echo "make deb    build the Debian package of the studio and the genpack command"
	@echo "make test-appliances   build every ready-made appliance and prove it works (slow)"
	@echo "make test-gentoo   the slower Gentoo proofs (binhost, distcc, USE change, QEMU boot)"
	@echo "make test-large-image   a 4 GiB image boots from the data partition (needs 4.5 GiB free disk)"
	@echo "make test-boots   the Debian image booted every way a user can boot it (slow)"

## ---- dependencies -------------------------------------------------------

deps: apt-deps ui-deps tauri-driver virtiofsd

# Installs the missing system packages: directly as root, else through sudo (the only thing
# `make run` and `make test` ask sudo for).
apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	missing_bpo=$$(for p in $(APT_BACKPORTS_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if ! command -v qemu-system-x86_64 >/dev/null || ! command -v qemu-system-aarch64 >/dev/null; then missing_bpo="$(APT_BACKPORTS_PACKAGES)"; fi; \
	if ! command -v npm >/dev/null; then missing="$$missing $(APT_NODE_PACKAGES)"; fi; \
	missing=$$(echo $$missing); missing_bpo=$$(echo $$missing_bpo); \
	[ -n "$$missing$$missing_bpo" ] || exit 0; \
	sudo=; \
	if [ "$$(id -u)" != 0 ]; then \
	  command -v sudo >/dev/null || { echo "missing system packages: $$(echo $$missing $$missing_bpo); install them as root (sudo is not installed)" >&2; exit 1; }; \
	  sudo=sudo; echo "installing system packages with sudo: $$(echo $$missing $$missing_bpo)"; \
	else \
	  echo "installing: $$(echo $$missing $$missing_bpo)"; \
	fi; \
	if [ -n "$$missing_bpo" ] && [ ! -f $(BACKPORTS_SOURCE) ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then \
	  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' | $$sudo tee $(BACKPORTS_SOURCE) >/dev/null; \
	  $$sudo rm -f /var/lib/apt/lists/lock; \
	fi; \
	$$sudo apt-get update -q && \
	{ [ -z "$$missing" ] || $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; } && \
	{ [ -z "$$missing_bpo" ] || $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports $$missing_bpo; }

ui-deps: ui/node_modules/.package-lock.json

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && $(NPM) ci --no-audit --no-fund
	@touch $@

tauri-driver: $(TAURI_DRIVER)

virtiofsd: $(VIRTIOFSD)

$(VIRTIOFSD): | apt-deps
	$(CARGO) install virtiofsd --locked --version 1.14.0

# Debian's arm64 kernel, busybox and GRUB modules, for the test that boots an arm64 disk.
arm64-boot-parts:
	./scripts/fetch-arm64-boot-parts

$(TAURI_DRIVER):
	$(CARGO) install tauri-driver --locked --version 2.1.0 || $(CARGO) install tauri-driver --locked

## ---- build ----------------------------------------------------------------

# The window's files (ui/dist), built again only when a source of them changed.
UI_SOURCES = $(shell find ui/src ui/public -type f) ui/index.html ui/package.json \
	ui/vite.config.ts ui/svelte.config.js ui/tsconfig.json

ui: ui/dist/index.html

ui/dist/index.html: ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && $(NPM) run build
	@touch $@

cli:
	$(CARGO) build -p genpack-cli

studio: ui
	$(CARGO) build -p genpack-studio

build: apt-deps studio cli

run: deps build
	./scripts/run-studio

# The Debian package (release build): target/deb/genpack-studio_<version>_<arch>.deb. See
# scripts/make-deb for what it holds; `make test` installs and runs its debug twin (test-deb).
deb: apt-deps ui cross-deps
	$(CARGO) build --release -p genpack-studio -p genpack-cli --features genpack-studio/custom-protocol
	./scripts/make-deb

# The cross compiler and Rust target for the boot programs of the other architecture's images
# (aarch64 on amd64, x86_64 on arm64), which the package ships too.
cross-deps:
	@case $$(dpkg --print-architecture) in \
	  amd64) packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" target=aarch64-unknown-linux-gnu ;; \
	  arm64) packages="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" target=x86_64-unknown-linux-gnu ;; \
	  *) exit 0 ;; \
	esac; \
	missing=$$(for p in $$packages; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing: $$(echo $$missing)"; $$sudo apt-get install -y -q $$missing; \
	fi; \
	if command -v rustup >/dev/null; then rustup target add $$target; fi

## ---- tests ----------------------------------------------------------------

# `make test` compiles the workspace once: clippy-driver compiles the workspace's own crates
# (as under `cargo clippy`), so the lints are checked by the compile the tests use, and no
# dependency is compiled a second time in check mode (13 of a clean run's minutes on 2 cores).
LINTED := RUSTC_WORKSPACE_WRAPPER="$$(rustc --print sysroot)/bin/clippy-driver" \
	CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

test: deps ui
	./scripts/check-test-checkout
	$(MAKE) lint-sources
	$(MAKE) test-bins
	$(MAKE) test-rust
	$(MAKE) test-ui
	$(MAKE) test-e2e
	$(MAKE) test-deb

# Every lint on its own (make test runs clippy inside its compile, see LINTED).
lint: lint-sources
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Formatting and the UI's lint and type check.
lint-sources:
	$(CARGO) fmt --all -- --check
	cd ui && $(NPM) run lint && $(NPM) run check

# The tests in two halves at once, from one build: those that build real images
# (`needs_root_network` in their names: mmdebstrap, nspawn and emerge, then QEMU; mostly one
# core at a time) beside all the others, whose output follows when both halves are done.
test-rust: arm64-boot-parts
	$(LINTED) $(CARGO) test --workspace --no-run
	@others=$$(mktemp); \
	$(LINTED) $(CARGO) test --workspace --no-fail-fast -- --skip needs_root_network >$$others 2>&1 & pid=$$!; \
	$(LINTED) $(CARGO) test --workspace --no-fail-fast -- needs_root_network; builds=$$?; \
	wait $$pid; others_status=$$?; \
	echo "---- the other tests, run beside the image builds (exit status $$others_status):"; \
	cat $$others; rm -f $$others; \
	[ $$builds = 0 ] && [ $$others_status = 0 ]

test-ui:
	cd ui && $(NPM) test

test-e2e: test-bins
	./scripts/e2e

# The package of what test-e2e ran, installed with apt into a fresh Debian 12 root and started
# there as an ordinary user (about 3 minutes; scripts/test-deb).
test-deb: test-bins
	./scripts/test-deb

# The studio, the genpack command and the test bed in one build with the workspace's
# features, so test-rust uses the same compiled dependencies (built one package at a time,
# many of them would be compiled anew with other features).
test-bins: ui
	$(LINTED) $(CARGO) build --workspace --bins

# Builds every ready-made appliance of the gallery, boots it and checks it doing its job, one
# after another (about an hour and a half), and records the results: docs/appliances.md, the
# templates' `measured` numbers and docs/img/appliance-*.png. `make test` runs only the smallest,
# the WireGuard hub (CI time); alone: cargo test -p genpack-cli --test appliances wireguard
# The static boot programs are built from this checkout (not taken from a cache another
# checkout may have filled).
test-appliances: apt-deps
	GENPACK_RECORD_APPLIANCES=1 GENPACK_BOOT_BINARIES_DIR=$(CURDIR)/target/boot-binaries \
	  $(CARGO) test -p genpack-cli --test appliances -- --include-ignored --test-threads=1

# The install test that needs 4.5 GiB of free disk: an image over FAT32's 4 GiB limit goes on
# the btrfs data partition and boots from there (about 2 minutes; results in docs/install.md).
test-large-image: apt-deps
	$(CARGO) test -p genpack-install --test boot_qemu image_of_4_gib -- --include-ignored

# The slower Gentoo proofs (USE change, binhost, distcc, QEMU boot of a real-emerge image), one at
# a time, on the local mirror of scripts/make-test-gentoo; results go in docs/PERFORMANCE.md.
test-gentoo: apt-deps
	$(CARGO) test -p genpack-build --test gentoo_emerge -- --include-ignored --test-threads=1 --nocapture

# The real Debian image booted every other way a user can boot it: direct kernel with fw_cfg,
# OVMF and GRUB from a disk, SeaBIOS from GPT with a data partition, an ISO as a CD. make test
# boots each path with the small test image, and the Debian image once through OVMF and GRUB
# (about 4 minutes; results in docs/install.md).
test-boots: apt-deps
	$(CARGO) test -p genpack-build --test debian_image -- --include-ignored

clean:
	$(CARGO) clean
	rm -rf ui/dist ui/node_modules
