/**
 * containers: the compose project of $.docker checked by compose, its images on the build droplet
 * (pulled when missing), the unit that brings it up at boot, and DOCKER-USER rules from $.firewall.
 */
import {
  composeUnit,
  composeUnitText,
  DOCKER_MARK,
  dockerProject,
  dockerUserRuleArgs,
  UFW_BLOCK_BEGIN,
  UFW_BLOCK_END,
  ufwAfterBlock,
} from '../../runtime/sections/docker.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand, fragmentFile } from './types.js';

export default defineStep({
  name: 'containers',
  summary:
    'check the compose project of $.docker (compose config), pull its missing images, write its unit and the DOCKER-USER rules of $.firewall',
  sections: ['$.docker'],
  buildScript: {
    help: 'the compose project of "docker": checked, its images pulled when missing, up at boot, ports under the firewall',
    shell: fragmentFile('containers'),
    data: ({ manifest: m }) => {
      const d = m.docker;
      if (!d) return { project: '' };
      const project = dockerProject(d, m.slug);
      return {
        project,
        unitFile: `/etc/systemd/system/${composeUnit(m.slug)}`,
        mark: DOCKER_MARK,
        begin: UFW_BLOCK_BEGIN,
        end: UFW_BLOCK_END,
        unit: composeUnitText({ slug: m.slug, name: m.name, project, file: '@FILE@', compose: '@COMPOSE@' }),
        block: ufwAfterBlock(m.firewall ?? {}),
        direct: dockerUserRuleArgs(m.firewall ?? {}).join('\n'),
      };
    },
  },
  run: async (c) => {
    const m = manifestOf(c);
    if (!m.docker) return c.log('mpimg.json has no docker');
    await runBuildScript(c, 'containers');
  },
  // always: the build script says when there is nothing to do
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'containers')] }],
});
