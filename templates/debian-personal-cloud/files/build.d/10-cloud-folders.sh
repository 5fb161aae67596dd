#!/bin/sh
# Folders for the files and for WebDAV's lock database, owned by the web
# server; the calendars belong to Radicale.
set -e
install -d -o www-data -g www-data -m 0750 /srv/cloud/files /var/lib/apache2/dav
install -d -o radicale -g radicale -m 0750 /var/lib/radicale/collections
chmod -R a+rX /srv/cloud/www
