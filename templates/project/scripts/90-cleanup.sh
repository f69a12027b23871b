#!/usr/bin/env bash
# mpimg cleanup: prepares a build droplet (or a staged root filesystem) for
# its snapshot. Safe to run again: every step only removes or empties what is
# still there.
#
# Usage: 90-cleanup.sh [--dry-run] [--root DIR] [--lock-root-password]
#                      [--zero-fill] [--zero-fill-max-mib N] [--no-packages]
#   --dry-run             print every action, change nothing
#   --root DIR            clean the root filesystem at DIR instead of /
#                         (package-manager steps run with chroot when DIR is a
#                         full root filesystem, and are skipped otherwise)
#   --lock-root-password  lock root's password (prefix "!" in /etc/shadow)
#   --zero-fill           fill free space with zeros, then remove the file
#                         (off by default; bounded by --zero-fill-max-mib)
#   --zero-fill-max-mib N upper bound of the zero-fill file (default 4096)
#   --no-packages         skip upgrade/autoremove (caches are still emptied)
# Environment: MPIMG_LOCK_TIMEOUT seconds to wait for the package lock (600),
#              MPIMG_ZERO_FILL_RESERVE_MIB free space left untouched (256).
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
    --zero-fill-max-mib)
      [ $# -ge 2 ] || die_usage "--zero-fill-max-mib needs a number of MiB, e.g. --zero-fill-max-mib 2048"
      ZERO_MAX=$2; shift ;;
    --zero-fill-max-mib=*) ZERO_MAX=${1#*=} ;;
    --root)
      [ $# -ge 2 ] || die_usage "--root needs a directory, e.g. --root /mnt/image"
      ROOT=$2; ROOT_SET=1; shift ;;
    --root=*) ROOT=${1#--root=}; ROOT_SET=1 ;;
    -h|--help)
      printf 'Usage: %s [--dry-run] [--root DIR] [--lock-root-password] [--zero-fill] [--zero-fill-max-mib N] [--no-packages]\n' "$PROG"
      printf '  --dry-run             print every action, change nothing\n'
      printf '  --root DIR            clean the root filesystem at DIR instead of /\n'
      printf '  --lock-root-password  lock root'"'"'s password in /etc/shadow\n'
      printf '  --zero-fill           fill free space with zeros, then remove the file (off by default)\n'
      printf '  --zero-fill-max-mib N upper bound of the zero-fill file in MiB (default 4096)\n'
      printf '  --no-packages         skip upgrade and autoremove (caches are still emptied)\n'
      printf 'Environment: MPIMG_LOCK_TIMEOUT (s, default 600), MPIMG_ZERO_FILL_RESERVE_MIB (default 256)\n'
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

MODE=live
MODE_REASON=""
if [ "$ROOT_SET" = 1 ] && [ -z "$ROOT" ]; then
  die_usage "--root needs a directory, not an empty string (use --root / for the running system)"
fi
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die_usage "--root '$ROOT' is not a directory; pass the directory holding the image's root filesystem"
  ROOT=$(cd "$ROOT" && pwd -P)
  [ "$ROOT" = / ] && ROOT=""
fi
if [ -n "$ROOT" ]; then
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
elif [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
  printf '%s: cleaning the live system needs root; run it with sudo, or pass --root DIR or --dry-run\n' "$PROG" >&2
  exit 2
fi

# --- bookkeeping and actions ----------------------------------------------------
STEPS=0 CHANGES=0 FREED=0 ERRORS=0
S_CHANGES=0 S_FREED=0


human() {
  awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); i = 1
    while (b >= 1024 && i < 5) { b /= 1024; i++ }
    if (i == 1) printf "%d %s", b, u[i]; else printf "%.1f %s", b, u[i] }'
}

size_of() { du -sb -- "$1" 2>/dev/null | awk '{ s = $1 } END { print s + 0 }'; }

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

rm_path() {
  local f=$1 n
  [ -e "$f" ] || [ -L "$f" ] || return 0
  n=$(size_of "$f"); S_FREED=$((S_FREED + n))
  act "remove ${f#"$ROOT"} ($(human "$n"))" rm -rf -- "$f"
}

truncate_file() {
  local f=$1 n
  if [ ! -f "$f" ] || [ ! -s "$f" ]; then return 0; fi
  n=$(wc -c < "$f"); S_FREED=$((S_FREED + n))
  act "empty ${f#"$ROOT"} ($(human "$n"))" truncate -s 0 -- "$f"
}

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

run_pm() {
  local what=$1; shift
  S_CHANGES=$((S_CHANGES + 1))
  if [ "$DRY" = 1 ]; then printf '    would run: %s\n' "$what"; return 0; fi
  printf '    running: %s\n' "$what"
  if ! in_root "$@"; then
    ERRORS=$((ERRORS + 1)); printf '    FAILED: %s\n' "$what" >&2
    return 1
  fi
}

