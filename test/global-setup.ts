import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { currentInputs, markBuilt } from './build-stamp.js';
import { writeUnitStubs } from './lanes.js';

const BUILT = Symbol.for('mpimg.tests.built');

/**
 * Every lane runs the real `mpimg` bin and the real runtime bundle: build them once per run (each
 * project of vitest.config.ts calls this; the first one builds). A build whose inputs have not changed
 * since the last one (test/build-stamp.ts) is skipped: tsc alone is a quarter of the unit lane.
 */
export default async function setup(): Promise<void> {
  writeUnitStubs();
  const g = globalThis as { [BUILT]?: Promise<void> };
  g[BUILT] ??= (async () => {
    if (process.env.MPIMG_SKIP_BUILD === '1') return;
    const root = fileURLToPath(new URL('..', import.meta.url));
    const { inputs, current } = currentInputs(root);
    if (current) return;
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
    markBuilt(root, inputs);
  })();
  await g[BUILT];
}
