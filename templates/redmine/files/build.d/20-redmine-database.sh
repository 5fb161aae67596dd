#!/bin/sh
# Creates Redmine's database with the default trackers, statuses and roles.
# Runs once while the image is built, as root, inside the new image.
set -e

cd /var/lib/redmine
export RAILS_ENV=production REDMINE_LANG=en

mkdir -p db log
chown redmine:redmine db log config/database.yml
chmod 0640 config/database.yml

# A fresh secret for signing sessions, then the schema and the default data.
su -s /bin/sh redmine -c "ruby -S rake generate_secret_token"
su -s /bin/sh redmine -c "ruby -S rake db:migrate"
su -s /bin/sh redmine -c "ruby -S rake redmine:load_default_data"
