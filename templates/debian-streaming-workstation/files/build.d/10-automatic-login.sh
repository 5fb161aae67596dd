#!/bin/sh
# Logs "streamer" straight into the desktop after power-on. Remove this file
# to get the GDM login screen instead.
set -e
mkdir -p /etc/gdm3
cat > /etc/gdm3/daemon.conf <<'CONF'
[daemon]
AutomaticLoginEnable=true
AutomaticLogin=streamer

[security]

[xdmcp]

[chooser]

[debug]
CONF
