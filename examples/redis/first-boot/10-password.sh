#!/bin/sh
# Acme Redis, first boot: this droplet's own Redis password. A password baked into the image would
# be the same on every droplet made from it, so it is made here, saved in the credentials file of
# mpimg.json (/root/.digitalocean_passwords, root only) and given to Redis in
# /etc/redis/conf.d/password.conf. mpimg.json's "services" restarts redis-server after this step,
# so the password is in force before anyone logs in. Nothing here prints it.
set -eu

# The helper library: mpimg_random_password, mpimg_save_credential.
# shellcheck source=/dev/null
. /opt/acme/acme-redis/lib.sh

conf=/etc/redis/conf.d/password.conf

password=$(mpimg_random_password 40)
# Saved first: a step stopped half-way never leaves Redis with a password nobody knows.
mpimg_save_credential REDIS_PASSWORD "$password"

# mktemp makes it 0600 (nobody else sees the password while it is written); then the group redis
# may read it.
tmp=$(mktemp "$conf.XXXXXX")
trap 'rm -f "$tmp"' EXIT
printf 'requirepass %s\n' "$password" > "$tmp"
chown root:redis "$tmp"
chmod 0640 "$tmp"
mv -f "$tmp" "$conf"
echo "wrote $conf (the password is in $MPIMG_CREDENTIALS)"
