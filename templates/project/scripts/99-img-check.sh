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
# It never prints file contents: evidence is paths, names, counts and versions.
#
# Usage: 99-img-check.sh [--json] [--root DIR] [--refresh] [--help]
#   --json      print one JSON report instead of the tagged lines
#   --root DIR  check the root filesystem mounted or staged at DIR instead of /
#   --refresh   refresh the package index (apt-get update / dnf --refresh)
#               before counting pending security updates
# Environment: NO_COLOR disables colour (colour is only used on a terminal).
set -eu

PROG=99-img-check.sh
JSON=0
REFRESH=0
ROOT=""         # path prefix of the checked tree; "" means the live system
ROOT_SET=0
ROOT_LABEL="/"
MODE=live       # live | chroot | staged
MODE_REASON=""

die_usage() {
  printf '%s: %s\n' "$PROG" "$1" >&2
  printf '%s: run "%s --help" for the flags\n' "$PROG" "$PROG" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
    --json) JSON=1 ;;
    --refresh) REFRESH=1 ;;
    --root)
      [ $# -ge 2 ] || die_usage "--root needs a directory, e.g. --root /mnt/image"
      ROOT=$2; ROOT_SET=1; shift ;;
    --root=*) ROOT=${1#--root=}; ROOT_SET=1 ;;
    -h|--help)
      printf 'Usage: %s [--json] [--root DIR] [--refresh]\n' "$PROG"
      printf '  --json      one JSON report on stdout\n'
      printf '  --root DIR  check the root filesystem at DIR instead of /\n'
      printf '  --refresh   refresh package indexes before counting security updates\n'
      exit 0 ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
  shift
done

if [ "$ROOT_SET" = 1 ] && [ -z "$ROOT" ]; then
  die_usage "--root needs a directory, not an empty string (use --root / for the running system)"
fi
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die_usage "--root '$ROOT' is not a directory; pass the directory where the image's root filesystem is mounted"
  ROOT=$(cd "$ROOT" && pwd -P)
  [ "$ROOT" = / ] && ROOT=""
fi
if [ -n "$ROOT" ]; then
  ROOT_LABEL=$ROOT
  # Commands run inside DIR only when it is a whole root filesystem (a shell
  # to run them with and an os-release); a staged tree gets file-based checks.
  if [ ! -e "$ROOT/etc/os-release" ] && [ ! -e "$ROOT/usr/lib/os-release" ]; then
    MODE=staged; MODE_REASON="$ROOT has no os-release, so it is not a full root filesystem"
  elif [ ! -x "$ROOT/bin/sh" ] && [ ! -x "$ROOT/usr/bin/sh" ]; then
    MODE=staged; MODE_REASON="$ROOT has no /bin/sh, so it is not a full root filesystem"
  elif [ "$(id -u)" != 0 ]; then
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
in_root() {
  case $MODE in
    live) "$@" < /dev/null ;;
    chroot) chroot "$ROOT" "$@" < /dev/null ;;
    *) return 125 ;;
  esac
}

have_in_root() {
  local d
  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    [ -x "$ROOT$d/$1" ] && [ ! -d "$ROOT$d/$1" ] && return 0
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

# os_field KEY reads one os-release value without sourcing the file.
os_field() {
  local f
  f=$ROOT/etc/os-release; [ -e "$f" ] || f=$ROOT/usr/lib/os-release
  [ -r "$f" ] || return 0
  awk -v k="$1" 'index($0, k "=") == 1 { v = substr($0, length(k) + 2)
    if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) v = substr(v, 2, length(v) - 2)
    print v; exit }' "$f"
}

