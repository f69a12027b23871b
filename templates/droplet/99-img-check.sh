#!/usr/bin/env bash
# mpimg image check: says whether this droplet (or a staged root filesystem)
# will pass DigitalOcean Marketplace review.
#
# Contract reviewers know: lines tagged [PASS] / [WARN] / [FAIL], a summary
# with counts, exit 0 when nothing failed (warnings allowed), exit 1 on any
# failure. Usage errors exit 2. Checks the runtime cannot perform are tagged
# [SKIP] with the reason and do not change the result.
#
# It only reads: no clear, no chmod, no package index refresh unless --refresh.
# The one thing it writes is the throw-away host key `sshd -t` needs (the image
# has none after the cleanup): in a private temp dir, or with --root in a tmpfs
# of a private mount namespace, removed when the test is done.
# It never prints file contents: evidence is paths, names, counts and versions.
#
# With --root DIR, symlinks in DIR are resolved inside DIR (an absolute link
# starts again at DIR), never on this machine.
#
# --booted checks a droplet made FROM the image, after its first boot (what
# `mpimg verify` runs): what first boot rightly made there is expected, not a
# failure (SSH host keys, machine-id, root's authorized_keys holding the
# droplet's own SSH keys, logs and login records, this instance's cloud-init
# data); what must still hold does (no other droplet's cloud-init data or keys,
# no private keys or histories, the login hold released, ...).
#
# Usage: 99-img-check.sh [--json] [--root DIR] [--refresh] [--firewall RULES]
#                        [--credentials FILE] [--runtime-home DIR --template FILE ...]
#                        [--booted [--seed-keys FILE]] [--help]
#   --json      print one JSON report instead of the tagged lines
#   --root DIR  check the root filesystem mounted or staged at DIR instead of /
#   --refresh   refresh the package index (apt-get update / dnf --refresh)
#               before counting pending security updates
#   --pending-updates  only list the pending updates, one tab-separated line
#               each (what `mpimg outdated` runs); no checks, no report
#   --firewall RULES  the allow list the image must have, as the bundle passes
#               it from mpimg.json ("limit:22/tcp allow:80/tcp allow:53"): no
#               firewall, or other rules, is then a failure
#   --credentials FILE  the file first boot saves this droplet's secrets to, as
#               the bundle passes it from mpimg.json ($.credentials)
#   --runtime-home DIR, --template FILE  (repeated) a file first boot fills in
#               with the droplet's secrets, and the folder holding its unfilled
#               copy (DIR/templates/FILE), from mpimg.json ($.files.templates)
#   --fail2ban JAILS  the fail2ban jails mpimg.json enables ("sshd nginx-http-auth"):
#               fail2ban must be installed, enabled at boot and configured with
#               them; with --booted, `fail2ban-client status JAIL` must answer
#   --security-updates REBOOT  mpimg.json switches automatic security updates on
#               (reboot policy never, when-needed or HH:MM): unattended-upgrades
#               or dnf-automatic configured for security updates, its timer on
#   --caddy     mpimg.json has Caddy serve the app ($.caddy): caddy installed,
#               mpimg's Caddyfile valid (`caddy validate`), caddy.service enabled;
#               with --booted, caddy.service active
#   --certbot PLUGIN  mpimg.json sets up HTTPS with certbot at first login (nginx
#               or apache): certbot and its plugin must be installed, and the image
#               must hold no certificate (each droplet gets its own); with --booted,
#               a certificate there needs certbot.timer enabled (its renewal)
#   --docker 'UNIT FOLDER'  mpimg.json has Docker with a compose project in FOLDER
#               brought up by UNIT: the engine installed, docker.service and UNIT
#               enabled at boot, the compose file valid (compose config), its
#               images on the machine (where dockerd answers), the DOCKER-USER
#               rules in /etc/ufw/after.rules
#   --booted    the system is a droplet made from the image, after first boot
#   --seed-keys FILE  (with --booted) the droplet's own SSH public keys; default:
#               the keys in its cloud-init instance data and seed
# Environment: NO_COLOR disables colour (colour is only used on a terminal).
set -eu

PROG=99-img-check.sh
JSON=0
REFRESH=0
PENDING_ONLY=0  # --pending-updates: only list pending updates (what `mpimg outdated` runs)
ROOT=""         # path prefix of the checked tree; "" means the live system
ROOT_SET=0
ROOT_LABEL="/"
MODE=live       # live | chroot | staged
MODE_REASON=""
BOOTED=0
SEED_KEYS_FILE=""
FW_EXPECT=""    # --firewall: "ACTION:PORT[/PROTO] ..." from mpimg.json
FW_SET=0
FW_RULES=()
CRED_FILE=""    # --credentials: the project's credentials file (mpimg.json)
RUNTIME_HOME="" # --runtime-home: its templates/ holds the unfilled copies of TEMPLATES
TEMPLATES=()    # --template: files first boot fills in (mpimg.json's $.files.templates)
REGEN_FILES=()  # --regenerate: package-made secrets first boot makes anew (mpimg.json's $.regenerate)
F2B_JAILS=()    # --fail2ban: the jails mpimg.json enables ($.fail2ban.jails)
F2B_SET=0
CADDY_SET=0     # --caddy: Caddy serves the app with automatic HTTPS ($.caddy)
CB_PLUGIN=""    # --certbot: the web server certbot configures at first login ($.certbot.server)
DK_UNIT="" DK_PROJECT=""  # --docker: the compose unit and project folder ($.docker)
AU_REBOOT=""    # --security-updates: automatic security updates are on, with this reboot policy ($.securityUpdates)

