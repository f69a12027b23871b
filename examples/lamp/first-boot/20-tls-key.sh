#!/bin/sh
# Acme LAMP, first boot: this droplet's own self-signed TLS key. Debian's ssl-cert package (which
# Apache recommends) made one at build time, so every droplet of the image would share it; Apache's
# default-ssl site uses it until a real certificate (e.g. certbot's) replaces it.
set -eu

if command -v make-ssl-cert > /dev/null 2>&1; then
  make-ssl-cert generate-default-snakeoil --force-overwrite
  echo "made this droplet's own /etc/ssl/private/ssl-cert-snakeoil.key"
else
  echo 'no make-ssl-cert (ssl-cert is not installed): nothing to do'
fi
