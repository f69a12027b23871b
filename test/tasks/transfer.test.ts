import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSshd } from '../helpers/sshd.js';
import { sshdPerFile } from '../helpers/sshd-run.js';
import { BASE_ENV, type Connection } from '../../tasks/ssh/connection.js';
import type { MpimgError } from '../../core/errors.js';
import { connectTo } from './helpers.js';

// putDir / get / put against the real sshd. The "droplet" is this machine as root: every remote path
// is inside `work`, a temp dir; the usr-merged "root" below is a temp tree, never /.
const sshd = sshdPerFile();
let work: string;
let c: Connection;

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);
const write = (p: string, text: string, m = 0o644) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  chmodSync(p, m);
};

/** A temp tree laid out like a usr-merged Debian/Ubuntu root: lib, bin, sbin are links into usr/. */
function usrMergedRoot(): string {
  const root = mkdtempSync(join(work, 'merged-'));
  chmodSync(root, 0o755);
  for (const d of ['usr/lib/systemd/system', 'usr/bin', 'usr/sbin']) mkdirSync(join(root, d), { recursive: true });
  for (const d of ['usr', 'usr/lib', 'usr/lib/systemd', 'usr/lib/systemd/system', 'usr/bin', 'usr/sbin'])
    chmodSync(join(root, d), 0o755);
  write(join(root, 'usr/lib/systemd/system/ssh.service'), '[Unit]\nDescription=existing\n');
  write(join(root, 'usr/lib/os-release'), 'ID=debian\n');
  write(join(root, 'usr/bin/sh-existing'), '#!/bin/sh\n', 0o755);
  write(join(root, 'usr/sbin/init-existing'), '#!/bin/sh\n', 0o755);
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('usr/sbin', join(root, 'sbin'));
  return root;
}

/** A project's files/ with content under lib/, bin/ and sbin/ (folders 0700 on purpose: must not leak). */
function filesTree(): string {
  const src = mkdtempSync(join(work, 'files-'));
  write(join(src, 'lib/systemd/system/acme.service'), '[Unit]\nDescription=acme\n');
  write(join(src, 'bin/acme'), '#!/bin/sh\necho acme\n', 0o755);
  write(join(src, 'sbin/acme-admin'), '#!/bin/sh\necho admin\n', 0o750);
  for (const d of ['', 'lib', 'lib/systemd', 'bin', 'sbin']) chmodSync(join(src, d), 0o700);
  return src;
}

function expectMergedIntact(root: string): void {
  for (const [link, target] of [
    ['lib', 'usr/lib'],
    ['bin', 'usr/bin'],
    ['sbin', 'usr/sbin'],
  ]) {
    expect(lstatSync(join(root, link)).isSymbolicLink(), `${link} is still a link`).toBe(true);
    expect(readlinkSync(join(root, link))).toBe(target);
  }
  expect(readFileSync(join(root, 'usr/lib/systemd/system/acme.service'), 'utf8')).toBe('[Unit]\nDescription=acme\n');
  expect(readFileSync(join(root, 'usr/bin/acme'), 'utf8')).toBe('#!/bin/sh\necho acme\n');
  expect(mode(join(root, 'usr/sbin/acme-admin'))).toBe('750');
  // What was there before is still there, and the existing folders kept their modes.
  expect(readFileSync(join(root, 'usr/lib/systemd/system/ssh.service'), 'utf8')).toContain('existing');
  expect(readFileSync(join(root, 'usr/lib/os-release'), 'utf8')).toBe('ID=debian\n');
  expect(existsSync(join(root, 'usr/bin/sh-existing'))).toBe(true);
  expect(existsSync(join(root, 'usr/sbin/init-existing'))).toBe(true);
  for (const d of ['', 'usr', 'usr/lib', 'usr/lib/systemd', 'usr/bin', 'usr/sbin'])
    expect(mode(join(root, d)), d || '/').toBe('755');
  expect(readdirSync(root).sort()).toEqual(['bin', 'lib', 'sbin', 'usr']);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mpimg-tasks-xfer-'));
  ({ c } = connectTo(sshd, { stdout: null, stderr: null }));
});

