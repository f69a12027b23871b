// The cleanup and the check used the way a careless user would: odd home paths and log names,
// a full disk, interrupted runs, runs repeated. Staged roots in temp dirs; the full disk is a tiny
// tmpfs in a private mount namespace.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLEANUP_SCRIPT,
  FAKE_HASH,
  checkJson,
  cleanRoot,
  cleanup,
  cleanupFixtures,
  dirty,
  exists,
  put,
  tempRoot,
  treeHash,
} from './fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('these tests mount tmpfs in private mount namespaces and must run as root');
});

const appendPasswd = (root: string, text: string) =>
  put(root, 'etc/passwd', `${readFileSync(join(root, 'etc/passwd'), 'utf8')}${text}`);
const fails = (root: string) =>
  checkJson(root)
    .report.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip')
    .map((c) => c.id);

describe('odd names', () => {
  it('homes with spaces, quotes and newlines, one home a prefix of another, a passwd without its last newline', () => {
    const root = cleanRoot();
    const homes = [`/home/eve o'neil "x"`, '/home/a', '/home/a b', '/srv/last user'];
    appendPasswd(
      root,
      [
        `eve:x:1001:1001::${homes[0]}:/bin/bash`,
        // "/home/a b" listed first: "/home/a" is a prefix of it and must not be taken as seen.
        `ab:x:1003:1003::${homes[2]}:/bin/bash`,
        `a:x:1002:1002::${homes[1]}:/bin/bash`,
        // The last line has no newline: still an account.
        `last:x:1004:1004::${homes[3]}:/bin/bash`,
      ].join('\n'),
    );
    const all = [...homes, '/home/new\nline'];
    for (const h of all) {
      put(root, `${h.slice(1)}/.bash_history`, 'history\n', 0o600);
      put(root, `${h.slice(1)}/.ssh/authorized_keys`, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIODD odd@laptop\n', 0o600);
    }
    const pre = checkJson(root).report;
    expect(pre.checks.find((c) => c.id === 'histories')?.evidence.sort()).toEqual(
      [...all.slice(0, 4), '/home/new?line'].map((h) => `${h}/.bash_history (8 bytes)`).sort(),
    );
    const r = cleanup(root);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of all) {
      expect(exists(root, `${h.slice(1)}/.bash_history`), h).toBe(false);
      expect(exists(root, `${h.slice(1)}/.ssh/authorized_keys`), h).toBe(false);
    }
    // One line per action: a newline in a name is shown as "?".
    expect(r.stdout).toContain('    remove /home/new?line/.bash_history (8 B)\n');
    expect(fails(root)).toEqual([]);
  });

  it('log names with spaces, quotes, newlines, dashes, globs and $(...)', () => {
    const root = cleanRoot();
    const logs = ['-rf', 'a b.log', 'we"ird\nname.log', "it's.log", '*', '$(touch pwned)', 'sub dir/x.log'];
    const rotated = ['x.log.1', 'rot\n.1', 'old name.gz'];
    for (const f of [...logs, ...rotated]) put(root, `var/log/${f}`, 'secret log line\n', 0o640);
    const r = cleanup(root);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    for (const f of logs) {
      expect(statSync(join(root, 'var/log', f)).size, f).toBe(0);
      expect(statSync(join(root, 'var/log', f)).mode & 0o777, f).toBe(0o640);
    }
    for (const f of rotated) expect(exists(root, `var/log/${f}`), f).toBe(false);
    expect(r.stdout).toContain('    remove /var/log/rot?.1 (16 B)\n');
    expect(r.stdout).toMatch(/^ {4}10 change\(s\), freed 160 B$/m);
    expect(existsSync(join(root, 'pwned')) || existsSync('pwned')).toBe(false);
    expect(fails(root)).toEqual([]);
  });
});

/**
 * In a private mount namespace: a 128 KiB tmpfs holding a staged root whose /etc/shadow has root's
 * open password and is exactly one page long; the tmpfs is filled up but for `freePages` pages;
 * then `cleanup --lock-root-password`.
 */
