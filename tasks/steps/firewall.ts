/** firewall: the image's firewall (ufw or firewalld), on from the first boot. */
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

export default defineStep({
  name: 'firewall',
  summary: "set up the image's firewall from mpimg.json (ufw or firewalld), on from the first boot",
  sections: ['$.firewall'],
  buildScript: { help: "the image's firewall, on from the first boot (not switched on here), read back" },
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
