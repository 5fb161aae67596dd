# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

DESCRIPTION="Images that boot from a USB stick or disk through the genpack system image"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="metapackage"
SLOT="0"
KEYWORDS="amd64 arm64 riscv x86"
IUSE="baremetal"

RDEPEND="
	!genpack/paravirt
	sys-boot/grub
	sys-fs/mtools
	sys-apps/gptfdisk
	baremetal? (
		sys-kernel/linux-firmware
		sys-apps/pciutils
		sys-apps/usbutils
		sys-apps/ethtool
		sys-apps/smartmontools
		sys-apps/hdparm
		sys-apps/nvme-cli
		sys-apps/lm-sensors
		amd64? ( sys-firmware/intel-microcode )
		x86? ( sys-firmware/intel-microcode )
	)
"

src_install() {
	# A serial console that is absent or broken must not leave a getty restarting forever.
	insinto /usr/lib/systemd/system/serial-getty@ttyS0.service.d
	newins "${FILESDIR}"/serial-getty-ttyS0.conf genpack.conf
}