# dpkg_version PKG prints the installed version from the dpkg status file.
dpkg_version() {
  local f; f=$ROOT/var/lib/dpkg/status
  [ -r "$f" ] || return 0
  awk -v want="$1" '
    /^Package: / { pkg = $2; st = ""; ver = "" }
    /^Status: / { st = $0 }
    /^Version: / { ver = $2 }
    /^$/ { if (pkg == want && st ~ / installed$/ && ver != "") { print ver; done = 1; exit } pkg = "" }
    END { if (!done && pkg == want && st ~ / installed$/ && ver != "") print ver }' "$f"
}

# Every distinct home directory of the image (passwd entries and /home/*).
HOMES=()
collect_homes() {
  local pw home seen=" " d
  pw=$ROOT/etc/passwd
  if [ -r "$pw" ]; then
    while IFS=: read -r _ _ _ _ _ home _; do
      [ -n "$home" ] || continue
      case $seen in *" $home "*) continue ;; esac
      seen+="$home "
      HOMES+=("$home")
    done < "$pw"
  fi
  for d in "$ROOT/root" "$ROOT/home"/*; do
    if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
    home=${d#"$ROOT"}
    case $seen in *" $home "*) continue ;; esac
    seen+="$home "
    HOMES+=("$home")
  done
}

# --- checks -------------------------------------------------------------------
check_os() {
  local id ver major row fam listed v newest oldest cmp found=0
  id=$(os_field ID); ver=$(os_field VERSION_ID)
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
  if have_in_root cloud-init && out=$(in_root cloud-init --version 2>&1); then
    ver=$(printf '%s\n' "$out" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]/) { print $i; exit } }')
    src="cloud-init --version"
  fi
  if [ -z "$ver" ]; then
    ver=$(dpkg_version cloud-init)
    [ -n "$ver" ] && src="/var/lib/dpkg/status"
  fi
  if [ -z "$ver" ]; then
    local f
    for f in "$ROOT/usr/lib"/python3*/site-packages/cloudinit/version.py \
             "$ROOT/usr/lib"/python3/dist-packages/cloudinit/version.py \
             "$ROOT/usr/lib"/python3*/dist-packages/cloudinit/version.py; do
      [ -r "$f" ] || continue
      ver=$(sed -n 's/^__VERSION__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' "$f" | head -n 1)
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
  plain=$(printf '%s' "$plain" | sed 's/^\([0-9][0-9.]*\).*/\1/; s/\.$//')
  ev_add "version $ver (from $src)"
  if ver_ge "$plain" 0.7.9; then
    record pass cloud-init "cloud-init $plain is installed (>= 0.7.9)"
  else
    record fail cloud-init "cloud-init $plain is too old: 0.7.9 or newer is required"
  fi
}

check_openssh() {
  local ver
  ver=$(dpkg_version openssh-server)
  if [ -x "$ROOT/usr/sbin/sshd" ] || [ -n "$ver" ]; then
    [ -n "$ver" ] && ev_add "openssh-server $ver (from /var/lib/dpkg/status)"
    [ -x "$ROOT/usr/sbin/sshd" ] && ev_add "/usr/sbin/sshd"
    record pass openssh-server "openssh-server is installed"
  else
    record fail openssh-server "openssh-server is not installed (no /usr/sbin/sshd): users could not log in"
  fi
}

