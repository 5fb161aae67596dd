# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

# The boot programs are built the same way for every base: genpack compiles them statically
# from its own sources on the build machine (cached) and copies them into each image. For a
# Gentoo image this package installs those very programs, so Portage owns them: the build binds
# their folder read-only into the container and names it in GENPACK_BOOT_BINARIES
# (/mnt/genpack-boot by default). Nothing is compiled or downloaded here.

DESCRIPTION="Boot side of genpack images: initramfs init and the system.ini provisioner"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="MIT"
SLOT="0"
PROPERTIES="live"
RESTRICT="strip test"

QA_PREBUILT="usr/bin/genpack-init usr/bin/genpack-initramfs-init"

src_install() {
	local dir=${GENPACK_BOOT_BINARIES:-/mnt/genpack-boot}
	local program
	for program in genpack-init genpack-initramfs-init; do
		[[ -x ${dir}/${program} ]] ||
			die "${dir}/${program} is missing: genpack binds its static boot programs there (GENPACK_BOOT_BINARIES)"
	done
	dobin "${dir}"/genpack-init "${dir}"/genpack-initramfs-init
}
