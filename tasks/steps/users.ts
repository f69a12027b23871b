/** users: the users (and their groups) and the directories of mpimg.json. */
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

export default defineStep({
  name: 'users',
  summary: 'make the users (and their groups) and directories of mpimg.json',
  sections: ['$.users', '$.directories'],
  buildScript: { help: 'system users, their groups, and the folders of "directories"' },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.users?.length && !m.directories?.length) return c.log('mpimg.json lists no users and no directories');
    await runBuildScript(c, 'users');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'users')] }],
});
