/**
 * The cleanup and check scripts: the package's own by default (so their fixes reach every project on
 * `npm update`), or the project's customised copy when it has one (`mpimg add cleanup-script` puts
 * it in scripts/; `$.cleanup.script` / `$.check.script` name another path). The copy then wins.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS, type Manifest } from '../../runtime/manifest.js';
import { templatesDir } from '../../core/paths.js';

export interface DropletScript {
  abs: string;
  /** Project path of a customised copy, or the package's file name. */
  rel: string;
  custom: boolean;
}

export const PACKAGE_SCRIPTS = { cleanup: '90-cleanup.sh', check: '99-img-check.sh' } as const;

export const packageScript = (which: keyof typeof PACKAGE_SCRIPTS): string =>
  join(templatesDir(), 'droplet', PACKAGE_SCRIPTS[which]);

function pick(
  dir: string,
  which: keyof typeof PACKAGE_SCRIPTS,
  named: string | undefined,
  conventional: string,
): DropletScript {
  const rel = named ?? conventional;
  if (named !== undefined || existsSync(join(dir, rel))) return { abs: join(dir, rel), rel, custom: true };
  return { abs: packageScript(which), rel: `generator-mpimg/${PACKAGE_SCRIPTS[which]}`, custom: false };
}

export const cleanupScriptOf = (dir: string, m: Manifest): DropletScript =>
  pick(dir, 'cleanup', m.cleanup?.script, DEFAULTS.cleanupScript);
export const checkScriptOf = (dir: string, m: Manifest): DropletScript =>
  pick(dir, 'check', m.check?.script, DEFAULTS.checkScript);