die_usage() {
  printf '%s: %s\n' "$PROG" "$1" >&2
  printf '%s: run "%s --help" for the flags\n' "$PROG" "$PROG" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
    --json) JSON=1 ;;
    --refresh) REFRESH=1 ;;
    --pending-updates) PENDING_ONLY=1 ;;
    --root)
      [ $# -ge 2 ] || die_usage "--root needs a directory, e.g. --root /mnt/image"
      ROOT=$2; ROOT_SET=1; shift ;;
    --root=*) ROOT=${1#--root=}; ROOT_SET=1 ;;
    --booted) BOOTED=1 ;;
    --seed-keys)
      [ $# -ge 2 ] || die_usage "--seed-keys needs a file of SSH public keys"
      SEED_KEYS_FILE=$2; shift ;;
    --firewall)
      [ $# -ge 2 ] || die_usage "--firewall needs the rules, e.g. --firewall 'limit:22/tcp allow:80/tcp'"
      FW_EXPECT=$2; FW_SET=1; shift ;;
    --firewall=*) FW_EXPECT=${1#--firewall=}; FW_SET=1 ;;
    --credentials)
      [ $# -ge 2 ] || die_usage "--credentials needs the credentials file, e.g. --credentials /root/.app-credentials"
      CRED_FILE=$2; shift
      case $CRED_FILE in /*) ;; *) die_usage "--credentials '$CRED_FILE' is not an absolute path" ;; esac ;;
    --runtime-home)
      [ $# -ge 2 ] || die_usage "--runtime-home needs the image's runtime folder, e.g. --runtime-home /opt/acme/app"
      RUNTIME_HOME=$2; shift
      case $RUNTIME_HOME in /*) ;; *) die_usage "--runtime-home '$RUNTIME_HOME' is not an absolute path" ;; esac ;;
    --template)
      [ $# -ge 2 ] || die_usage "--template needs a file first boot fills in, e.g. --template /etc/app/app.conf"
      case $2 in /*) ;; *) die_usage "--template '$2' is not an absolute path" ;; esac
      TEMPLATES+=("$2"); shift ;;
    --regenerate)
      [ $# -ge 2 ] || die_usage "--regenerate needs a file first boot makes anew, e.g. --regenerate /etc/ssl/private/ssl-cert-snakeoil.key"
      case $2 in /*) ;; *) die_usage "--regenerate '$2' is not an absolute path" ;; esac
      REGEN_FILES+=("$2"); shift ;;
    --fail2ban)
      [ $# -ge 2 ] || die_usage "--fail2ban needs the jails, e.g. --fail2ban 'sshd nginx-http-auth'"
      read -r -a F2B_JAILS <<< "$2"   # split on blanks, never globbed
      [ ${#F2B_JAILS[@]} -gt 0 ] || die_usage "--fail2ban needs at least one jail, e.g. --fail2ban sshd"
      for _j in "${F2B_JAILS[@]}"; do
        [[ $_j =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ ]] || die_usage "--fail2ban: '$_j' is not a jail name (letters, digits, _ and -)"
      done
      F2B_SET=1; shift ;;
    --caddy) CADDY_SET=1 ;;
    --certbot)
      [ $# -ge 2 ] || die_usage "--certbot needs the plugin: nginx or apache"
      [[ $2 =~ ^(nginx|apache)$ ]] || die_usage "--certbot: '$2' is not nginx or apache"
      CB_PLUGIN=$2; shift ;;
    --docker)
      [ $# -ge 2 ] || die_usage "--docker needs the unit and the project folder, e.g. --docker 'app-compose.service /opt/app'"
      [[ $2 =~ ^([A-Za-z0-9@._-]+\.service)\ ((/[A-Za-z0-9._-]+)+)$ ]] || die_usage "--docker: '$2' is not 'UNIT.service /FOLDER'"
      DK_UNIT=${BASH_REMATCH[1]} DK_PROJECT=${BASH_REMATCH[2]}; shift ;;
    --security-updates)
      [ $# -ge 2 ] || die_usage "--security-updates needs the reboot policy: never, when-needed or HH:MM"
      [[ $2 =~ ^(never|when-needed|([01][0-9]|2[0-3]):[0-5][0-9])$ ]] || die_usage "--security-updates: '$2' is not never, when-needed or HH:MM"
      AU_REBOOT=$2; shift ;;
    -h|--help)
      printf 'Usage: %s [--json] [--root DIR] [--refresh] [--firewall RULES] [--booted [--seed-keys FILE]]\n' "$PROG"
      printf '  --json      one JSON report on stdout\n'
      printf '  --root DIR  check the root filesystem at DIR instead of /\n'
      printf '  --refresh   refresh package indexes before counting security updates\n'
      printf '  --pending-updates  only list pending updates, tab-separated (mpimg outdated)\n'
      printf '  --booted    a droplet made from the image, after its first boot: what first\n'
      printf '              boot made (host keys, its SSH keys, logs, its cloud-init data) is expected\n'
      printf '  --seed-keys FILE  with --booted: the droplet'"'"'s own SSH public keys (default:\n'
      printf '              those of its cloud-init instance data)\n'
      printf '  --firewall RULES  the rules the image must have: "limit:22/tcp allow:80/tcp"\n'
      printf '  --credentials FILE  the file first boot saves secrets to (from mpimg.json)\n'
      printf '  --runtime-home DIR --template FILE  a file first boot fills in; its unfilled\n'
      printf '              copy is DIR/templates/FILE (from mpimg.json)\n'
      printf '  --regenerate FILE  a secret a package made that first boot makes anew (from mpimg.json)\n'
      printf '  --fail2ban JAILS  the fail2ban jails the image enables: "sshd nginx-http-auth"\n'
      printf '  --caddy     Caddy serves the app (from mpimg.json): its config valid, on at boot\n'
      printf '  --certbot PLUGIN  HTTPS by certbot at first login (nginx or apache): certbot\n'
      printf '              and its plugin installed, no certificate in the image\n'
      printf '  --docker '"'"'UNIT FOLDER'"'"'  the compose unit and project folder of mpimg.json\n'
      printf '  --security-updates REBOOT  automatic security updates are on, rebooting never,\n'
      printf '              when-needed or at HH:MM (from mpimg.json)\n'
      exit 0 ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
  shift
done

if [ ${#TEMPLATES[@]} -gt 0 ] && [ -z "$RUNTIME_HOME" ]; then
  die_usage "--template goes with --runtime-home (the folder holding the templates' unfilled copies)"
fi
if [ -n "$SEED_KEYS_FILE" ]; then
  [ "$BOOTED" = 1 ] || die_usage "--seed-keys goes with --booted"
  [ -r "$SEED_KEYS_FILE" ] || die_usage "--seed-keys '$SEED_KEYS_FILE' is not a readable file"
fi
# Each rule of --firewall is checked now, so a typo is a usage error, not a failed check.
if [ "$FW_SET" = 1 ]; then
  read -r -a FW_RULES <<< "$FW_EXPECT"   # split on blanks, never globbed
  for _r in ${FW_RULES[@]+"${FW_RULES[@]}"}; do
    case $_r in
      allow:* | limit:*) ;;
      *) die_usage "--firewall: '$_r' is not ACTION:PORT[/PROTO] (ACTION allow or limit), e.g. allow:80/tcp" ;;
    esac
    printf '%s\n' "${_r#*:}" | grep -Eq '^[0-9]{1,5}(:[0-9]{1,5})?(/(tcp|udp))?$' \
      || die_usage "--firewall: '$_r' has no port like 80/tcp, 6000:6010/tcp or 53"
  done
  [ ${#FW_RULES[@]} -gt 0 ] || die_usage "--firewall needs at least one rule (SSH: limit:22/tcp)"
fi

if [ "$ROOT_SET" = 1 ] && [ -z "$ROOT" ]; then
  die_usage "--root needs a directory, not an empty string (use --root / for the running system)"
fi
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die_usage "--root '$ROOT' is not a directory; pass the directory where the image's root filesystem is mounted"
  ROOT=$(cd "$ROOT" && pwd -P)
  # / itself, also by another name (a bind mount of /), is the running system.
  if [ "$ROOT" = / ] || [ "$ROOT" -ef / ]; then ROOT=""; fi
fi
# in_root PATH [nofollow]: sets IR to where the image's PATH is on this machine.
# Symlinks are resolved as inside the image: an absolute target starts again at
# ROOT (never at this machine's /), ".." stops at ROOT, at most 40 links. With
# nofollow a link in the last component is left as it is. The running system
# (ROOT empty) is its own image: PATH as it is.
IR=""
in_root() {
  local todo=$1 done="" c t n=0
  if [ -z "$ROOT" ]; then IR=$1; return 0; fi
  while [ -n "$todo" ]; do
    case $todo in
      */*) c=${todo%%/*}; todo=${todo#*/} ;;
      *) c=$todo; todo="" ;;
    esac
    case $c in
      ''|.) continue ;;
      ..) done=${done%/*}; continue ;;
    esac
    if [ -z "$todo" ] && [ "${2:-}" = nofollow ]; then done+=/$c; break; fi
    if [ -L "$ROOT$done/$c" ]; then
      n=$((n + 1))
      # The x keeps a target's trailing newlines from $( ) stripping.
      if [ "$n" -gt 40 ] || ! t=$(readlink -- "$ROOT$done/$c" && printf x); then
        IR=""
        printf '%s: cannot resolve %s inside %s (a symlink loop?); not checked\n' "$PROG" "$1" "$ROOT" >&2
        return 1
      fi
      t=${t%?x}
      case $t in /*) done="" ;; esac
      todo=$t${todo:+/$todo}
    else
      done+=/$c
    fi
  done
  IR=$ROOT$done
}

# at VAR PATH [nofollow]: sets VAR to in_root's answer, or "" when it has none
# (no subshell: the checks call it often). For tests of a whole path only
# (at f /etc/x; [ -r "$f" ]): never as a prefix, where "" would leave this
# machine's /.
at() { if in_root "$2" "${3:-}"; then printf -v "$1" '%s' "$IR"; else printf -v "$1" ''; fi; }

if [ -n "$ROOT" ]; then
  ROOT_LABEL=$ROOT
  # Commands run inside DIR only when it is a whole root filesystem (a shell
  # to run them with and an os-release); a staged tree gets file-based checks.
  _os="" _sh=""
  at _os /etc/os-release; [ -e "$_os" ] || at _os /usr/lib/os-release
  if [ -e "$_os" ]; then at _sh /bin/sh; [ -x "$_sh" ] || at _sh /usr/bin/sh; fi
  if [ ! -e "$_os" ]; then
    MODE=staged; MODE_REASON="$ROOT has no os-release, so it is not a full root filesystem"
  elif [ ! -x "$_sh" ]; then
    MODE=staged; MODE_REASON="$ROOT has no /bin/sh, so it is not a full root filesystem"
  elif [ "$EUID" != 0 ]; then
    MODE=staged; MODE_REASON="running commands inside $ROOT needs chroot, which needs root"
  elif ! command -v chroot >/dev/null 2>&1; then
    MODE=staged; MODE_REASON="chroot is not available on this machine"
  else
    MODE=chroot
  fi
fi

# --- colour and output -------------------------------------------------------
C_PASS="" C_WARN="" C_FAIL="" C_SKIP="" C_OFF=""
if [ "$JSON" = 0 ] && [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  C_PASS=$'\e[32m' C_WARN=$'\e[33m' C_FAIL=$'\e[31m' C_SKIP=$'\e[36m' C_OFF=$'\e[0m'
fi

N_PASS=0 N_WARN=0 N_FAIL=0 N_SKIP=0
R_ID=() R_STATUS=() R_MSG=() R_EV=()
EV=()

ev_reset() { EV=(); }
ev_add() { EV+=("$1"); }

# record STATUS ID MESSAGE  (evidence taken from EV)
record() {
  local st=$1 id=$2 msg=$3 joined="" e i tag colour
  case $st in
    pass) N_PASS=$((N_PASS + 1)); tag=PASS; colour=$C_PASS ;;
    warn) N_WARN=$((N_WARN + 1)); tag=WARN; colour=$C_WARN ;;
    fail) N_FAIL=$((N_FAIL + 1)); tag=FAIL; colour=$C_FAIL ;;
    *)    N_SKIP=$((N_SKIP + 1)); tag=SKIP; colour=$C_SKIP; st=skip ;;
  esac
  # Evidence items become single lines without control characters.
  for i in ${EV[@]+"${!EV[@]}"}; do
    e=${EV[i]//[$'\001'-$'\037'$'\177']/?}
    EV[i]=$e; joined+=$e$'\n'
  done
  R_ID+=("$id"); R_STATUS+=("$st"); R_MSG+=("$msg"); R_EV+=("$joined")
  if [ "$JSON" = 0 ]; then
    printf '%s[%s]%s %s: %s\n' "$colour" "$tag" "$C_OFF" "$id" "$msg"
    i=0
    for e in ${EV[@]+"${EV[@]}"}; do
      i=$((i + 1))
      if [ $i -gt 10 ]; then
        printf '       ... and %d more\n' $((${#EV[@]} - 10)); break
      fi
      printf '       - %s\n' "$e"
    done
  fi
  ev_reset
}

# json_str TEXT prints TEXT as a JSON string (called as is, never in a subshell: one per field).
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//[$'\001'-$'\037'$'\177']/?}
  printf '"%s"' "$s"
}

# --- helpers -------------------------------------------------------------------

# Runs a command inside the checked system; returns 125 when that is impossible.
# stdin is /dev/null: when this script is fed to `bash -s`, a command reading
# stdin would otherwise eat the rest of the script.
run_in_root() {
  case $MODE in
    live) "$@" < /dev/null ;;
    chroot) chroot "$ROOT" "$@" < /dev/null ;;
    *) return 125 ;;
  esac
}

# have_in_root CMD: whether the image has CMD; sets HAVE to its image path.
HAVE=""
have_in_root() {
  local d
  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    in_root "$d/$1" || continue
    if [ -x "$IR" ] && [ ! -d "$IR" ]; then HAVE=$d/$1; return 0; fi
  done
  return 1
}

# ver_ge A B returns 0 when dotted numeric version A >= B (10 > 9, 0.7.10 > 0.7.9).
ver_ge() {
  local -a x y
  local i n xi yi
  IFS=. read -r -a x <<< "$1"
  IFS=. read -r -a y <<< "$2"
  n=${#x[@]}; [ "${#y[@]}" -gt "$n" ] && n=${#y[@]}
  for ((i = 0; i < n; i++)); do
    xi=${x[i]:-0}; yi=${y[i]:-0}
    xi=${xi%%[!0-9]*}; yi=${yi%%[!0-9]*}
    xi=$((10#${xi:-0})); yi=$((10#${yi:-0}))
    [ "$xi" -gt "$yi" ] && return 0
    [ "$xi" -lt "$yi" ] && return 1
  done
  return 0
}

# os_fields sets OS_ID and OS_VER from os-release (the first ID= and VERSION_ID=
# lines, quotes removed) without sourcing the file.
OS_ID="" OS_VER=""
os_fields() {
  local f out
  at f /etc/os-release; [ -e "$f" ] || at f /usr/lib/os-release
  [ -r "$f" ] || return 0
  out=$(awk 'function unq(v) { if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) v = substr(v, 2, length(v) - 2); return v }
    !hid && index($0, "ID=") == 1 { hid = 1; id = unq(substr($0, 4)) }
    !hver && index($0, "VERSION_ID=") == 1 { hver = 1; ver = unq(substr($0, 12)) }
    END { printf "%s\n%s\nx", id, ver }' "$f")
  OS_ID=${out%%$'\n'*}; out=${out#*$'\n'}; OS_VER=${out%$'\n'x}
}

# dpkg_version VAR PKG sets VAR to PKG's installed version from the dpkg status
# file, or "". The file is read once (one awk), into DPKG_VER. Its locals have
# names no caller uses, so that printf -v reaches the caller's VAR.
declare -A DPKG_VER=()
DPKG_READ=0
dpkg_version() {
  local _dv_f _dv_pkg _dv_ver _dv_list
  if [ "$DPKG_READ" = 0 ]; then
    DPKG_READ=1
    at _dv_f /var/lib/dpkg/status
    if [ -r "$_dv_f" ]; then
      # "PKG VERSION" of every installed package (its first stanza with a version).
      _dv_list=$(awk '
        function take() { if (pkg != "" && !(pkg in seen) && st ~ / installed$/ && ver != "") { seen[pkg] = 1; print pkg, ver } }
        /^Package: / { pkg = $2; st = ""; ver = "" }
        /^Status: / { st = $0 }
        /^Version: / { ver = $2 }
        /^$/ { take(); pkg = "" }
        END { take() }' "$_dv_f")
      while read -r _dv_pkg _dv_ver; do
        [ -n "$_dv_pkg" ] && DPKG_VER[$_dv_pkg]=$_dv_ver
      done <<< "$_dv_list"
    fi
  fi
  printf -v "$1" '%s' "${DPKG_VER[$2]:-}"
}

# Every distinct home directory of the image (image paths): passwd entries,
# /root and /home/*.
HOMES=()
add_home() {
  local h
  case $1 in /*) ;; *) return 0 ;; esac
  for h in ${HOMES[@]+"${HOMES[@]}"}; do [ "$h" = "$1" ] && return 0; done
  HOMES+=("$1")
}
collect_homes() {
  local user home d
  if in_root /etc/passwd && [ -r "$IR" ]; then
    # "|| [ -n ...]": a last line without its newline is an account too.
    while IFS=: read -r user _ _ _ _ home _ || [ -n "$user" ]; do
      add_home "$home"
    done < "$IR"
  fi
  if in_root /root && [ -d "$IR" ]; then add_home /root; fi
  if in_root /home && [ -d "$IR" ]; then
    for d in "$IR"/*; do
      if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
      add_home "${d#"$ROOT"}"
    done
  fi
}

# --- checks -------------------------------------------------------------------
check_os() {
  local id ver major row fam listed v newest oldest cmp found=0
  os_fields; id=$OS_ID; ver=$OS_VER
  if [ -z "$id" ]; then
    record fail os "no /etc/os-release: cannot tell which distribution this is"; return
  fi
  ev_add "ID=$id VERSION_ID=${ver:-none}"
  # family | releases offered by DigitalOcean today | how versions are compared
  local table="ubuntu|20.04 22.04 24.04|full
debian|11 12 13|major
centos|9|major
rocky|8 9|major
almalinux|8 9|major"
  while IFS='|' read -r fam listed cmp; do
    [ "$fam" = "$id" ] || continue
    found=1
    if [ -z "$ver" ]; then
      record warn os "$id without VERSION_ID (testing/rolling?) is not yet listed as supported"; return
    fi
    major=${ver%%.*}
    [ "$cmp" = full ] && v=$ver || v=$major
    for row in $listed; do
      if [ "$row" = "$v" ]; then
        record pass os "$id $ver is a supported distribution"; return
      fi
    done
    newest=${listed##* }; oldest=${listed%% *}
    if ! ver_ge "$newest" "$v"; then
      record warn os "$id $ver is newer than the releases listed here ($listed): not yet listed, confirm DigitalOcean offers it"
    elif ! ver_ge "$v" "$oldest"; then
      record fail os "$id $ver is older than the oldest supported release ($oldest)"
    else
      record fail os "$id $ver is not a supported release (supported: $listed)"
    fi
    return
  done <<< "$table"
  [ "$found" = 1 ] || record fail os "distribution '$id' is not supported (Ubuntu LTS, Debian, CentOS Stream, Rocky Linux, AlmaLinux)"
}

check_cloud_init() {
  local out ver="" src=""
  if have_in_root cloud-init && out=$(run_in_root cloud-init --version 2>&1); then
    ver=$(printf '%s\n' "$out" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]/) { print $i; exit } }')
    src="cloud-init --version"
  fi
  if [ -z "$ver" ]; then
    dpkg_version ver cloud-init
    [ -n "$ver" ] && src="/var/lib/dpkg/status"
  fi
  if [ -z "$ver" ] && in_root /usr/lib; then
    local f lib=$IR
    for f in "$lib"/python3*/site-packages/cloudinit/version.py \
             "$lib"/python3/dist-packages/cloudinit/version.py \
             "$lib"/python3*/dist-packages/cloudinit/version.py; do
      in_root "${f#"$ROOT"}" || continue
      [ -r "$IR" ] || continue
      ver=$(sed -n 's/^__VERSION__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' "$IR" | head -n 1)
      [ -n "$ver" ] && { src=${f#"$ROOT"}; break; }
    done
  fi
  if [ -z "$ver" ]; then
    if have_in_root cloud-init; then
      ev_add "/usr/bin/cloud-init present, version unknown"
      record fail cloud-init "cloud-init is present but its version could not be read"
    else
      record fail cloud-init "cloud-init is not installed; DigitalOcean needs it to configure new droplets"
    fi
    return
  fi
  # Debian versions carry an epoch and a revision: 1:23.1.1-1+deb12u1 -> 23.1.1
  local plain=${ver#*:}
  if [[ $plain =~ ^[0-9][0-9.]* ]]; then plain=${BASH_REMATCH[0]}; fi
  plain=${plain%.}
  ev_add "version $ver (from $src)"
  if ver_ge "$plain" 0.7.9; then
    record pass cloud-init "cloud-init $plain is installed (>= 0.7.9)"
  else
    record fail cloud-init "cloud-init $plain is too old: 0.7.9 or newer is required"
  fi
}

check_openssh() {
  local ver sshd
  dpkg_version ver openssh-server
  at sshd /usr/sbin/sshd
  if [ -x "$sshd" ] || [ -n "$ver" ]; then
    [ -n "$ver" ] && ev_add "openssh-server $ver (from /var/lib/dpkg/status)"
    [ -x "$sshd" ] && ev_add "/usr/sbin/sshd"
    record pass openssh-server "openssh-server is installed"
  else
    record fail openssh-server "openssh-server is not installed (no /usr/sbin/sshd): users could not log in"
  fi
}

# --- would sshd start? -------------------------------------------------------
# `sshd -t` with the image's own sshd and sshd_config: a config sshd rejects
# (a Match block left open before a global keyword, a bad keyword) means sshd
# does not start and customers are locked out. The image has no host keys after
# the cleanup (each droplet makes its own), so sshd gets a throw-away one (-h).
# `sshd -T -C` (a root login from localhost, Match blocks evaluated) then shows
# the effective sftp subsystem. Results: SSHD_STATE ok|fail|untested, SSHD_WHY,
# SSHD_T_OUT (-t output), SSHD_DUMP (-T output, when it ran).
SSHD_STATE="" SSHD_WHY="" SSHD_T_OUT="" SSHD_DUMP="" SSHD_BIN=""
SSHD_MATCH="user=root,host=localhost,addr=127.0.0.1"

# Runs in a private mount namespace (nothing it mounts is seen outside, and it
# all goes when it exits): a tmpfs on the image's /run holds the privilege
# separation dir sshd wants (/run/sshd, made at boot) and the throw-away key;
# /dev/null is provided when the image has none (an unbooted image's /dev is
# empty). Prints sshd -t's output, "@@mpimg-rc N", sshd -T's, "@@mpimg-rc N";
# or "@@mpimg-probe REASON" and exits 125.
# shellcheck disable=SC2016 # expanded by the bash that runs it
SSHD_NS_SCRIPT='
set -u
root=$1 run=$2 run_img=$3 dev=$4 sshd=$5 match=$6
fail() { printf "@@mpimg-probe %s\n" "$1"; exit 125; }
mount -t tmpfs -o mode=0755,size=4m mpimg-check "$run" 2>/dev/null || fail "cannot mount a private tmpfs on /run of the image"
mkdir -m 0755 "$run/sshd" && mkdir -m 0700 "$run/mpimg-check" || fail "cannot make directories in the private /run"
if [ ! -c "$dev/null" ]; then
  { mount -t tmpfs -o mode=0755,size=64k mpimg-check-dev "$dev" 2>/dev/null && mknod -m 0666 "$dev/null" c 1 3 2>/dev/null; } ||
    fail "cannot provide /dev/null inside the image"
fi
key=$run_img/mpimg-check/hostkey
if ! { command -v ssh-keygen >/dev/null 2>&1 && ssh-keygen -q -t ed25519 -N "" -C mpimg-check -f "$root$key" </dev/null >/dev/null 2>&1; } &&
   ! chroot "$root" ssh-keygen -q -t ed25519 -N "" -C mpimg-check -f "$key" </dev/null >/dev/null 2>&1; then
  fail "no ssh-keygen (here or in the image) made a throw-away host key"
fi
chroot "$root" "$sshd" -t -f /etc/ssh/sshd_config -h "$key" </dev/null 2>&1; echo "@@mpimg-rc $?"
chroot "$root" "$sshd" -T -C "$match" -f /etc/ssh/sshd_config -h "$key" </dev/null 2>&1; echo "@@mpimg-rc $?"
'

# The running system: the key goes to a private temp dir, removed afterwards
# (also when interrupted). Same output as SSHD_NS_SCRIPT.
sshd_live_probe() {
  local dir
  dir=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/mpimg-check-sshd.XXXXXX" 2>/dev/null) || {
    printf '@@mpimg-probe cannot create a private temp dir for the throw-away host key\n'; return 125; }
  # shellcheck disable=SC2064 # the dir is fixed now
  trap "rm -rf -- '$dir'" EXIT
  trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
  if ! ssh-keygen -q -t ed25519 -N '' -C mpimg-check -f "$dir/hostkey" < /dev/null > /dev/null 2>&1; then
    printf '@@mpimg-probe ssh-keygen could not make a throw-away host key\n'; return 125
  fi
  "$SSHD_BIN" -t -f /etc/ssh/sshd_config -h "$dir/hostkey" < /dev/null 2>&1; echo "@@mpimg-rc $?"
  "$SSHD_BIN" -T -C "$SSHD_MATCH" -f /etc/ssh/sshd_config -h "$dir/hostkey" < /dev/null 2>&1; echo "@@mpimg-rc $?"
}

sshd_probe() {
  local out="" line part=t t_rc="" dump_rc="" dump="" run dev
  SSHD_STATE=untested
  if ! have_in_root sshd; then SSHD_WHY="no sshd in the image"; return; fi
  SSHD_BIN=$HAVE
  case $MODE in
    staged)
      SSHD_WHY="$MODE_REASON"; return ;;
    live)
      if [ "$EUID" != 0 ]; then SSHD_WHY="sshd reads its configuration as root: run the check as root"; return; fi
      out=$(sshd_live_probe) || true ;;
    chroot)
      if ! command -v unshare >/dev/null 2>&1; then SSHD_WHY="unshare (util-linux) is not available on this machine"; return; fi
      if ! in_root /run || [ ! -d "$IR" ]; then SSHD_WHY="the image has no /run directory"; return; fi
      run=$IR
      if ! in_root /dev || [ ! -d "$IR" ]; then SSHD_WHY="the image has no /dev directory"; return; fi
      dev=$IR
      out=$(unshare --mount --propagation private -- "$BASH" -c "$SSHD_NS_SCRIPT" mpimg-check \
        "$ROOT" "$run" "${run#"$ROOT"}" "$dev" "$SSHD_BIN" "$SSHD_MATCH" < /dev/null 2>&1) || true ;;
  esac
  while IFS= read -r line; do
    line=${line%$'\r'}  # sshd ends its messages with CR LF on a terminal-less stderr
    case $line in
      '@@mpimg-probe '*) SSHD_WHY="${line#@@mpimg-probe }"; return ;;
      '@@mpimg-rc '*)
        if [ "$part" = t ]; then t_rc=${line#@@mpimg-rc }; part=T; else dump_rc=${line#@@mpimg-rc }; fi ;;
      *) if [ "$part" = t ]; then SSHD_T_OUT+=$line$'\n'; else dump+=$line$'\n'; fi ;;
    esac
  done <<< "$out"
  case $t_rc in
    '') SSHD_WHY="sshd -t could not be run${out:+: ${out%%$'\n'*}}" ;;
    0) SSHD_STATE=ok; [ "$dump_rc" = 0 ] && SSHD_DUMP=$dump ;;
    126|127) SSHD_WHY="the image's $SSHD_BIN could not be run (exit $t_rc)" ;;
    *)
      # sshd checks the privilege separation dir after reading its whole
      # config. /run/sshd is made when sshd starts; another one comes with the
      # package and its absence would stop sshd.
      if [ "$MODE" = live ] && printf '%s' "$SSHD_T_OUT" | grep -Eq 'Missing privilege separation directory: /(var/)?run/'; then
        SSHD_WHY="sshd has not started since boot ($(printf '%s' "$SSHD_T_OUT" | grep -Eo '/(var/)?run/[^ ]*' | head -n 1) is missing)"
      else
        SSHD_STATE=fail; SSHD_WHY="exit $t_rc"
      fi ;;
  esac
}

