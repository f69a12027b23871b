/** upgrade: the package lists refreshed and every package upgraded, before anything is added. */
import { upgradePackages } from '../ssh/helpers.js';
import { skipPackages } from '../standard/project.js';
import { defineStep } from './define.js';
import { APT } from './packer-apt.js';

export default defineStep({
  name: 'upgrade',
  summary: 'refresh the package lists and upgrade every package',
  sections: [],
  run: async (c) => {
    if (skipPackages()) return c.log('MPIMG_SKIP_PACKAGES=1: not upgrading');
    await upgradePackages(c);
  },
  packer: (p) =>
    p.family === 'dnf'
      ? [{ type: 'shell', inline: ['"dnf -y upgrade --refresh"'] }]
      : [
          {
            type: 'shell',
            env: ['"DEBIAN_FRONTEND=noninteractive"'],
            inline: [`"${APT} update"`, `"${APT} dist-upgrade"`],
          },
        ],
});
