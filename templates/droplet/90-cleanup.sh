#!/usr/bin/env bash
# mpimg cleanup: prepares a build droplet (or a staged root filesystem) for
# its snapshot. Safe to run again: every step only removes or empties what is
# still there.
#
# It deletes every user's SSH keys, authorized_keys, the SSH host keys, shell
# histories and logs, so on the running system it only runs where it looks
# like a DigitalOcean build droplet (cloud-init, and the DMI vendor, cloud-init's
# datasource or the metadata service saying DigitalOcean), or when told so.
#
# Usage: 90-cleanup.sh [--dry-run] [--root DIR] [--lock-root-password]
#                      [--zero-fill] [--zero-fill-max-mib N] [--no-packages]
#                      [--credentials FILE] [--regenerate FILE]... [--caddy]
#                      [--yes-this-is-a-build-droplet]
#   --dry-run             print every action, change nothing
#   --root DIR            clean the root filesystem at DIR instead of /
#                         (package-manager steps run with chroot when DIR is a
#                         full root filesystem, and are skipped otherwise);
#                         symlinks in it are resolved inside DIR, never on this
#                         machine
#   --yes-this-is-a-build-droplet
#                         clean the running system even though it does not
#                         look like a DigitalOcean droplet (e.g. another cloud)
#   --lock-root-password  lock root's password (prefix "!" in /etc/shadow)
#   --zero-fill           fill free space with zeros, then remove the file
#                         (off by default; bounded by --zero-fill-max-mib)
#   --zero-fill-max-mib N upper bound of the zero-fill file (default 4096)
#   --no-packages         skip upgrade/autoremove (caches are still emptied)
#   --credentials FILE    the file first boot saves secrets to (mpimg.json's
#                         $.credentials, passed by the bundle): removed
#   --regenerate FILE     a secret a package made at build time that first
#                         boot makes anew ($.regenerate, passed by the bundle):
#                         removed, with the links beside it that lead to it
#   --caddy               mpimg.json has Caddy ($.caddy): the build droplet's site
#                         files (/etc/caddy/sites/ip.caddy, domain.caddy) are removed
# Environment: MPIMG_LOCK_TIMEOUT seconds to wait for the package lock (600),
#              MPIMG_ZERO_FILL_RESERVE_MIB free space left untouched (256),
#              MPIMG_METADATA_URL where the droplet id is asked
#              (http://169.254.169.254/metadata/v1/id).
#
# Deliberately NOT done: `cloud-init clean` (it deletes /var/lib/cloud/scripts,
# i.e. the image's own first-boot scripts); instance data is removed by hand.
set -eu

PROG=90-cleanup.sh
DRY=0
ROOT=""
ROOT_SET=0
LOCK_ROOT=0
ZERO=0
ZERO_MAX=4096
PACKAGES=1
FORCE_LIVE=0
CRED_FILE=""
REGEN_FILES=()
CADDY=0
LOCK_TIMEOUT=${MPIMG_LOCK_TIMEOUT:-600}
ZERO_RESERVE=${MPIMG_ZERO_FILL_RESERVE_MIB:-256}

die_usage() {
  printf '%s: %s\n' "$PROG" "$1" >&2
  printf '%s: run "%s --help" for the flags\n' "$PROG" "$PROG" >&2
  exit 2
}

is_uint() { case $1 in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac; }

