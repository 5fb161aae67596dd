#!/bin/sh
# Logs the desktop user in automatically. Remove this file to get the
# GDM login screen instead.
set -e
mkdir -p /etc/gdm
cat > /etc/gdm/custom.conf <<'CONF'
[daemon]
AutomaticLoginEnable=true
AutomaticLogin=user
CONF
