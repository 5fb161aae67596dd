# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

DESCRIPTION="Weston kiosk-style Wayland desktop for genpack images"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="metapackage"
SLOT="0"
KEYWORDS="amd64 arm64"

RDEPEND="
	dev-libs/weston
	gui-libs/greetd
	gui-apps/tuigreet
	gui-apps/wl-clipboard
	app-i18n/fcitx:5
	media-fonts/noto
	media-fonts/noto-cjk
"

src_install() {
	insinto /etc/skel/.config
	doins "${FILESDIR}"/weston.ini
}
