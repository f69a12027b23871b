/** owners: owner and group of the files/ paths of files.owners (after files/ is laid down). */
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

export default defineStep({
  name: 'owners',
  summary: 'set owner and group of the files/ paths of files.owners in mpimg.json',
  sections: ['$.files.owners'],
  buildScript: { help: 'owner and group of files/ paths (after files/ is laid down)' },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.files?.owners?.length) return c.log('mpimg.json lists no files.owners');
    await runBuildScript(c, 'owners');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'owners')] }],
});
