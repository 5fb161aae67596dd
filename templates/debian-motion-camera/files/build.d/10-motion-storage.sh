#!/bin/sh
# Creates the recordings folder and lets nginx read it.
set -e
mkdir -p /var/lib/motion
chown motion:motion /var/lib/motion
chmod 0755 /var/lib/motion
