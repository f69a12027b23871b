/**
 * mpimg_save_credential of the helper library, called by two first-boot steps at the same instant:
 * both keys are kept. Real sh over a staged root in a private mount namespace; a stub of mv holds
 * the first save just before its rename until the second one is waiting for the lock (flock, or the
 * sleep of the mkdir lock where flock is missing) or has reached its own rename (no lock), so the
 * two really overlap.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture({ manifest: { loginHold: false }, firstLogin: false });
});

const real = (n: string) => ['/usr/bin', '/bin'].map((p) => `${p}/${n}`).find((p) => fs.existsSync(p))!;

/** A PATH folder: every program of this machine (flock too, or not), with mv, flock and sleep marking their calls. */
function barrierPath(withFlock: boolean): string {
  const d = tempDir('mpimg-barrier-');
  fs.chmodSync(d, 0o755);
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!fs.existsSync(dir) || fs.lstatSync(dir).isSymbolicLink()) continue;
    for (const name of fs.readdirSync(dir))
      if (!fs.existsSync(path.join(d, name)) && /^[A-Za-z0-9._+-]+$/.test(name))
        fs.symlinkSync(path.join(dir, name), path.join(d, name));
  }
  for (const n of ['mv', 'flock', 'sleep']) fs.rmSync(path.join(d, n), { force: true });
  const m = path.join(d, '.marks');
  fs.mkdirSync(m);
  const count = (kind: string) => `$(ls '${m}' | grep -c '^${kind}\\.')`;
  // the first mv waits (60 s at most) until the other save is in flock, sleeps for the mkdir lock, or is at its mv
  fs.writeFileSync(
    path.join(d, 'mv'),
    `#!/bin/sh
: > '${m}/mv.'$$
n=0
while [ ! -e '${d}/released' ] && [ "$n" -lt 600 ]; do
  if [ ${count('mv')} -ge 2 ] || [ ${count('flock')} -ge 2 ] || [ ${count('sleep')} -ge 1 ]; then : > '${d}/released'; fi
  n=$((n + 1))
  '${real('sleep')}' 0.1
done
exec '${real('mv')}' "$@"
`,
    { mode: 0o755 },
  );
  if (withFlock)
    fs.writeFileSync(path.join(d, 'flock'), `#!/bin/sh\n: > '${m}/flock.'$$\nexec '${real('flock')}' "$@"\n`, {
      mode: 0o755,
    });
  fs.writeFileSync(path.join(d, 'sleep'), `#!/bin/sh\n: > '${m}/sleep.'$$\nexec '${real('sleep')}' "$@"\n`, {
    mode: 0o755,
  });
  return d;
}

describe('two saves of mpimg_save_credential at once', () => {
  it.each([
    ['flock', true],
    ['a mkdir lock (no flock on the droplet)', false],
  ])('keep both keys, with %s', (_, withFlock) => {
    const root = stagedRoot();
    const i = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
    expect(i.status, i.stderr).toBe(0);
    // a key saved before (by an earlier step)
    fs.writeFileSync(path.join(root, 'root/.acme-wiki-credentials'), "OLD='kept from before'\n", { mode: 0o600 });
    const bin = barrierPath(withFlock);
    const r = runInSandbox(
      root,
      [
        '. /opt/acme/acme-wiki/lib.sh',
        '(mpimg_save_credential FIRST "one o\'clock" || echo FAILED) & (mpimg_save_credential SECOND two || echo FAILED); wait',
      ].join('\n'),
      { env: { PATH: bin } },
    );
    expect(r.stdout + r.stderr).toBe('');
    // the saves did overlap: the second reached the lock (or its rename) while the first was about to rename
    expect(fs.existsSync(path.join(bin, 'released'))).toBe(true);
    const file = path.join(root, 'root/.acme-wiki-credentials');
    expect(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).sort()).toEqual([
      "FIRST='one o'\\''clock'",
      "OLD='kept from before'",
      "SECOND='two'",
    ]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // the mkdir lock is gone once the saves are done; nothing but the lock file is left beside the file
    expect(fs.readdirSync(path.join(root, 'var/lib/mpimg/acme-wiki')).sort()).toEqual(
      withFlock ? ['credentials.lock'] : [],
    );
    expect(fs.readdirSync(path.join(root, 'root')).filter((f) => f.startsWith('.acme-wiki-credentials.'))).toEqual([]);
  });
});
