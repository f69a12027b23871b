/** autoupdates: opt-in automatic security updates ($.securityUpdates), written and read back. */
import {
  APT_PERIODIC_FILE,
  DNF_AUTOMATIC_FILE,
  SECURITY_UPDATES_MARK,
  aptPeriodic,
  aptPolicy,
  aptPolicyFile,
  dnfCommands,
  rebootOf,
} from '../../runtime/sections/security-updates.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand, fragmentFile } from './types.js';

export default defineStep({
  name: 'autoupdates',
  summary:
    'switch on automatic security updates if mpimg.json asks (unattended-upgrades or dnf-automatic, security only, its reboot policy)',
  sections: ['$.securityUpdates'],
  buildScript: {
    help: 'automatic security updates of securityUpdates (security origin only), read back',
    shell: fragmentFile('autoupdates'),
    data: ({ manifest: m }) => {
      const s = m.securityUpdates?.automatic ? m.securityUpdates : undefined;
      return {
        automatic: Boolean(s),
        periodicFile: APT_PERIODIC_FILE,
        policyFile: aptPolicyFile(m.slug),
        dnfFile: DNF_AUTOMATIC_FILE,
        mark: SECURITY_UPDATES_MARK,
        reboot: s ? rebootOf(s) : 'never',
        periodic: aptPeriodic(),
        debianPolicy: s ? aptPolicy(s, 'debian') : '',
        ubuntuPolicy: s ? aptPolicy(s, 'ubuntu') : '',
        dnfSettings: s ? dnfCommands(s) : [],
      };
    },
  },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.securityUpdates?.automatic) return c.log('mpimg.json does not ask for automatic security updates');
    await runBuildScript(c, 'autoupdates');
  },
  // always: the build script says when there is nothing to do
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'autoupdates')] }],
});
