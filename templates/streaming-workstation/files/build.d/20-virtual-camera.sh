#!/bin/sh
# Loads v4l2loopback at boot as "OBS Virtual Camera", the device OBS's
# "Start Virtual Camera" button writes to.
set -e
mkdir -p /etc/modules-load.d /etc/modprobe.d
echo v4l2loopback > /etc/modules-load.d/v4l2loopback.conf
echo 'options v4l2loopback devices=1 video_nr=10 card_label="OBS Virtual Camera" exclusive_caps=1' \
    > /etc/modprobe.d/v4l2loopback.conf