while [ $# -gt 0 ]; do
  case $1 in
    --dry-run|-n) DRY=1 ;;
    --lock-root-password) LOCK_ROOT=1 ;;
    --zero-fill) ZERO=1 ;;
    --no-packages) PACKAGES=0 ;;
    --yes-this-is-a-build-droplet) FORCE_LIVE=1 ;;
    --caddy) CADDY=1 ;;
    --credentials)
      [ $# -ge 2 ] || die_usage "--credentials needs the credentials file, e.g. --credentials /root/.app-credentials"
      CRED_FILE=$2; shift
      case $CRED_FILE in /*) ;; *) die_usage "--credentials '$CRED_FILE' is not an absolute path" ;; esac ;;
    --regenerate)
      [ $# -ge 2 ] || die_usage "--regenerate needs a file, e.g. --regenerate /etc/ssl/private/ssl-cert-snakeoil.key"
      case $2 in /*) ;; *) die_usage "--regenerate '$2' is not an absolute path" ;; esac
      REGEN_FILES+=("$2"); shift ;;
    --zero-fill-max-mib)
      [ $# -ge 2 ] || die_usage "--zero-fill-max-mib needs a number of MiB, e.g. --zero-fill-max-mib 2048"
      ZERO_MAX=$2; shift ;;
    --zero-fill-max-mib=*) ZERO_MAX=${1#*=} ;;
    --root)
      [ $# -ge 2 ] || die_usage "--root needs a directory, e.g. --root /mnt/image"
      ROOT=$2; ROOT_SET=1; shift ;;
    --root=*) ROOT=${1#--root=}; ROOT_SET=1 ;;
    -h|--help)
      printf 'Usage: %s [--dry-run] [--root DIR] [--lock-root-password] [--zero-fill] [--zero-fill-max-mib N] [--no-packages] [--yes-this-is-a-build-droplet]\n' "$PROG"
      printf '  --dry-run             print every action, change nothing\n'
      printf '  --root DIR            clean the root filesystem at DIR instead of / (symlinks resolved inside DIR)\n'
      printf '  --lock-root-password  lock root'"'"'s password in /etc/shadow\n'
      printf '  --zero-fill           fill free space with zeros, then remove the file (off by default)\n'
      printf '  --zero-fill-max-mib N upper bound of the zero-fill file in MiB (default 4096)\n'
      printf '  --no-packages         skip upgrade and autoremove (caches are still emptied)\n'
      printf '  --credentials FILE    remove the file first boot saves secrets to (from mpimg.json)\n'
      printf '  --regenerate FILE     remove a package-made secret first boot makes anew (from mpimg.json)\n'
      printf '  --caddy               remove the site files of caddy-site (from mpimg.json: each droplet writes its own)\n'
      printf '  --yes-this-is-a-build-droplet\n'
      printf '                        clean the running system although it does not look like a DigitalOcean droplet\n'
      printf 'The running system is cleaned only on a DigitalOcean build droplet (cloud-init, and the DMI vendor,\n'
      printf "cloud-init's datasource or the metadata service saying DigitalOcean) or with --yes-this-is-a-build-droplet.\n"
      printf 'Environment: MPIMG_LOCK_TIMEOUT (s, default 600), MPIMG_ZERO_FILL_RESERVE_MIB (default 256),\n'
      printf '             MPIMG_METADATA_URL (default http://169.254.169.254/metadata/v1/id)\n'
      exit 0 ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
  shift
done

if ! is_uint "$ZERO_MAX" || [ "$ZERO_MAX" -lt 1 ]; then
  die_usage "--zero-fill-max-mib '$ZERO_MAX' is not a positive whole number of MiB"
fi
is_uint "$LOCK_TIMEOUT" || die_usage "MPIMG_LOCK_TIMEOUT '$LOCK_TIMEOUT' is not a number of seconds"
is_uint "$ZERO_RESERVE" || die_usage "MPIMG_ZERO_FILL_RESERVE_MIB '$ZERO_RESERVE' is not a number of MiB"

# in_root PATH [nofollow]: sets IR to where the image's PATH is on this machine.
# Symlinks are resolved as inside the image: an absolute target starts again at
# ROOT (never at this machine's /), ".." stops at ROOT, at most 40 links. With
# nofollow a link in the last component is left alone, to be acted on as a link.
# The running system (ROOT empty) is its own image: PATH as it is.
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
        printf '%s: cannot resolve %s inside %s (a symlink loop?); skipped\n' "$PROG" "$1" "$ROOT" >&2
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

MODE=live
MODE_REASON=""
if [ "$ROOT_SET" = 1 ] && [ -z "$ROOT" ]; then
  die_usage "--root needs a directory, not an empty string (use --root / for the running system)"
fi
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die_usage "--root '$ROOT' is not a directory; pass the directory holding the image's root filesystem"
  ROOT=$(cd "$ROOT" && pwd -P)
  # / itself, also by another name (a bind mount of /), is the running system.
  if [ "$ROOT" = / ] || [ "$ROOT" -ef / ]; then ROOT=""; fi
fi
root_exists() { in_root "$1" && [ -e "$IR" ]; }
root_runs() { in_root "$1" && [ -x "$IR" ]; }
if [ -n "$ROOT" ]; then
  if ! root_exists /etc/os-release && ! root_exists /usr/lib/os-release; then
    MODE=staged; MODE_REASON="$ROOT has no os-release, so it is not a full root filesystem"
  elif ! root_runs /bin/sh && ! root_runs /usr/bin/sh; then
    MODE=staged; MODE_REASON="$ROOT has no /bin/sh, so it is not a full root filesystem"
  elif [ "$(id -u)" != 0 ]; then
    MODE=staged; MODE_REASON="running commands inside $ROOT needs chroot, which needs root"
  elif ! command -v chroot >/dev/null 2>&1; then
    MODE=staged; MODE_REASON="chroot is not available on this machine"
  else
    MODE=chroot
  fi
elif [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
  printf '%s: cleaning the live system needs root; run it with sudo, or pass --root DIR or --dry-run\n' "$PROG" >&2
  exit 2
fi

# --- is the running system a build droplet? -----------------------------------
# Run by mistake on a workstation or a server, this script would delete every
# user's keys, histories and logs: the running system is cleaned only when it
# looks like a DigitalOcean build droplet, or when the user says it is one.
METADATA_URL=${MPIMG_METADATA_URL:-http://169.254.169.254/metadata/v1/id}
DROPLET_EVIDENCE=""
DROPLET_MISSING=""

# Returns 0 when the metadata service answers with a droplet id, 1 when it does
# not, 2 when there is no curl or wget to ask it. Short timeouts: off DigitalOcean
# nothing answers, and the proxy is never asked.
metadata_answers() {
  local out
  if command -v curl >/dev/null 2>&1; then
    out=$(curl -fsS --noproxy '*' --connect-timeout 2 --max-time 3 "$METADATA_URL" < /dev/null 2>/dev/null) || return 1
  elif command -v wget >/dev/null 2>&1; then
    out=$(wget -qO- --no-proxy -T 3 -t 1 "$METADATA_URL" < /dev/null 2>/dev/null) || return 1
  else
    return 2
  fi
  case $out in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac
}

looks_like_build_droplet() {
  local vendor="" ds="" rc=0
  if ! command -v cloud-init >/dev/null 2>&1 && [ ! -x /usr/bin/cloud-init ]; then
    DROPLET_MISSING="cloud-init is not installed (no cloud-init command), and every DigitalOcean droplet has it"
    return 1
  fi
  if [ -r /sys/class/dmi/id/sys_vendor ]; then vendor=$(tr -d '\n' < /sys/class/dmi/id/sys_vendor 2>/dev/null || true); fi
  vendor=${vendor%"${vendor##*[![:space:]]}"}
  if [ "$vendor" = DigitalOcean ]; then DROPLET_EVIDENCE="DMI system vendor is DigitalOcean"; return 0; fi
  if [ -r /var/lib/cloud/instance/datasource ]; then ds=$(head -c 200 /var/lib/cloud/instance/datasource 2>/dev/null || true); fi
  case $ds in *DigitalOcean*) DROPLET_EVIDENCE="cloud-init's datasource is DigitalOcean"; return 0 ;; esac
  metadata_answers || rc=$?
  if [ "$rc" = 0 ]; then DROPLET_EVIDENCE="the DigitalOcean metadata service answers at $METADATA_URL"; return 0; fi
  DROPLET_MISSING="cloud-init is installed, but nothing says this is a DigitalOcean droplet:"
  if [ -n "$vendor" ]; then DROPLET_MISSING+=" /sys/class/dmi/id/sys_vendor is \"$vendor\", not DigitalOcean;"
  else DROPLET_MISSING+=" /sys/class/dmi/id/sys_vendor is missing, not DigitalOcean;"; fi
  if [ -n "$ds" ]; then DROPLET_MISSING+=" /var/lib/cloud/instance/datasource does not name DigitalOcean;"
  else DROPLET_MISSING+=" /var/lib/cloud/instance/datasource is missing;"; fi
  if [ "$rc" = 2 ]; then DROPLET_MISSING+=" the metadata service could not be asked (no curl or wget)"
  else DROPLET_MISSING+=" the metadata service at $METADATA_URL did not answer with a droplet id"; fi
  return 1
}

refuse_live() {
  printf '%s: refusing to clean the running system: it does not look like a DigitalOcean build droplet.\n' "$PROG" >&2
  printf '  missing evidence: %s\n' "$DROPLET_MISSING" >&2
  printf '  This cleanup deletes every user'"'"'s SSH keys and authorized_keys, the SSH host keys, shell histories and logs.\n' >&2
  printf '  fix: run it on the build droplet; to clean an image'"'"'s root filesystem, pass --root DIR;\n' >&2
  printf '       if this machine really is the build machine of the image (e.g. on another cloud), pass --yes-this-is-a-build-droplet\n' >&2
  printf '  nothing was changed\n' >&2
  exit 2
}

GUARD_NOTE=""
if [ -z "$ROOT" ]; then
  if [ "$FORCE_LIVE" = 1 ]; then
    GUARD_NOTE="cleaning the running system: --yes-this-is-a-build-droplet"
  elif looks_like_build_droplet; then
    GUARD_NOTE="cleaning the running system: a build droplet ($DROPLET_EVIDENCE)"
  elif [ "$DRY" = 0 ]; then
    refuse_live
  else
    GUARD_NOTE="a real run would refuse: $DROPLET_MISSING (override: --yes-this-is-a-build-droplet)"
  fi
fi

# --- bookkeeping and actions ----------------------------------------------------
STEPS=0 CHANGES=0 FREED=0 ERRORS=0
S_CHANGES=0 S_FREED=0


human() {
  awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); i = 1
    while (b >= 1024 && i < 5) { b /= 1024; i++ }
    if (i == 1) printf "%d %s", b, u[i]; else printf "%.1f %s", b, u[i] }'
}

# Bytes under a path. du's first line carries the total (a name holding a
# newline spreads over more lines).
size_of() { du -sxb -- "$1" 2>/dev/null | awk 'NR == 1 { s = $1 } END { printf "%d\n", s }'; }

# The image path of a path under ROOT, on one line (names may hold newlines).
shown() { local p=${1#"$ROOT"}; printf '%s' "${p//[$'\001'-$'\037'$'\177']/?}"; }

step() {
  STEPS=$((STEPS + 1)); S_CHANGES=0; S_FREED=0
  printf '==> %s\n' "$1"
}

step_done() {
  CHANGES=$((CHANGES + S_CHANGES)); FREED=$((FREED + S_FREED))
  if [ "$S_CHANGES" = 0 ]; then
    printf '    nothing to do%s\n' "${1:+: $1}"
  elif [ "$DRY" = 1 ]; then
    printf '    would make %d change(s), freeing %s%s\n' "$S_CHANGES" "$(human "$S_FREED")" "${1:+ ($1)}"
  else
    printf '    %d change(s), freed %s%s\n' "$S_CHANGES" "$(human "$S_FREED")" "${1:+ ($1)}"
  fi
}

# Prints the action in a dry run; otherwise runs it and counts failures.
act() {
  local what=$1; shift
  S_CHANGES=$((S_CHANGES + 1))
  if [ "$DRY" = 1 ]; then printf '    would %s\n' "$what"; return 0; fi
  printf '    %s\n' "$what"
  if ! "$@"; then
    ERRORS=$((ERRORS + 1)); printf '    FAILED to %s\n' "$what" >&2
  fi
}

# Removes a file, a tree or a symlink. rm never follows a link (a link is
# removed as a link) and stays on the filesystem of the path it is given.
rm_path() {
  local f=$1 n
  [ -e "$f" ] || [ -L "$f" ] || return 0
  n=$(size_of "$f"); S_FREED=$((S_FREED + n))
  act "remove $(shown "$f") ($(human "$n"))" rm -rf --one-file-system -- "$f"
}

# Empties a regular file in place (owner and mode kept), never through a link.
truncate_file() {
  local f=$1 n
  if [ -L "$f" ] || [ ! -f "$f" ] || [ ! -s "$f" ]; then return 0; fi
  n=$(stat -c %s -- "$f"); S_FREED=$((S_FREED + n))
  act "empty $(shown "$f") ($(human "$n"))" truncate -s 0 -- "$f"
}

# stdin is /dev/null: when this script is fed to `bash -s`, a command reading
# stdin would otherwise eat the rest of the script.
run_in_root() {
  case $MODE in
    live) "$@" < /dev/null ;;
    chroot) chroot "$ROOT" "$@" < /dev/null ;;
    *) return 125 ;;
  esac
}

have_in_root() {
  local d
  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    in_root "$d/$1" || continue
    [ -x "$IR" ] && [ ! -d "$IR" ] && return 0
  done
  return 1
}

run_pm() {
  local what=$1; shift
  S_CHANGES=$((S_CHANGES + 1))
  if [ "$DRY" = 1 ]; then printf '    would run: %s\n' "$what"; return 0; fi
  printf '    running: %s\n' "$what"
  if ! run_in_root "$@"; then
    ERRORS=$((ERRORS + 1)); printf '    FAILED: %s\n' "$what" >&2
    return 1
  fi
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

# --- steps ---------------------------------------------------------------------
PM=""
detect_pm() {
  if have_in_root apt-get; then PM=apt
  elif have_in_root dnf; then PM=dnf
  elif have_in_root yum; then PM=yum
  fi
}

# Wait for background package jobs instead of fighting them for the lock.
step_wait_lock() {
  step "wait for the package manager"
  # systemctl answers "active" in a chroot without systemd: ask it only where systemd runs.
  if [ "$MODE" != live ] || ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
    step_done "no running services to wait for here"; return
  fi
  local waited=0 units
  case $PM in
    apt) units="apt-daily.service apt-daily-upgrade.service unattended-upgrades-run.service" ;;
    *) units="dnf-makecache.service dnf-automatic.service dnf-automatic-install.service packagekit.service" ;;
  esac
  # shellcheck disable=SC2086 # a list of unit names
  while systemctl is-active --quiet $units < /dev/null 2>/dev/null || systemctl list-jobs < /dev/null 2>/dev/null | grep -Eq 'apt-daily|dnf-makecache'; do
    if [ "$waited" -ge "$LOCK_TIMEOUT" ]; then
      printf '    still busy after %ss; continuing (apt waits for its lock itself)\n' "$waited"; break
    fi
    [ "$waited" = 0 ] && printf '    package jobs are running; waiting up to %ss\n' "$LOCK_TIMEOUT"
    sleep 5; waited=$((waited + 5))
  done
  step_done "waited ${waited}s"
}

step_packages() {
  step "upgrade packages, remove unused ones, clean the package manager"
  if [ "$PACKAGES" = 0 ]; then step_done "skipped: --no-packages"; return; fi
  if [ "$MODE" = staged ]; then step_done "skipped: $MODE_REASON"; return; fi
  if [ -z "$PM" ]; then step_done "skipped: no apt-get, dnf or yum in the image"; return; fi
  local cache="" before after
  case $PM in apt) in_root /var/cache/apt && cache=$IR ;; *) in_root "/var/cache/$PM" && cache=$IR ;; esac
  before=$(size_of "$cache")
  case $PM in
    apt)
      local lock="-o DPkg::Lock::Timeout=$LOCK_TIMEOUT"
      local keep="-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
      # shellcheck disable=SC2086 # option lists
      run_pm "apt-get update" env LC_ALL=C apt-get -q $lock update || true
      # shellcheck disable=SC2086
      run_pm "apt-get upgrade (non-interactive, keeping config files)" \
        env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -q -y $lock $keep upgrade --with-new-pkgs || true
      # shellcheck disable=SC2086
      run_pm "apt-get autoremove" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -q -y $lock autoremove --purge || true
      # shellcheck disable=SC2086
      run_pm "apt-get clean" env LC_ALL=C apt-get -q $lock clean || true
      ;;
    dnf|yum)
      run_pm "$PM upgrade" env LC_ALL=C "$PM" -y -q upgrade || true
      run_pm "$PM autoremove" env LC_ALL=C "$PM" -y -q autoremove || true
      run_pm "$PM clean all" env LC_ALL=C "$PM" -q clean all || true
      ;;
  esac
  if [ "$DRY" = 0 ]; then
    after=$(size_of "$cache")
    if [ "$after" -lt "$before" ]; then S_FREED=$((S_FREED + before - after)); fi
  fi
  step_done "$PM"
}

# Files the package managers' clean commands remove; done by hand as well so a
# staged root (where no package manager can run) ends up clean too.
step_caches() {
  step "empty package caches"
  local f d
  for d in /var/cache/apt/archives /var/cache/apt/archives/partial; do
    in_root "$d" || continue
    for f in "$IR"/*; do
      [ -f "$f" ] || continue
      case ${f##*/} in lock) continue ;; esac
      rm_path "$f"
    done
  done
  if in_root /var/cache/apt; then
    for f in "$IR"/*.bin; do [ -f "$f" ] && rm_path "$f"; done
  fi
  for d in /var/cache/dnf /var/cache/yum; do
    in_root "$d" || continue
    for f in "$IR"/* "$IR"/.[!.]*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      rm_path "$f"
    done
  done
  step_done
}

step_tmp() {
  step "empty /tmp and /var/tmp"
  local d f
  for d in /tmp /var/tmp; do
    in_root "$d" || continue
    [ -d "$IR" ] || continue
    for f in "$IR"/* "$IR"/.[!.]* "$IR"/..?*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      # On a running system these belong to running services and the X/ICE
      # socket dirs; systemd removes stale ones at boot.
      if [ "$MODE" = live ]; then
        case ${f##*/} in systemd-private-*|.*-unix) continue ;; esac
      fi
      rm_path "$f"
    done
  done
  step_done
}

