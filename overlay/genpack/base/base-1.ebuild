# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

DESCRIPTION="What every genpack image carries: kernel, genpack-init, systemd and core tools"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="metapackage"
SLOT="0"
KEYWORDS="amd64 arm64 riscv x86"
IUSE="+audit +btrfs +cron +logrotate +sshd +strace +tcpdump +vi +wireguard +xfs"

RDEPEND="
	sys-apps/genpack-init
	virtual/dist-kernel
	sys-apps/systemd
	sys-apps/util-linux
	sys-apps/kmod
	sys-apps/iproute2
	net-misc/iputils
	sys-process/procps
	sys-apps/less
	sys-fs/e2fsprogs
	sys-fs/dosfstools
	sys-fs/squashfs-tools
	app-arch/zstd
	app-misc/ca-certificates
	net-misc/curl
	audit? ( sys-process/audit )
	btrfs? ( sys-fs/btrfs-progs )
	cron? ( sys-process/cronie )
	logrotate? ( app-admin/logrotate )
	sshd? ( net-misc/openssh )
	strace? ( dev-debug/strace )
	tcpdump? ( net-analyzer/tcpdump )
	vi? ( app-editors/vim )
	wireguard? ( net-vpn/wireguard-tools )
	xfs? ( sys-fs/xfsprogs )
"
