/** users: the users (and their groups) and the directories of mpimg.json. */
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { sq } from '../bundle/shell-word.js';
import { bundleCommand, fragmentFile } from './types.js';

export default defineStep({
  name: 'users',
  summary: 'make the users (and their groups) and directories of mpimg.json',
  sections: ['$.users', '$.directories'],
  buildScript: {
    help: 'system users, their groups, and the folders of "directories"',
    shell: fragmentFile('users'),
    data: ({ manifest: m }) => ({
      usersBody:
        (m.users ?? [])
          .map(
            (u) =>
              `mpimg_user ${[u.name, u.system === false ? '0' : '1', u.home ?? '', u.shell ?? '', (u.groups ?? []).join(','), u.comment ?? ''].map(sq).join(' ')}`,
          )
          .join('\n') || ':',
      directoriesBody:
        (m.directories ?? [])
          .map((d) => `mpimg_directory ${[d.path, d.owner ?? '', d.group ?? '', d.mode ?? ''].map(sq).join(' ')}`)
          .join('\n') || ':',
    }),
  },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.users?.length && !m.directories?.length) return c.log('mpimg.json lists no users and no directories');
    await runBuildScript(c, 'users');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'users')] }],
});
