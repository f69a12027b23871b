/**
 * freshen: the review-day upgrade. Every package upgraded again right before cleanup and check, with
 * dist-upgrade / full-upgrade on apt (plain upgrade keeps back updates that need new packages, which
 * the Marketplace review still counts as pending) and `dnf upgrade` on dnf, so an image is as current
 * as the day it is built. The build record says when it ran (its step timing).
 */
import { runBuildScript } from '../standard/build-script-run.js';
import { NOTE, UTC_NOW } from '../record/packer-scripts.js';
import { defineStep } from './define.js';
import { bundleCommand, fragmentFile } from './types.js';

export default defineStep({
  name: 'freshen',
  summary: 'upgrade every package again right before cleanup (dist-upgrade / dnf upgrade): current on review day',
  sections: [],
  testbuild: null,
  buildScript: {
    help: 'upgrade every package again (apt-get dist-upgrade, dnf upgrade) before cleanup',
    shell: fragmentFile('freshen'),
  },
  run: (c) => runBuildScript(c, 'freshen'),
  // Its start and length noted in the work folder for the record step (tasks/record/packer-facts.ts).
  packer: (p) => [
    {
      type: 'shell',
      inline: [
        `"${UTC_NOW} > \${local.work}/${NOTE.freshenStarted}"`,
        '"s=$(date +%s)"',
        bundleCommand(p, 'build.sh', 'freshen'),
        `"echo $(( $(date +%s) - s )) > \${local.work}/${NOTE.freshenSeconds}"`,
      ],
    },
  ],
});
