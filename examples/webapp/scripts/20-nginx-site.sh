#!/bin/sh
# Acme Web App, build step. Why a script: Debian's nginx package enables its own welcome page
# (sites-enabled/default, also the default server of port 80, next to ours from files/), and
# mpimg.json lays files down but does not remove a package's. Then nginx checks the result, so a
# broken site fails the build rather than the customer's droplet.
set -eu
# MPIMG_ROOT is / on a droplet; a staged folder when the build is tried against one.
root=${MPIMG_ROOT:-/}
root=${root%/}

rm -f "$root/etc/nginx/sites-enabled/default"
if [ -z "$root" ]; then
  nginx -t
fi
