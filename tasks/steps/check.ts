/**
 * check: the Marketplace image check, which decides the build's result. `testbuild` runs
 * check-report in its place: the same check, before cleanup, that only reports.
 */
import { fail } from '../ssh/helpers.js';
import { runDropletScript } from '../standard/droplet-script.js';
import { rootArgs } from '../standard/project.js';
import { standard } from '../standard/registry.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

export default defineStep({
  name: 'check',
  summary: 'run the Marketplace image check and fail on [FAIL] lines',
  sections: ['$.check'],
  testbuild: 'check-report',
  run: async (c) => {
    const code = await runDropletScript(c, 'check', rootArgs());
    if (code === 1)
      fail(
        'the image check found failures (the [FAIL] lines above)',
        'fix them (often: run `make cleanup HOST=...`) and run the check again',
      );
    if (code !== 0) fail(`the image check could not run (exit code ${code})`, 'see its message above');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'install.sh', 'check')] }],
});

export const checkReport = standard('check-report', 'run the image check and only report (never fails)', async (c) => {
  const code = await runDropletScript(c, 'check', rootArgs());
  c.log(
    code === 0
      ? 'image check: no failures'
      : `image check exit code ${code}: expected before cleanup; \`make build\` cleans and checks again`,
  );
});