HISTORY_FILES=(.bash_history .zsh_history .sh_history .python_history .mysql_history .lesshst .psql_history .local/share/fish/fish_history)

step_histories() {
  step "clear shell histories of all users"
  local home name
  for home in ${HOMES[@]+"${HOMES[@]}"}; do
    for name in "${HISTORY_FILES[@]}"; do
      # A history that is a link (e.g. to /dev/null) is left as it is.
      in_root "${home%/}/$name" nofollow || continue
      if [ -f "$IR" ] && [ ! -L "$IR" ]; then rm_path "$IR"; fi
    done
  done
  step_done
  if [ "$MODE" = live ] && [ "$DRY" = 0 ]; then
    printf '    note: an interactive shell writes its history when it exits; log out with: unset HISTFILE; exit\n'
  fi
}

step_logs() {
  step "empty logs under /var/log (all ages, subfolders), drop rotated logs, vacuum the journal"
  local dir f name
  if ! in_root /var/log || [ ! -d "$IR" ]; then step_done "no /var/log"; return; fi
  dir=$IR
  if [ "$MODE" = live ] && command -v journalctl >/dev/null 2>&1; then
    run_pm "journalctl --rotate, --vacuum-time=1s" sh -c 'journalctl --rotate >/dev/null 2>&1; journalctl --vacuum-time=1s' || true
  fi
  # Regular files only, on /var/log's own filesystem: links in the tree are not followed.
  while IFS= read -r -d '' f; do
    name=${f##*/}
    case ${f#"$dir"} in
      /journal/*)
        # journald keeps its active files open on a running system.
        case $name in
          *@*) rm_path "$f" ;;
          *) [ "$MODE" = live ] || rm_path "$f" ;;
        esac
        continue ;;
    esac
    case $name in
      cloud-init.log|cloud-init-output.log) ;; # removed with cloud-init's data below
      *.gz|*.xz|*.bz2|*.zst|*.lz4|*.[0-9]|*.[0-9].log|*.old|*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9])
        rm_path "$f" ;;
      *) truncate_file "$f" ;;
    esac
  done < <(find "$dir" -xdev -type f -print0 2>/dev/null)
  step_done
}

step_cloud_init() {
  step "remove cloud-init instance data and logs (keeping /var/lib/cloud/scripts)"
  local c f kept=0
  if in_root /var/lib/cloud && [ -d "$IR" ]; then
    c=$IR
    for f in "$c"/* "$c"/.[!.]*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      [ "${f##*/}" = scripts ] && continue
      rm_path "$f"
    done
    if [ -d "$c/scripts" ] && [ ! -L "$c/scripts" ]; then kept=$(find "$c/scripts" -type f | wc -l); fi
  fi
  if in_root /var/log; then
    for f in "$IR"/cloud-init.log "$IR"/cloud-init-output.log; do
      rm_path "$f"
    done
  fi
  step_done "kept /var/lib/cloud/scripts: $kept file(s)"
}

is_private_key_file() {
  case ${1##*/} in
    id_*.pub) ;;
    id_*) return 0 ;;
  esac
  grep -Eq -- 'PRIVATE KEY-----|^PuTTY-User-Key-File-' "$1" 2>/dev/null
}

