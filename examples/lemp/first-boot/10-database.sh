#!/bin/sh
# Acme LEMP, first boot: the site's database and its user. APP_DB_PASSWORD is the password
# generator-mpimg made for this droplet ($.secrets): it is already in /root/.digitalocean_passwords
# and in /etc/acme-lemp/database.php. Nothing here prints it; the SQL goes in on stdin.
set -eu

# The first boot runs before the services of mpimg.json are started; systemd only on a droplet.
if [ -d /run/systemd/system ]; then systemctl start mariadb.service; fi

# As root over the socket (Debian's MariaDB: root logs in with unix_socket, no password).
mariadb --protocol=socket -u root <<SQL
CREATE DATABASE IF NOT EXISTS app CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE OR REPLACE USER 'app'@'localhost' IDENTIFIED BY '$APP_DB_PASSWORD';
GRANT ALL PRIVILEGES ON app.* TO 'app'@'localhost';
CREATE TABLE IF NOT EXISTS app.visits (
  id INT AUTO_INCREMENT PRIMARY KEY,
  at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
SQL
echo "database app and its user app are ready (password in the credentials file)"
