/** firewall: the image's firewall (ufw or firewalld), on from the first boot. */
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { firewallRules } from '../../runtime/sections/firewall.js';
import {
  LIMIT_BURST,
  LIMIT_FILE,
  LIMIT_MARK,
  LIMIT_RATE,
  LIMIT_UNIT,
  limitRuleset,
  limitUnit,
} from '../bundle/firewall-limit.js';
import { sq } from '../bundle/shell-word.js';
import { bundleCommand, fragmentFile } from './types.js';

export default defineStep({
  name: 'firewall',
  summary: "set up the image's firewall from mpimg.json (ufw or firewalld), on from the first boot",
  sections: ['$.firewall'],
  buildScript: {
    help: "the image's firewall, on from the first boot (not switched on here), read back",
    shell: fragmentFile('firewall'),
    data: ({ manifest: m }) => {
      const rules = m.firewall ? firewallRules(m.firewall) : [];
      return {
        rulesBody: rules.map((r) => `mpimg_rule ${r.action} ${sq(r.ports)} ${r.proto}`).join('\n') || ':',
        hasFirewall: Boolean(m.firewall),
        limitRuleset: limitRuleset(m.firewall),
        limitUnit: limitUnit(),
        limitFile: LIMIT_FILE,
        limitUnitName: LIMIT_UNIT,
        limitMark: LIMIT_MARK,
        limitRate: `a source's new connections beyond ${LIMIT_BURST}, then ${LIMIT_RATE}, are dropped`,
        limitRules: rules
          .filter((r) => r.action === 'limit')
          .map((r) => `${r.ports}${r.proto === 'any' ? '' : `/${r.proto}`}`)
          .join(', '),
      };
    },
  },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.firewall)
      return c.log(
        'mpimg.json has no firewall (Marketplace review rejects images without an active firewall: add "firewall": {"limit": ["22/tcp"], ...})',
      );
    await runBuildScript(c, 'firewall');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'firewall')] }],
});
