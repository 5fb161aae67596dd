#!/bin/sh
# Creates the usual folders (Documents, Pictures, ...) for new users.
set -e
for d in Desktop Documents Downloads Music Pictures Videos; do
    mkdir -p "/etc/skel/$d"
done
