#!/bin/sh
# Makes nftables.service load the hub's rules at boot.
set -e

# Gentoo's nftables unit loads /var/lib/nftables/rules-save.
mkdir -p /var/lib/nftables
{
    echo "flush ruleset"
    cat /etc/nftables/wireguard-hub.nft
} > /var/lib/nftables/rules-save
