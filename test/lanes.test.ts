// The lanes of vitest.config.ts stay honest: every system file exists, and in the unit lane a
// command a fresh Node machine lacks fails at once, saying where the test belongs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SYSTEM_COMMANDS, SYSTEM_TESTS, UNIT_STUBS } from './lanes.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('test lanes', () => {
  it('every file of the system lane exists (a renamed one must be renamed there too)', () => {
    expect(SYSTEM_TESTS.filter((f) => !existsSync(join(root, f)))).toEqual([]);
    expect(new Set(SYSTEM_TESTS).size).toBe(SYSTEM_TESTS.length);
  });

  it('this file runs in the unit lane, where the system commands are stubs that fail naming the fix', () => {
    expect(process.env.PATH?.split(':')[0]).toBe(UNIT_STUBS);
    for (const cmd of ['shellcheck', 'ssh-keygen', 'packer', 'make', 'chroot']) {
      expect(SYSTEM_COMMANDS).toContain(cmd);
      const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
      expect(r.status, cmd).toBe(127);
      expect(r.stderr).toContain(`unit test lane: ${cmd} is not on a fresh Node machine`);
      expect(r.stderr).toContain('SYSTEM_TESTS of test/lanes.ts');
    }
  });
});
