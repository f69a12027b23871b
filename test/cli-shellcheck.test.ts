// Needs shellcheck: the system lane (test/lanes.ts).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeProject } from './helpers/project-fixture.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const mpimg = (args: string[], cwd: string) =>
  spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

describe('mpimg validate with shellcheck', () => {
  it('shellcheck findings are warnings with file:line; they do not stop validate', () => {
    const dir = makeProject();
    fs.writeFileSync(path.join(dir, 'first-boot/30-db.sh'), '#!/bin/sh\nrm -rf $DIR/*\n', { mode: 0o755 });
    const r = mpimg(['validate'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: first-boot\/30-db\.sh:2:\d+: .*\[SC2115\]$/m);
    expect(r.stderr).not.toMatch(/warning:.*warning:/);
  });
});
