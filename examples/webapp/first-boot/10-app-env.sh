#!/bin/sh
# Acme Web App, first boot: this droplet's own settings for the app, in /etc/webapp/webapp.env
# (read by webapp.service). A secret baked into the image would be the same on every droplet
# made from it, so it is made here. mpimg.json's "services" restarts the app after this step.
set -eu

# The helper library: mpimg_random_password, mpimg_public_ipv4, and mpimg.json's variables
# (APP_VERSION) under their own names.
# shellcheck source=/dev/null
. /opt/acme/acme-webapp/lib.sh

env_file=/etc/webapp/webapp.env

# The address customers open; without the metadata service the droplet's first address.
public_ip=$(mpimg_public_ipv4) || public_ip=''
session_secret=$(mpimg_random_password 48)

# Written next to the old file and renamed: the service never reads half a file. mktemp makes it
# 0600; the group may read it once it is complete.
tmp=$(mktemp "$env_file.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  printf 'APP_VERSION=%s\n' "$APP_VERSION"
  if [ -n "$public_ip" ]; then printf 'PUBLIC_URL=http://%s/\n' "$public_ip"; fi
  printf 'SESSION_SECRET=%s\n' "$session_secret"
} > "$tmp"
chown root:webapp "$tmp"
chmod 0640 "$tmp"
mv -f "$tmp" "$env_file"
echo "wrote $env_file (app $APP_VERSION, public address ${public_ip:-unknown})"
