#!/bin/sh
# Logs the desktop user in automatically. Remove this file to get the
# GDM login screen instead.
set -e
mkdir -p /etc/gdm3
cat > /etc/gdm3/daemon.conf <<'CONF'
[daemon]
AutomaticLoginEnable=true
AutomaticLogin=user

[security]

[xdmcp]

[chooser]

[debug]
CONF