# shellcheck disable=SC2317 # called through act
create_private_file() { (umask 077 && : > "$1") && chmod 600 "$1"; }

step_ssh() {
  step "remove authorized_keys, private keys in ~/.ssh and SSH host keys"
  local home d f
  for home in ${HOMES[@]+"${HOMES[@]}"}; do
    in_root "${home%/}/.ssh" || continue
    d=$IR
    [ -d "$d" ] || continue
    rm_path "$d/authorized_keys"
    rm_path "$d/authorized_keys2"
    while IFS= read -r -d '' f; do
      case ${f##*/} in known_hosts|known_hosts.old|config) continue ;; esac
      is_private_key_file "$f" && rm_path "$f"
    done < <(find "$d" -xdev -maxdepth 3 -type f -print0 2>/dev/null)
  done
  if in_root /etc/ssh && [ -d "$IR" ]; then
    d=$IR
    for f in "$d"/ssh_host_*key*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      rm_path "$f"
    done
    # sshd refuses every key when a configured RevokedKeys file is missing.
    # A link to a file is followed inside the image (sshd there reads what it
    # points to); a link to nothing is replaced by the file.
    f=$d/revoked_keys
    if [ -L "$f" ]; then
      if in_root /etc/ssh/revoked_keys && [ -f "$IR" ]; then f=$IR
      else act "replace the dangling link /etc/ssh/revoked_keys by an empty file" rm -f -- "$f"; fi
    fi
    if [ ! -f "$f" ] || { [ "$DRY" = 1 ] && [ -L "$f" ]; }; then
      act "create /etc/ssh/revoked_keys (mode 600)" create_private_file "$f"
    elif [ "$(stat -c %a -- "$f")" != 600 ]; then
      act "chmod 600 /etc/ssh/revoked_keys" chmod 600 -- "$f"
    fi
  fi
  step_done
}

# What first boot made for one droplet, when it ran on the build droplet: the credentials file and
# /var/lib/mpimg/<slug>/ (its records, which also decide what it does again); and what it makes
# anew that a package made at build time ($.regenerate). All are made anew at first boot. Templates it filled in are left as they are: the cleanup cannot know which text was a
# secret, and first-boot steps may have used the secrets elsewhere too (a database's users), so the
# image check fails on them and the image is built again from a fresh droplet.
step_first_boot_secrets() {
  step "remove the credentials file, first-boot records and secrets packages made (first boot makes them per droplet)"
  local f
  if [ -n "$CRED_FILE" ] && in_root "$CRED_FILE" nofollow; then rm_path "$IR"; fi
  remove_package_secrets
  remove_caddy_storage
  remove_acme_state
  remove_docker_containers
  if in_root /var/lib/mpimg && [ -d "$IR" ]; then
    for f in "$IR"/* "$IR"/.[!.]*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      rm_path "$f"
    done
  fi
  step_done
}

# What certbot made on the build droplet (a first login there, $.certbot): the ACME account's key,
# certificates with their keys, renewal configs. Every droplet would share them; each gets its own
# at its first login. (A site certbot edited is the image check's to report: its lines stay.)
remove_acme_state() {
  local d
  for d in accounts archive live renewal keys csr; do
    if in_root "/etc/letsencrypt/$d" nofollow; then rm_path "$IR"; fi
  done
}

# Secrets a package made when it was installed ($.regenerate: the snakeoil TLS key, RabbitMQ's
# Erlang cookie): first boot makes each droplet its own, so the image ships none. Links beside one
# that lead to it go too (make-ssl-cert's hash link /etc/ssl/certs/<hash>.0 of the snakeoil cert).
remove_package_secrets() {
  local p f l
  for p in ${REGEN_FILES[@]+"${REGEN_FILES[@]}"}; do
    in_root "$p" nofollow || continue
    f=$IR
    if [ -L "$f" ] || [ -f "$f" ]; then rm_path "$f"; fi
    [ -d "${f%/*}" ] || continue
    for l in "${f%/*}"/*; do
      if [ -L "$l" ] && case $(readlink -- "$l") in "${p##*/}" | "$p") true ;; *) false ;; esac; then rm_path "$l"; fi
    done
  done
}

