#!/bin/sh
# Acme LAMP, first login: asks for the domain of the site and writes it into the Apache site
# (ServerName). When it exits 0 it is not run again (and the login message changes); otherwise it
# runs again at the next login.
set -eu

site=/etc/apache2/sites-available/000-default.conf

echo
echo 'Welcome to Acme LAMP. One question to finish the setup of your site.'
echo "(Point the domain's DNS A record at this droplet first; you can change it later in $site.)"

valid_domain() {
  # Host names of letters, digits and "-", at least two labels, a letter-only top level.
  printf '%s\n' "$1" | grep -Eq '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
}

tries=0
while :; do
  printf 'Domain name of your site (e.g. example.com): '
  if ! IFS= read -r domain; then
    echo
    echo 'No answer: setup not finished. It starts again at your next login.' >&2
    exit 1
  fi
  if valid_domain "$domain"; then
    break
  fi
  tries=$((tries + 1))
  echo "\"$domain\" is not a domain name like example.com." >&2
  if [ "$tries" -ge 3 ]; then
    echo 'Setup not finished. It starts again at your next login.' >&2
    exit 1
  fi
done

# ServerName takes the place of the first ServerName line (commented out or not), else it goes
# right after <VirtualHost>. The old site is kept until Apache accepted the new one.
tmp=$(mktemp "$site.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if grep -Eq '^[[:space:]]*#?[[:space:]]*ServerName[[:space:]]' "$site"; then
  awk -v domain="$domain" '
    !done && /^[[:space:]]*#?[[:space:]]*ServerName[[:space:]]/ { print "  ServerName " domain; done = 1; next }
    { print }
  ' "$site" > "$tmp"
else
  awk -v domain="$domain" '
    { print }
    !done && /^[[:space:]]*<VirtualHost[[:space:]>]/ { print "  ServerName " domain; done = 1 }
  ' "$site" > "$tmp"
fi
chmod 0644 "$tmp"
cp -p "$site" "$site.before-first-login"
mv -f "$tmp" "$site"
if ! apache2ctl configtest; then
  mv -f "$site.before-first-login" "$site"
  echo "Apache did not accept the site with ServerName $domain; $site is as it was." >&2
  exit 1
fi
rm -f "$site.before-first-login"
if [ -d /run/systemd/system ]; then
  systemctl reload apache2.service
fi

echo
echo "Your site is http://$domain/ (ServerName $domain in $site)."
echo 'For HTTPS once the DNS record points here:'
echo "  apt install python3-certbot-apache && certbot --apache -d $domain"
echo 'The setup is complete.'