# A systemd unit is enabled when a *.wants link for it exists under /etc.
unit_enabled() {
  local l
  for l in "$ROOT/etc/systemd/system"/*.wants/"$1"; do
    [ -L "$l" ] || [ -e "$l" ] && return 0
  done
  return 1
}

unit_active() {
  [ "$MODE" = live ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$1" < /dev/null 2>/dev/null
}

check_firewall() {
  local f on=""
  f=$ROOT/etc/ufw/ufw.conf
  if [ -r "$f" ] && grep -Eq '^[[:space:]]*ENABLED[[:space:]]*=[[:space:]]*"?yes"?[[:space:]]*$' "$f"; then
    on="ufw (ENABLED=yes in /etc/ufw/ufw.conf)"
  fi
  if [ -z "$on" ] && unit_enabled firewalld.service; then
    if [ "$MODE" = live ] && command -v systemctl >/dev/null 2>&1 && ! unit_active firewalld.service; then
      ev_add "firewalld.service enabled but not running"
      record warn firewall "firewalld is enabled but stopped: start it (systemctl start firewalld) and check its rules"
      return
    fi
    on="firewalld (enabled at boot)"
  fi
  if [ -z "$on" ] && unit_enabled nftables.service; then
    f=$ROOT/etc/nftables.conf
    if [ -r "$f" ] && grep -Eq 'hook[[:space:]]+input' "$f"; then
      on="nftables (nftables.service enabled, /etc/nftables.conf filters input)"
    else
      ev_add "nftables.service enabled, but /etc/nftables.conf has no input hook"
    fi
  fi
  if [ -z "$on" ] && { unit_enabled netfilter-persistent.service || unit_enabled iptables.service; }; then
    for f in "$ROOT/etc/iptables/rules.v4" "$ROOT/etc/sysconfig/iptables"; do
      if [ -r "$f" ] && grep -Eq '^(-A INPUT|:INPUT (DROP|REJECT))' "$f"; then
        on="iptables (${f#"$ROOT"} restored at boot)"; break
      fi
    done
  fi
  if [ -n "$on" ]; then
    ev_add "$on"
    record pass firewall "a firewall is enabled: ${on%% *}"
  else
    record warn firewall "no firewall is enabled at boot (ufw, firewalld, nftables or iptables); consider enabling one with only the needed ports open"
  fi
}

check_security_updates() {
  local out rc=0 n pm=""
  if [ "$MODE" = staged ]; then
    record skip security-updates "pending security updates need the package manager inside the image: $MODE_REASON"
    return
  fi
  if have_in_root apt-get; then pm=apt
  elif have_in_root dnf; then pm=dnf
  elif have_in_root yum; then pm=yum
  else
    record skip security-updates "no apt-get, dnf or yum found in the image"; return
  fi
  case $pm in
    apt)
      if [ "$REFRESH" = 1 ]; then
        in_root apt-get -qq update >/dev/null 2>&1 || ev_add "apt-get update failed; counted from the existing indexes"
      fi
      # Empty cache file names keep apt from (re)writing pkgcache.bin: no side effects.
      out=$(in_root env LC_ALL=C apt-get -s -o Debug::NoLocking=1 -o Dir::Cache::pkgcache= \
        -o Dir::Cache::srcpkgcache= upgrade 2>/dev/null) || rc=$?
      ;;
    dnf|yum)
      if [ "$REFRESH" = 1 ]; then
        out=$(in_root env LC_ALL=C "$pm" -q --refresh updateinfo list --security 2>/dev/null) || rc=$?
      else
        out=$(in_root env LC_ALL=C "$pm" -q -C updateinfo list --security 2>/dev/null) || rc=$?
      fi
      ;;
  esac
  if [ "$rc" != 0 ]; then
    record warn security-updates "could not ask $pm for pending updates (exit $rc); run it by hand or pass --refresh"
    return
  fi
  # Count packages, not lines: one package can show up in several lines.
  local pkgs
  if [ "$pm" = apt ]; then
    pkgs=$(printf '%s\n' "$out" | awk '/^Inst / && /-[Ss]ecurity|[Ss]ecurity:/ { print $2 }' | sort -u)
  else
    # dnf 4 prints "ADVISORY Severity/Sec. NEVRA", dnf 5 "ADVISORY security Severity NEVRA Date":
    # take the field that ends in an architecture and strip -[epoch:]version-release.arch.
    pkgs=$(printf '%s\n' "$out" | awk '/[Ss]ec/ { for (i = 2; i <= NF; i++) if ($i ~ /\.(x86_64|aarch64|noarch|i686|ppc64le|s390x)$/) {
      n = $i; sub(/-[^-]+-[^-]+$/, "", n); print n; break } }' | sort -u)
  fi
  n=$(printf '%s' "$pkgs" | grep -c . || true)
  if [ "$n" -gt 0 ]; then
    local name
    while IFS= read -r name; do [ -n "$name" ] && ev_add "$name"; done <<< "$pkgs"
    record fail security-updates "$n package(s) have pending security updates: run the cleanup (it upgrades) or upgrade by hand"
  else
    ev_add "asked $pm$([ "$MODE" = chroot ] && printf ' inside %s' "$ROOT")"
    record pass security-updates "no pending security updates"
  fi
}

check_passwords() {
  local pw sh user uid pass ok=1 n=0 users=" "
  pw=$ROOT/etc/passwd; sh=$ROOT/etc/shadow
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

check_ssh_keys() {
  local home d f keys bad_auth=0 bad_priv=0 auth_ev=() priv_ev=()
  for home in "${HOMES[@]}"; do
    d=$ROOT${home%/}/.ssh
    if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
    for f in "$d"/authorized_keys "$d"/authorized_keys2; do
      [ -f "$f" ] || continue
      keys=$(grep -Ecv '^[[:space:]]*(#|$)' "$f" 2>/dev/null || true)
      if [ "${keys:-0}" -gt 0 ]; then
        bad_auth=1; auth_ev+=("${f#"$ROOT"}: $keys key(s)")
      fi
    done
    while IFS= read -r -d '' f; do
      case ${f##*/} in authorized_keys|authorized_keys2|known_hosts|known_hosts.old|config) continue ;; esac
      if is_private_key_file "$f"; then bad_priv=1; priv_ev+=("${f#"$ROOT"}"); fi
    done < <(find "$d" -maxdepth 3 -type f -print0 2>/dev/null)
  done
  EV=(${auth_ev[@]+"${auth_ev[@]}"})
  if [ "$bad_auth" = 1 ]; then
    record fail authorized-keys "authorized_keys with keys left on the image: remove them (the cleanup does)"
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
  for home in "${HOMES[@]}"; do
    for name in .bash_history .zsh_history .sh_history .python_history .mysql_history .lesshst .psql_history .local/share/fish/fish_history; do
      f=$ROOT${home%/}/$name
      if [ -f "$f" ] && [ -s "$f" ]; then bad=1; ev_add "${f#"$ROOT"} ($(wc -c < "$f") bytes)"; fi
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
  dir=$ROOT/var/log
  if [ ! -d "$dir" ]; then
    record pass logs "no /var/log"; record pass rotated-logs "no /var/log"
    record pass journal "no /var/log"; record pass login-records "no /var/log"
    return
  fi
  while IFS= read -r -d '' f; do
    name=${f##*/}
    case ${f#"$ROOT"} in
      /var/log/journal/*)
        case $name in
          *@*) jr=1; j_ev+=("${f#"$ROOT"}") ;;
          *.journal) if [ -s "$f" ] && [ "$MODE" != live ]; then jr=1; j_ev+=("${f#"$ROOT"}"); fi ;;
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
  done < <(find "$dir" -type f -print0 2>/dev/null)
  EV=(${log_ev[@]+"${log_ev[@]}"})
  if [ "$bad" = 1 ]; then record warn logs "log files under /var/log are not empty: truncate them (the cleanup does)"
  else record pass logs "log files under /var/log are empty"; fi
  EV=(${rot_ev[@]+"${rot_ev[@]}"})
  if [ "$rot" = 1 ]; then record warn rotated-logs "rotated or compressed logs left under /var/log"
  else record pass rotated-logs "no rotated or compressed logs"; fi
  EV=(${j_ev[@]+"${j_ev[@]}"})
  if [ "$jr" = 1 ]; then record warn journal "journal files left: vacuum the journal (the cleanup does)"
  elif [ "$MODE" = live ]; then record pass journal "no archived journal files (active files are recreated by journald)"
  else record pass journal "no journal files"; fi
  EV=(${rec_ev[@]+"${rec_ev[@]}"})
  if [ "$rec" = 1 ]; then record warn login-records "login records (wtmp/btmp/lastlog) are not empty"
  else record pass login-records "login records are empty"; fi
}

check_cloud_init_data() {
  local c bad=0 warn=0 e f
  c=$ROOT/var/lib/cloud
  for e in instances data sem handlers; do
    if [ -d "$c/$e" ] && [ -n "$(ls -A "$c/$e" 2>/dev/null)" ]; then bad=1; ev_add "/var/lib/cloud/$e/"; fi
  done
  if [ -L "$c/instance" ] || [ -e "$c/instance" ]; then
    bad=1
    if [ -L "$c/instance" ] && [ ! -e "$c/instance" ]; then ev_add "/var/lib/cloud/instance (dangling link)"
    else ev_add "/var/lib/cloud/instance"; fi
  fi
  for f in "$ROOT/var/log"/cloud-init.log "$ROOT/var/log"/cloud-init-output.log; do
    if [ -s "$f" ]; then bad=1; ev_add "${f#"$ROOT"}"; fi
  done
  if [ -d "$c/seed" ] && [ -n "$(ls -A "$c/seed" 2>/dev/null)" ]; then warn=1; ev_add "/var/lib/cloud/seed/"; fi
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
  for f in "$ROOT/etc/ssh"/ssh_host_*key*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    bad=1; ev_add "${f#"$ROOT"}"
  done
  if [ "$bad" = 1 ]; then
    record fail ssh-host-keys "SSH host keys are left: every droplet would share them; remove them (the cleanup does)"
  else
    record pass ssh-host-keys "no SSH host keys (new droplets generate their own)"
  fi
}

check_revoked_keys() {
  local conf f path=""
  conf=$ROOT/etc/ssh/sshd_config
  for f in "$conf" "$ROOT/etc/ssh/sshd_config.d"/*.conf; do
    [ -r "$f" ] || continue
    path=$(awk 'tolower($1) == "revokedkeys" { print $2; exit }' "$f")
    [ -n "$path" ] && break
  done
  if [ -z "$path" ] || [ "$path" = none ]; then
    record pass revoked-keys "sshd_config sets no RevokedKeys file"; return
  fi
  ev_add "RevokedKeys $path"
  if [ -f "$ROOT$path" ]; then
    record pass revoked-keys "the RevokedKeys file exists"
  else
    record fail revoked-keys "sshd_config names RevokedKeys $path but it is missing: sshd would refuse every key (touch it, mode 600)"
  fi
}

check_machine_id() {
  local f; f=$ROOT/etc/machine-id
  if [ -s "$f" ]; then
    ev_add "/etc/machine-id ($(wc -c < "$f") bytes)"
    record fail machine-id "/etc/machine-id is not empty: every droplet would share it; empty it (the cleanup does)"
  else
    record pass machine-id "/etc/machine-id is empty or absent (generated at first boot)"
  fi
}

check_droplet_agent() {
  local bad=0 u
  if [ -e "$ROOT/opt/digitalocean" ] || [ -L "$ROOT/opt/digitalocean" ]; then bad=1; ev_add "/opt/digitalocean"; fi
  for u in droplet-agent.service do-agent.service; do
    if unit_enabled "$u"; then bad=1; ev_add "$u enabled"; fi
  done
  for u in droplet-agent do-agent; do
    if [ -n "$(dpkg_version "$u")" ]; then bad=1; ev_add "package $u installed"; fi
  done
  if [ "$bad" = 1 ]; then
    record fail droplet-agent "the DigitalOcean droplet agent or /opt/digitalocean is on the image: build with the agent off and remove it"
  else
    record pass droplet-agent "no droplet agent and no /opt/digitalocean"
  fi
}

# ForceCommand outside the image's own, releasable login hold locks users out.
check_login_hold() {
  local f out line kind slug bad=0 managed=0 finish
  for f in "$ROOT/etc/ssh/sshd_config" "$ROOT/etc/ssh/sshd_config.d"/*.conf; do
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
      if [ "$kind" = managed ]; then
        finish=$ROOT/var/lib/cloud/scripts/per-instance/zz-$slug-finish
        if [ -f "$finish" ] && [ -x "$finish" ]; then
          managed=1; ev_add "${f#"$ROOT"}:$line in the mpimg:$slug login-hold block, released by /var/lib/cloud/scripts/per-instance/zz-$slug-finish"
        else
          bad=1; ev_add "${f#"$ROOT"}:$line in the mpimg:$slug login-hold block, but /var/lib/cloud/scripts/per-instance/zz-$slug-finish is missing or not executable"
        fi
      else
        bad=1; ev_add "${f#"$ROOT"}:$line ForceCommand outside an mpimg login-hold block"
      fi
    done <<< "$out"
  done
  if [ "$bad" = 1 ]; then
    record fail login-hold "a ForceCommand in sshd_config would lock users out: remove it, or use the image's login hold with its release script"
  elif [ "$managed" = 1 ]; then
    record pass login-hold "the image holds logins until first boot is done; the hold is released by its per-instance finish script"
  else
    record pass login-hold "no ForceCommand in sshd_config"
  fi
}

check_per_instance() {
  local d f first interp bad=0 n=0
  d=$ROOT/var/lib/cloud/scripts/per-instance
  if [ -d "$d" ]; then
    for f in "$d"/*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      [ -d "$f" ] && continue
      n=$((n + 1))
      if [ ! -x "$f" ]; then bad=1; ev_add "${f#"$ROOT"}: not executable (cloud-init skips it silently)"; continue; fi
      first=$(head -c 256 "$f" 2>/dev/null | head -n 1 || true)
      case $first in
        '#!'*) ;;
        *) bad=1; ev_add "${f#"$ROOT"}: no #! line"; continue ;;
      esac
      interp=${first#\#!}; interp=${interp#"${interp%%[! ]*}"}
      case $interp in
        */env\ *) interp=${interp#*/env }; interp=${interp%% *} ;;
        *) interp=${interp%% *}; interp=${interp##*/} ;;
      esac
      case $interp in
        sh|dash|ash) if ! sh -n "$f" >/dev/null 2>&1; then bad=1; ev_add "${f#"$ROOT"}: fails sh -n"; fi ;;
        bash) if ! bash -n "$f" >/dev/null 2>&1; then bad=1; ev_add "${f#"$ROOT"}: fails bash -n"; fi ;;
      esac
    done
  fi
  if [ "$bad" = 1 ]; then
    record fail per-instance "per-instance scripts that would not run at first boot"
  else
    record pass per-instance "$n per-instance script(s), all executable with a #! line and valid syntax"
  fi
}

