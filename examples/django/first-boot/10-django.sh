#!/bin/sh
# Acme Django, first boot: the app's database, its tables (migrations) and its admin user.
# DJANGO_DB_PASSWORD and DJANGO_ADMIN_PASSWORD are the secrets generator-mpimg made for this droplet
# ($.secrets, in /root/.digitalocean_passwords); /etc/acme-django/settings.py already holds them.
# A managed PostgreSQL database that DigitalOcean handed over is used instead of the local one
# (mpimg.json then stops and disables postgresql.service). Nothing here prints a password.
set -eu

# The helper library: mpimg_dbaas.
# shellcheck source=/dev/null
. /opt/acme/acme-django/lib.sh

etc=/etc/acme-django

# manage ARGS...: Django's management commands as the app's user (the secrets reach it in the environment).
manage() { runuser -u django -- /srv/acme-django/manage.py "$@"; }

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

if mpimg_dbaas; then
  case ${DB_PROTOCOL:-} in
    postgres | postgresql) ;;
    *)
      echo "a managed ${DB_PROTOCOL:-unknown} database was handed over: Acme Django needs PostgreSQL" >&2
      exit 1
      ;;
  esac
  export DB_HOST DB_PORT DB_USER DB_PASSWORD DB_NAME
  DB_PORT=${DB_PORT:-25060} DB_NAME=${DB_NAME:-defaultdb}
  echo "a managed PostgreSQL database is attached: $DB_HOST:$DB_PORT, database $DB_NAME"
  # A new managed database may take a few minutes to accept connections.
  wait_for "the managed database at $DB_HOST:$DB_PORT" 600 pg_isready -q -h "$DB_HOST" -p "$DB_PORT"
  # Its details for the app (acmesite/settings.py reads them), written whole, then renamed.
  tmp=$(mktemp "$etc/.managed-database.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  python3 -c 'import json, os, sys
keys = {"host": "DB_HOST", "port": "DB_PORT", "name": "DB_NAME", "user": "DB_USER", "password": "DB_PASSWORD"}
json.dump({k: os.environ[v] for k, v in keys.items()}, open(sys.argv[1], "w"))' "$tmp"
  chown root:django "$tmp"
  chmod 0640 "$tmp"
  mv -f "$tmp" "$etc/managed-database.json"
else
  rm -f "$etc/managed-database.json"
  if [ -d /run/systemd/system ]; then systemctl start postgresql.service; fi
  wait_for 'the local PostgreSQL' 120 pg_isready -q -h 127.0.0.1 -p 5432
  # The app's role and database; the password goes in on stdin, never on a command line.
  runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<SQL
SELECT 'CREATE ROLE django LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'django') \gexec
ALTER ROLE django WITH LOGIN PASSWORD '$DJANGO_DB_PASSWORD';
SELECT 'CREATE DATABASE acme_django OWNER django' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'acme_django') \gexec
SQL
  echo "the local PostgreSQL has the role django and the database acme_django"
fi

manage migrate --noinput
# The admin user "admin" with its password (read from the environment, never an argument).
manage shell -c 'import os
from django.contrib.auth import get_user_model
admin, _ = get_user_model().objects.get_or_create(username="admin", defaults={"email": "admin@localhost"})
admin.is_staff = admin.is_superuser = True
admin.set_password(os.environ["DJANGO_ADMIN_PASSWORD"])
admin.save()'
echo "migrations applied; the admin user is admin (password in $MPIMG_CREDENTIALS)"
