import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** This package's root, from source (core/) or compiled (lib/core/) code alike. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'generator-mpimg')
      return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('generator-mpimg: package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const templatesDir = (): string => join(packageRoot(), 'templates');
/** templates/project/: the image project skeleton. */
export const projectTemplates = (): string => join(templatesDir(), 'project');
export const runtimeBundlePath = (): string => join(packageRoot(), 'lib', 'runtime', 'mpimg-runtime.cjs');
export const packageVersion = (): string =>
  (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
export const generatorVersion = packageVersion;
