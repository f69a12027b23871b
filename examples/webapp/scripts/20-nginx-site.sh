#!/bin/sh
# Acme Web App, build step: nginx checks the site from files/ (Debian's own welcome site is gone by
# now: build.remove), so a broken site fails the build rather than the customer's droplet.
set -eu
# MPIMG_ROOT is / on a droplet; a staged folder when the build is tried against one.
if [ "${MPIMG_ROOT:-/}" = / ]; then
  nginx -t
fi
