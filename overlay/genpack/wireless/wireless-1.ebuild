# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

DESCRIPTION="Wi-Fi and Bluetooth support, configured from system.ini"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="metapackage"
SLOT="0"
KEYWORDS="amd64 arm64 riscv x86"

RDEPEND="
	net-wireless/wpa_supplicant
	net-wireless/iw
	net-wireless/wireless-regdb
	net-wireless/hostapd
	net-wireless/bluez
	sys-kernel/linux-firmware
"
