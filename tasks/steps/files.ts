/** files: files/ laid down (seeded), BEFORE the build scripts, which may edit them. */
import { runBundle } from '../standard/bundle-run.js';
import { rootArgs } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

export default defineStep({
  name: 'files',
  summary: 'lay down files/ (seeded: before the build scripts, which may change them)',
  sections: ['$.files', '$.seeded'],
  run: async (c) => {
    await runBundle(c, ['install', '--only', 'seeded', ...rootArgs()]);
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'install.sh', 'install --only seeded')] }],
});
