#!/bin/sh
# Creates the shared folders, owned by the "share" account.
set -e
for dir in public private; do
    mkdir -p "/srv/share/$dir"
done
chown -R share:share /srv/share
chmod 2775 /srv/share/public
chmod 2770 /srv/share/private
