/** cleanup: the droplet cleaned for its snapshot (`build` only: `testbuild` keeps the droplet usable). */
import { fail } from '../ssh/helpers.js';
import { runDropletScript } from '../standard/droplet-script.js';
import { manifestOf, rootArgs, targetRoot } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

export default defineStep({
  name: 'cleanup',
  summary: 'clean the droplet for its snapshot (keys, logs, histories, caches, cloud-init data)',
  sections: ['$.cleanup'],
  testbuild: null,
  run: async (c) => {
    const m = manifestOf(c);
    const args = [...rootArgs()];
    if (m.cleanup?.lockRootPassword) args.push('--lock-root-password');
    if (m.cleanup?.zeroFill) {
      // Zero-filling is for the droplet's own disk only: never for a staged root.
      if (targetRoot() === '/') {
        args.push('--zero-fill');
        if (m.cleanup.zeroFillMaxMiB) args.push('--zero-fill-max-mib', String(m.cleanup.zeroFillMaxMiB));
      } else c.log('cleanup.zeroFill is on, but not for a staged root: skipped');
    }
    // The cleanup refuses a machine that does not look like a DigitalOcean build droplet; a build on
    // another cloud or a local VM says so explicitly.
    if (process.env.MPIMG_BUILD_DROPLET === 'yes') args.push('--yes-this-is-a-build-droplet');
    const code = await runDropletScript(c, 'cleanup', args);
    if (code !== 0)
      fail(
        `the cleanup failed (exit code ${code})`,
        code === 2
          ? 'see its message above (on a machine that is not a DigitalOcean droplet: MPIMG_BUILD_DROPLET=yes)'
          : 'see the FAILED lines above and run the task again',
      );
  },
  // The cleanup embedded in the sh twin (the project's own when it has one).
  packer: (p) => [
    { type: 'shell', inline: [bundleCommand(p, 'install.sh', `cleanup${p.cleanupArgs.map((a) => ` ${a}`).join('')}`)] },
  ],
});
