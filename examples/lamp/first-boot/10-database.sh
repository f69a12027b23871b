#!/bin/sh
# Acme LAMP, first boot: this droplet's database, and the site's settings to reach it
# (/etc/acme-lamp/database.php, read by index.php).
# - A managed MySQL database attached to the droplet (DigitalOcean hands it over in
#   /root/.digitalocean_dbaas_credentials or DATABASE_URL): the site uses it, the local MariaDB is
#   stopped and disabled.
# - Otherwise the local MariaDB: root and the site's user get the passwords first boot made for this
#   droplet ($.secrets of mpimg.json: MARIADB_ROOT_PASSWORD and APP_DB_PASSWORD in this step's
#   environment, saved in /root/.digitalocean_passwords, root only).
# Nothing here prints a password: this step's output is kept in /var/log/mpimg/acme-lamp/.
set -eu

# The helper library: mpimg_save_credential, mpimg_dbaas.
# shellcheck source=/dev/null
. /opt/acme/acme-lamp/lib.sh

config=/etc/acme-lamp/database.php
socket=/run/mysqld/mysqld.sock
app_db=app
app_user=app

# systemctl only acts when systemd runs (not in a chroot or a staged build).
have_systemd() { [ -d /run/systemd/system ]; }

# A PHP single-quoted string: only \ and ' take a backslash there.
php_string() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")"
}

# write_config MODE HOST PORT SOCKET USER PASSWORD NAME SSL(true|false)
write_config() {
  tmp=$(mktemp "$config.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  {
    echo '<?php'
    echo '// Written at first boot by first-boot/10-database.sh: how the site reaches its database.'
    echo 'return ['
    printf "    'mode' => %s,\n" "$(php_string "$1")"
    printf "    'host' => %s,\n" "$(php_string "$2")"
    printf "    'port' => %d,\n" "$3"
    printf "    'socket' => %s,\n" "$(php_string "$4")"
    printf "    'user' => %s,\n" "$(php_string "$5")"
    printf "    'password' => %s,\n" "$(php_string "$6")"
    printf "    'name' => %s,\n" "$(php_string "$7")"
    printf "    'ssl' => %s,\n" "$8"
    echo '];'
  } > "$tmp"
  # Apache (www-data) reads it; nobody else.
  chown root:www-data "$tmp"
  chmod 0640 "$tmp"
  mv -f "$tmp" "$config"
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND until it succeeds, at most SECONDS.
wait_for() {
  _what=$1 _left=$2
  shift 2
  until "$@" > /dev/null 2>&1; do
    if [ "$_left" -le 0 ]; then
      echo "$_what did not answer in time" >&2
      return 1
    fi
    sleep 2
    _left=$((_left - 2))
  done
}

if mpimg_dbaas && [ "${DB_PROTOCOL:-mysql}" = mysql ]; then
  port=${DB_PORT:-25060}
  name=${DB_NAME:-defaultdb}
  echo "a managed MySQL database is attached: $DB_HOST:$port, database $name"
  # A new managed database may take a few minutes to accept connections.
  wait_for "the managed database at $DB_HOST:$port" 600 mariadb-admin --connect-timeout=5 -h "$DB_HOST" -P "$port" ping
  write_config managed "$DB_HOST" "$port" '' "$DB_USER" "$DB_PASSWORD" "$name" true
  echo "the site uses the managed database"
  # The local MariaDB is not needed: stopped and disabled. Not services[].managedDatabase: that
  # disables on any hand-over, and this site keeps its local MariaDB when the managed one is not MySQL.
  if have_systemd; then
    systemctl disable --now mariadb.service
  else
    systemctl disable mariadb.service
  fi
  echo "the local MariaDB is stopped and disabled"
  exit 0
fi
if [ -n "${DB_PROTOCOL:-}" ]; then
  echo "a managed $DB_PROTOCOL database is attached, but this site needs MySQL: using the local MariaDB"
fi

if have_systemd; then systemctl start mariadb.service; fi
wait_for "the local MariaDB" 120 mariadb-admin --protocol=socket -S "$socket" ping

# Made and saved by first boot before this step ($.secrets), the same when first boot runs again.
root_password=${MARIADB_ROOT_PASSWORD:?not made: see the prepare step in /var/log/mpimg/acme-lamp/}
app_password=${APP_DB_PASSWORD:?not made: see the prepare step in /var/log/mpimg/acme-lamp/}
mpimg_save_credential APP_DB_NAME "$app_db"
mpimg_save_credential APP_DB_USER "$app_user"

# As root over the socket (unix_socket authentication); the SQL, passwords included, goes in on
# stdin, never on a command line. Root keeps logging in with the socket and also gets a password;
# what mysql_secure_installation removes goes too (anonymous users, the test database).
mariadb --protocol=socket -S "$socket" -u root <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('$root_password');
DELETE FROM mysql.global_priv WHERE User = '';
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host NOT IN ('localhost', '127.0.0.1', '::1');
DROP DATABASE IF EXISTS test;
DELETE FROM mysql.db WHERE Db = 'test' OR Db = 'test\\_%';
CREATE DATABASE IF NOT EXISTS \`$app_db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE OR REPLACE USER '$app_user'@'localhost' IDENTIFIED BY '$app_password';
GRANT ALL PRIVILEGES ON \`$app_db\`.* TO '$app_user'@'localhost';
FLUSH PRIVILEGES;
SQL

write_config local localhost 3306 "$socket" "$app_user" "$app_password" "$app_db" false
echo "the site uses the local MariaDB: database $app_db, user $app_user (passwords in $MPIMG_CREDENTIALS)"
