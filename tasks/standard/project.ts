/**
 * What the standard tasks know of the image project they build: read from the project folder when a
 * task runs (never at load time), so an edit of mpimg.json counts without touching any task file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../runtime/manifest.js';
import { readManifest } from '../bundle/project.js';
import { fail } from '../ssh/helpers.js';
import type { Connection } from '../ssh/connection.js';

/** Staging and tests: `MPIMG_TARGET_ROOT=/some/dir` builds that folder instead of `/`. */
export const targetRoot = (): string => process.env.MPIMG_TARGET_ROOT || '/';
/** `MPIMG_SKIP_PACKAGES=1`: no package manager (upgrade and install), e.g. for a staged root. */
export const skipPackages = (): boolean => process.env.MPIMG_SKIP_PACKAGES === '1';
/** ['--root', DIR] when a staged root is the target; nothing on a real droplet. */
export const rootArgs = (): string[] => (targetRoot() === '/' ? [] : ['--root', targetRoot()]);

/** The project's mpimg.json, validated by the one schema. */
export function manifestOf(c: Connection): Manifest {
  return readManifest(c.project);
}

/** dist/<slug>.cjs and its sh twin, as `mpimg bundle` wrote them. */
export function bundleOf(c: Connection, m: Manifest = manifestOf(c)): { cjs: string; sh: string } {
  const cjs = join(c.project, 'dist', `${m.slug}.cjs`);
  const sh = join(c.project, 'dist', `${m.slug}-install.sh`);
  if (!existsSync(cjs) || !existsSync(sh)) fail(`the bundle is missing (dist/${m.slug}.cjs, dist/${m.slug}-install.sh)`, 'run `make bundle` first', c.project);
  return { cjs, sh };
}