# Not tested (a staged root, not root, no unshare) is [SKIP], like the other
# checks that need to run the image's programs: it says so and does not change
# the result, because the fix is in how the check is run, not in the image; the
# check run on the build droplet (live) always tests it.
check_sshd_config() {
  local line n=0
  sshd_probe
  case $SSHD_STATE in
    ok)
      ev_add "$SSHD_BIN -t -f /etc/ssh/sshd_config with a throw-away host key$([ "$MODE" = chroot ] && printf ', inside %s' "$ROOT")"
      record pass sshd-config "sshd accepts its configuration (sshd -t)" ;;
    fail)
      while IFS= read -r line; do
        # Expected on a cleaned image: the configured host keys are made at first boot.
        case $line in ''|*'Unable to load host key'*|*'no hostkeys available'*) continue ;; esac
        n=$((n + 1)); [ "$n" -le 5 ] && ev_add "$line"
      done <<< "$SSHD_T_OUT"
      record fail sshd-config "sshd rejects its configuration (sshd -t, $SSHD_WHY): sshd would not start and nobody could log in; fix what sshd reports (a Match block captures every line after it: close it with 'Match all', or put settings in a drop-in under /etc/ssh/sshd_config.d/)" ;;
    *)
      record skip sshd-config "sshd -t not tested: $SSHD_WHY" ;;
  esac
}

# The Marketplace guide recommends sftp; scp from OpenSSH 9+ clients uses it too.
check_sftp() {
  local cmd="" src i prog
  if [ "$SSHD_STATE" = ok ] && [ -n "$SSHD_DUMP" ]; then
    cmd=$(printf '%s' "$SSHD_DUMP" | awk 'tolower($1) == "subsystem" && $2 == "sftp" { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }')
    src="sshd -T for a root login"
  else
    for i in ${SSHD_FILES[@]+"${!SSHD_FILES[@]}"}; do
      [ -r "${SSHD_FILES[i]}" ] || continue
      cmd=$(awk 'tolower($1) == "subsystem" && $2 == "sftp" { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "${SSHD_FILES[i]}")
      [ -n "$cmd" ] && break
    done
    src="read from the sshd_config files: sshd -T did not run"
  fi
  if [ -z "$cmd" ]; then
    ev_add "no Subsystem sftp ($src)"
    record warn sftp "no sftp subsystem in sshd_config: sftp and scp (OpenSSH 9+ clients) fail; add 'Subsystem sftp internal-sftp' (the Marketplace guide recommends sftp)"
    return
  fi
  ev_add "Subsystem sftp $cmd ($src)"
  prog=${cmd%% *}
  if [ "$prog" = internal-sftp ] || { in_root "$prog" && [ -f "$IR" ] && [ -x "$IR" ]; }; then
    record pass sftp "sftp is configured"
  else
    record warn sftp "the sftp subsystem runs $prog, which is not in the image: sftp and scp would fail; install it or use internal-sftp"
  fi
}

# A systemd unit is enabled when a *.wants link for it exists under /etc.
unit_enabled() {
  local l
  in_root /etc/systemd/system || return 1
  for l in "$IR"/*.wants/"$1"; do
    [ -L "$l" ] || [ -e "$l" ] && return 0
  done
  return 1
}

unit_active() {
  [ "$MODE" = live ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$1" < /dev/null 2>/dev/null
}

check_firewall() {
  local f l on="" kind="" FW_DIFF=""
  at f /etc/ufw/ufw.conf
  if [ -r "$f" ] && grep -Eq '^[[:space:]]*ENABLED[[:space:]]*=[[:space:]]*"?yes"?[[:space:]]*$' "$f"; then
    on="ufw (ENABLED=yes in /etc/ufw/ufw.conf)"; kind=ufw
  fi
  if [ -z "$on" ] && unit_enabled firewalld.service; then
    # Running or stopped is systemd's to say: only where it runs (not in a chroot or container).
    if [ "$MODE" = live ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && ! unit_active firewalld.service; then
      ev_add "firewalld.service enabled but not running"
      record "$( [ "$FW_SET" = 1 ] && echo fail || echo warn )" firewall "firewalld is enabled but stopped: start it (systemctl start firewalld) and check its rules"
      return
    fi
    on="firewalld (enabled at boot)"; kind=firewalld
  fi
  if [ -z "$on" ] && unit_enabled nftables.service; then
    at f /etc/nftables.conf
    if [ -r "$f" ] && grep -Eq 'hook[[:space:]]+input' "$f"; then
      on="nftables (nftables.service enabled, /etc/nftables.conf filters input)"; kind=nftables
    else
      ev_add "nftables.service enabled, but /etc/nftables.conf has no input hook"
    fi
  fi
  if [ -z "$on" ] && { unit_enabled netfilter-persistent.service || unit_enabled iptables.service; }; then
    for f in /etc/iptables/rules.v4 /etc/sysconfig/iptables; do
      if in_root "$f" && [ -r "$IR" ] && grep -Eq '^(-A INPUT|:INPUT (DROP|REJECT))' "$IR"; then
        on="iptables ($f restored at boot)"; kind=iptables; break
      fi
    done
  fi
  if [ "$FW_SET" = 1 ]; then
    ev_add "mpimg.json: $FW_EXPECT"
    if [ -z "$on" ]; then
      record fail firewall "mpimg.json declares a firewall, but none is enabled at boot: run the build's firewall step (ufw on apt systems, firewalld on dnf ones)"
      return
    fi
    ev_add "$on"
    case $kind in
      ufw)
        FW_DIFF=$(firewall_diff "$(fw_expected_ufw)" "$(fw_actual_ufw /etc/ufw/user.rules)" "")
        at f /etc/default/ufw
        if [ -r "$f" ] && grep -Eq '^[[:space:]]*IPV6[[:space:]]*=[[:space:]]*"?yes"?' "$f"; then
          FW_DIFF+=$'\n'$(firewall_diff "$(fw_expected_ufw)" "$(fw_actual_ufw /etc/ufw/user6.rules)" " (IPv6)")
        fi ;;
      firewalld)
        FW_DIFF=$(firewall_diff "$(fw_expected_firewalld)" "$(fw_actual_firewalld)" "")
        FW_DIFF+=$'\n'$(fw_limit_diff) ;;
      *) record fail firewall "mpimg.json declares a firewall for ufw or firewalld, but the image filters with ${on%% *}: its rules cannot be compared; use ufw or firewalld"; return ;;
    esac
    if [ -z "${FW_DIFF//$'\n'/}" ]; then
      record pass firewall "the firewall lets in exactly what mpimg.json allows"
    else
      while IFS= read -r l; do [ -n "$l" ] && ev_add "$l"; done <<< "$FW_DIFF"
      record fail firewall "the firewall's rules differ from mpimg.json's (below): run the build's firewall step again, or change mpimg.json"
    fi
    return
  fi
  if [ -n "$on" ]; then
    ev_add "$on"
    record pass firewall "a firewall is enabled: ${on%% *}"
  else
    record warn firewall "no firewall is enabled at boot (ufw, firewalld, nftables or iptables); consider enabling one with only the needed ports open"
  fi
}

# firewall_diff EXPECTED ACTUAL LABEL: a "missing: RULE" or "not in mpimg.json:
# RULE" line per difference; both lists are sorted, one rule per line.
firewall_diff() {
  comm -3 <(printf '%s\n' "$1" | sed '/^$/d') <(printf '%s\n' "$2" | sed '/^$/d') \
    | sed "s/^\t\(.*\)/not in mpimg.json: \1$3/; t; s/^\(.*\)/missing: \1$3/"
}

# ufw's own notation: "allow tcp 22", "limit tcp 22", "allow any 53", "allow tcp 6000:6010".
fw_expected_ufw() {
  local r action port proto
  for r in "${FW_RULES[@]}"; do
    action=${r%%:*}; port=${r#*:}; proto=any
    case $port in */*) proto=${port#*/}; port=${port%/*} ;; esac
    printf '%s %s %s\n' "$action" "$proto" "$port"
  done | LC_ALL=C sort -u
}

# fw_actual_ufw FILE: the incoming rules in FILE, from its "### tuple ###"
# comments (the form ufw itself writes and reads back), one port per line
# ("80,443" lists are split; rules by application name give their ports). A
# rule narrowed to some sources, destinations or an interface is listed whole,
# so it never passes for an open port.
fw_actual_ufw() {
  local f
  at f "$1"
  [ -r "$f" ] || { printf 'no %s\n' "$1"; return; }
  sed -n 's/^### tuple ### //p' "$f" | awk '{
    dir = $NF
    if (dir !~ /^in/) next
    open = dir == "in" && ($4 == "0.0.0.0/0" || $4 == "::/0") && ($6 == "0.0.0.0/0" || $6 == "::/0") && $5 == "any"
    if (open && (NF == 7 || NF == 9)) { n = split($3, p, ","); for (i = 1; i <= n; i++) print $1, $2, p[i] }
    else print $0
  }' | LC_ALL=C sort -u
}

# The zone opens the ports of limit and allow rules alike; a limit rule's rate is the per-source
# limit below (firewalld's own rich-rule limit is one rate for all sources together).
fw_expected_firewalld() {
  local r port proto
  for r in "${FW_RULES[@]}"; do
    port=${r#*:}; proto=""
    case $port in */*) proto=${port#*/}; port=${port%/*} ;; esac
    port=${port/:/-}
    if [ -n "$proto" ]; then printf '%s/%s\n' "$port" "$proto"
    else printf '%s/tcp\n%s/udp\n' "$port" "$port"; fi
  done | LC_ALL=C sort -u
}

# The per-source limit the build writes for limit rules under firewalld: an nftables table of
# the image's own, loaded at boot by its unit (names as in tasks/bundle/firewall-limit.ts).
FW_LIMIT_TABLE=mpimg_firewall_limit
FW_LIMIT_FILE=/etc/nftables/mpimg-firewall-limit.nft
FW_LIMIT_UNIT=mpimg-firewall-limit.service

# "limit PORT/PROTO per source (IPv4)" and "(IPv6)" for each limit rule of --firewall.
fw_expected_limits() {
  local r port proto p
  for r in "${FW_RULES[@]}"; do
    [ "${r%%:*}" = limit ] || continue
    port=${r#*:}; proto=""
    case $port in */*) proto=${port#*/}; port=${port%/*} ;; esac
    for p in tcp udp; do
      if [ -z "$proto" ] || [ "$proto" = "$p" ]; then
        printf 'limit %s/%s per source (IPv4)\nlimit %s/%s per source (IPv6)\n' "$port" "$p" "$port" "$p"
      fi
    done
  done | LC_ALL=C sort -u
}

# The same from nftables text on stdin: the build's file, or `nft list table` (both write a rule
# as "tcp dport 22 ct state new update @SET { ip saddr limit rate over ... } drop ...").
fw_limits_in() {
  sed -nE 's/^[[:space:]]*(tcp|udp) dport ([0-9]+)(-([0-9]+))? ct state new update @[A-Za-z0-9_]+ \{ (ip6?) saddr limit rate over [^}]*\} drop( .*)?$/\1 \2 \4 \5/p' \
    | awk '{ port = $2; fam = $3; if (NF == 4) { port = $2 ":" $3; fam = $4 }
             print "limit " port "/" $1 " per source (" (fam == "ip6" ? "IPv6" : "IPv4") ")" }' \
    | LC_ALL=C sort -u
}

# What differs in the per-source limit: its file, its unit enabled at boot and, on a droplet
# after its first boot (--booted, live), the table the kernel has loaded.
fw_limit_diff() {
  local exp f have=""
  exp=$(fw_expected_limits)
  at f "$FW_LIMIT_FILE"
  if [ -r "$f" ]; then have=$(fw_limits_in < "$f"); fi
  [ -n "$exp" ] || [ -n "$have" ] || return 0
  firewall_diff "$exp" "$have" ""
  [ -n "$exp" ] || return 0
  unit_enabled "$FW_LIMIT_UNIT" || echo "missing: $FW_LIMIT_UNIT enabled at boot (it loads the per-source limit)"
  if [ "$BOOTED" = 1 ] && [ "$MODE" = live ] && command -v nft >/dev/null 2>&1; then
    firewall_diff "$exp" "$(nft list table inet "$FW_LIMIT_TABLE" 2>/dev/null | fw_limits_in)" " (loaded)"
  fi
}

# fw_ports FILE: "PORT/PROTO" of each <port .../> element of a firewalld XML file.
fw_ports() {
  local tag p pr
  grep -o '<port [^>]*>' "$1" 2>/dev/null | while IFS= read -r tag; do
    p=$(printf '%s' "$tag" | sed -n 's/.*[[:space:]]port="\([^"]*\)".*/\1/p')
    pr=$(printf '%s' "$tag" | sed -n 's/.*[[:space:]]protocol="\([^"]*\)".*/\1/p')
    [ -n "$p" ] && printf '%s/%s\n' "$p" "${pr:-tcp}"
  done
}

