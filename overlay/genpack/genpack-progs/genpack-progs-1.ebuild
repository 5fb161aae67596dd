# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

inherit genpack-ignore

DESCRIPTION="Helpers genpack runs inside the build container (never part of an image)"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64 arm64 riscv x86"

RDEPEND="
	app-portage/gentoolkit
	sys-apps/portage
"

src_install() {
	dobin "${FILESDIR}"/genpack-break-circular-dep
	dobin "${FILESDIR}"/genpack-unmerge-masked-packages
}
