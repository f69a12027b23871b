/** services: the systemd units of mpimg.json enabled at build (they start at first boot). */
import type { Family } from '../../runtime/distro.js';
import { forDistro } from '../../runtime/manifest.js';
import { serviceOf, type Service } from '../../runtime/sections/services.js';
import { sq } from '../bundle/shell-word.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { distroOf, manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand, fragmentFile, type BuildScriptContext } from './types.js';

function serviceLines(ctx: BuildScriptContext, slug: string | undefined, family: Family): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of ctx.listFor<string | Service>(ctx.manifest.services, slug, family)) {
    const { name } = serviceOf(s);
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(`mpimg_service ${sq(name)}`);
  }
  return out;
}

export default defineStep({
  name: 'services',
  summary: 'enable the services of mpimg.json at build (they start at first boot)',
  sections: ['$.services'],
  buildScript: {
    help: 'enable the systemd units of "services" (not started here)',
    shell: fragmentFile('services'),
    data: (ctx) => ({ servicesCase: ctx.distroCase((slug, family) => serviceLines(ctx, slug, family)) }),
  },
  run: async (c) => {
    const m = manifestOf(c);
    const d = await distroOf(c, m);
    if (forDistro(m.services, d.slug, d.family).length === 0)
      return c.log(`mpimg.json lists no services for ${d.slug}`);
    await runBuildScript(c, 'services');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'services')] }],
});
