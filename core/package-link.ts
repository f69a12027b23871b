import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './paths.js';

/**
 * `--link` of `mpimg new` and `mpimg import`: node_modules/generator-mpimg → this package, plus its
 * bin, so `make bundle` works in the new project without a registry (development, CI, the README's
 * main job).
 */
export function linkThisPackage(dir: string): void {
  const nm = join(dir, 'node_modules');
  mkdirSync(join(nm, '.bin'), { recursive: true });
  const pkg = join(nm, 'generator-mpimg');
  rmSync(pkg, { recursive: true, force: true });
  symlinkSync(packageRoot(), pkg, 'dir');
  const bin = join(nm, '.bin', 'mpimg');
  rmSync(bin, { force: true });
  symlinkSync('../generator-mpimg/bin/mpimg.js', bin);
}