# Caddy's storage and autosaved config, in every home (Debian's caddy user has /var/lib/caddy; a
# caddy run as root uses /root): the ACME account keys, certificates and their keys, the local CA's
# root key and instance.uuid of the build droplet's Caddy (the package's postinst starts it, a
# vendor's test or caddy-site may have asked for certificates). Each droplet's Caddy makes its own.
remove_caddy_storage() {
  local home rel
  # A running Caddy would store again what it holds (its certificate maintenance, autosave).
  if [ "$MODE" = live ] && [ -d /run/systemd/system ] && systemctl is-active --quiet caddy.service < /dev/null 2>/dev/null; then
    act "stop caddy.service (its storage is removed next)" systemctl stop caddy.service
  fi
  for home in ${HOMES[@]+"${HOMES[@]}"}; do
    for rel in .local/share/caddy .config/caddy/autosave.json; do
      in_root "${home%/}/$rel" nofollow || continue
      rm_path "$IR"
    done
  done
  # $.caddy: the site files caddy-site wrote here (every droplet writes its address at first boot, the
  # customer a domain: the build droplet's would be every droplet's), and what an interrupted run left.
  [ "$CADDY" = 1 ] || return 0
  local f
  if in_root /etc/caddy/sites && [ -d "$IR" ] && [ ! -L "$IR" ]; then
    for f in "$IR"/ip.caddy "$IR"/domain.caddy "$IR"/.caddy-site.*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      rm_path "$f"
    done
  fi
}

