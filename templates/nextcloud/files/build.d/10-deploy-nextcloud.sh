#!/bin/sh
# Deploys Nextcloud into Apache's document root and prepares its database.
# Runs once while the image is built, as root, inside the new image.
set -e

docroot=/var/www/localhost/htdocs/nextcloud

# Portage installs web applications under /usr/share/webapps/<name>/<version>;
# copy the newest one to where Apache serves it.
src=$(ls -d /usr/share/webapps/nextcloud/*/htdocs | sort -V | tail -n 1)
if [ -z "$src" ]; then
    echo "nextcloud: no installed copy under /usr/share/webapps/nextcloud" >&2
    exit 1
fi
rm -rf "$docroot"
mkdir -p "$(dirname "$docroot")"
cp -a "$src" "$docroot"
mkdir -p "$docroot/data"
chown -R apache:apache "$docroot/apps" "$docroot/config" "$docroot/data"
chmod 0770 "$docroot/data"

# Create the database and its account with a password made for this image.
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
sock=/run/mysqld/build.sock
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
    mysqld --initialize-insecure --user=mysql
fi
mysqld --user=mysql --skip-networking --socket="$sock" &
mysqld_pid=$!
tries=0
until mysqladmin --socket="$sock" ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 60 ]; then
        echo "nextcloud: MySQL did not start" >&2
        kill "$mysqld_pid" 2>/dev/null || true
        exit 1
    fi
    sleep 1
done
mysql --socket="$sock" <<SQL
CREATE DATABASE IF NOT EXISTS nextcloud CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
CREATE USER IF NOT EXISTS 'nextcloud'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON nextcloud.* TO 'nextcloud'@'localhost';
SQL
mysqladmin --socket="$sock" shutdown
wait "$mysqld_pid" || true

# Pre-answer the installer's database questions: the first visit in a
# browser then only asks for the administrator's name and password.
cat > "$docroot/config/autoconfig.php" <<PHP
<?php
\$AUTOCONFIG = array(
  'dbtype' => 'mysql',
  'dbname' => 'nextcloud',
  'dbuser' => 'nextcloud',
  'dbpass' => '$password',
  'dbhost' => 'localhost',
  'directory' => '$docroot/data',
);
PHP
# Use Redis for locking and APCu for the local cache once installed.
cat > "$docroot/config/appliance.config.php" <<'PHP'
<?php
$CONFIG = array(
  'memcache.local' => '\OC\Memcache\APCu',
  'memcache.locking' => '\OC\Memcache\Redis',
  'redis' => array('host' => '/run/redis/redis.sock', 'port' => 0),
);
PHP
chown apache:apache "$docroot/config/autoconfig.php" "$docroot/config/appliance.config.php"
chmod 0640 "$docroot/config/autoconfig.php"

# Let Apache (PHP) reach Redis through its Unix socket.
if [ -f /etc/redis/redis.conf ]; then
    sed -i -e 's|^#\? *unixsocket .*|unixsocket /run/redis/redis.sock|' \
           -e 's|^#\? *unixsocketperm .*|unixsocketperm 770|' /etc/redis/redis.conf
fi
usermod -a -G redis apache