HOMES=()
collect_homes() {
  local pw home seen=" " d
  pw=$ROOT/etc/passwd
  if [ -r "$pw" ]; then
    while IFS=: read -r _ _ _ _ _ home _; do
      [ -n "$home" ] || continue
      case $seen in *" $home "*) continue ;; esac
      seen+="$home "; HOMES+=("$home")
    done < "$pw"
  fi
  for d in "$ROOT/root" "$ROOT/home"/*; do
    if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
    home=${d#"$ROOT"}
    case $seen in *" $home "*) continue ;; esac
    seen+="$home "; HOMES+=("$home")
  done
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
  local cache before after
  case $PM in apt) cache=$ROOT/var/cache/apt ;; *) cache=$ROOT/var/cache/$PM ;; esac
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
    for f in "$ROOT$d"/*; do
      [ -f "$f" ] || continue
      case ${f##*/} in lock) continue ;; esac
      rm_path "$f"
    done
  done
  for f in "$ROOT/var/cache/apt"/*.bin; do [ -f "$f" ] && rm_path "$f"; done
  for d in /var/cache/dnf /var/cache/yum; do
    for f in "$ROOT$d"/* "$ROOT$d"/.[!.]*; do
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
    [ -d "$ROOT$d" ] || continue
    for f in "$ROOT$d"/* "$ROOT$d"/.[!.]* "$ROOT$d"/..?*; do
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

HISTORY_FILES=".bash_history .zsh_history .sh_history .python_history .mysql_history .lesshst .psql_history .local/share/fish/fish_history"

step_histories() {
  step "clear shell histories of all users"
  local home name f
  for home in "${HOMES[@]}"; do
    for name in $HISTORY_FILES; do
      f=$ROOT${home%/}/$name
      if [ -f "$f" ] && [ ! -L "$f" ]; then rm_path "$f"; fi
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
  dir=$ROOT/var/log
  if [ ! -d "$dir" ]; then step_done "no /var/log"; return; fi
  if [ "$MODE" = live ] && command -v journalctl >/dev/null 2>&1; then
    run_pm "journalctl --rotate, --vacuum-time=1s" sh -c 'journalctl --rotate >/dev/null 2>&1; journalctl --vacuum-time=1s' || true
  fi
  while IFS= read -r -d '' f; do
    name=${f##*/}
    case ${f#"$ROOT"} in
      /var/log/journal/*)
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
  done < <(find "$dir" -type f -print0 2>/dev/null)
  step_done
}

step_cloud_init() {
  step "remove cloud-init instance data and logs (keeping /var/lib/cloud/scripts)"
  local c f kept=0
  c=$ROOT/var/lib/cloud
  if [ -d "$c" ]; then
    for f in "$c"/* "$c"/.[!.]*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      [ "${f##*/}" = scripts ] && continue
      rm_path "$f"
    done
    [ -d "$c/scripts" ] && kept=$(find "$c/scripts" -type f | wc -l)
  fi
  for f in "$ROOT/var/log"/cloud-init.log "$ROOT/var/log"/cloud-init-output.log; do
    rm_path "$f"
  done
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
  for home in "${HOMES[@]}"; do
    d=$ROOT${home%/}/.ssh
    if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
    rm_path "$d/authorized_keys"
    rm_path "$d/authorized_keys2"
    while IFS= read -r -d '' f; do
      case ${f##*/} in known_hosts|known_hosts.old|config) continue ;; esac
      is_private_key_file "$f" && rm_path "$f"
    done < <(find "$d" -maxdepth 3 -type f -print0 2>/dev/null)
  done
  for f in "$ROOT/etc/ssh"/ssh_host_*key*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    rm_path "$f"
  done
  # sshd refuses every key when a configured RevokedKeys file is missing.
  f=$ROOT/etc/ssh/revoked_keys
  if [ -d "$ROOT/etc/ssh" ]; then
    if [ ! -f "$f" ]; then
      act "create /etc/ssh/revoked_keys (mode 600)" create_private_file "$f"
    elif [ "$(stat -c %a "$f")" != 600 ]; then
      act "chmod 600 /etc/ssh/revoked_keys" chmod 600 "$f"
    fi
  fi
  step_done
}

step_machine_id() {
  step "empty /etc/machine-id"
  truncate_file "$ROOT/etc/machine-id"
  step_done
}

# shellcheck disable=SC2317 # called through act
lock_root_in_shadow() {
  local sh=$1 tmp
  tmp=$(umask 077 && mktemp "$sh.mpimg.XXXXXX")
  awk -F: -v OFS=: '$1 == "root" && $2 !~ /^[!*]/ { $2 = "!" $2 } { print }' "$sh" > "$tmp" &&
    cat "$tmp" > "$sh"
  local rc=$?
  rm -f "$tmp"
  return "$rc"
}

step_root_password() {
  step "lock the root password"
  if [ "$LOCK_ROOT" = 0 ]; then step_done "not asked (--lock-root-password)"; return; fi
  local sh field
  sh=$ROOT/etc/shadow
  if [ ! -f "$sh" ]; then
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

trap zf_remove EXIT

# --- run ------------------------------------------------------------------------
printf 'mpimg cleanup of %s%s%s\n' "${ROOT:-/}" \
  "$( [ "$MODE" = chroot ] && printf ' (package commands run with chroot)'; [ "$MODE" = staged ] && printf ' (staged root: %s)' "$MODE_REASON"; true)" \
  "$( [ "$DRY" = 1 ] && printf ' - DRY RUN, nothing is changed'; true)"

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
