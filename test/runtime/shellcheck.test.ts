import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';

// Everything the runtime writes onto a droplet, and the sh installer itself, is POSIX sh and clean.
describe('droplet shell scripts', () => {
  it('are shellcheck-clean as POSIX sh and LF only', () => {
    const b = bundledFixture();
    const root = stagedRoot();
    expect(spawnSync(process.execPath, [b.cjs, 'install', '--root', root]).status).toBe(0);
    const files = [
      'opt/acme/acme-wiki/lib.sh',
      'opt/acme/acme-wiki/first-login-run',
      'var/lib/cloud/scripts/per-instance/10-acme-wiki-password',
      'var/lib/cloud/scripts/per-instance/zz-acme-wiki-finish',
      'etc/update-motd.d/99-acme-wiki',
    ].map((f) => path.join(root, f));
    files.push(b.sh);
    const r = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', ...files], { encoding: 'utf8' });
    expect(r.error, 'shellcheck must be installed (apt-get install shellcheck)').toBeUndefined();
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
    for (const f of files) expect(fs.readFileSync(f).includes(13)).toBe(false);
  });

  it('the installer with per-distribution build.remove lists (its status picks one) is clean too', () => {
    const remove = { all: ['/a/*'], 'debian-12-x64': [], 'ubuntu-24-04-x64': ['/u'], apt: ['/b'], dnf: ['/c/[ab]*'] };
    const b = bundledFixture({ manifest: { build: { packages: ['nginx'], remove } } as Partial<Manifest> });
    const r = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', b.sh], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});
