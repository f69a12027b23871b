// Needs root (it drops to uid 65534 with setpriv): the system lane (test/lanes.ts).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { bundledFixture } from '../helpers/bundled.js';

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture();
});

describe('install and uninstall on /', () => {
  it('refuse to touch / unless run as root (node and sh)', () => {
    const dir = tempDir('mpimg-nobody-');
    fs.chmodSync(dir, 0o755);
    for (const f of [b.cjs, b.sh]) fs.copyFileSync(f, path.join(dir, path.basename(f)));
    const asNobody = (cmd: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...cmd], {
        encoding: 'utf8',
        cwd: dir,
      });
    const r1 = asNobody([process.execPath, path.join(dir, path.basename(b.cjs)), 'install']);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toContain('refusing to install on / as uid 65534');
    const r2 = asNobody(['sh', path.join(dir, path.basename(b.sh)), 'uninstall']);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('refusing to uninstall on / as uid 65534');
  });
});
