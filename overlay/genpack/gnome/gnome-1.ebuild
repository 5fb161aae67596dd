# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

EAPI=8

DESCRIPTION="GNOME desktop for genpack images"
HOMEPAGE="https://example.invalid/genpack-studio"
S="${WORKDIR}"

LICENSE="metapackage"
SLOT="0"
KEYWORDS="amd64 arm64"

RDEPEND="
	gnome-base/gnome-light
	gnome-base/gdm
	media-video/pipewire
	media-video/wireplumber
	net-misc/networkmanager
	media-fonts/noto
	media-fonts/noto-cjk
	media-fonts/noto-emoji
"