# The ports the default zone opens: its <port> elements, and its <service>s as
# the ports their definitions (/etc/firewalld/services, then the package's) list.
fw_actual_firewalld() {
  local conf zone z="" s sf name f
  at conf /etc/firewalld/firewalld.conf
  zone=public
  if [ -r "$conf" ]; then
    name=$(sed -n 's/^[[:space:]]*DefaultZone[[:space:]]*=[[:space:]]*//p' "$conf" | tail -n 1)
    [ -n "$name" ] && zone=$name
  fi
  for f in /etc/firewalld/zones/$zone.xml /usr/lib/firewalld/zones/$zone.xml; do
    at f "$f"; if [ -r "$f" ]; then z=$f; break; fi
  done
  if [ -z "$z" ]; then printf 'zone %s (no zone file)\n' "$zone"; return; fi
  {
    fw_ports "$z"
    grep -o '<service [^>]*>' "$z" | sed -n 's/.*name="\([^"]*\)".*/\1/p' | while IFS= read -r s; do
      sf=""
      for f in "/etc/firewalld/services/$s.xml" "/usr/lib/firewalld/services/$s.xml"; do
        at f "$f"; if [ -r "$f" ]; then sf=$f; break; fi
      done
      if [ -n "$sf" ]; then fw_ports "$sf"; else printf 'service %s (no definition)\n' "$s"; fi
    done
  } | LC_ALL=C sort -u
}

# --- pending updates ----------------------------------------------------------
# One logic for "which updates are pending, and which are security updates": the
# security-updates check below and `mpimg outdated` (which runs this script with
# --pending-updates on the droplet) both count with pending_updates.
#
# pending_updates PM REFRESH fills PU_LINES with one line per installed package
# that has a newer version: NAME<TAB>INSTALLED<TAB>CANDIDATE<TAB>1|0<TAB>SOURCE
# (1: the candidate comes from the distribution's security suite), and PU_DIST
# with the distribution. On apt it simulates dist-upgrade, not upgrade: a fix
# that needs a new dependency is held back by `upgrade` and would go uncounted.
# A security update is one whose candidate version is in <codename>-security
# (Debian and Ubuntu), or in Ubuntu's ESM pockets <codename>-{infra,apps}-security;
# on dnf/yum one named by `updateinfo list --security`. Only simulates: with
# REFRESH=1 it first refreshes the package indexes, and a failed refresh is an
# error (stale indexes would undercount). Returns 1 with the reason in PU_WHY
# when the package manager could not tell.
PU_LINES="" PU_DIST="" PU_WHY=""
# Empty cache file names keep apt from (re)writing pkgcache.bin: no side effects.
PU_APT_OPTS=(-o Debug::NoLocking=1 -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)

pu_codename() {
  local osf
  at osf /etc/os-release; [ -e "$osf" ] || at osf /usr/lib/os-release
  [ -r "$osf" ] || return 0
  awk 'function unq(v) { if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) v = substr(v, 2, length(v) - 2); return v }
    index($0, "VERSION_CODENAME=") == 1 && !c { c = unq(substr($0, 18)) }
    index($0, "UBUNTU_CODENAME=") == 1 && !u { u = unq(substr($0, 17)) }
    END { print (c != "" ? c : u) }' "$osf"
}

# apt-get update that fails when any index could not be fetched (also on an apt that ignores Error-Mode).
pu_apt_update() {
  local err
  err=$(run_in_root env LC_ALL=C apt-get -qq -o DPkg::Lock::Timeout=300 -o APT::Update::Error-Mode=any update 2>&1 >/dev/null) || return 1
  ! printf '%s\n' "$err" | grep -Eq '^(E: |W: (Failed to fetch|Some index files failed))'
}

pending_updates() {
  local pm=$1 refresh=$2 out rc=0 tries code
  PU_LINES="" PU_WHY=""
  os_fields
  code=$(pu_codename)
  PU_DIST="$OS_ID $OS_VER${code:+ ($code)}"
  case $pm in
    apt)
      if [ "$refresh" = 1 ]; then
        # A new droplet's apt-daily may hold the lock for a while: wait for it (as the cleanup does),
        # try again, then give up. An index that could not be fetched (no network, a mirror down) is
        # only a warning to apt-get update, which still exits 0, and the old indexes would count
        # nothing pending: Error-Mode=any makes it an error (apt 2.1.16+), and an older apt's
        # "W: Failed to fetch" / "Some index files failed" counts as one too.
        tries=0
        until pu_apt_update; do
          tries=$((tries + 1))
          [ "$tries" -lt 3 ] || { PU_WHY="apt-get update failed (3 tries): the package indexes could not be refreshed"; return 1; }
          sleep 10
        done
      fi
      out=$(run_in_root env LC_ALL=C apt-get -s "${PU_APT_OPTS[@]}" dist-upgrade 2>/dev/null) || rc=$?
      [ "$rc" = 0 ] || { PU_WHY="apt-get -s dist-upgrade failed (exit $rc)"; return 1; }
      # "Inst NAME [INSTALLED] (CANDIDATE ...)": upgrades of installed packages (new dependencies have no [..]).
      local ups names pol
      ups=$(printf '%s\n' "$out" | awk '$1 == "Inst" && $3 ~ /^\[/ && $4 ~ /^\(/ {
        print $2 "\t" substr($3, 2, length($3) - 2) "\t" substr($4, 2) }')
      [ -n "$ups" ] || return 0
      names=$(printf '%s\n' "$ups" | cut -f1)
      # shellcheck disable=SC2086 # package names: no blanks, no globs
      pol=$(run_in_root env LC_ALL=C apt-cache "${PU_APT_OPTS[@]}" policy $names 2>/dev/null) || rc=$?
      [ "$rc" = 0 ] || { PU_WHY="apt-cache policy failed (exit $rc)"; return 1; }
      # Each package's version table: "     VERSION PRIO" (" *** " marks the installed one), then
      # its sources "        PRIO URI SUITE/COMPONENT ARCH Packages"; the suite says where it is from.
      PU_LINES=$(printf '%s\n' "$pol" | PU_UPS=$ups awk -v code="$code" '
        BEGIN { n = split(ENVIRON["PU_UPS"], l, "\n"); for (i = 1; i <= n; i++) { split(l[i], f, "\t"); cand[f[1]] = f[3]; inst[f[1]] = f[2]; order[i] = f[1] } }
        function sec(s) {
          if (code == "") return s ~ /-security$/
          return s == code "-security" || s == code "-infra-security" || s == code "-apps-security"
        }
        /^[^ ].*:$/ { p = substr($0, 1, length($0) - 1); v = ""; next }
        /^ (\*\*\*|   ) [^ ]/ { v = ($1 == "***") ? $2 : $1; next }
        /^        / && p in cand && v == cand[p] && NF >= 3 {
          s = $3; sub(/\/.*/, "", s)
          if (!(p in src)) src[p] = s
          if (sec(s) && !(p in secsrc)) secsrc[p] = s
        }
        END { for (i = 1; i <= n; i++) { p = order[i]
          s = (p in secsrc) ? secsrc[p] : src[p]
          printf "%s\t%s\t%s\t%d\t%s\n", p, inst[p], cand[p], (p in secsrc), (s != "") ? s : "-" } }')
      ;;
    dnf|yum)
      local flag=-C listed sec rpmq
      [ "$refresh" = 1 ] && flag=--refresh
      # check-update: exit 100 when updates are pending, 0 when none, anything else is an error.
      listed=$(run_in_root env LC_ALL=C "$pm" -q "$flag" check-update 2>/dev/null) || rc=$?
      [ "$rc" = 0 ] || [ "$rc" = 100 ] || { PU_WHY="$pm check-update failed (exit $rc)"; return 1; }
      rc=0
      sec=$(run_in_root env LC_ALL=C "$pm" -q "$flag" updateinfo list --security 2>/dev/null) || rc=$?
      [ "$rc" = 0 ] || { PU_WHY="$pm updateinfo list --security failed (exit $rc)"; return 1; }
      rpmq=$(run_in_root rpm -qa --qf '%{NAME}.%{ARCH}\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\n' 2>/dev/null) || rc=$?
      [ "$rc" = 0 ] || { PU_WHY="rpm -qa failed (exit $rc)"; return 1; }
      # dnf 4 prints "ADVISORY Severity/Sec. NEVRA", dnf 5 "ADVISORY security Severity NEVRA Date":
      # take the field that ends in an architecture and strip -[epoch:]version-release.arch.
      sec=$(printf '%s\n' "$sec" | awk '/[Ss]ec/ { for (i = 2; i <= NF; i++) if ($i ~ /\.(x86_64|aarch64|noarch|i686|ppc64le|s390x)$/) {
        n = $i; sub(/-[^-]+-[^-]+$/, "", n); print n; break } }' | sort -u)
      # check-update: "NAME.ARCH EVR REPO", a long NAME.ARCH alone on a line with the rest on the next;
      # "Obsoleting Packages" ends the list.
      PU_LINES=$(printf '%s\n' "$listed" | PU_SEC=$sec PU_RPM=$rpmq awk '
        BEGIN { n = split(ENVIRON["PU_SEC"], s, "\n"); for (i = 1; i <= n; i++) if (s[i] != "") S[s[i]] = 1
                n = split(ENVIRON["PU_RPM"], r, "\n"); for (i = 1; i <= n; i++) { split(r[i], f, "\t"); I[f[1]] = f[2] } }
        /^Obsoleting/ { exit }
        NF == 1 && $1 ~ /\./ { held = $1; next }
        held != "" && NF == 2 { $0 = held " " $0 }
        { held = "" }
        NF == 3 && $1 ~ /\.[A-Za-z0-9_]+$/ && $2 ~ /[0-9]/ {
          na = $1; name = na; sub(/\.[^.]*$/, "", name)
          if (seen[name]++) next
          printf "%s\t%s\t%s\t%d\t%s\n", name, (na in I) ? I[na] : "-", $2, (name in S), $3 }')
      ;;
  esac
  return 0
}

# pending_manager prints the image's package manager: apt, dnf or yum.
pending_manager() {
  if have_in_root apt-get; then echo apt
  elif have_in_root dnf; then echo dnf
  elif have_in_root yum; then echo yum
  else return 1; fi
}

check_security_updates() {
  local pm="" name sec n=0 line
  if [ "$MODE" = staged ]; then
    record skip security-updates "pending security updates need the package manager inside the image: $MODE_REASON"
    return
  fi
  if ! pm=$(pending_manager); then
    record skip security-updates "no apt-get, dnf or yum found in the image"; return
  fi
  if ! pending_updates "$pm" "$REFRESH"; then
    record warn security-updates "could not ask $pm for pending updates: $PU_WHY; run it by hand or pass --refresh"
    return
  fi
  # Packages, not lines: pending_updates names each package once.
  while IFS=$'\t' read -r name _ _ sec _; do
    [ "$sec" = 1 ] || continue
    n=$((n + 1)); ev_add "$name"
  done <<< "$PU_LINES"
  if [ "$n" -gt 0 ]; then
    record fail security-updates "$n package(s) have pending security updates: run the cleanup (it upgrades) or upgrade by hand"
  else
    line="asked $pm"
    [ "$MODE" != chroot ] || line+=" inside $ROOT"
    [ "$REFRESH" = 1 ] || line+=" (from the package indexes as they are; --refresh updates them first)"
    ev_add "$line"
    record pass security-updates "no pending security updates"
  fi
}

check_passwords() {
  local pw sh user uid pass ok=1 n=0 users=" "
  at pw /etc/passwd; at sh /etc/shadow
  if [ ! -r "$pw" ]; then record fail passwords "no readable /etc/passwd"; return; fi
  if [ ! -e "$sh" ]; then record fail passwords "no /etc/shadow: password state of the accounts is unknown"; return; fi
  if [ ! -r "$sh" ]; then record skip passwords "/etc/shadow is not readable (run as root)"; return; fi
  while IFS=: read -r user _ uid _; do
    case $uid in ''|*[!0-9]*) continue ;; esac
    if [ "$uid" = 0 ] || { [ "$uid" -ge 1000 ] && [ "$uid" -lt 65534 ]; }; then users+="$user "; fi
  done < "$pw"
  # Read the file directly (no pipeline) so the counts survive the loop.
  while IFS=: read -r user pass _; do
    case $users in *" $user "*) ;; *) continue ;; esac
    n=$((n + 1))
    case $pass in
      '') ok=0; ev_add "$user: empty password field (anyone can log in)" ;;
      '!'*|'*'*) ;;
      *) ok=0; ev_add "$user: has a usable password" ;;
    esac
  done < "$sh"
  if [ "$ok" = 1 ]; then
    record pass passwords "no password login for root or user accounts ($n checked)"
  else
    record fail passwords "accounts with a usable or empty password: lock them (passwd -l USER) or run the cleanup with --lock-root-password"
  fi
}

is_private_key_file() {
  case ${1##*/} in
    id_*.pub) ;;
    id_*) return 0 ;;
  esac
  # Any algorithm or format: PEM/OpenSSH blocks and PuTTY key files.
  grep -Eq -- 'PRIVATE KEY-----|^PuTTY-User-Key-File-' "$1" 2>/dev/null
}

# key_blobs: the base64 bodies of the SSH public keys on stdin, one per line.
key_blobs() { grep -Eo 'AAAA[A-Za-z0-9+/]{20,}={0,3}' 2>/dev/null | sort -u || true; }

# The droplet's own SSH public keys (booted mode): --seed-keys, else what
# cloud-init was given for this instance (its instance data, user data and
# seed). SEED_BLOBS holds their bodies, SEED_SRC where they were read.
SEED_BLOBS="" SEED_SRC=""
collect_seed_keys() {
  local f p blobs="" srcs=""
  if [ -n "$SEED_KEYS_FILE" ]; then
    SEED_BLOBS=$(key_blobs < "$SEED_KEYS_FILE"); SEED_SRC="--seed-keys"; return 0
  fi
  for p in /run/cloud-init/instance-data.json /run/cloud-init/instance-data-sensitive.json \
           /var/lib/cloud/instance/user-data.txt /var/lib/cloud/instance/vendor-data.txt; do
    in_root "$p" || continue
    if [ ! -f "$IR" ] || [ ! -r "$IR" ]; then continue; fi
    blobs+=$(key_blobs < "$IR")$'\n'; srcs+=" $p"
  done
  if in_root /var/lib/cloud/seed && [ -d "$IR" ]; then
    for f in "$IR"/*/meta-data "$IR"/*/user-data; do
      if [ ! -f "$f" ] || [ ! -r "$f" ]; then continue; fi
      blobs+=$(key_blobs < "$f")$'\n'; srcs+=" ${f#"$ROOT"}"
    done
  fi
  SEED_BLOBS=$(printf '%s' "$blobs" | sed '/^$/d' | sort -u)
  SEED_SRC=${srcs# }
}

# is_seed_key BLOB: whether BLOB is one of the droplet's own keys (a whole line of SEED_BLOBS).
is_seed_key() {
  [ -n "$1" ] && [ -n "$SEED_BLOBS" ] || return 1
  case $'\n'"$SEED_BLOBS"$'\n' in *$'\n'"$1"$'\n'*) return 0 ;; esac
  return 1
}

