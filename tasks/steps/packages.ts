/** packages: build.packages of the distribution being built. */
import { forDistro } from '../../runtime/manifest.js';
import { packageArgument } from '../../runtime/sections/build.js';
import { withSectionPackages } from '../../runtime/section-packages.js';
import { bundledVariables } from '../standard/build-script-run.js';
import { fail, installPackages } from '../ssh/helpers.js';
import { distroOf, manifestOf, skipPackages } from '../standard/project.js';
import { defineStep } from './define.js';
import { APT } from './packer-apt.js';

export default defineStep({
  name: 'packages',
  summary:
    'install the build.packages of mpimg.json (for this distribution), with those fail2ban, securityUpdates and certbot need',
  sections: ['$.build.packages', '$.fail2ban', '$.securityUpdates', '$.certbot'],
  run: async (c) => {
    const m = manifestOf(c);
    const d = await distroOf(c, m);
    // with what $.fail2ban and $.securityUpdates need (runtime/section-packages.ts)
    const entries = withSectionPackages(forDistro(m.build?.packages, d.slug, d.family), m, d.family);
    if (entries.length === 0) return c.log('mpimg.json lists no build.packages');
    // {{VARIABLE}}s filled in with the bundle's values, as the Packer template has them (packer.ts)
    const vars = entries.some((e) => e.includes('{{')) ? bundledVariables(c, m) : {};
    let list: string[];
    try {
      list = entries.map((e) => packageArgument(e, vars, d.family));
    } catch (err) {
      return fail((err as Error).message, 'fix build.packages or $.variables in mpimg.json, then `make bundle`');
    }
    if (skipPackages()) return c.log(`MPIMG_SKIP_PACKAGES=1: not installing ${list.join(' ')}`);
    await installPackages(c, list);
  },
  packer: (p) => {
    if (p.packages.length === 0) return [];
    const words = p.packages.map(p.sq).join(' ');
    return p.family === 'dnf'
      ? [{ type: 'shell', inline: [p.hcl(`dnf -y install ${words}`)] }]
      : [{ type: 'shell', env: ['"DEBIAN_FRONTEND=noninteractive"'], inline: [p.hcl(`${APT} install ${words}`)] }];
  },
});