afterAll(async () => {
  c?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('putDir onto a usr-merged root', () => {
  it('keeps lib -> usr/lib, bin -> usr/bin, sbin -> usr/sbin: the new files land in usr/', async () => {
    const root = usrMergedRoot();
    await c.putDir(filesTree(), root);
    expectMergedIntact(root);
    // And a second run (a re-build on the same droplet) changes nothing.
    await c.putDir(filesTree(), root);
    expectMergedIntact(root);
  });

  it('refuses, with a clear error, a host whose tar cannot keep links to folders', async () => {
    // A "tar" without --keep-directory-symlink first on the remote PATH (the real one would work).
    const fake = mkdtempSync(join(work, 'oldtar-'));
    write(
      join(fake, 'tar'),
      '#!/bin/sh\nfor a; do [ "$a" = --keep-directory-symlink ] && { echo "tar: unrecognized option" >&2; exit 64; }; done\nexec /bin/tar "$@"\n',
      0o755,
    );
    const { c: old } = connectTo(sshd, { stdout: null, stderr: null, env: { PATH: `${fake}:${BASE_ENV.PATH}` } });
    const root = usrMergedRoot();
    try {
      const e = await old.putDir(filesTree(), root).then(
        () => null,
        (x: unknown) => x,
      );
      expect((e as MpimgError).format()).toMatch(
        /cannot keep links to folders \(--keep-directory-symlink\)[\s\S]*fix: install GNU tar 1\.27/,
      );
    } finally {
      old.close();
    }
    expect(lstatSync(join(root, 'lib')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(root, 'usr/lib/systemd/system/acme.service'))).toBe(false);
  });
});

// The Packer template lays files/ down with the bundle's sh twin (`install --only seeded`), whose
// usr-merge behaviour is tested with both executors in test/runtime/install-safety.test.ts.

describe('get', () => {
  it('gives a fetched symlink the mode of its target, not 0777', async () => {
    const target = join(work, 'real-secret');
    write(target, 'secret-ish\n', 0o600);
    symlinkSync('real-secret', join(work, 'link-to-secret'));
    const local = join(work, 'fetched', 'via-link');
    await c.get(join(work, 'link-to-secret'), local);
    expect(readFileSync(local, 'utf8')).toBe('secret-ish\n');
    expect(mode(local)).toBe('600');
  });
});

describe('careless or hostile paths and names', () => {
  it('put, get and putDir take paths with spaces, quotes, $, a leading dash and newlines', async () => {
    const src = join(work, 'payload');
    write(src, 'payload\n', 0o640);
    const odd = join(work, `it's a "dir" $HOME \`x\``, '-dash name', 'nl\n');
    const dest = join(odd, 'file\nname.txt');
    await c.put(src, dest);
    expect(readFileSync(dest, 'utf8')).toBe('payload\n');
    expect(mode(dest)).toBe('640');
    const back = join(work, 'back', 'a b');
    await c.get(dest, back);
    expect(readFileSync(back, 'utf8')).toBe('payload\n');
    await c.putDir(filesTree(), join(odd, '-tree'));
    expect(readFileSync(join(odd, '-tree', 'bin/acme'), 'utf8')).toContain('acme');
  });

  it('put refuses a destination that is a folder instead of moving the file into it', async () => {
    const src = join(work, 'one.txt');
    write(src, 'one\n');
    const dir = join(work, 'existing-folder');
    mkdirSync(dir);
    symlinkSync('existing-folder', join(work, 'link-to-folder'));
    for (const dest of [dir, join(work, 'link-to-folder')]) {
      const e = await c.put(src, dest).then(
        () => null,
        (x: unknown) => x,
      );
      expect((e as MpimgError | null)?.format() ?? 'no error').toMatch(/is a folder on the host/);
    }
    await expect(c.put(src, `${dir}/`)).rejects.toThrow(/needs a file path on the host/);
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(work).filter((n) => n.includes('mpimg-tmp'))).toEqual([]);
  });

  it('a put cut short (the connection drops) leaves the old file, never its first part', async () => {
    // Sparse locally (no disk used here); the host side gets at most what arrived before the drop.
    const big = join(work, 'big.bin');
    writeFileSync(big, '');
    truncateSync(big, 512 * 1024 * 1024);
    const dir = mkdtempSync(join(work, 'cut-'));
    const dest = join(dir, 'app.bin');
    writeFileSync(dest, 'old\n');
    const s = await createSshd();
    await s.start();
    const { c: cut } = connectTo(s, { stdout: null, stderr: null });
    try {
      await cut.run('true', { quiet: true });
      const put = cut.put(big, dest).then(
        () => 'done',
        (e: Error) => e.message,
      );
      // Drop the connection once the temp file is growing.
      for (
        let i = 0;
        i < 200 && !readdirSync(dir).some((n) => n.includes('mpimg-tmp') && statSync(join(dir, n)).size > 0);
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await s.halt();
      expect(await put).not.toBe('done');
      // The remote script finishes on its own after the drop: give it a moment, then look.
      for (let i = 0; i < 100 && readdirSync(dir).length > 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(readFileSync(dest, 'utf8')).toBe('old\n');
      expect(readdirSync(dir)).toEqual(['app.bin']);
    } finally {
      cut.close();
      await s.stop();
      rmSync(big);
    }
  });

  it('a put stopped by the abort signal (Ctrl-C) leaves the old file, never its first part', async () => {
    const big = join(work, 'big-abort.bin');
    writeFileSync(big, '');
    truncateSync(big, 512 * 1024 * 1024);
    const dir = mkdtempSync(join(work, 'abort-'));
    const dest = join(dir, 'app.bin');
    writeFileSync(dest, 'old\n');
    const ac = new AbortController();
    const { c: ca } = connectTo(sshd, { stdout: null, stderr: null, signal: ac.signal });
    try {
      await ca.run('true', { quiet: true });
      const put = ca.put(big, dest).then(
        () => 'done',
        (e: Error) => e.name,
      );
      for (
        let i = 0;
        i < 200 && !readdirSync(dir).some((n) => n.includes('mpimg-tmp') && statSync(join(dir, n)).size > 0);
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      ac.abort();
      expect(await put).toBe('AbortError');
      for (let i = 0; i < 100 && readdirSync(dir).length > 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(readFileSync(dest, 'utf8')).toBe('old\n');
      expect(readdirSync(dir)).toEqual(['app.bin']);
    } finally {
      ca.close();
      rmSync(big);
    }
  });

  it('refuses bad modes instead of writing a 0000 file', async () => {
    const src = join(work, 'm.txt');
    write(src, 'm\n');
    await expect(c.put(src, join(work, 'm-out'), { mode: Number.NaN })).rejects.toThrow(/bad file mode/);
    expect(existsSync(join(work, 'm-out'))).toBe(false);
  });

  it('a relative path or cwd starting with "-" is a file name, never an option', async () => {
    // A server whose sessions start in a temp dir (ForceCommand cd), so relative paths stay in it.
    const home = mkdtempSync(join(work, 'home-'));
    const s = await createSshd({ extraConfig: `ForceCommand cd '${home}' && eval "$SSH_ORIGINAL_COMMAND"` });
    await s.start();
    const { c: rel } = connectTo(s, { stdout: null, stderr: null });
    try {
      const src = join(work, 'dash-src');
      write(src, 'dash\n', 0o600);
      await rel.put(src, '-n.txt');
      expect(readFileSync(join(home, '-n.txt'), 'utf8')).toBe('dash\n');
      expect(mode(join(home, '-n.txt'))).toBe('600');
      await rel.get('-n.txt', join(work, 'dash-back'));
      expect(readFileSync(join(work, 'dash-back'), 'utf8')).toBe('dash\n');
      expect(await rel.exists('-n.txt')).toBe(true);
      await rel.putDir(filesTree(), '-R');
      expect(existsSync(join(home, '-R', 'bin/acme'))).toBe(true);
      mkdirSync(join(home, '-'));
      expect((await rel.run('pwd', { cwd: '-R', quiet: true })).stdout).toBe(`${join(home, '-R')}\n`);
      expect((await rel.run('pwd', { cwd: '-', quiet: true })).stdout).toBe(`${join(home, '-')}\n`);
    } finally {
      rel.close();
      await s.stop();
    }
  });

  it('known_hosts and key files in folders with spaces and % work', async () => {
    const dir = join(work, 'keys %h %d dir');
    mkdirSync(dir);
    const key = join(dir, 'id key');
    writeFileSync(key, readFileSync(sshd.identityFile), { mode: 0o600 });
    writeFileSync(`${key}.pub`, readFileSync(`${sshd.identityFile}.pub`));
    const kh = join(dir, 'known hosts');
    writeFileSync(kh, '');
    const { c: odd } = connectTo(sshd, { stdout: null, stderr: null, identityFile: key, knownHostsFile: kh });
    try {
      expect((await odd.run('echo in', { quiet: true })).stdout).toBe('in\n');
    } finally {
      odd.close();
    }
    expect(readFileSync(kh, 'utf8')).toContain(sshd.hostPublicKey.split(' ')[1]);
  });

  it('refuses a user@host, an option-like or spaced host and a bad user, before running ssh', () => {
    const bad = (extra: Record<string, unknown>) => {
      try {
        connectTo(sshd, extra);
      } catch (e) {
        return (e as MpimgError).format();
      }
      return 'accepted';
    };
    expect(bad({ host: 'root@203.0.113.10' })).toMatch(/bad host "root@203\.0\.113\.10"[\s\S]*--user/);
    expect(bad({ host: '-oProxyCommand=x' })).toMatch(/bad host/);
    expect(bad({ host: 'a b' })).toMatch(/bad host/);
    expect(bad({ host: "x';id;'" })).toMatch(/bad host/);
    expect(bad({ user: 'ro ot' })).toMatch(/bad user "ro ot"[\s\S]*where: --user/);
    expect(bad({ user: '-lx' })).toMatch(/bad user/);
    expect(bad({ knownHostsFile: join(work, 'a"b') })).toMatch(/ssh cannot use the path/);
    expect(bad({ host: 'fe80::1%eth0' })).toBe('accepted');
    expect(bad({ host: 'my-droplet.example.com', user: 'deploy' })).toBe('accepted');
  });
});