check_ssh_keys() {
  local home d f keys line blob own foreign unsure=0 n_own=0 bad_auth=0 bad_priv=0 auth_ev=() priv_ev=() dirs=()
  [ "$BOOTED" = 1 ] && collect_seed_keys
  for home in ${HOMES[@]+"${HOMES[@]}"}; do
    in_root "${home%/}/.ssh" || continue
    d=$IR
    [ -d "$d" ] || continue
    dirs+=("$d")
    for f in "$d"/authorized_keys "$d"/authorized_keys2; do
      # A link is read where sshd in the image would read it.
      in_root "${f#"$ROOT"}" || continue
      [ -f "$IR" ] || continue
      keys=$(grep -Ecv '^[[:space:]]*(#|$)' "$IR" 2>/dev/null || true)
      [ "${keys:-0}" -gt 0 ] || continue
      if [ "$BOOTED" = 0 ]; then
        bad_auth=1; auth_ev+=("${f#"$ROOT"}: $keys key(s)"); continue
      fi
      # A droplet made from the image: first boot put its own SSH keys there.
      own=0 foreign=0
      while IFS= read -r line || [ -n "$line" ]; do
        case ${line#"${line%%[![:space:]]*}"} in ''|'#'*) continue ;; esac
        blob=""
        if [[ $line =~ AAAA[A-Za-z0-9+/]{20,}={0,3} ]]; then blob=${BASH_REMATCH[0]}; fi
        if is_seed_key "$blob"; then own=$((own + 1)); else foreign=$((foreign + 1)); fi
      done < "$IR"
      n_own=$((n_own + own))
      if [ "$foreign" -gt 0 ] && [ -z "$SEED_BLOBS" ]; then
        unsure=1; auth_ev+=("${f#"$ROOT"}: $keys key(s); no cloud-init instance data names the droplet's own keys")
      elif [ "$foreign" -gt 0 ]; then
        bad_auth=1; auth_ev+=("${f#"$ROOT"}: $foreign key(s) that are not the droplet's own SSH keys")
      else
        auth_ev+=("${f#"$ROOT"}: $own key(s) of the droplet (from $SEED_SRC)")
      fi
    done
  done
  # Every ~/.ssh in one find (it walks its starting points in order, -xdev from each).
  if [ "${#dirs[@]}" -gt 0 ]; then
    while IFS= read -r -d '' f; do
      case ${f##*/} in authorized_keys|authorized_keys2|known_hosts|known_hosts.old|config) continue ;; esac
      if is_private_key_file "$f"; then bad_priv=1; priv_ev+=("${f#"$ROOT"}"); fi
    done < <(find "${dirs[@]}" -xdev -maxdepth 3 -type f -print0 2>/dev/null)
  fi
  EV=(${auth_ev[@]+"${auth_ev[@]}"})
  if [ "$bad_auth" = 1 ] && [ "$BOOTED" = 1 ]; then
    record fail authorized-keys "authorized_keys hold keys that are not this droplet's own SSH keys: they came with the image (remove them from the build; the cleanup does)"
  elif [ "$bad_auth" = 1 ]; then
    record fail authorized-keys "authorized_keys with keys left on the image: remove them (the cleanup does)"
  elif [ "$unsure" = 1 ]; then
    record warn authorized-keys "authorized_keys hold keys, and no cloud-init instance data tells whether they are the droplet's own: pass them with --seed-keys"
  elif [ "$n_own" -gt 0 ]; then
    record pass authorized-keys "authorized_keys hold only the droplet's own SSH keys (put there at first boot)"
  else
    record pass authorized-keys "no authorized_keys with keys in any home (${#HOMES[@]} homes checked)"
  fi
  EV=(${priv_ev[@]+"${priv_ev[@]}"})
  if [ "$bad_priv" = 1 ]; then
    record fail private-keys "private keys left in ~/.ssh (contents not shown): remove them"
  else
    record pass private-keys "no private keys in any ~/.ssh"
  fi
}

check_histories() {
  local home f bad=0 name
  for home in ${HOMES[@]+"${HOMES[@]}"}; do
    for name in .bash_history .zsh_history .sh_history .python_history .mysql_history .lesshst .psql_history .local/share/fish/fish_history; do
      # Like the cleanup, a history that is a link (e.g. to /dev/null) is left alone.
      in_root "${home%/}/$name" nofollow || continue
      f=$IR
      if [ ! -L "$f" ] && [ -f "$f" ] && [ -s "$f" ]; then bad=1; ev_add "${f#"$ROOT"} ($(stat -c %s -- "$f") bytes)"; fi
    done
  done
  if [ "$bad" = 1 ]; then
    record fail histories "shell histories are not empty (contents not shown): clear them (the cleanup does)"
  else
    record pass histories "shell histories are empty"
  fi
}

check_logs() {
  local dir f bad=0 rot=0 jr=0 rec=0 name rot_ev=() j_ev=() rec_ev=() log_ev=()
  at dir /var/log
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    record pass logs "no /var/log"; record pass rotated-logs "no /var/log"
    record pass journal "no /var/log"; record pass login-records "no /var/log"
    return
  fi
  # Regular files only: links in the tree are not followed.
  while IFS= read -r -d '' f; do
    name=${f##*/}
    case ${f#"$dir"} in
      /journal/*)
        case $name in
          *@*) jr=1; j_ev+=("${f#"$ROOT"}") ;;
          *.journal) if [ -s "$f" ] && [ "$MODE" != live ] && [ "$BOOTED" = 0 ]; then jr=1; j_ev+=("${f#"$ROOT"}"); fi ;;
        esac
        continue ;;
    esac
    case $name in
      *.gz|*.xz|*.bz2|*.zst|*.lz4|*.[0-9]|*.[0-9].log|*.old|*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9])
        rot=1; rot_ev+=("${f#"$ROOT"}"); continue ;;
      wtmp|btmp|lastlog|faillog|wtmp.db)
        if [ -s "$f" ]; then rec=1; rec_ev+=("${f#"$ROOT"} ($(wc -c < "$f") bytes)"); fi
        continue ;;
    esac
    if [ -s "$f" ]; then bad=1; log_ev+=("${f#"$ROOT"} ($(wc -c < "$f") bytes)"); fi
  done < <(find "$dir" -xdev -type f -print0 2>/dev/null)
  EV=(${log_ev[@]+"${log_ev[@]}"})
  if [ "$bad" = 1 ] && [ "$BOOTED" = 1 ]; then
    EV=("${#log_ev[@]} log file(s) written since boot"); record pass logs "logs written since boot (expected on a booted droplet)"
  elif [ "$bad" = 1 ]; then record warn logs "log files under /var/log are not empty: truncate them (the cleanup does)"
  else record pass logs "log files under /var/log are empty"; fi
  EV=(${rot_ev[@]+"${rot_ev[@]}"})
  if [ "$rot" = 1 ]; then record warn rotated-logs "rotated or compressed logs left under /var/log"
  else record pass rotated-logs "no rotated or compressed logs"; fi
  EV=(${j_ev[@]+"${j_ev[@]}"})
  if [ "$jr" = 1 ]; then record warn journal "journal files left: vacuum the journal (the cleanup does)"
  elif [ "$MODE" = live ] || [ "$BOOTED" = 1 ]; then record pass journal "no archived journal files (active files are recreated by journald)"
  else record pass journal "no journal files"; fi
  EV=(${rec_ev[@]+"${rec_ev[@]}"})
  if [ "$rec" = 1 ] && [ "$BOOTED" = 1 ]; then record pass login-records "login records kept since boot (expected on a booted droplet)"
  elif [ "$rec" = 1 ]; then record warn login-records "login records (wtmp/btmp/lastlog) are not empty"
  else record pass login-records "login records are empty"; fi
}

# Whether the image's directory DIR has entries (a link to one is followed inside the image).
dir_has_entries() { in_root "$1" && [ -d "$IR" ] && [ -n "$(ls -A -- "$IR" 2>/dev/null)" ]; }

# Booted: this instance's data is what cloud-init rightly keeps; another
# instance's (the build droplet's) came with the image.
check_cloud_init_data_booted() {
  local bad=0 cur="" l t d f n=0
  at l /var/lib/cloud/instance nofollow
  if [ -n "$l" ] && [ -L "$l" ]; then
    at t /var/lib/cloud/instance
    if [ ! -e "$t" ]; then bad=1; ev_add "/var/lib/cloud/instance (dangling link)"
    else t=$(readlink -- "$l" || true); cur=${t%/}; cur=${cur##*/}; fi
  fi
  if [ -z "$cur" ] && [ "$bad" = 0 ]; then
    at f /var/lib/cloud/data/instance-id
    if [ -n "$f" ] && [ -r "$f" ]; then cur=$(head -n 1 "$f" 2>/dev/null || true); fi
  fi
  if in_root /var/lib/cloud/instances && [ -d "$IR" ]; then
    for d in "$IR"/*; do
      [ -d "$d" ] || continue
      n=$((n + 1))
      if [ "${d##*/}" != "$cur" ]; then bad=1; ev_add "${d#"$ROOT"}/ (not this droplet's instance ${cur:-?})"; fi
    done
  fi
  if [ "$bad" = 1 ]; then
    record fail cloud-init-data "cloud-init data of another droplet (the build droplet's?) came with the image: the cleanup must remove it before the snapshot (keeping /var/lib/cloud/scripts)"
  elif [ -z "$cur" ]; then
    record warn cloud-init-data "no cloud-init instance recorded: did cloud-init run the first boot of this droplet?"
  else
    ev_add "instance $cur"
    record pass cloud-init-data "only this droplet's own cloud-init data ($n instance folder(s))"
  fi
}

check_cloud_init_data() {
  local bad=0 warn=0 e f l t
  if [ "$BOOTED" = 1 ]; then check_cloud_init_data_booted; return; fi
  for e in instances data sem handlers; do
    if dir_has_entries "/var/lib/cloud/$e"; then bad=1; ev_add "/var/lib/cloud/$e/"; fi
  done
  at l /var/lib/cloud/instance nofollow
  if [ -n "$l" ] && { [ -L "$l" ] || [ -e "$l" ]; }; then
    bad=1
    # Dangling as the image sees it, wherever the link would point on this machine.
    [ -L "$l" ] && at t /var/lib/cloud/instance
    if [ -L "$l" ] && [ ! -e "$t" ]; then ev_add "/var/lib/cloud/instance (dangling link)"
    else ev_add "/var/lib/cloud/instance"; fi
  fi
  for f in /var/log/cloud-init.log /var/log/cloud-init-output.log; do
    at t "$f"
    if [ -s "$t" ]; then bad=1; ev_add "$f"; fi
  done
  if dir_has_entries /var/lib/cloud/seed; then warn=1; ev_add "/var/lib/cloud/seed/"; fi
  if [ "$bad" = 1 ]; then
    record fail cloud-init-data "cloud-init instance data of the build droplet is left (it can hold user data): remove it (the cleanup does, keeping /var/lib/cloud/scripts)"
  elif [ "$warn" = 1 ]; then
    record warn cloud-init-data "a cloud-init seed is left in /var/lib/cloud/seed"
  else
    record pass cloud-init-data "no cloud-init instance data or logs left"
  fi
}

check_host_keys() {
  local f bad=0
  if in_root /etc/ssh; then
    for f in "$IR"/ssh_host_*key*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      bad=1; ev_add "${f#"$ROOT"}"
    done
  fi
  if [ "$bad" = 1 ] && [ "$BOOTED" = 1 ]; then
    EV=("${#EV[@]} file(s) in /etc/ssh"); record pass ssh-host-keys "SSH host keys made at first boot"
  elif [ "$bad" = 1 ]; then
    record fail ssh-host-keys "SSH host keys are left: every droplet would share them; remove them (the cleanup does)"
  else
    record pass ssh-host-keys "no SSH host keys (new droplets generate their own)"
  fi
}

# The image's sshd_config and its drop-ins, resolved (as SSHD_FILES), with their image paths (SSHD_NAMES).
SSHD_FILES=() SSHD_NAMES=()
collect_sshd_files() {
  local f
  in_root /etc/ssh/sshd_config && SSHD_FILES+=("$IR") && SSHD_NAMES+=(/etc/ssh/sshd_config)
  in_root /etc/ssh/sshd_config.d || return 0
  for f in "$IR"/*.conf; do
    in_root "${f#"$ROOT"}" || continue
    SSHD_FILES+=("$IR"); SSHD_NAMES+=("${f#"$ROOT"}")
  done
}

check_revoked_keys() {
  local i path="" f
  for i in ${SSHD_FILES[@]+"${!SSHD_FILES[@]}"}; do
    [ -r "${SSHD_FILES[i]}" ] || continue
    path=$(awk 'tolower($1) == "revokedkeys" { print $2; exit }' "${SSHD_FILES[i]}")
    [ -n "$path" ] && break
  done
  if [ -z "$path" ] || [ "$path" = none ]; then
    record pass revoked-keys "sshd_config sets no RevokedKeys file"; return
  fi
  ev_add "RevokedKeys $path"
  at f "$path"
  if [ -f "$f" ]; then
    record pass revoked-keys "the RevokedKeys file exists"
  else
    record fail revoked-keys "sshd_config names RevokedKeys $path but it is missing: sshd would refuse every key (touch it, mode 600)"
  fi
}

check_machine_id() {
  local f; at f /etc/machine-id
  if [ "$BOOTED" = 1 ]; then
    if [ -n "$f" ] && [ -s "$f" ]; then record pass machine-id "/etc/machine-id was generated at first boot"
    else record pass machine-id "/etc/machine-id is empty or absent"; fi
    return
  fi
  if [ -n "$f" ] && [ -s "$f" ]; then
    ev_add "/etc/machine-id ($(stat -c %s -- "$f") bytes)"
    record fail machine-id "/etc/machine-id is not empty: every droplet would share it; empty it (the cleanup does)"
  else
    record pass machine-id "/etc/machine-id is empty or absent (generated at first boot)"
  fi
}

check_droplet_agent() {
  local bad=0 u v
  at u /opt/digitalocean nofollow
  if [ -n "$u" ] && { [ -e "$u" ] || [ -L "$u" ]; }; then bad=1; ev_add "/opt/digitalocean"; fi
  for u in droplet-agent.service do-agent.service; do
    if unit_enabled "$u"; then bad=1; ev_add "$u enabled"; fi
  done
  for u in droplet-agent do-agent; do
    dpkg_version v "$u"
    if [ -n "$v" ]; then bad=1; ev_add "package $u installed"; fi
  done
  if [ "$bad" = 1 ]; then
    record fail droplet-agent "the DigitalOcean droplet agent or /opt/digitalocean is on the image: build with the agent off and remove it"
  else
    record pass droplet-agent "no droplet agent and no /opt/digitalocean"
  fi
}

# ForceCommand outside the image's own, releasable login hold locks users out.
check_login_hold() {
  local i f name out line kind slug bad=0 managed=0 finish released=1
  for i in ${SSHD_FILES[@]+"${!SSHD_FILES[@]}"}; do
    f=${SSHD_FILES[i]}; name=${SSHD_NAMES[i]}
    [ -r "$f" ] || continue
    # Prints "managed <slug> <line>" or "other - <line>" per ForceCommand.
    out=$(awk '
      /^# >>> mpimg:[a-z0-9-]+ login-hold >>>[[:space:]]*$/ { s = $3; sub(/^mpimg:/, "", s); inblk = s; next }
      /^# <<< mpimg:[a-z0-9-]+ login-hold <<<[[:space:]]*$/ { inblk = ""; next }
      { l = $0; sub(/^[[:space:]]+/, "", l) }
      tolower(l) ~ /^forcecommand([[:space:]]|=)/ {
        if (inblk != "") print "managed " inblk " " NR; else print "other - " NR }' "$f")
    while read -r kind slug line; do
      [ -n "${kind:-}" ] || continue
      if [ "$kind" = managed ] && [ "$BOOTED" = 1 ]; then
        # First boot has finished here: its last step releases the hold.
        bad=1; released=0; ev_add "$name:$line in the mpimg:$slug login-hold block: still holding root logins"
      elif [ "$kind" = managed ]; then
        at finish "/var/lib/cloud/scripts/per-instance/zz-$slug-finish"
        if [ -n "$finish" ] && [ -f "$finish" ] && [ -x "$finish" ]; then
          managed=1; ev_add "$name:$line in the mpimg:$slug login-hold block, released by /var/lib/cloud/scripts/per-instance/zz-$slug-finish"
        else
          bad=1; ev_add "$name:$line in the mpimg:$slug login-hold block, but /var/lib/cloud/scripts/per-instance/zz-$slug-finish is missing or not executable"
        fi
      else
        bad=1; ev_add "$name:$line ForceCommand outside an mpimg login-hold block"
      fi
    done <<< "$out"
  done
  if [ "$bad" = 1 ] && [ "$released" = 0 ]; then
    record fail login-hold "the login hold was not released after first boot: root logins only get the wait message (see /var/log/mpimg/<slug>/ and the zz-<slug>-finish step)"
  elif [ "$bad" = 1 ]; then
    record fail login-hold "a ForceCommand in sshd_config would lock users out: remove it, or use the image's login hold with its release script"
  elif [ "$managed" = 1 ]; then
    record pass login-hold "the image holds logins until first boot is done; the hold is released by its per-instance finish script"
  else
    record pass login-hold "no ForceCommand in sshd_config"
  fi
}

# refs_of FILE sets REF_STEP to the vendor step an mpimg wrapper runs (its first line
# "mpimg_run_first_boot 'NAME' 'STEP' ...") and REF_LIB to the library it sources (its first line
# ". '/PATH'"), or ""; one awk per file, remembered for the next check that asks.
declare -A REFS=()
REF_STEP="" REF_LIB=""
refs_of() {
  local out
  if [ -z "${REFS[$1]+x}" ]; then
    out=$(awk '
      step == "" && /^mpimg_run_first_boot \047[^\047]*\047 \047[^\047]*\047/ {
        t = $0; sub(/^mpimg_run_first_boot \047[^\047]*\047 \047/, "", t); sub(/\047.*/, "", t); step = t }
      lib == "" && /^\. \047\/[^\047]*\047$/ { lib = substr($0, 4, length($0) - 4) }
      END { printf "%s\n%s\nx", step, lib }' "$1" 2>/dev/null) || out=$'\n\nx'
    REFS[$1]=$out
  fi
  out=${REFS[$1]}
  REF_STEP=${out%%$'\n'*}; out=${out#*$'\n'}; REF_LIB=${out%$'\n'x}
}

# script_runs NAME FILE: FILE (shown as NAME) is executable with a #! line its interpreter accepts.
# Sets bad=1 and adds evidence otherwise.
script_runs() {
  local name=$1 f=$2 first interp
  if [ ! -x "$f" ]; then bad=1; ev_add "$name: not executable (cloud-init skips it silently)"; return; fi
  first=""
  IFS= read -r -n 256 first 2>/dev/null < "$f" || true
  case $first in
    '#!'*) ;;
    *) bad=1; ev_add "$name: no #! line"; return ;;
  esac
  interp=${first#\#!}; interp=${interp#"${interp%%[! ]*}"}
  case $interp in
    */env\ *) interp=${interp#*/env }; interp=${interp%% *} ;;
    *) interp=${interp%% *}; interp=${interp##*/} ;;
  esac
  case $interp in
    sh|dash|ash) if ! sh -n "$f" >/dev/null 2>&1; then bad=1; ev_add "$name: fails sh -n"; fi ;;
    bash) if ! bash -n "$f" >/dev/null 2>&1; then bad=1; ev_add "$name: fails bash -n"; fi ;;
  esac
}

