/** Where this package lives, found the same way from the TypeScript source and from lib/. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding generator-mpimg's package.json (walks up from this module). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'generator-mpimg') {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`generator-mpimg: package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** templates/project/: the image project skeleton. */
export function projectTemplates(): string {
  return join(packageRoot(), 'templates', 'project');
}

export function generatorVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
