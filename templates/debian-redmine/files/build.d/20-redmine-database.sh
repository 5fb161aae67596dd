#!/bin/sh
# Debian's redmine package created the SQLite database and its schema while
# the base layer was built; this fills in the default trackers, statuses and
# roles, and lets the web server write Redmine's files and logs.
set -e
cd /usr/share/redmine
export RAILS_ENV=production X_DEBIAN_SITEID=default REDMINE_LANG=en
su -s /bin/sh www-data -c "ruby bin/rake redmine:load_default_data" || \
    ruby bin/rake redmine:load_default_data
database=$(sed -n 's/^ *database: *//p' /etc/redmine/default/database.yml | head -n 1)
echo "Redmine's database: $database"
chown www-data:www-data "$database" "$(dirname "$database")"
