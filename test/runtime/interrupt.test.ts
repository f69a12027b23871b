// An install cut off by a dropped SSH session (HUP) or a kill (TERM): the sh twin leaves no scratch
// folder, and uninstall leaves the root as it was, even with a half-written temp file.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture();
});

/** PATH with a sha256sum that first waits: install is surely still running when the signal comes. */
function slowPath(): string {
  const bin = tempDir('mpimg-slow-');
  const real = spawnSync('sh', ['-c', 'command -v sha256sum'], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(path.join(bin, 'sha256sum'), `#!/bin/sh\ntouch "${bin}/started"\nsleep 3\nexec ${real} "$@"\n`, {
    mode: 0o755,
  });
  return bin;
}

describe('sh installer, interrupted', () => {
  for (const [signal, code] of [
    ['SIGHUP', 129],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal}: exits ${code}, leaves no scratch folder; uninstall then restores the root`, async () => {
      const root = stagedRoot();
      const pristine = treeDigest(root);
      const scratch = tempDir('mpimg-tmpdir-');
      const bin = slowPath();
      const child = spawn('sh', [b.sh, 'install', '--root', root], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TMPDIR: scratch },
        detached: true,
        stdio: 'ignore',
        cwd: os.tmpdir(),
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? -1 : null))));
      for (let i = 0; i < 200 && !fs.existsSync(path.join(bin, 'started')); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(fs.existsSync(path.join(bin, 'started'))).toBe(true);
      process.kill(-child.pid!, signal); // the whole group, as a dropped session does
      expect(await exited).toBe(code);
      expect(fs.readdirSync(scratch)).toEqual([]);
      const un = spawnSync('sh', [b.sh, 'uninstall', '--root', root], { encoding: 'utf8', cwd: os.tmpdir() });
      expect(un.stderr).toBe('');
      expect(un.status).toBe(0);
      expect(treeDigest(root)).toEqual(pristine);
    });
  }

  it.each([['node'], ['sh']])('%s uninstall removes a half-written temp file next to a planned one', (which) => {
    const root = stagedRoot();
    const pristine = treeDigest(root);
    const run = (args: string[]) =>
      which === 'node'
        ? spawnSync(process.execPath, [b.cjs, ...args], { encoding: 'utf8', cwd: os.tmpdir() })
        : spawnSync('sh', [b.sh, ...args], { encoding: 'utf8', cwd: os.tmpdir() });
    expect(run(['install', '--root', root]).status).toBe(0);
    fs.writeFileSync(path.join(root, 'etc/update-motd.d/99-acme-wiki.mpimg-tmp'), 'half');
    fs.writeFileSync(path.join(root, 'root/.bashrc.mpimg-tmp'), 'half');
    const un = run(['uninstall', '--root', root]);
    expect(un.status).toBe(0);
    expect(treeDigest(root)).toEqual(pristine);
  });
});
