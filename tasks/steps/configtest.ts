/**
 * configtest: each service's config check (services[].check: "nginx -t"), once everything the image
 * holds is in place, so a broken config fails the build, not the customer's first boot.
 */
import { forDistro } from '../../runtime/manifest.js';
import { serviceChecks } from '../../runtime/sections/services.js';
import { sq } from '../bundle/shell-word.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { distroOf, manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

// The command runs as the droplet runs it: inside the staged root (chroot) with --root. Its output
// is kept aside and shown only when it fails, under the unit's name.
const SHELL = `### configtest ###############################################################################

# mpimg_configtest UNIT SECONDS COMMAND: COMMAND (services[].check) must exit 0 within SECONDS
# (services[].checkTimeoutSeconds): a check that hangs is stopped (with what it started) and fails.
mpimg_configtest() {
  N=$((N + 1))
  rc=0
  if command -v timeout >/dev/null 2>&1; then
    if [ "$R" = / ]; then
      quiet timeout -k 10 "$2" /bin/sh -c "$3" || rc=$?
    else
      quiet timeout -k 10 "$2" chroot "$R" /bin/sh -c "$3" || rc=$?
    fi
  else
    say "note: no timeout command here: the check of $1 runs without its limit of $2 s"
    quiet in_root /bin/sh -c "$3" || rc=$?
  fi
  case $rc in
    0) ;;
    124 | 137) die "service $1: its check did not finish within $2 s and was stopped: $3" "make the check quick (a config test, not a start), or give it more time with services[].checkTimeoutSeconds in mpimg.json" ;;
    *) die "service $1: its check failed (exit code $rc, its output above): $3" "fix the configuration of $1 (files/, a build script or build.packages) until its check exits 0, then build again" ;;
  esac
  say "service $1: check passed: $3"
}

configtest() {
  distro
  configtest_list
  [ "$N" != 0 ] || say "mpimg.json has no service checks (services[].check) for $DSLUG"
}

# shellcheck disable=SC2016 # data from mpimg.json, single-quoted on purpose
configtest_list() {
<%- checksCase %>
}
`;

export default defineStep({
  name: 'configtest',
  summary: "run each service's check of mpimg.json (services[].check, e.g. nginx -t): a broken config fails the build",
  sections: ['$.services'],
  buildScript: {
    help: 'run the check command of each service ("nginx -t"); one failing fails',
    shell: () => SHELL,
    data: (ctx) => ({
      checksCase: ctx
        .distroCase((slug, family) =>
          serviceChecks(ctx.listFor(ctx.manifest.services, slug, family)).map(
            (s) => `mpimg_configtest ${sq(s.name)} ${s.timeoutS} ${sq(s.check)}`,
          ),
        )
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    }),
  },
  run: async (c) => {
    const m = manifestOf(c);
    const d = await distroOf(c, m);
    if (serviceChecks(forDistro(m.services, d.slug, d.family)).length === 0)
      return c.log(`mpimg.json has no service checks (services[].check) for ${d.slug}`);
    await runBuildScript(c, 'configtest');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'configtest')] }],
});
