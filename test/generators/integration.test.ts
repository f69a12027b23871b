/**
 * The "done when": a generated project works without any edit. Generate with the built
 * `mpimg new`, link this package in as `npm install` would, `make bundle`, then install the
 * bundle under --root and ask it for its status.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, removeDir, tempDir } from './support.js';

const parent = tempDir('mpimg-integ-');
afterAll(() => removeDir(parent));

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { ...r, all: `${r.stdout}\n${r.stderr}` };
}

describe('generated project, end to end on this machine', () => {
  it('mpimg new → make bundle → bundle install --root → status --root', () => {
    const gen = run(
      process.execPath,
      [
        join(REPO, 'bin/mpimg.js'),
        'new',
        'acme-wiki',
        '--yes',
        '--name',
        'Acme Wiki',
        '--first-login',
        '--login-hold',
        '--packages',
        'nginx',
      ],
      parent,
    );
    expect(gen.status, gen.all).toBe(0);
    const dir = join(parent, 'acme-wiki');

    // What `npm install` gives the project: the package and its bin.
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(REPO, join(dir, 'node_modules', 'generator-mpimg'));
    symlinkSync('../generator-mpimg/bin/mpimg.js', join(dir, 'node_modules', '.bin', 'mpimg'));

    const bundle = run('make', ['bundle'], dir);
    expect(bundle.status, bundle.all).toBe(0);
    const cjs = join(dir, 'dist', 'acme-wiki.cjs');
    expect(statSync(cjs).isFile()).toBe(true);
    expect(statSync(join(dir, 'dist', 'acme-wiki-install.sh')).isFile()).toBe(true);

    const root = join(parent, 'root');
    mkdirSync(root);
    const install = run(process.execPath, [cjs, 'install', '--root', root], dir);
    expect(install.status, install.all).toBe(0);
    const status = run(process.execPath, [cjs, 'status', '--root', root], dir);
    expect(status.status, status.all).toBe(0);
    expect(status.stdout).toMatch(
      /^Acme Wiki 1\.0\.0: built, first boot not run here yet, first login pending; \d+ items as planned\n$/,
    );

    // The generated pieces landed where the design says.
    const perInstance = join(root, 'var/lib/cloud/scripts/per-instance/10-acme-wiki-setup');
    expect(statSync(perInstance).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, 'opt/acme/acme-wiki/first-boot/10-setup')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(root, 'etc/acme-wiki/README'), 'utf8')).toBe(
      readFileSync(join(dir, 'files/etc/acme-wiki/README'), 'utf8'),
    );
    expect(statSync(join(root, 'etc/update-motd.d/99-acme-wiki')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(root, 'root/.bashrc'), 'utf8')).toContain('# >>> mpimg:acme-wiki first-login >>>');
    // The hold is armed at a new droplet's boot (cloud-init bootcmd and a unit before sshd), not at install.
    expect(readFileSync(join(root, 'etc/cloud/cloud.cfg.d/99-acme-wiki-login-hold.cfg'), 'utf8')).toContain(
      '/opt/acme/acme-wiki/login-hold, arm',
    );
    expect(existsSync(join(root, 'etc/ssh/sshd_config'))).toBe(false);
  });
});