check_first_login() {
  local home f blocks slug run bad=0 n=0
  for home in "${HOMES[@]}"; do
    f=$ROOT${home%/}/.bashrc
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
      if [ "$closed" = 0 ]; then bad=1; ev_add "${f#"$ROOT"}: mpimg:$slug first-login block has no end marker"; fi
      if [ "$run" = - ]; then bad=1; ev_add "${f#"$ROOT"}: mpimg:$slug first-login block runs no /opt/.../first-login-run"
      elif [ ! -f "$ROOT$run" ] || [ ! -x "$ROOT$run" ]; then bad=1; ev_add "${f#"$ROOT"}: mpimg:$slug runs $run, which is missing or not executable"
      else ev_add "${f#"$ROOT"}: mpimg:$slug runs $run"; fi
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
  local d f bad=0 warn=0
  d=$ROOT/etc/update-motd.d
  if [ -d "$d" ]; then
    for f in "$d"/*; do
      [ -f "$f" ] || continue
      [ -x "$f" ] && continue
      case ${f##*/} in
        99-*) bad=1; ev_add "${f#"$ROOT"}: not executable, so it is never shown" ;;
        *) warn=1; ev_add "${f#"$ROOT"}: not executable (disabled)" ;;
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

check_tmp() {
  local d f bad=0
  for d in "$ROOT/tmp" "$ROOT/var/tmp"; do
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
    [ -d "$ROOT$d" ] || continue
    while IFS= read -r -d '' f; do
      bad=1; ev_add "${f#"$ROOT"}"
    done < <(find "$ROOT$d" -type f \( -name '*.deb' -o -name '*.rpm' \) -print0 2>/dev/null)
  done
  for f in "$ROOT/var/cache/apt"/*.bin; do
    [ -f "$f" ] && { bad=1; ev_add "${f#"$ROOT"}"; }
  done
  if [ "$bad" = 1 ]; then
    record warn package-caches "package caches are not empty: apt-get clean / dnf clean all (the cleanup does)"
  else
    record pass package-caches "package caches are empty"
  fi
}

check_swap() {
  local f bad=0 dev type
  f=$ROOT/etc/fstab
  if [ -r "$f" ]; then
    while read -r dev _ type _; do
      case $dev in ''|'#'*) continue ;; esac
      [ "$type" = swap ] && { bad=1; ev_add "/etc/fstab: swap entry $dev"; }
    done < "$f"
  fi
  for f in /swapfile /swap.img /swap; do
    [ -f "$ROOT$f" ] && { bad=1; ev_add "$f"; }
  done
  if [ "$bad" = 1 ]; then
    record fail swap "swap is configured on the image: remove the swap file and its /etc/fstab line"
  else
    record pass swap "no swap file or swap entry"
  fi
}

check_bundle() {
  local f bad=0 d
  for d in /root /tmp /var/tmp /opt; do
    [ -d "$ROOT$d" ] || continue
    while IFS= read -r -d '' f; do
      if grep -q 'mpimg-runtime' "$f" 2>/dev/null; then bad=1; ev_add "${f#"$ROOT"}"; fi
    done < <(find "$ROOT$d" -type f \( -name '*.cjs' -o -name '*-install.sh' \) -print0 2>/dev/null)
  done
  if [ "$bad" = 1 ]; then
    record fail bundle "the mpimg bundle is left on the image: remove it (install --remove-self does)"
  else
    record pass bundle "no mpimg bundle left on the image"
  fi
}

# --- run ------------------------------------------------------------------------
collect_homes
if [ "$JSON" = 0 ]; then
  printf 'mpimg image check of %s' "$ROOT_LABEL"
  case $MODE in
    chroot) printf ' (commands run with chroot)' ;;
    staged) printf ' (staged root: %s)' "$MODE_REASON" ;;
  esac
  printf '\n'
fi

check_os
check_cloud_init
check_openssh
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
check_tmp
check_package_caches
check_swap
check_bundle

if [ "$N_FAIL" -gt 0 ]; then RESULT=fail
elif [ "$N_WARN" -gt 0 ]; then RESULT=warn
else RESULT=pass; fi

if [ "$JSON" = 1 ]; then
  printf '{"tool":"mpimg-img-check","version":1,"root":%s,"mode":%s,' "$(json_str "$ROOT_LABEL")" "$(json_str "$MODE")"
  printf '"result":"%s","summary":{"pass":%d,"warn":%d,"fail":%d,"skip":%d},"checks":[' \
    "$RESULT" "$N_PASS" "$N_WARN" "$N_FAIL" "$N_SKIP"
  for i in "${!R_ID[@]}"; do
    [ "$i" -gt 0 ] && printf ','
    printf '{"id":%s,"status":"%s","message":%s,"evidence":[' \
      "$(json_str "${R_ID[$i]}")" "${R_STATUS[$i]}" "$(json_str "${R_MSG[$i]}")"
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