# Docker's containers ($.docker): one the build ran (a vendor trying the app) would go into the image
# with what it ran with (the .env's secrets in its settings) and its writable layer; the compose unit
# makes the project's anew at boot. Only where dockerd answers (a live system); named volumes are kept
# (a vendor may seed one on purpose).
remove_docker_containers() {
  local ids
  [ "$MODE" = live ] && have_in_root docker || return 0
  ids=$(docker ps --all --quiet < /dev/null 2>/dev/null) && [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086 # container ids: hex, one a line
  act "remove Docker's $(printf '%s\n' "$ids" | wc -l) container(s) (the compose unit makes its own at boot)" docker rm --force --volumes $ids
}

step_machine_id() {
  step "empty /etc/machine-id"
  if in_root /etc/machine-id; then truncate_file "$IR"; fi
  step_done
}

# Temp files to remove however the script ends (a copy of /etc/shadow, say).
TMP_FILES=()

# Puts "!" before root's password hash. The new /etc/shadow is written to a
# temp file next to it and renamed over it only when complete (every write
# succeeded, exactly one byte more per locked line): a full disk must never
# leave a truncated shadow file. Owner, mode and (best effort) the SELinux
# label are copied from the old file.
# shellcheck disable=SC2317 # called through act
lock_root_in_shadow() {
  local sh=$1 tmp st n
  st=$(stat -c '%u:%g %a %s' -- "$sh") || return 1
  n=$(grep -c '^root:[^!*]' -- "$sh" || true)
  tmp=$(umask 077 && mktemp -- "$sh.mpimg.XXXXXX") || return 1
  TMP_FILES+=("$tmp")
  if sed 's/^root:\([^!*]\)/root:!\1/' -- "$sh" > "$tmp" &&
     [ "$(stat -c %s -- "$tmp")" = "$(( ${st##* } + n ))" ] &&
     chown -- "${st%% *}" "$tmp" && chmod -- "$(printf '%s' "$st" | cut -d' ' -f2)" "$tmp"; then
    if command -v chcon >/dev/null 2>&1; then chcon --reference="$sh" -- "$tmp" 2>/dev/null || true; fi
    if sync -- "$tmp" && mv -f -- "$tmp" "$sh"; then return 0; fi
  fi
  rm -f -- "$tmp"
  printf '    could not write the new /etc/shadow (disk full?); it is unchanged\n' >&2
  return 1
}

step_root_password() {
  step "lock the root password"
  if [ "$LOCK_ROOT" = 0 ]; then step_done "not asked (--lock-root-password)"; return; fi
  local sh="" field
  in_root /etc/shadow && sh=$IR
  if [ -z "$sh" ] || [ ! -f "$sh" ]; then
    ERRORS=$((ERRORS + 1)); printf '    FAILED: no /etc/shadow to lock root in\n' >&2; step_done; return
  fi
  field=$(awk -F: '$1 == "root" { print ($2 ~ /^[!*]/) ? "locked" : "open"; exit }' "$sh")
  case $field in
    locked) step_done "already locked" ;;
    open) act "lock root's password in /etc/shadow" lock_root_in_shadow "$sh"; step_done ;;
    *) ERRORS=$((ERRORS + 1)); printf '    FAILED: no root entry in /etc/shadow\n' >&2; step_done ;;
  esac
}

