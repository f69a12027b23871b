/** What to do after generating, printed by `yo mpimg` and `mpimg new`. */
import { relative } from 'node:path';
import type { Answers } from './options.js';

export function nextSteps(dir: string, a: Answers, cwd: string = process.cwd(), linked = false): string {
  const r = relative(cwd, dir) || '.';
  // a folder outside the current one reads better as its absolute path
  const rel = r.startsWith('..') ? dir : r;
  return [
    '',
    `Image project "${a.name}" is ready${rel === '.' ? ' here' : ` in ${rel}`}. Next steps:`,
    ...(rel === '.' ? [] : [`  cd ${rel}`]),
    ...(linked
      ? []
      : ['  npm install                      # generator-mpimg as package.json names it (the mpimg command)']),
    '  make help                        # every target, one line each',
    `  make bundle                      # dist/: ${a.slug}.cjs, ${a.slug}-install.sh, ${a.slug}-build.sh, ${a.slug}.pkr.hcl`,
    '  make build HOST=<droplet-ip>     # build on a fresh droplet over SSH',
    '  make snapshot DROPLET=<id>       # power off, snapshot, print the line to submit',
    '  git add . && git commit          # with package-lock.json (after npm install): CI installs from it',
    '',
  ].join('\n');
}
