/** fail2ban: the jails of $.fail2ban enabled in mpimg's jail.d file, tested by fail2ban itself, on at boot. */
import { FAIL2BAN_MARK, fail2banJailConfig, fail2banJailFile, type Fail2ban } from '../../runtime/sections/fail2ban.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand, fragmentFile } from './types.js';

export default defineStep({
  name: 'fail2ban',
  summary: 'enable the fail2ban jails of mpimg.json (tested with fail2ban-client -t), fail2ban on at boot',
  sections: ['$.fail2ban'],
  buildScript: {
    help: 'the fail2ban jails of mpimg.json in jail.d/<slug>.local, tested, fail2ban enabled at boot',
    shell: fragmentFile('fail2ban'),
    data: ({ manifest: m }) => {
      const f: Fail2ban | undefined = m.fail2ban;
      return {
        jailFile: fail2banJailFile(m.slug),
        mark: FAIL2BAN_MARK,
        jails: f?.jails ?? [],
        config: f ? fail2banJailConfig(f) : '',
      };
    },
  },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.fail2ban) return c.log('mpimg.json has no fail2ban');
    await runBuildScript(c, 'fail2ban');
  },
  // always: the build script says when there is nothing to do
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'fail2ban')] }],
});
