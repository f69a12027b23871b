/**
 * Whether `npm run build` would change anything: the global setup skips the build (tsc and the
 * bundles, about 25 s on a 2-core machine) when the sources it reads hash as they did at the last
 * build it ran, and what that build wrote is still there unchanged (listing, sizes and times).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** What the build reads: the compiled trees, its scripts and configs, the installed compiler. */
const INPUT_DIRS = ['core', 'generators', 'runtime', 'tasks'];
const INPUT_FILES = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts/clean-stale-lib.mjs',
  'scripts/bundle-runtime.mjs',
  'scripts/build-schema.mjs',
  'scripts/build-manifest-doc.mjs',
  'docs/manifest-example.json',
  'docs/manifest-example-caddy.json',
];
/** What it writes besides lib/ (the stamp lives in lib/, so removing lib/ means a build). */
const OUTPUT_FILES = ['mpimg.schema.json', 'docs/manifest.md'];
const STAMP = 'lib/.mpimg-build-stamp';

function filesUnder(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

function inputsHash(root: string): string {
  const h = createHash('sha256');
  for (const f of [...INPUT_DIRS.flatMap((d) => filesUnder(root, d)), ...INPUT_FILES]) {
    h.update(`${f}\0`);
    h.update(existsSync(join(root, f)) ? readFileSync(join(root, f)) : '(none)');
    h.update('\0');
  }
  return h.digest('hex');
}

function outputsHash(root: string): string {
  const h = createHash('sha256');
  for (const f of [...filesUnder(root, 'lib').filter((f) => f !== STAMP), ...OUTPUT_FILES]) {
    const st = existsSync(join(root, f)) ? statSync(join(root, f)) : undefined;
    h.update(`${f} ${st ? `${st.size} ${st.mtimeMs}` : '(none)'}\n`);
  }
  return h.digest('hex');
}

/** The hash of the build's inputs, and whether the last build (markBuilt) was made from them and is intact. */
export function currentInputs(root: string): { inputs: string; current: boolean } {
  const inputs = inputsHash(root);
  let stamp: { inputs?: string; outputs?: string } = {};
  try {
    stamp = JSON.parse(readFileSync(join(root, STAMP), 'utf8')) as typeof stamp;
  } catch {
    return { inputs, current: false };
  }
  return { inputs, current: stamp.inputs === inputs && stamp.outputs === outputsHash(root) };
}

/** Records a build made from the sources that hashed as `inputs` before it started. */
export function markBuilt(root: string, inputs: string): void {
  writeFileSync(join(root, STAMP), `${JSON.stringify({ inputs, outputs: outputsHash(root) })}\n`);
}
