# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

DESCRIPTION="Images that run as virtual machines (QEMU/KVM guests)"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="metapackage"
SLOT="0"
KEYWORDS="amd64 arm64 riscv x86"

RDEPEND="
	!genpack/systemimg
	app-emulation/qemu-guest-agent
	net-misc/socat
"