check_per_instance() {
  local d f e name step bad=0 n=0
  if in_root /var/lib/cloud/scripts/per-instance && [ -d "$IR" ]; then
    d=$IR
    for e in "$d"/*; do
      [ -e "$e" ] || [ -L "$e" ] || continue
      name=${e#"$ROOT"}
      # A link is what cloud-init runs inside the image: read what it points to there.
      in_root "$name" || continue
      f=$IR
      [ -d "$f" ] && continue
      n=$((n + 1))
      script_runs "$name" "$f"
      # An mpimg wrapper runs the vendor's step: that script must run too.
      refs_of "$f"; step=$REF_STEP
      if [ -n "$step" ]; then
        if in_root "$step" && [ -f "$IR" ]; then script_runs "$step (run by $name)" "$IR"
        else bad=1; ev_add "$name: runs $step, which is missing"; fi
      fi
    done
  fi
  if [ "$bad" = 1 ]; then
    record fail per-instance "per-instance scripts that would not run at first boot"
  else
    record pass per-instance "$n per-instance script(s), all executable with a #! line and valid syntax"
  fi
}

check_first_login() {
  local home f shown blocks slug run bad=0 n=0
  for home in ${HOMES[@]+"${HOMES[@]}"}; do
    in_root "${home%/}/.bashrc" || continue
    f=$IR; shown=${home%/}/.bashrc
    [ -r "$f" ] || continue
    # "<slug> <path or -> <closed 0|1>" for every mpimg first-login block.
    blocks=$(awk '
      /^# >>> mpimg:[a-z0-9-]+ first-login >>>[[:space:]]*$/ { s = $3; sub(/^mpimg:/, "", s); cur = s; path = "-"; next }
      /^# <<< mpimg:[a-z0-9-]+ first-login <<<[[:space:]]*$/ { if (cur != "") print cur, path, 1; cur = ""; next }
      cur != "" && path == "-" && match($0, /\/opt\/[A-Za-z0-9._\/-]*first-login-run/) { path = substr($0, RSTART, RLENGTH) }
      END { if (cur != "") print cur, path, 0 }' "$f")
    while read -r slug run closed; do
      [ -n "${slug:-}" ] || continue
      n=$((n + 1))
      if [ "$closed" = 0 ]; then bad=1; ev_add "$shown: mpimg:$slug first-login block has no end marker"; fi
      if [ "$run" = - ]; then bad=1; ev_add "$shown: mpimg:$slug first-login block runs no /opt/.../first-login-run"
      elif ! in_root "$run" || [ ! -f "$IR" ] || [ ! -x "$IR" ]; then bad=1; ev_add "$shown: mpimg:$slug runs $run, which is missing or not executable"
      else ev_add "$shown: mpimg:$slug runs $run"; fi
    done <<< "$blocks"
  done
  if [ "$bad" = 1 ]; then
    record fail first-login "a first-login hook is installed but its script is missing: every login would print an error"
  elif [ "$n" -gt 0 ]; then
    record pass first-login "first-login hook(s) point to executable scripts"
  else
    record pass first-login "no first-login hook installed"
  fi
}

check_motd() {
  local d e f bad=0 warn=0
  if in_root /etc/update-motd.d && [ -d "$IR" ]; then
    d=$IR
    for e in "$d"/*; do
      in_root "${e#"$ROOT"}" || continue
      f=$IR
      [ -f "$f" ] || continue
      [ -x "$f" ] && continue
      case ${e##*/} in
        99-*) bad=1; ev_add "${e#"$ROOT"}: not executable, so it is never shown" ;;
        *) warn=1; ev_add "${e#"$ROOT"}: not executable (disabled)" ;;
      esac
    done
  fi
  if [ "$bad" = 1 ]; then
    record fail motd "the image's MOTD script is not executable: chmod 0755 it"
  elif [ "$warn" = 1 ]; then
    record warn motd "some MOTD scripts are not executable (fine if they were disabled on purpose)"
  else
    record pass motd "MOTD scripts are executable"
  fi
}

# Where root runs code from: runtime/policy.ts ROOT_RUN_PATHS, as they are (a test keeps the two
# lists equal). These folders and files, everything the image's own pieces run at boot or login,
# and every folder above them must be root's alone.
ROOT_RUN_PATHS=(/bin /sbin /lib /lib32 /lib64 /libx32 /usr /boot /root /snap /var/lib/cloud /var/spool/cron /var/lib/dpkg /var/lib/rpm /var/lib/systemd /var/lib/snapd /etc/update-motd.d /etc/profile /etc/profile.d /etc/bash.bashrc /etc/bashrc /etc/bash_completion.d /etc/environment /etc/shells /etc/crontab /etc/cron.d /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly /etc/anacrontab /etc/systemd /etc/init.d /etc/rc.local /etc/rc.d /etc/sudoers /etc/sudoers.d /etc/sudo.conf /etc/ssh /etc/cloud /etc/apt /etc/dpkg /etc/yum.repos.d /etc/dnf /etc/yum /etc/yum.conf /etc/pki /etc/ld.so.conf /etc/ld.so.conf.d /etc/ld.so.preload /etc/nsswitch.conf /etc/pam.d /etc/security /etc/sysctl.conf /etc/sysctl.d /etc/modprobe.d /etc/modules-load.d /etc/udev /etc/logrotate.conf /etc/logrotate.d /etc/rsyslog.conf /etc/rsyslog.d /etc/default /etc/sysconfig /etc/kernel /etc/initramfs-tools /etc/grub.d /etc/needrestart /etc/dhcp /etc/networkd-dispatcher /etc/NetworkManager /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/login.defs /etc/ufw /etc/firewalld /etc/network /etc/netplan /etc/fstab /etc/tmpfiles.d /etc/selinux /etc/letsencrypt /etc/alternatives)

