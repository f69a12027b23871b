/** remove: what the packages installed that the image must not ship (build.remove), right after them. */
import { forDistro } from '../../runtime/manifest.js';
import { sq } from '../bundle/shell-word.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { distroOf, manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

// The policy is checked on the path as its folders' links lead inside the root (real), with the
// policy functions of the script's shared part; the last part of a path is never followed.
const SHELL = `### remove ###################################################################################

# build.remove: a file, a link (as a link: what it points to stays) or a folder with what is in it.
# Every entry is checked first ("check"), and only when none is refused is anything removed; a
# path that is not there is fine (a re-run, or a release of the package without it).
mpimg_remove() {
  N=$((N + 1))
  case $1 in
    /*) ;;
    *) die "build.remove: $1 is not an absolute path" "give droplet paths in build.remove of mpimg.json, e.g. /etc/nginx/sites-enabled/default" ;;
  esac
  folder=$(dirname "$1")
  case $folder in
    *[*?[]*) die "build.remove: $1 has a wildcard in a folder" "only the last part of a path may be a glob in build.remove, e.g. /etc/nginx/sites-enabled/*" ;;
  esac
  case $(basename "$1") in
    *[*?[]*) rm_glob "$1" "$folder" "$(basename "$1")" ;;
    *) rm_one "$1" "$(real "$1")" "" ;;
  esac
}

# rm_glob ENTRY FOLDER PATTERN: what PATTERN matches in FOLDER (its links followed inside the root).
rm_glob() {
  d=$(real "$2" all)
  if is_system_dir "$d" || is_root_run "$d" || is_tool_dir "$d"; then
    die "build.remove: $1 would remove what is in $d, a system folder, one where root runs code from or generator-mpimg's own" "list the paths to remove one by one in build.remove of mpimg.json"
  fi
  [ "$d" != / ] || d=
  n=0
  old=$IFS
  # (IFS empty: the pattern is only globbed, never split into words)
  IFS=
  for f in "$top$d"/$3; do
    IFS=$old
    b=$(basename "$f")
    case $b in . | ..) continue ;; esac
    if [ -e "$f" ] || [ -L "$f" ]; then
      n=$((n + 1))
      rm_one "$1" "$d/$b" "$f"
    fi
  done
  IFS=$old
  if [ "$n" = 0 ] && [ "$PHASE" = write ]; then say "$1: nothing there (already removed)"; fi
}

# rm_one ENTRY PATH HOSTPATH: the droplet path PATH (its folders' links followed) refused by the
# policy, or removed (HOSTPATH: where it is here; empty: found from PATH).
rm_one() {
  p=$2
  host=$3
  [ -n "$host" ] || host=$top$p
  shown=$1
  [ "$p" = "$1" ] || shown="$1 (that is $p, its folders' links followed)"
  if is_system_dir "$p"; then die "build.remove: $shown is a system folder" "take it out of build.remove in mpimg.json: the build never removes a system folder"; fi
  if is_tool_dir "$p"; then die "build.remove: $shown is in generator-mpimg's own folder" "take it out of build.remove in mpimg.json"; fi
  if is_root_run "$p"; then die "build.remove: $shown is where root runs code from (or a folder above it)" "take it out of build.remove in mpimg.json: what root runs is the package's to remove (apt-get purge, dnf remove), not a path list's"; fi
  [ "$PHASE" = write ] || return 0
  if [ -L "$host" ]; then
    what='a link; what it points to stays'
  elif [ -d "$host" ]; then
    what='a folder, with what was in it'
  elif [ -e "$host" ]; then
    what='a file'
  else
    say "$shown: not there (already removed)"
    return 0
  fi
  rm -rf -- "$host"
  if [ -e "$host" ] || [ -L "$host" ]; then die "build.remove: $shown is still there after rm -rf" "see the output above (a read-only or immutable file?)"; fi
  say "$shown: removed ($what)"
}

remove() {
  distro
  top=$R
  [ "$top" != / ] || top=
  PHASE='check'
  remove_list
  N=0
  PHASE='write'
  remove_list
  [ "$N" != 0 ] || say "mpimg.json lists nothing to remove (build.remove) for $DSLUG"
}

# shellcheck disable=SC2016 # data from mpimg.json, single-quoted on purpose
remove_list() {
<%- removeCase %>
}
`;

export default defineStep({
  name: 'remove',
  summary: 'remove the paths of build.remove in mpimg.json (what the packages installed and the image must not ship)',
  sections: ['$.build.remove'],
  buildScript: {
    help: 'remove what build.remove lists (a default site, a sample page)',
    shell: () => SHELL,
    data: (ctx) => ({
      removeCase: ctx
        .distroCase((slug, family) =>
          ctx.listFor(ctx.manifest.build?.remove, slug, family).map((p) => `mpimg_remove ${sq(p)}`),
        )
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    }),
  },
  run: async (c) => {
    const m = manifestOf(c);
    const d = await distroOf(c, m);
    if (forDistro(m.build?.remove, d.slug, d.family).length === 0)
      return c.log(`mpimg.json lists nothing to remove (build.remove) for ${d.slug}`);
    await runBuildScript(c, 'remove');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'remove')] }],
});
