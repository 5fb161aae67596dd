#!/bin/sh
# Makes nftables.service load the router's rules at boot.
set -e
mkdir -p /var/lib/nftables
{
    echo "flush ruleset"
    cat /etc/nftables/router.nft
} > /var/lib/nftables/rules-save