# root_chain PATH WHAT: PATH (a path inside the image) with its links followed, and every folder
# above it up to /, must be owned by root and not writable by others or by a group other than
# root's (a sticky folder like /tmp aside). Each folder is taken once (SEEN), into CHAIN_* in the
# order met; chain_verdicts then looks at them all with one stat.
root_chain() {
  local d=$1 what=$2 host
  if [ -z "$ROOT" ]; then
    d=$(readlink -f -- "$d" 2>/dev/null) || return 0
  else
    in_root "$d" || return 0
    d=${IR#"$ROOT"}
    d=${d:-/}
  fi
  while :; do
    if [ -z "${SEEN[$d]:-}" ]; then
      SEEN[$d]=1
      host=$ROOT$d
      [ -n "$ROOT" ] || host=$d
      if [ -e "$host" ]; then CHAIN_HOST+=("$host"); CHAIN_D+=("$d"); CHAIN_WHAT+=("$what"); fi
    fi
    [ "$d" != / ] || break
    d=${d%/*}
    d=${d:-/}
  done
}

# chain_verdicts: owner and mode of every CHAIN_HOST (one stat for all, not one per folder); adds
# evidence in CHAIN_* order and sets bad=1 where another user can change what root runs.
chain_verdicts() {
  local i rec st uid gid mode d what
  local -A ST=()
  [ "${#CHAIN_HOST[@]}" -gt 0 ] || return 0
  # "UID GID MODE NAME", NUL-terminated: a name may hold any byte but NUL. A file gone meanwhile
  # is left out, as before.
  while IFS= read -r -d '' rec; do
    uid=${rec%% *}; rec=${rec#* }; gid=${rec%% *}; rec=${rec#* }; mode=${rec%% *}
    ST[${rec#* }]="$uid $gid $mode"
  done < <(stat --printf '%u %g %a %n\0' -- "${CHAIN_HOST[@]}" 2>/dev/null)
  for i in "${!CHAIN_HOST[@]}"; do
    st=${ST[${CHAIN_HOST[i]}]:-}
    [ -n "$st" ] || continue
    d=${CHAIN_D[i]} what=${CHAIN_WHAT[i]}
    read -r uid gid mode <<< "$st"
    mode=$((8#$mode))
    if [ "$uid" != 0 ]; then
      bad=1; ev_add "$d: owned by uid $uid, not root ($what)"
    elif [ $((mode & 01000)) = 0 ] && { [ $((mode & 02)) != 0 ] || { [ $((mode & 020)) != 0 ] && [ "$gid" != 0 ]; }; }; then
      bad=1; ev_add "$d: writable by $( [ $((mode & 02)) != 0 ] && echo others || echo "group $gid") ($what)"
    fi
  done
}

check_root_run() {
  local p d e f run bad=0 n=0
  local -A SEEN=()
  local -a CHAIN_HOST=() CHAIN_D=() CHAIN_WHAT=()
  for p in "${ROOT_RUN_PATHS[@]}"; do
    in_root "$p" nofollow || continue
    [ -e "$IR" ] || [ -L "$IR" ] || continue
    n=$((n + 1)); root_chain "$p" "root runs code from $p"
  done
  # Everything root runs at boot or login, as the image has it: cloud-init's scripts and the steps
  # and library an mpimg wrapper runs, the MOTD, login shells' files, the first-login hook's script.
  for d in /var/lib/cloud/scripts/per-instance /var/lib/cloud/scripts/per-boot /var/lib/cloud/scripts/per-once /etc/update-motd.d /etc/profile.d; do
    if ! in_root "$d" || [ ! -d "$IR" ]; then continue; fi
    for e in "$IR"/*; do
      [ -e "$e" ] || [ -L "$e" ] || continue
      f=${e#"$ROOT"}
      n=$((n + 1)); root_chain "$f" "root runs $f"
      if ! in_root "$f" || [ ! -f "$IR" ]; then continue; fi
      refs_of "$IR"
      for run in $REF_STEP $REF_LIB; do n=$((n + 1)); root_chain "$run" "root runs it from $f"; done
    done
  done
  for f in /etc/profile /etc/bash.bashrc /etc/bashrc /etc/environment /etc/rc.local /root/.bashrc /root/.profile; do
    if ! in_root "$f" nofollow || { [ ! -e "$IR" ] && [ ! -L "$IR" ]; }; then continue; fi
    n=$((n + 1)); root_chain "$f" "root runs $f at login"
  done
  # The first-login hook's script and what it runs and sources (in its own folder).
  if in_root /root/.bashrc && [ -r "$IR" ]; then
    while read -r run; do
      [ -n "$run" ] || continue
      for f in "$run" "${run%/*}/first-login.sh" "${run%/*}/lib.sh"; do
        if ! in_root "$f" || [ ! -e "$IR" ]; then continue; fi
        n=$((n + 1)); root_chain "$f" "root runs it at the first login"
      done
    done < <(grep -o '/opt/[A-Za-z0-9._/-]*first-login-run' "$IR" 2>/dev/null | sort -u)
  fi
  chain_verdicts
  if [ "$bad" = 1 ]; then
    record fail root-run "root runs code from folders another user can change: give them (and every folder above) back to root (chown root:root, chmod go-w); an app user owning /opt/<vendor> can swap what root runs at login"
  else
    record pass root-run "$n path(s) root runs at boot or login, and every folder above them, are root's alone"
  fi
}

check_tmp() {
  local d f bad=0
  for d in /tmp /var/tmp; do
    in_root "$d" || continue
    d=$IR
    [ -d "$d" ] || continue
    while IFS= read -r -d '' f; do
      bad=1; ev_add "${f#"$ROOT"}"
    done < <(find "$d" -mindepth 1 \( -path "$d/systemd-private-*" -o -path "$d/.*-unix" \) -prune -o \( -type f -o -type l \) -print0 2>/dev/null)
  done
  if [ "$bad" = 1 ]; then
    record warn tmp "files left in /tmp or /var/tmp: remove them (the cleanup does)"
  else
    record pass tmp "/tmp and /var/tmp hold no files"
  fi
}

check_package_caches() {
  local f bad=0 d
  for d in /var/cache/apt/archives /var/cache/dnf /var/cache/yum; do
    in_root "$d" || continue
    [ -d "$IR" ] || continue
    while IFS= read -r -d '' f; do
      bad=1; ev_add "${f#"$ROOT"}"
    done < <(find "$IR" -type f \( -name '*.deb' -o -name '*.rpm' \) -print0 2>/dev/null)
  done
  if in_root /var/cache/apt; then
    for f in "$IR"/*.bin; do
      [ -f "$f" ] && { bad=1; ev_add "${f#"$ROOT"}"; }
    done
  fi
  if [ "$bad" = 1 ]; then
    record warn package-caches "package caches are not empty: apt-get clean / dnf clean all (the cleanup does)"
  else
    record pass package-caches "package caches are empty"
  fi
}

check_swap() {
  local f bad=0 dev type t
  at f /etc/fstab
  if [ -n "$f" ] && [ -r "$f" ]; then
    while read -r dev _ type _; do
      case $dev in ''|'#'*) continue ;; esac
      [ "$type" = swap ] && { bad=1; ev_add "/etc/fstab: swap entry $dev"; }
    done < "$f"
  fi
  for f in /swapfile /swap.img /swap; do
    at t "$f"
    [ -f "$t" ] && { bad=1; ev_add "$f"; }
  done
  if [ "$bad" = 1 ]; then
    record fail swap "swap is configured on the image: remove the swap file and its /etc/fstab line"
  else
    record pass swap "no swap file or swap entry"
  fi
}

check_bundle() {
  local f bad=0 d dirs=()
  for d in /root /tmp /var/tmp /opt; do
    in_root "$d" || continue
    [ -d "$IR" ] || continue
    dirs+=("$IR")
  done
  # One find for all of them: it walks its starting points in order.
  if [ "${#dirs[@]}" -gt 0 ]; then
    while IFS= read -r -d '' f; do
      if grep -q 'mpimg-runtime' "$f" 2>/dev/null; then bad=1; ev_add "${f#"$ROOT"}"; fi
    done < <(find "${dirs[@]}" -type f \( -name '*.cjs' -o -name '*-install.sh' \) -print0 2>/dev/null)
  fi
  if [ "$bad" = 1 ]; then
    record fail bundle "the mpimg bundle is left on the image: remove it (install --remove-self does)"
  else
    record pass bundle "no mpimg bundle left on the image"
  fi
}

# First boot makes one droplet's secrets: it saves them to the credentials file, records what it did
# in /var/lib/mpimg/<slug>/ and fills them into the templates. On an image (a snapshot of a droplet
# whose first boot ran) they would be every droplet's: first boot of a new droplet keeps the secrets
# it finds and a template that differs from its copy.
# check_template_folder TARGET: the folders TARGET's first boot writes in are root's alone, as the
# prepare step requires (mpimg__root_only in lib.sh): a folder a package gives its service user
# (mode 2770) would fail every droplet's first boot, its units marked afterFirstBoot never started.
check_template_folder() {
  local d=$1 f s
  while d=$(dirname -- "$d"); do
    at f "$d"
    if [ -n "$f" ] && [ -d "$f" ]; then
      s=$(stat -L -c '%u %a' -- "$f")
      if [ "${s%% *}" != 0 ] || [ $((8#${s#* } & 8#022)) != 0 ]; then
        ev_add "$1: first boot writes it as root in $d, owned by uid ${s%% *}, mode ${s#* }: refused there (another user could put a link in its place); keep the template in a folder of root's (e.g. /etc/<app>/) and give the file to the service with \$.files.owners"
        return 1
      fi
    fi
    [ "$d" = / ] && return 0
  done
}

check_first_boot_secrets() {
  local f c t bad=0 held=0
  if [ "$BOOTED" = 1 ]; then check_first_boot_secrets_booted; return; fi
  if [ -n "$CRED_FILE" ]; then
    at f "$CRED_FILE" nofollow
    if [ -n "$f" ] && { [ -e "$f" ] || [ -L "$f" ]; }; then
      bad=1; ev_add "$CRED_FILE: the credentials file, where first boot saved its secrets"
    fi
  fi
  if in_root /var/lib/mpimg && [ -d "$IR" ]; then
    for f in "$IR"/* "$IR"/.[!.]*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      bad=1; ev_add "/var/lib/mpimg/${f##*/}: what first boot recorded (it ran on this system)"
    done
  fi
  for t in ${TEMPLATES[@]+"${TEMPLATES[@]}"}; do
    at f "$t"; at c "${RUNTIME_HOME%/}/templates$t"
    # One that holds a secret is not in the image at its path: first boot writes it from its copy.
    if [ -f "$c" ] && grep -qE '[{][{]secret[.][A-Za-z0-9_.]+[}][}]' -- "$c"; then
      if [ -e "$f" ] || [ -L "$f" ]; then
        held=1; ev_add "$t: holds a secret, so the image must not carry it at its path (first boot writes it from ${RUNTIME_HOME%/}/templates$t; a package's own config there: list it in build.remove of mpimg.json)"
      fi
      check_template_folder "$t" || held=1
    elif [ -f "$f" ] && [ -f "$c" ] && ! cmp -s -- "$f" "$c"; then
      bad=1; ev_add "$t: filled in at first boot (it differs from ${RUNTIME_HOME%/}/templates$t)"
    fi
  done
  if [ "$bad" = 0 ] && [ "$held" = 1 ]; then
    record fail first-boot-secrets "a template that holds a secret is not where first boot can write it (below): every droplet would run without it"
  elif [ "$bad" = 1 ] || [ "$held" = 1 ]; then
    record fail first-boot-secrets "first boot already ran here: its secrets would be every droplet's (below). Build the image from a fresh droplet (run the build again): the cleanup removes the credentials file and first-boot records, but cannot undo filled-in templates or what first-boot steps did with the secrets"
  else
    record pass first-boot-secrets "no credentials file, first-boot records or filled-in templates: first boot has not run"
  fi
}

# Booted: what first boot made is this droplet's own, and only root may read or change it.
check_first_boot_secrets_booted() {
  local f s bad=0 n=0
  if [ -n "$CRED_FILE" ]; then
    at f "$CRED_FILE" nofollow
    if [ -L "$f" ]; then bad=1; ev_add "$CRED_FILE is a symbolic link, not the credentials file"
    elif [ -e "$f" ]; then
      s=$(stat -c '%u %a %F' -- "$f")
      if [ "$s" = "0 600 regular file" ] || [ "$s" = "0 600 regular empty file" ]; then n=$((n + 1))
      else bad=1; ev_add "$CRED_FILE: owner uid ${s%% *}, mode $(printf '%s' "$s" | cut -d' ' -f2); must be root's, mode 600 (chown root:root, chmod 600)"; fi
    fi
  fi
  if in_root /var/lib/mpimg && [ -d "$IR" ]; then
    for f in "$IR"/*; do
      [ -d "$f" ] || [ -L "$f" ] || continue
      s=$(stat -c '%u %a' -- "$f")
      if [ -L "$f" ]; then bad=1; ev_add "/var/lib/mpimg/${f##*/} is a symbolic link"
      elif [ "${s%% *}" = 0 ] && [ $((8#${s#* } & 8#077)) = 0 ]; then n=$((n + 1))
      else bad=1; ev_add "/var/lib/mpimg/${f##*/}: owner uid ${s%% *}, mode ${s#* }; must be root's alone (chown root, chmod 700)"; fi
    done
  fi
  if [ "$bad" = 1 ]; then
    record fail first-boot-secrets "what first boot made for this droplet's secrets is not root's alone (below)"
  else
    record pass first-boot-secrets "the credentials file and first-boot records are root's alone ($n checked)"
  fi
}

# Secrets packages make when they are installed: left in the image, every droplet shares them.
# "name|package|secret file|what comes with it": the known ones of $.regenerate
# (runtime/sections/regenerate.ts; test/runtime/regenerate.test.ts keeps the two lists equal).
PACKAGE_SECRETS=(
  'ssl-cert-snakeoil|ssl-cert|/etc/ssl/private/ssl-cert-snakeoil.key|/etc/ssl/certs/ssl-cert-snakeoil.pem'
  'erlang-cookie|rabbitmq-server|/var/lib/rabbitmq/.erlang.cookie|'
)

check_package_secrets() {
  local e name pkg key more f p bad=0 n=0 declared
  for e in "${PACKAGE_SECRETS[@]}"; do
    IFS='|' read -r name pkg key more <<< "$e"
    at f "$key" nofollow
    if [ -z "$f" ] || { [ ! -e "$f" ] && [ ! -L "$f" ]; }; then continue; fi
    n=$((n + 1))
    declared=0
    for p in ${REGEN_FILES[@]+"${REGEN_FILES[@]}"}; do [ "$p" = "$key" ] && declared=1; done
    if [ "$declared" = 1 ]; then
      ev_add "$key (package $pkg): declared in \$.regenerate, but still here: run the cleanup (it removes it)"
    else
      ev_add "$key (package $pkg${more:+, with $more}): declare \"$name\" in \$.regenerate of mpimg.json (first boot then makes each droplet its own)"
    fi
    bad=1
  done
  for p in ${REGEN_FILES[@]+"${REGEN_FILES[@]}"}; do
    case " ${PACKAGE_SECRETS[*]} " in *"|$p|"* | *"|$p "*) continue ;; esac
    at f "$p" nofollow
    if [ -n "$f" ] && { [ -e "$f" ] || [ -L "$f" ]; }; then
      n=$((n + 1)); bad=1; ev_add "$p: declared in \$.regenerate, but still here: run the cleanup (it removes it)"
    fi
  done
  if [ "$BOOTED" = 1 ]; then
    record pass package-secrets "secrets packages make are this droplet's own, made at first boot ($n found)"
  elif [ "$bad" = 1 ]; then
    record fail package-secrets "a secret a package made at build time is in the image: every droplet would share it (below)"
  else
    record pass package-secrets "no secret a package made at build time is left in the image"
  fi
}

# --- fail2ban and automatic security updates ($.fail2ban, $.securityUpdates) --------

# f2b_files: fail2ban's jail files in the order it reads them (a later setting wins).
f2b_files() {
  local d f
  at d /etc/fail2ban
  [ -n "$d" ] && [ -d "$d" ] || return 0
  for f in "$d/jail.conf" "$d"/jail.d/*.conf "$d/jail.local" "$d"/jail.d/*.local; do
    [ -f "$f" ] && printf '%s\n' "$f"
  done
}

# f2b_jails_of_files: the jails those files enable, one a line (for a root whose fail2ban cannot run).
f2b_jails_of_files() {
  local files=()
  mapfile -t files < <(f2b_files)
  [ ${#files[@]} -gt 0 ] || return 0
  awk '
    /^[[:space:]]*\[[^]]+\][[:space:]]*$/ { s = $0; gsub(/^[[:space:]]*\[|\][[:space:]]*$/, "", s); if (s != "DEFAULT" && s != "INCLUDES") seen[s] = 1; next }
    /^[[:space:]]*enabled[[:space:]]*[=:]/ {
      v = tolower($0); sub(/^[^=:]*[=:][[:space:]]*/, "", v); sub(/[[:space:]]+$/, "", v)
      on[s] = (v == "true" || v == "yes" || v == "1" || v == "on")
    }
    END { for (j in seen) if ((j in on) ? on[j] : on["DEFAULT"]) print j }' "${files[@]}" | sort
}

# f2b_jails: sets F2B_HAVE to the jails fail2ban enables, one a line: its own reading (its config
# test, then its dump) where it can run, else the files'. Returns 1 when fail2ban refuses its
# configuration (a jail it does not know, a log file that is not there): it would not start.
F2B_HOW="" F2B_HAVE=""
f2b_jails() {
  local dump rc=0
  run_in_root fail2ban-client -t > /dev/null 2>&1 || rc=$?
  if [ "$rc" = 125 ]; then
    F2B_HOW="its files (fail2ban cannot run here)"
    F2B_HAVE=$(f2b_jails_of_files)
    return 0
  fi
  [ "$rc" = 0 ] || return 1
  dump=$(run_in_root fail2ban-client -d 2>/dev/null) || return 1
  F2B_HOW="fail2ban-client -d"
  F2B_HAVE=$(sed -n "s/^\['add', '\([^']*\)',.*/\1/p" <<< "$dump" | sort -u)
}

check_fail2ban() {
  [ "$F2B_SET" = 1 ] || return 0
  local j have bad=0 asked=""
  if ! have_in_root fail2ban-client; then
    record fail fail2ban "mpimg.json enables fail2ban jails (${F2B_JAILS[*]}), but fail2ban is not installed: run the build's packages and fail2ban steps"
    return
  fi
  unit_enabled fail2ban.service || { bad=1; ev_add "fail2ban.service is not enabled at boot"; }
  if ! f2b_jails; then
    record fail fail2ban "fail2ban refuses its configuration (fail2ban-client -t), so it would not start: run fail2ban-client -t on the image"
    return
  fi
  have=$F2B_HAVE
  for j in "${F2B_JAILS[@]}"; do
    grep -qxF -- "$j" <<< "$have" || { bad=1; ev_add "jail $j: not enabled (read by $F2B_HOW)"; }
  done
  while IFS= read -r j; do
    [ -n "$j" ] || continue
    case " ${F2B_JAILS[*]} " in *" $j "*) ;; *) bad=1; ev_add "jail $j: enabled, but not in mpimg.json" ;; esac
  done <<< "$have"
  if [ "$BOOTED" = 1 ] && [ "$MODE" = live ]; then
    for j in "${F2B_JAILS[@]}"; do
      run_in_root fail2ban-client status "$j" > /dev/null 2>&1 || { bad=1; ev_add "fail2ban-client status $j: no answer (is fail2ban running? systemctl status fail2ban)"; }
    done
    asked=", each answering fail2ban-client status"
  fi
  if [ "$bad" = 1 ]; then
    record fail fail2ban "fail2ban is not as mpimg.json says (below): run the build's fail2ban step again"
  else
    record pass fail2ban "fail2ban enabled at boot with the jails of mpimg.json (${F2B_JAILS[*]})$asked"
  fi
}

# check_caddy: what the caddy step left (--caddy), modestly: caddy there, the Caddyfile mpimg's and
# valid as Caddy reads it, on at boot; on a booted droplet, running. Certificates are Caddy's own
# business at run time (it asks and renews them), so they are not looked for here.
check_caddy() {
  [ "$CADDY_SET" = 1 ] || return 0
  local f s bad=0 out rc=0 running=""
  if ! have_in_root caddy; then
    record fail caddy "mpimg.json has Caddy serve the app, but caddy is not installed: run the build's packages and caddy steps"
    return
  fi
  at f /etc/caddy/Caddyfile
  if [ ! -f "$f" ] || ! head -n 1 "$f" | grep -q '^# generator-mpimg: '; then
    bad=1; ev_add "/etc/caddy/Caddyfile is not mpimg's (the caddy step writes it)"
  else
    out=$(run_in_root caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile 2>&1) || rc=$?
    if [ "$rc" = 125 ]; then :
    elif [ "$rc" != 0 ]; then bad=1; ev_add "caddy validate refuses /etc/caddy/Caddyfile: $(tail -n 1 <<< "$out")"; fi
  fi
  unit_enabled caddy.service || { bad=1; ev_add "caddy.service is not enabled at boot"; }
  # An image carries no Caddy storage: the build droplet's certificates, keys and ACME account would
  # be every droplet's (the cleanup removes it; a booted droplet has its own).
  if [ "$BOOTED" != 1 ]; then
    for s in /var/lib/caddy/.local/share/caddy /root/.local/share/caddy; do
      at f "$s"
      if [ -e "$f" ] || [ -L "$f" ]; then bad=1; ev_add "$s is in the image (Caddy's certificates, keys and ACME account of the build droplet): run the cleanup (90-cleanup.sh) again"; fi
    done
    # the site names are each droplet's own (first boot: its address; the customer: a domain)
    for s in /etc/caddy/sites/ip.caddy /etc/caddy/sites/domain.caddy; do
      at f "$s"
      if [ -e "$f" ] || [ -L "$f" ]; then bad=1; ev_add "$s is in the image (a site of the build droplet, which every droplet would serve and ask certificates for): run the cleanup (90-cleanup.sh) again"; fi
    done
  fi
  if [ "$BOOTED" = 1 ] && [ "$MODE" = live ]; then
    unit_active caddy.service || { bad=1; ev_add "caddy.service is not running (systemctl status caddy.service)"; }
    running=", running"
  fi
  if [ "$bad" = 1 ]; then
    record fail caddy "Caddy is not as mpimg.json says (below): run the build's caddy step again"
  else
    record pass caddy "Caddy's configuration of mpimg.json is valid (caddy validate), caddy.service enabled at boot$running"
  fi
}