ZF_FILE=""
ZF_PID=""
zf_remove() {
  if [ -n "$ZF_PID" ]; then kill "$ZF_PID" 2>/dev/null || true; wait "$ZF_PID" 2>/dev/null || true; ZF_PID=""; fi
  if [ -n "$ZF_FILE" ]; then rm -f -- "$ZF_FILE"; ZF_FILE=""; fi
}
# shellcheck disable=SC2317 # signal handler
zf_interrupted() {
  zf_remove
  printf '%s: interrupted; the zero-fill file was removed\n' "$PROG" >&2
  exit "$1"
}

step_zero_fill() {
  step "zero-fill free space"
  if [ "$ZERO" = 0 ]; then step_done "off (--zero-fill to enable)"; return; fi
  local dir free n rc=0
  dir=$ROOT/
  free=$(df -Pk -- "$dir" | awk 'NR == 2 { print int($4 / 1024) }')
  is_uint "${free:-x}" || { ERRORS=$((ERRORS + 1)); printf '    FAILED: cannot read free space of %s\n' "$dir" >&2; step_done; return; }
  n=$((free - ZERO_RESERVE))
  [ "$n" -gt "$ZERO_MAX" ] && n=$ZERO_MAX
  if [ "$n" -le 0 ]; then
    step_done "only $free MiB free, keeping a reserve of $ZERO_RESERVE MiB"; return
  fi
  local target="${dir%/}/mpimg-zero-fill.$$"
  S_CHANGES=$((S_CHANGES + 1))
  if [ "$DRY" = 1 ]; then
    printf '    would write %d MiB of zeros to %s (free %d MiB, bound %d MiB, reserve %d MiB), then remove it\n' \
      "$n" "${target#"$ROOT"}" "$free" "$ZERO_MAX" "$ZERO_RESERVE"
    step_done; return
  fi
  if [ -e "$target" ] || [ -L "$target" ]; then
    ERRORS=$((ERRORS + 1)); printf '    FAILED: %s already exists\n' "${target#"$ROOT"}" >&2; step_done; return
  fi
  ZF_FILE=$target
  trap 'zf_interrupted 129' HUP
  trap 'zf_interrupted 130' INT
  trap 'zf_interrupted 143' TERM
  dd if=/dev/zero of="$target" bs=1M count="$n" conv=fsync status=none &
  ZF_PID=$!
  wait "$ZF_PID" || rc=$?
  ZF_PID=""
  local written; written=$(( $(size_of "$target") / 1048576 ))
  zf_remove
  trap - INT TERM HUP
  sync
  if [ "$rc" != 0 ] && [ "$written" -lt "$n" ]; then
    printf '    dd stopped after %d MiB (exit %d, disk full?); file removed\n' "$written" "$rc"
  fi
  step_done "wrote and removed $written MiB of zeros"
}