function lockOnFullDisk(freePages: number) {
  const mnt = tempRoot('mpimg-scripts-full-');
  let shadow = `root:${FAKE_HASH}:19700:0:99999:7:::\n`;
  for (let i = 0; shadow.length + 29 < 4096 - 20; i++)
    shadow += `user${String(i).padStart(4, '0')}:!:19700:0:99999:7:::\n`;
  const end = ':!:19700:::::\n';
  shadow += `${'z'.repeat(4096 - shadow.length - end.length)}${end}`;
  expect(shadow.length).toBe(4096);
  const script = `
    set -u
    mnt=$1 script=$2
    mount -t tmpfs -o size=128k,mode=0755 mpimg-full-test "$mnt" || exit 90
    [ "$(stat -f -c %T "$mnt")" = tmpfs ] || exit 91
    R=$mnt/root
    mkdir -p "$R/etc" && printf 'ID=debian\\nVERSION_ID=12\\n' > "$R/etc/os-release"
    printf 'root:x:0:0::/root:/bin/bash\\n' > "$R/etc/passwd"
    cat > "$R/etc/shadow" && chmod 0640 "$R/etc/shadow" && chown 0:42 "$R/etc/shadow" || exit 92
    dd if=/dev/zero of="$mnt/fill" bs=4096 count=64 2>/dev/null
    [ "$(stat -f -c %a "$mnt")" = 0 ] || exit 93
    truncate -s "-$((${freePages} * 4096))" "$mnt/fill" || exit 94
    bash "$script" --root "$R" --no-packages --lock-root-password; echo "rc=$?"
    echo "etc=$(ls -A "$R/etc" | tr '\\n' ' ')"
    echo "meta=$(stat -c '%u:%g %a' "$R/etc/shadow")"
    echo "shadow-begin"; cat "$R/etc/shadow"
  `;
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', mnt, CLEANUP_SCRIPT],
    {
      input: shadow,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, LC_ALL: 'C' },
    },
  );
  expect(r.status, r.stderr).toBe(0);
  const [head, content] = r.stdout.split('shadow-begin\n');
  const v = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(head)?.[1] ?? '';
  return {
    shadow,
    locked: shadow.replace('root:$6$', 'root:!$6$'),
    rc: Number(v('rc')),
    etc: v('etc').trim(),
    meta: v('meta'),
    content,
    out: head,
    err: r.stderr,
  };
}

describe('a full disk', () => {
  it('with room for the new /etc/shadow only (the old one is not freed yet): locked completely, owner and mode kept', () => {
    const o = lockOnFullDisk(2);
    expect(o.content).toBe(o.locked);
    expect(o.meta).toBe('0:42 640');
    expect(o.rc, o.out + o.err).toBe(0);
    expect(o.etc.split(' ').sort()).toEqual(['os-release', 'passwd', 'shadow']);
  });

  it('without room: /etc/shadow is unchanged, the error says so, exit 1, no copy of it left', () => {
    const o = lockOnFullDisk(1);
    expect(o.content).toBe(o.shadow);
    expect(o.meta).toBe('0:42 640');
    expect(o.rc).toBe(1);
    expect(o.err).toContain("FAILED to lock root's password in /etc/shadow");
    expect(o.err).toContain('could not write the new /etc/shadow (disk full?); it is unchanged');
    expect(o.etc.split(' ').sort()).toEqual(['os-release', 'passwd', 'shadow']);
    expect(o.err).not.toContain(FAKE_HASH);
  });
});

describe('interrupted', () => {
  it('while the new /etc/shadow is being written: the old one stays, no copy of it (with its hashes) is left', async () => {
    const root = cleanRoot();
    put(root, 'etc/shadow', `root:${FAKE_HASH}:19700:0:99999:7:::\nbob:!:19700::::::\n`, 0o640);
    const shadow = readFileSync(join(root, 'etc/shadow'), 'utf8');
    // awk and sed stand-ins that stop (as a slow disk would) once a temp copy of the shadow file
    // exists next to it; otherwise they are the real tools.
    const bin = tempRoot('mpimg-scripts-slow-');
    const marker = join(bin, 'stopped');
    for (const tool of ['awk', 'sed']) {
      put(
        bin,
        tool,
        [
          '#!/bin/sh',
          `for f in "${join(root, 'etc')}"/shadow.mpimg.*; do`,
          `  if [ -e "$f" ]; then : > "${marker}"; exec sleep 60; fi`,
          'done',
          `PATH=/usr/bin:/bin exec ${tool} "$@"`,
          '',
        ].join('\n'),
        0o755,
      );
    }
    const child = spawn('bash', [CLEANUP_SCRIPT, '--root', root, '--no-packages', '--lock-root-password'], {
      env: { PATH: `${bin}:${process.env.PATH}`, LC_ALL: 'C' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const done = new Promise<number | null>((res) => child.on('exit', (c, s) => res(c ?? (s ? 128 + 15 : null))));
    for (let i = 0; i < 200 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(marker)).toBe(true);
    process.kill(-child.pid!, 'SIGTERM');
    const code = await done;
    expect(code).not.toBe(0);
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe(shadow);
    expect(readdirSync(join(root, 'etc')).filter((f) => f.includes('mpimg'))).toEqual([]);
    // And the next run finishes the job.
    const again = cleanup(root, ['--lock-root-password']);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe(shadow.replace('root:$6$', 'root:!$6$'));
  });
});

describe('run twice', () => {
  it('a dirty root with odd names: the second run changes nothing and reports no error', () => {
    const root = dirty(cleanRoot());
    put(root, 'var/log/a b\nc.log', 'x\n');
    put(root, 'home/x y/.bash_history', 'ls\n');
    expect(cleanup(root).code).toBe(0);
    const after = treeHash(root);
    const again = cleanup(root);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^Summary: 12 steps, 0 change\(s\), 0 B freed, 0 error\(s\)$/m);
    expect(treeHash(root)).toBe(after);
  });
});
