/** install: the image's own parts, by the bundle (first-boot steps, first-login hook, MOTD, login hold). */
import { runBundle } from '../standard/bundle-run.js';
import { rootArgs } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

export default defineStep({
  name: 'install',
  summary: "install the image's own parts with the bundle (first-boot steps, first-login hook, MOTD, hold)",
  sections: [
    '$.firstBoot',
    '$.firstBootTimeoutMinutes',
    '$.firstLogin',
    '$.motd',
    '$.loginHold',
    '$.credentials',
    '$.certbot',
  ],
  run: async (c) => {
    await runBundle(c, ['install', ...rootArgs(), '--remove-self']);
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'install.sh', 'install')] }],
});
