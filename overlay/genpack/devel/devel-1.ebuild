# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

DESCRIPTION="Development tools inside a genpack image"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="metapackage"
SLOT="0"
KEYWORDS="amd64 arm64 riscv x86"

RDEPEND="
	sys-devel/gcc
	sys-devel/binutils
	dev-build/make
	dev-debug/gdb
	dev-vcs/git
	dev-util/pkgconf
"

src_install() {
	# genpack looks for this command to add @genpack-devel to the image's packages.
	newbin - genpack-devel <<-'EOS'
	#!/bin/sh
	echo "This image was built with development tools (genpack/devel)."
	EOS
}
