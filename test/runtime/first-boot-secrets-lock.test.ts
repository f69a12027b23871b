/**
 * Two first boots at once (cloud-init's per-instance run and the customer running it again by hand,
 * or two cloud-init runs) make the secrets once: the prepare step holds a lock, and the second run
 * finds the first one's secrets and keeps them. Real sh over a staged root in a private mount
 * namespace; stubs of tr and flock hold the first run where it draws a secret until the second has
 * reached the same point (no lock) or is waiting for the lock, so the two really overlap.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import type { Manifest } from '../../runtime/manifest.js';

const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const RUN_PARTS = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
const SECRETS = ['DB_PASSWORD', 'SECRET_KEY', 'TOKEN'];
const manifest: Partial<Manifest> = {
  loginHold: false,
  secrets: SECRETS.map((name) => ({ name })),
  files: { dir: 'files', templates: ['/opt/app/app.conf'] },
};

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  const dir = tempDir('mpimg-proj-');
  fs.mkdirSync(path.join(dir, 'files/opt/app'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'files/opt/app/app.conf'), 'db = {{secret.DB_PASSWORD}}\n', { mode: 0o600 });
  b = bundledFixture({ manifest, dir, firstLogin: false });
});

/** tr and flock stubs in a fresh folder: the first `tr -dc` waits (60 s at most) for the other run. */
function barrierStubs(): string {
  const d = tempDir('mpimg-barrier-');
  fs.chmodSync(d, 0o755);
  const real = (n: string) => ['/usr/bin', '/bin'].map((p) => `${p}/${n}`).find((p) => fs.existsSync(p))!;
  fs.writeFileSync(
    path.join(d, 'tr'),
    `#!/bin/sh
if [ "$1" = -dc ] && [ ! -e '${d}/released' ]; then
  : > '${d}/tr.'$$
  n=0
  while [ ! -e '${d}/released' ] && [ "$n" -lt 600 ]; do
    if [ "$(ls '${d}' | grep -c '^tr\\.')" -ge 2 ] || [ "$(ls '${d}' | grep -c '^flock\\.')" -ge 2 ]; then
      : > '${d}/released'
    fi
    n=$((n + 1))
    sleep 0.1
  done
fi
exec '${real('tr')}' "$@"
`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(d, 'flock'), `#!/bin/sh\n: > '${d}/flock.'$$\nexec '${real('flock')}' "$@"\n`, {
    mode: 0o755,
  });
  return d;
}

describe('two first boots at once', () => {
  it('make the secrets once: both runs see the same values, the credentials file has each once', () => {
    const root = stagedRoot();
    const i = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
    expect(i.status, i.stderr).toBe(0);
    // each run's step writes the secrets of its environment to a file of its own
    fs.writeFileSync(
      path.join(root, 'opt/acme/acme-wiki/first-boot/20-ip'),
      '#!/bin/sh\nset -eu\nprintf "%s %s %s" "$DB_PASSWORD" "$SECRET_KEY" "$TOKEN" > "$(mktemp /root/seen.XXXXXX)"\n',
    );
    const stubs = barrierStubs();
    const r = runInSandbox(root, `(${RUN_PARTS}) & (${RUN_PARTS}); wait`, {
      env: { PATH: `${stubs}:/usr/sbin:/usr/bin:/sbin:/bin` },
    });
    expect(r.stdout).not.toContain('FAILED');
    // the runs did overlap: the second reached the lock (or the drawing of a secret) while the first drew one
    expect(fs.existsSync(path.join(stubs, 'released'))).toBe(true);

    const text = fs.readFileSync(path.join(root, 'root/.acme-wiki-credentials'), 'utf8');
    const lines = text.split('\n').filter(Boolean);
    for (const name of SECRETS) expect(lines.filter((l) => l.startsWith(`${name}=`))).toHaveLength(1);
    const value = (name: string) => new RegExp(`^${name}='([A-Za-z0-9]{32})'$`, 'm').exec(text)?.[1];
    const expected = SECRETS.map(value).join(' ');
    const seen = fs.readdirSync(path.join(root, 'root')).filter((f) => f.startsWith('seen.'));
    expect(seen).toHaveLength(2);
    for (const f of seen) expect(fs.readFileSync(path.join(root, 'root', f), 'utf8')).toBe(expected);
    expect(fs.readFileSync(path.join(root, 'opt/app/app.conf'), 'utf8')).toBe(`db = ${value('DB_PASSWORD')}\n`);
    const log = fs.readFileSync(path.join(root, 'var/log/mpimg/acme-wiki/prepare.log'), 'utf8');
    for (const name of SECRETS) {
      expect(log.match(new RegExp(`secret ${name}: made`, 'g'))).toHaveLength(1);
      expect(log.match(new RegExp(`secret ${name}: kept`, 'g'))).toHaveLength(1);
    }
  });
});
