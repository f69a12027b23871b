/**
 * Which files of the build scripts folder ($.build.scriptsDir) are build steps. ONE rule for both
 * build paths: the bundle (project.ts, and from its list the Packer template) and the SSH task
 * `scripts`, so a custom-named cleanup or check is never run as a build step on either.
 */
import * as path from 'node:path';
import { DEFAULTS, type Manifest } from '../../runtime/manifest.js';
import { PACKAGE_SCRIPTS } from './droplet-scripts.js';

/** Placeholders that keep a folder in git: never steps, never reported. */
export const PLACEHOLDER_NAMES: ReadonlySet<string> = new Set(['.gitkeep', '.keep', '.DS_Store']);

/** A build step's name: two digits (its order), a dash, then anything. */
export const STEP_NAME_RE = /^(\d{2})-/;

/**
 * - step: run in order on the build droplet
 * - placeholder: .gitkeep and the like
 * - droplet-script: the cleanup or check ($.cleanup.script, $.check.script, or the conventional
 *   90-cleanup.sh / 99-img-check.sh names): run after install, never as a build step
 * - misnamed: not NN-name (the bundle reports it)
 */
export type ScriptsDirEntry = 'step' | 'placeholder' | 'droplet-script' | 'misnamed';

/** "./scripts//x" and "scripts/x" are one file: paths are compared in this form. */
const norm = (p: string): string => path.posix.normalize(p).replace(/\/+$/, '');

/** What the file `name` of the build scripts folder is, for the manifest `m`. */
export function scriptsDirEntry(m: Manifest, name: string): ScriptsDirEntry {
  if (PLACEHOLDER_NAMES.has(name)) return 'placeholder';
  const rel = norm(`${m.build?.scriptsDir ?? DEFAULTS.scriptsDir}/${name}`);
  const own = [m.cleanup?.script ?? DEFAULTS.cleanupScript, m.check?.script ?? DEFAULTS.checkScript].map(norm);
  if (own.includes(rel) || (Object.values(PACKAGE_SCRIPTS) as string[]).includes(name)) return 'droplet-script';
  return STEP_NAME_RE.test(name) ? 'step' : 'misnamed';
}