# Bash runs this on every exit, also when a signal ends the script.
# shellcheck disable=SC2317 # exit trap
on_exit() {
  local f
  zf_remove
  for f in ${TMP_FILES[@]+"${TMP_FILES[@]}"}; do rm -f -- "$f"; done
}
trap on_exit EXIT

# --- run ------------------------------------------------------------------------
printf 'mpimg cleanup of %s%s%s\n' "${ROOT:-/}" \
  "$( [ "$MODE" = chroot ] && printf ' (package commands run with chroot)'; [ "$MODE" = staged ] && printf ' (staged root: %s)' "$MODE_REASON"; true)" \
  "$( [ "$DRY" = 1 ] && printf ' - DRY RUN, nothing is changed'; true)"
[ -z "$GUARD_NOTE" ] || printf '    %s\n' "$GUARD_NOTE"

collect_homes
detect_pm
step_wait_lock
step_packages
step_caches
step_tmp
step_histories
step_logs
step_cloud_init
step_ssh
step_first_boot_secrets
step_machine_id
step_root_password
step_zero_fill

if [ "$DRY" = 1 ]; then
  printf 'Summary: dry run, %d steps, %d change(s) and %s would be freed; nothing was changed\n' "$STEPS" "$CHANGES" "$(human "$FREED")"
else
  printf 'Summary: %d steps, %d change(s), %s freed, %d error(s)\n' "$STEPS" "$CHANGES" "$(human "$FREED")" "$ERRORS"
fi
[ "$ERRORS" = 0 ] || exit 1
exit 0
