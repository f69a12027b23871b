/**
 * $.secrets on a droplet under attack: the credentials file's folder in the hands of another user,
 * a full disk while it is rewritten, an empty line left in it, a hostile environment.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';

const PREPARE = '/var/lib/cloud/scripts/per-instance/0-acme-wiki-prepare';
const LIB = '/opt/acme/acme-wiki/lib.sh';

let b: ReturnType<typeof bundledFixture>;
let plain: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture({
    manifest: { secrets: [{ name: 'DB_PASSWORD', length: 24 }], credentials: { file: '/var/shared/creds' } },
  });
  plain = bundledFixture();
});

function installed(bundle = b): string {
  const root = stagedRoot();
  const r = spawnSync(process.execPath, [bundle.cjs, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return root;
}
const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), 'utf8');

describe('the credentials file under attack', () => {
  it('is not written in a folder another user owns (a link there would get the secret)', () => {
    const root = installed();
    const shared = path.join(root, 'var/shared');
    fs.mkdirSync(shared, { mode: 0o755 });
    fs.chownSync(shared, 4242, 4242);
    // the other user's readable file, and a link to it where root used to write the new file
    fs.writeFileSync(path.join(shared, 'mine'), 'x\n', { mode: 0o644 });
    fs.chownSync(path.join(shared, 'mine'), 4242, 4242);
    fs.symlinkSync('/var/shared/mine', path.join(shared, 'creds.tmp'));
    const r = runInSandbox(root, `${PREPARE} || echo FAILED`);
    expect(r.stdout).toContain('FAILED');
    expect(read(root, 'var/shared/mine')).toBe('x\n');
    expect(fs.readdirSync(shared).sort()).toEqual(['creds.tmp', 'mine']);
    expect(read(root, 'var/log/mpimg/acme-wiki/prepare.log')).toContain(
      "mpimg_save_credential: /var/shared is not root's alone (another user may change it): DB_PASSWORD not saved",
    );
  });

  it('is left whole when the disk is full, and saving says it failed (a script without set -e)', () => {
    const root = installed();
    const lines = Array.from({ length: 60 }, (_, i) => `OLD_${i}='${'v'.repeat(40)}'\n`).join('');
    const r = runInSandbox(
      root,
      [
        'mkdir -p /var/shared && mount -t tmpfs -o size=8k,mode=0700 full /var/shared',
        `echo ${Buffer.from(lines).toString('base64')} | base64 -d > /var/shared/creds`,
        'dd if=/dev/zero of=/var/shared/fill bs=1k count=64 2>/dev/null',
        `. ${LIB}`,
        'mpimg_save_credential NEW_ONE value; echo "rc=$?"',
        'cat /var/shared/creds; ls -A /var/shared',
      ].join('\n'),
    );
    expect(r.stdout).toBe(`rc=1\n${lines}creds\nfill\n`);
    expect(r.stderr).toContain('mpimg_save_credential: cannot copy /var/shared/creds: NEW_ONE not saved');
  });

  // Regression: a value with a line break was saved over two lines; saving the key its second line
  // began with deleted that line, leaving an unbalanced quote in a file scripts source.
  it('refuses a value with a line break, saving nothing, so no later save can cut it in two', () => {
    const root = installed();
    fs.mkdirSync(path.join(root, 'var/shared'), { mode: 0o700 });
    const r = runInSandbox(
      root,
      [
        `. ${LIB}`,
        `mpimg_save_credential APP_TOKEN "$(printf 'abc\\nADMIN_PASSWORD=x')"; echo "rc=$?"`,
        'mpimg_save_credential ADMIN_PASSWORD s3cret; echo "rc=$?"',
        'cat /var/shared/creds',
      ].join('\n'),
    );
    expect(r.stdout).toBe("rc=2\nrc=0\nADMIN_PASSWORD='s3cret'\n");
    expect(r.stderr).toContain('mpimg_save_credential: the value of APP_TOKEN holds a line break: not saved');
    expect(r.stderr).not.toContain('abc');
  });

  it('refuses an empty secret left in the file instead of keeping it', () => {
    const root = installed();
    fs.mkdirSync(path.join(root, 'var/shared'), { mode: 0o700 });
    fs.writeFileSync(path.join(root, 'var/shared/creds'), "DB_PASSWORD=''\n", { mode: 0o600 });
    const r = runInSandbox(root, `${PREPARE} || echo FAILED`);
    expect(r.stdout).toContain('FAILED');
    expect(read(root, 'var/log/mpimg/acme-wiki/prepare.log')).toContain(
      "DB_PASSWORD in /var/shared/creds is not written NAME='value' (a value without quotes, not empty): fix or remove that line",
    );
  });

  it('takes the names it evals from the image, never from the environment', () => {
    const root = installed(plain);
    const name = 'A;:>owned;B';
    const r = runInSandbox(
      root,
      `cd /root; . ${LIB}; echo "${name}='v'" > "$MPIMG_CREDENTIALS"; mpimg_load_secrets; echo done`,
      {
        env: { MPIMG_SECRETS: name },
      },
    );
    expect(r.stdout).toBe('done\n');
    expect(fs.existsSync(path.join(root, 'root/owned'))).toBe(false);
  });
});
