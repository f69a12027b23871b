/** services: the systemd units of mpimg.json enabled at build (they start at first boot). */
import { forDistro } from '../../runtime/manifest.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { distroOf, manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

export default defineStep({
  name: 'services',
  summary: 'enable the services of mpimg.json at build (they start at first boot)',
  sections: ['$.services'],
  buildScript: { help: 'enable the systemd units of "services" (not started here)' },
  run: async (c) => {
    const m = manifestOf(c);
    const d = await distroOf(c, m);
    if (forDistro(m.services, d.slug, d.family).length === 0)
      return c.log(`mpimg.json lists no services for ${d.slug}`);
    await runBuildScript(c, 'services');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'services')] }],
});
