#!/bin/sh
# Logs "streamer" straight into the desktop after power-on.
set -e
mkdir -p /etc/gdm
cat > /etc/gdm/custom.conf <<'CONF'
[daemon]
AutomaticLoginEnable=true
AutomaticLogin=streamer
CONF
