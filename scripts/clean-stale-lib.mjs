// After tsc: removes compiled files in lib/ whose TypeScript source is gone (a renamed or deleted
// module), so the package never ships them (a stale lib/tasks/commands/yeoman.js once did).
// Only such orphans are removed: a build never deletes what a concurrent test run is using.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lib = join(root, 'lib');
for (const top of ['core', 'tasks', 'generators', 'runtime']) {
  const dir = join(lib, top);
  if (!existsSync(dir)) continue;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const m = /^(.*)\.(js|d\.ts|js\.map|d\.ts\.map)$/.exec(e.name);
    if (!m) continue;
    const rel = relative(lib, join(e.parentPath, m[1]));
    if (!existsSync(join(root, `${rel}.ts`))) rmSync(join(e.parentPath, e.name), { force: true });
  }
}