# What a certbot run on the build droplet leaves in an image besides live/ (ev_add each; bad=1).
cb_image_leftovers() {
  local d f n sites=()
  for d in accounts renewal archive keys; do
    at f "/etc/letsencrypt/$d"
    if [ -z "$f" ] || [ ! -d "$f" ]; then continue; fi
    n=$(find "$f" -type f 2> /dev/null | wc -l)
    if [ "$n" -gt 0 ]; then
      bad=1; ev_add "/etc/letsencrypt/$d holds $n file(s) of a certbot run on the build droplet$([ "$d" = accounts ] && echo ' (the ACME account key)'): every droplet would share them (the cleanup removes them)"
    fi
  done
  for d in /etc/nginx /etc/apache2 /etc/httpd; do
    at f "$d"
    if [ -z "$f" ] || [ ! -d "$f" ]; then continue; fi
    while IFS= read -r n; do sites+=("${n#"$f"}"); done < <(grep -rlsI -- '/etc/letsencrypt/live/' "$f" 2> /dev/null | sort)
    for n in ${sites[@]+"${sites[@]}"}; do
      bad=1; ev_add "$d$n uses a certificate of /etc/letsencrypt/live (certbot configured it on the build droplet): no droplet has it, so the web server would not start; build from a fresh droplet, or undo certbot's lines (\"# managed by Certbot\")"
    done
    sites=()
  done
  at f /root/.bashrc
  if [ -z "$f" ] || ! grep -qsE '^# >>> mpimg:[a-z0-9-]+ first-login >>>' "$f"; then
    bad=1; ev_add "/root/.bashrc has no mpimg first-login hook (the first login already ran on the build droplet?): no droplet would be asked for its domain; build from a fresh droplet"
  fi
}

# check_certbot: $.certbot's certbot and plugin are there; the image holds no certificate (its
# private key would be every droplet's); on a booted droplet one that is there gets renewed.
check_certbot() {
  [ -n "$CB_PLUGIN" ] || return 0
  local d f certs=0 bad=0
  if ! have_in_root certbot; then
    record fail certbot "mpimg.json sets up HTTPS with certbot ($CB_PLUGIN), but certbot is not installed: run the build's packages step"
    return
  fi
  at d "/usr/lib/python3/dist-packages/certbot_$CB_PLUGIN"
  if [ -z "$d" ] || [ ! -d "$d" ]; then bad=1; ev_add "certbot's $CB_PLUGIN plugin is not installed (python3-certbot-$CB_PLUGIN)"; fi
  at d /etc/letsencrypt/live
  if [ -n "$d" ] && [ -d "$d" ]; then
    for f in "$d"/*/cert.pem; do [ -e "$f" ] && certs=$((certs + 1)); done
  fi
  if [ "$BOOTED" = 1 ]; then
    if [ "$certs" -gt 0 ] && ! unit_enabled certbot.timer; then
      bad=1; ev_add "certbot.timer is not enabled: nothing renews the certificate (systemctl enable --now certbot.timer)"
    fi
  else
    if [ "$certs" -gt 0 ]; then
      bad=1; ev_add "/etc/letsencrypt/live holds $certs certificate(s) with their keys: every droplet would share them (remove /etc/letsencrypt/live, archive and renewal)"
    fi
    # A certbot run on the build droplet (its first login) leaves more than live/: the ACME account's
    # key, renewal configs, the site it edited, and no first-login hook, so no droplet would be asked.
    cb_image_leftovers
  fi
  if [ "$bad" = 1 ]; then
    record fail certbot "certbot is not as mpimg.json needs it (below)"
  elif [ "$BOOTED" = 1 ] && [ "$certs" -gt 0 ]; then
    record pass certbot "certbot ($CB_PLUGIN) with $certs certificate(s), renewed by certbot.timer"
  else
    record pass certbot "certbot and its $CB_PLUGIN plugin installed; no certificate in the image (the customer gets one at first login)"
  fi
}

# --- Docker ($.docker) ----------------------------------------------------------

# dk_compose_in_root ARGS: compose (the plugin, else v1's docker-compose) in the project folder.
dk_compose_in_root() {
  # shellcheck disable=SC2016 # the inner shell's
  run_in_root sh -c 'cd "$1" && shift && if docker compose version >/dev/null 2>&1; then exec docker compose "$@"; else exec docker-compose "$@"; fi' sh "$DK_PROJECT" "$@"
}

check_docker() {
  [ -n "$DK_UNIT" ] || return 0
  local f n file="" rc=0 out img how=""
  if ! have_in_root docker; then
    record fail docker "mpimg.json has Docker, but Docker Engine is not installed: run the build's packages step"
    return
  fi
  unit_enabled docker.service || ev_add "docker.service is not enabled at boot"
  unit_enabled "$DK_UNIT" || ev_add "$DK_UNIT is not enabled at boot"
  for n in compose.yaml compose.yml docker-compose.yaml docker-compose.yml; do
    at f "$DK_PROJECT/$n"
    if [ -n "$f" ] && [ -f "$f" ]; then file=$DK_PROJECT/$n; break; fi
  done
  if [ -z "$file" ]; then
    ev_add "$DK_PROJECT has no compose file"
  else
    out=$(dk_compose_in_root --project-name "${DK_UNIT%-compose.service}" --file "$file" config 2>/dev/null) || rc=$?
    if [ "$rc" = 125 ]; then
      how=" (compose and dockerd cannot run here: $MODE_REASON)"
    elif [ "$rc" != 0 ]; then
      ev_add "compose refuses $file (docker compose config)"
    elif run_in_root docker info >/dev/null 2>&1; then
      while IFS= read -r img; do
        [ -n "$img" ] || continue
        run_in_root docker image inspect "$img" >/dev/null 2>&1 || ev_add "image $img of $file is not on the machine: a droplet would pull it at boot"
      done < <(sed -n 's/^    image: *//p' <<< "$out" | sed "s/^[\"']//; s/[\"']\$//")
      how=", its images on the machine"
      # a container in the image keeps what it ran with at build (the .env's values in its settings)
      n=$(run_in_root docker ps --all --quiet 2>/dev/null | wc -l)
      [ "$n" = 0 ] || ev_add "$n container(s) on the machine: the image would hold them and what they ran with at build (secrets of a .env); docker compose down before the snapshot (cleanup removes them)"
    else
      how=" (dockerd does not answer: images not checked)"
    fi
  fi
  at f /etc/ufw/after.rules
  if [ -z "$f" ] || ! grep -qxF '# BEGIN generator-mpimg docker (DOCKER-USER from $.firewall)' "$f" 2>/dev/null; then
    ev_add "/etc/ufw/after.rules has no DOCKER-USER rules of mpimg.json: published ports would bypass the firewall"
  fi
  at f /etc/ufw/after6.rules
  if [ -n "$f" ] && [ -f "$f" ] && ! grep -qxF '# BEGIN generator-mpimg docker (DOCKER-USER from $.firewall)' "$f"; then
    ev_add "/etc/ufw/after6.rules has no DOCKER-USER rules of mpimg.json: ports published over IPv6 would bypass the firewall"
  fi
  if [ ${#EV[@]} -gt 0 ]; then
    record fail docker "Docker is not as mpimg.json says (below): run the build's containers step again"
  else
    record pass docker "Docker Engine and $DK_UNIT enabled at boot, $file valid$how; DOCKER-USER rules from the firewall"
  fi
}

# au_on VALUE: an apt or dnf boolean that is on.
au_on() { case ${1,,} in true | yes | 1 | on) return 0 ;; esac; return 1; }

au_check_apt() {
  local dump rc=0 k v l n=0
  have_in_root unattended-upgrade || { record fail auto-updates "mpimg.json switches automatic security updates on, but unattended-upgrades is not installed: run the build's packages and autoupdates steps"; return; }
  dump=$(run_in_root apt-config dump 2>/dev/null) || rc=$?
  if [ "$rc" = 125 ]; then record skip auto-updates "apt-config cannot run here ($MODE_REASON): automatic security updates not checked"; return; fi
  [ "$rc" = 0 ] || { record fail auto-updates "apt-config refuses the image's apt configuration"; return; }
  au_val() { sed -n "s/^$1 \"\(.*\)\";\$/\1/p" <<< "$dump" | tail -n 1; }
  for k in APT::Periodic::Update-Package-Lists APT::Periodic::Unattended-Upgrade; do
    v=$(au_val "$k")
    [[ $v =~ ^[1-9][0-9]*$ ]] || ev_add "$k is \"$v\": the daily run is off"
  done
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    n=$((n + 1))
    case $l in *-security* | *label=Debian-Security*) ;; *) ev_add "unattended-upgrades also installs from: $l" ;; esac
  done < <(sed -n 's/^Unattended-Upgrade::\(Origins-Pattern\|Allowed-Origins\):: "\(.*\)";$/\2/p' <<< "$dump")
  [ "$n" -gt 0 ] || ev_add "unattended-upgrades has no origin to install from"
  v=$(au_val Unattended-Upgrade::Automatic-Reboot)
  if [ "$AU_REBOOT" = never ]; then
    ! au_on "$v" || ev_add "Unattended-Upgrade::Automatic-Reboot is \"$v\": mpimg.json says never"
  else
    au_on "$v" || ev_add "Unattended-Upgrade::Automatic-Reboot is \"$v\": mpimg.json says $AU_REBOOT"
    case $AU_REBOOT in *:*) [ "$(au_val Unattended-Upgrade::Automatic-Reboot-Time)" = "$AU_REBOOT" ] || ev_add "Unattended-Upgrade::Automatic-Reboot-Time is not $AU_REBOOT" ;; esac
  fi
  au_timers apt-daily.timer apt-daily-upgrade.timer
  au_verdict "unattended-upgrades"
}

au_check_dnf() {
  local f v
  have_in_root dnf-automatic || { record fail auto-updates "mpimg.json switches automatic security updates on, but dnf-automatic is not installed: run the build's packages and autoupdates steps"; return; }
  at f /etc/dnf/automatic.conf
  if [ -z "$f" ] || [ ! -r "$f" ]; then record fail auto-updates "dnf-automatic has no /etc/dnf/automatic.conf: reinstall it and run the build's autoupdates step"; return; fi
  au_dnf_of() { awk -v k="$1" '
    /^[[:space:]]*\[/ { s = $0; gsub(/^[[:space:]]*\[|\][[:space:]]*$/, "", s); next }
    s == "commands" && index($0, "=") {
      n = $0; sub(/[[:space:]]*=.*/, "", n); gsub(/^[[:space:]]+/, "", n)
      if (n == k) { v = $0; sub(/^[^=]*=[[:space:]]*/, "", v); sub(/[[:space:]]+$/, "", v) }
    }
    END { print v }' "$f"; }
  v=$(au_dnf_of upgrade_type); [ "$v" = security ] || ev_add "upgrade_type is \"$v\", not security"
  v=$(au_dnf_of apply_updates); au_on "$v" || ev_add "apply_updates is \"$v\": updates are not installed"
  v=$(au_dnf_of reboot)
  if [ "$AU_REBOOT" = never ]; then
    [ -z "$v" ] || [ "$v" = never ] || ev_add "reboot is \"$v\": mpimg.json says never"
  else
    [ "$v" = when-needed ] || ev_add "reboot is \"$v\", not when-needed"
    case $AU_REBOOT in *:*) case $(au_dnf_of reboot_command) in *" $AU_REBOOT "*) ;; *) ev_add "reboot_command does not reboot at $AU_REBOOT" ;; esac ;; esac
  fi
  au_timers dnf-automatic.timer
  au_verdict "dnf-automatic"
}

# au_timers UNIT...: each enabled at boot and, on a booted droplet, running.
au_timers() {
  local t
  for t in "$@"; do
    unit_enabled "$t" || { ev_add "$t is not enabled at boot"; continue; }
    if [ "$BOOTED" = 1 ] && [ "$MODE" = live ] && ! unit_active "$t"; then ev_add "$t is enabled but not running"; fi
  done
}

au_verdict() {
  if [ ${#EV[@]} -gt 0 ]; then
    record fail auto-updates "automatic security updates ($1) are not as mpimg.json says (below): run the build's autoupdates step again"
  else
    record pass auto-updates "$1 installs security updates only, daily, reboot: $AU_REBOOT"
  fi
}

check_auto_updates() {
  [ -n "$AU_REBOOT" ] || return 0
  if have_in_root apt-config; then au_check_apt
  elif have_in_root dnf; then au_check_dnf
  else record fail auto-updates "mpimg.json switches automatic security updates on, but the image has neither apt nor dnf"
  fi
}

# --pending-updates: the counting of the security-updates check, as data, and nothing else.
# Lines: "distribution<TAB>TEXT", "manager<TAB>PM", then "update<TAB>" + a pending_updates line
# each. Exit 0 when the package manager answered, 1 when it could not tell (reason on stderr).
if [ "$PENDING_ONLY" = 1 ]; then
  [ "$MODE" != staged ] || { printf '%s: pending updates need the package manager inside the image: %s\n' "$PROG" "$MODE_REASON" >&2; exit 1; }
  pm=$(pending_manager) || { printf '%s: no apt-get, dnf or yum found\n' "$PROG" >&2; exit 1; }
  pending_updates "$pm" "$REFRESH" || { printf '%s: %s\n' "$PROG" "$PU_WHY" >&2; exit 1; }
  printf 'distribution\t%s\nmanager\t%s\n' "$PU_DIST" "$pm"
  [ -z "$PU_LINES" ] || printf '%s\n' "$PU_LINES" | sed 's/^/update\t/'
  exit 0
fi

# --- run ------------------------------------------------------------------------
collect_homes
collect_sshd_files
if [ "$JSON" = 0 ]; then
  printf 'mpimg image check of %s' "$ROOT_LABEL"
  [ "$BOOTED" = 1 ] && printf ' (a droplet made from the image, after its first boot)'
  case $MODE in
    chroot) printf ' (commands run with chroot)' ;;
    staged) printf ' (staged root: %s)' "$MODE_REASON" ;;
  esac
  printf '\n'
fi

check_os
check_cloud_init
check_openssh
check_sshd_config
check_sftp
check_firewall
check_security_updates
check_passwords
check_ssh_keys
check_histories
check_logs
check_cloud_init_data
check_host_keys
check_revoked_keys
check_machine_id
check_droplet_agent
check_login_hold
check_per_instance
check_first_login
check_motd
check_root_run
check_tmp
check_package_caches
check_swap
check_bundle
check_first_boot_secrets
check_package_secrets
check_fail2ban
check_caddy
check_certbot
check_auto_updates
check_docker

if [ "$N_FAIL" -gt 0 ]; then RESULT=fail
elif [ "$N_WARN" -gt 0 ]; then RESULT=warn
else RESULT=pass; fi

if [ "$JSON" = 1 ]; then
  printf '{"tool":"mpimg-img-check","version":1,"root":'; json_str "$ROOT_LABEL"
  printf ',"mode":'; json_str "$MODE"
  if [ "$BOOTED" = 1 ]; then printf ',"booted":true,'; else printf ',"booted":false,'; fi
  printf '"result":"%s","summary":{"pass":%d,"warn":%d,"fail":%d,"skip":%d},"checks":[' \
    "$RESULT" "$N_PASS" "$N_WARN" "$N_FAIL" "$N_SKIP"
  for i in "${!R_ID[@]}"; do
    [ "$i" -gt 0 ] && printf ','
    printf '{"id":'; json_str "${R_ID[$i]}"
    printf ',"status":"%s","message":' "${R_STATUS[$i]}"; json_str "${R_MSG[$i]}"
    printf ',"evidence":['
    first=1
    while IFS= read -r item; do
      [ -n "$item" ] || continue
      [ "$first" = 1 ] || printf ','
      first=0
      json_str "$item"
    done <<< "${R_EV[$i]}"
    printf ']}'
  done
  printf ']}\n'
else
  printf '\nSummary: %d passed, %d warnings, %d failed, %d skipped\n' "$N_PASS" "$N_WARN" "$N_FAIL" "$N_SKIP"
  case $RESULT in
    pass) printf '%sResult: PASS%s - the image is ready for review.\n' "$C_PASS" "$C_OFF" ;;
    warn) printf '%sResult: PASS with warnings%s - review the [WARN] lines before submitting.\n' "$C_WARN" "$C_OFF" ;;
    fail) printf '%sResult: FAIL%s - fix the [FAIL] lines; the image would be rejected.\n' "$C_FAIL" "$C_OFF" ;;
  esac
fi

[ "$N_FAIL" -eq 0 ] || exit 1
exit 0
