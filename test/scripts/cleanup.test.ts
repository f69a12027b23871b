// The cleanup (templates/droplet/90-cleanup.sh) run with real bash on
// dirty staged roots in temp dirs; never on this machine's /.
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CLEANUP_SCRIPT,
  FAKE_HASH,
  FAKE_PRIVATE_KEY,
  checkJson,
  cleanRoot,
  cleanup,
  cleanupFixtures,
  dirty,
  exists,
  leaks,
  link,
  put,
  spawnScript,
  treeHash,
} from './fixture-root.js';

afterAll(cleanupFixtures);

const zeroFiles = (root: string) => readdirSync(root).filter((f) => f.startsWith('mpimg-zero-fill'));

describe('90-cleanup.sh --dry-run', () => {
  it('prints every action and leaves the root byte-identical', () => {
    const root = dirty(cleanRoot());
    put(root, 'etc/shadow', `root:${FAKE_HASH}:19700:0:99999:7:::\n`, 0o640);
    const before = treeHash(root);
    const r = cleanup(root, ['--dry-run', '--lock-root-password', '--zero-fill', '--zero-fill-max-mib', '1'], {
      MPIMG_ZERO_FILL_RESERVE_MIB: '0',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(treeHash(root)).toBe(before);
    for (const action of [
      'would remove /tmp/build.log',
      'would remove /tmp/.hidden',
      'would remove /tmp/work',
      'would remove /var/tmp/cache.bin',
      'would remove /root/.bash_history',
      'would remove /var/lib/postgresql/.psql_history',
      'would remove /home/bob/.python_history',
      'would empty /var/log/syslog',
      'would empty /var/log/nginx/access.log',
      'would empty /var/log/wtmp',
      'would empty /var/log/lastlog',
      'would remove /var/log/syslog.2.gz',
      'would remove /var/log/apt/history.log.1.gz',
      'would remove /var/log/dpkg.log-20261120',
      'would remove /var/log/journal/0123abcd/system.journal ',
      'would remove /var/lib/cloud/instances',
      'would remove /var/lib/cloud/instance ',
      'would remove /var/lib/cloud/data',
      'would remove /var/lib/cloud/sem',
      'would remove /var/lib/cloud/seed',
      'would remove /var/log/cloud-init.log',
      'would remove /root/.ssh/authorized_keys',
      'would remove /home/bob/.ssh/authorized_keys',
      'would remove /root/.ssh/id_ecdsa',
      'would remove /home/bob/.ssh/deploy',
      'would remove /etc/ssh/ssh_host_ed25519_key ',
      'would remove /etc/ssh/ssh_host_ed25519_key.pub',
      'would create /etc/ssh/revoked_keys (mode 600)',
      'would empty /etc/machine-id',
      "would lock root's password",
      'would remove /var/cache/apt/archives/nginx_1.22.1-9_amd64.deb',
      'would remove /var/cache/apt/pkgcache.bin',
      'would write 1 MiB of zeros',
    ])
      expect(r.stdout, action).toContain(action);
    expect(r.stdout).not.toContain('/var/lib/cloud/scripts ');
    expect(r.stdout).toMatch(
      /^Summary: dry run, 12 steps, \d+ change\(s\) and .* would be freed; nothing was changed$/m,
    );
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
  });

  it('reports package steps as skipped on a staged root', () => {
    const r = cleanup(dirty(cleanRoot()), ['--dry-run']);
    expect(r.stdout).toMatch(/==> upgrade packages.*\n {4}nothing to do: skipped: .* not a full root filesystem/);
  });
});

describe('90-cleanup.sh on a dirty root', () => {
  it('cleans it so that the image check reports zero failures, and keeps the image pieces', () => {
    const root = dirty(cleanRoot());
    const scripts = treeHash(join(root, 'var/lib/cloud/scripts'));
    const bashrc = readFileSync(join(root, 'root/.bashrc'), 'utf8');
    const shadow = readFileSync(join(root, 'etc/shadow'), 'utf8');

    const r = cleanup(root);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Summary: 12 steps, \d+ change\(s\), .* freed, 0 error\(s\)$/m);
    expect(r.stdout).toMatch(/kept \/var\/lib\/cloud\/scripts: 3 file\(s\)/);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);

    const { run, report } = checkJson(root);
    expect(
      report.checks.filter((c) => c.status === 'fail'),
      run.stdout,
    ).toEqual([]);
    expect(report.checks.filter((c) => c.status === 'warn')).toEqual([]);
    expect(run.code).toBe(0);

    // First-boot scripts, first-login hook and unrelated files survive.
    expect(treeHash(join(root, 'var/lib/cloud/scripts'))).toBe(scripts);
    expect(readdirSync(join(root, 'var/lib/cloud'))).toEqual(['scripts']);
    expect(exists(root, 'var/lib/cloud/instance')).toBe(false);
    expect(readFileSync(join(root, 'root/.bashrc'), 'utf8')).toBe(bashrc);
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe(shadow);
    expect(readFileSync(join(root, 'etc/ssl/private/acme-site.key'), 'utf8')).toBe(FAKE_PRIVATE_KEY);
    expect(exists(root, 'root/.ssh/id_ed25519.pub')).toBe(true);
    expect(exists(root, 'home/bob/.ssh/known_hosts')).toBe(true);
    expect(exists(root, 'tmp/.X11-unix')).toBe(false);
    expect(statSync(join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
    // Logs are emptied in place (owners and modes kept), rotated ones removed.
    expect(statSync(join(root, 'var/log/wtmp')).size).toBe(0);
    expect(statSync(join(root, 'var/log/wtmp')).mode & 0o777).toBe(0o664);
    expect(statSync(join(root, 'var/log/syslog')).size).toBe(0);
    expect(exists(root, 'var/log/syslog.1')).toBe(false);
    expect(readdirSync(join(root, 'var/log/journal/0123abcd'))).toEqual([]);
    expect(statSync(join(root, 'etc/ssh/revoked_keys')).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'etc/machine-id')).size).toBe(0);
    expect(readdirSync(join(root, 'etc/ssh')).filter((f) => f.startsWith('ssh_host_'))).toEqual([]);
    expect(readdirSync(join(root, 'var/cache/apt/archives'))).toEqual(['lock', 'partial']);
  });

  it('is harmless when run a second time', () => {
    const root = dirty(cleanRoot());
    expect(cleanup(root).code).toBe(0);
    const after = treeHash(root);
    const again = cleanup(root);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^Summary: 12 steps, 0 change\(s\), 0 B freed, 0 error\(s\)$/m);
    expect(treeHash(root)).toBe(after);
  });

  it('fixes a revoked_keys file with the wrong mode', () => {
    const root = cleanRoot();
    put(root, 'etc/ssh/revoked_keys', '', 0o644);
    const r = cleanup(root);
    expect(r.stdout).toContain('chmod 600 /etc/ssh/revoked_keys');
    expect(statSync(join(root, 'etc/ssh/revoked_keys')).mode & 0o777).toBe(0o600);
  });
});

describe('90-cleanup.sh --lock-root-password', () => {
  it('locks a usable root password in /etc/shadow, keeps the rest, prints no hash', () => {
    const root = cleanRoot();
    put(root, 'etc/shadow', `root:${FAKE_HASH}:19700:0:99999:7:::\nbob:!:19700::::::\n`, 0o640);
    expect(checkJson(root).report.checks.find((c) => c.id === 'passwords')?.status).toBe('fail');
    const r = cleanup(root, ['--lock-root-password']);
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe(
      `root:!${FAKE_HASH}:19700:0:99999:7:::\nbob:!:19700::::::\n`,
    );
    expect(statSync(join(root, 'etc/shadow')).mode & 0o777).toBe(0o640);
    expect(readdirSync(join(root, 'etc')).filter((f) => f.includes('mpimg'))).toEqual([]);
    expect(checkJson(root).report.checks.find((c) => c.id === 'passwords')?.status).toBe('pass');
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
    expect(cleanup(root, ['--lock-root-password']).stdout).toContain('already locked');
  });

  it('locks an empty root password', () => {
    const root = cleanRoot();
    put(root, 'etc/shadow', 'root::19700::::::\n', 0o640);
    expect(cleanup(root, ['--lock-root-password']).code).toBe(0);
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe('root:!:19700::::::\n');
  });

  it('leaves the password alone without the flag', () => {
    const root = cleanRoot();
    put(root, 'etc/shadow', `root:${FAKE_HASH}:1::::::\n`, 0o640);
    const r = cleanup(root);
    expect(r.stdout).toContain('not asked (--lock-root-password)');
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe(`root:${FAKE_HASH}:1::::::\n`);
  });
});

describe('90-cleanup.sh zero-fill (only inside temp roots, tiny bounds)', () => {
  it('is off by default', () => {
    const r = cleanup(cleanRoot(), ['--dry-run']);
    expect(r.stdout).toContain('off (--zero-fill to enable)');
  });

  it('dry run shows the bound: default 4096 MiB, or --zero-fill-max-mib', () => {
    const root = cleanRoot();
    const d = cleanup(root, ['--dry-run', '--zero-fill'], { MPIMG_ZERO_FILL_RESERVE_MIB: '0' });
    expect(d.stdout).toMatch(
      /would write \d+ MiB of zeros to \/mpimg-zero-fill\.\d+ \(free \d+ MiB, bound 4096 MiB, reserve 0 MiB\)/,
    );
    const n = Number(/would write (\d+) MiB/.exec(d.stdout)?.[1]);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(4096);
    expect(
      cleanup(root, ['--dry-run', '--zero-fill', '--zero-fill-max-mib=3'], { MPIMG_ZERO_FILL_RESERVE_MIB: '0' }).stdout,
    ).toMatch(/would write 3 MiB .*bound 3 MiB/);
    expect(zeroFiles(root)).toEqual([]);
  });

  it('keeps the reserve free: nothing written when free space is below it', () => {
    const root = cleanRoot();
    const r = cleanup(root, ['--zero-fill', '--zero-fill-max-mib', '1'], { MPIMG_ZERO_FILL_RESERVE_MIB: '999999999' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nothing to do: only \d+ MiB free, keeping a reserve of 999999999 MiB/);
    expect(zeroFiles(root)).toEqual([]);
  });

  it('writes at most the bound and removes its file', () => {
    const root = cleanRoot();
    const r = cleanup(root, ['--zero-fill', '--zero-fill-max-mib', '1'], { MPIMG_ZERO_FILL_RESERVE_MIB: '0' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote and removed 1 MiB of zeros');
    expect(zeroFiles(root)).toEqual([]);
  });

  it('removes its file when interrupted', async () => {
    const root = cleanRoot();
    const child = spawnScript(CLEANUP_SCRIPT, root, ['--zero-fill', '--zero-fill-max-mib', '256'], {
      MPIMG_ZERO_FILL_RESERVE_MIB: '0',
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    let sent = false;
    const w = watch(root, (_e, name) => {
      if (!sent && String(name).startsWith('mpimg-zero-fill')) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    w.close();
    expect(sent).toBe(true);
    expect(code).toBe(143);
    expect(stderr).toContain('interrupted; the zero-fill file was removed');
    expect(zeroFiles(root)).toEqual([]);
  });
});

describe('90-cleanup.sh bad input', () => {
  it.each([
    [['--zero-fill-max-mib', 'lots'], "--zero-fill-max-mib 'lots' is not a positive whole number of MiB"],
    [['--zero-fill-max-mib', '0'], "--zero-fill-max-mib '0' is not a positive whole number of MiB"],
    [['--zero-fill-max-mib'], '--zero-fill-max-mib needs a number of MiB'],
    [['--frobnicate'], "unknown argument '--frobnicate'"],
  ])('%j: exit 2, clear message, nothing changed', (args, msg) => {
    const root = dirty(cleanRoot());
    const before = treeHash(root);
    const r = cleanup(root, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(msg);
    expect(treeHash(root)).toBe(before);
  });

  it('refuses an empty --root instead of cleaning the running system', () => {
    const r = spawnSync('bash', [CLEANUP_SCRIPT, '--root', ''], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--root needs a directory, not an empty string');
    const eq = spawnSync('bash', [CLEANUP_SCRIPT, '--root=', '--dry-run'], { encoding: 'utf8' });
    expect(eq.status).toBe(2);
    expect(eq.stdout).toBe('');
  });

  it('refuses a --root that is not a directory', () => {
    const root = cleanRoot();
    const r = cleanup(join(root, 'missing'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a directory');
  });

  it('does not follow a symlinked log out of the root', () => {
    const root = cleanRoot();
    const outside = dirty(cleanRoot());
    const target = join(outside, 'var/log/syslog');
    const size = statSync(target).size;
    // A link inside the image pointing at a file outside it must not be emptied.
    link(root, 'var/log/linked.log', target);
    expect(cleanup(root).code).toBe(0);
    expect(statSync(target).size).toBe(size);
    expect(lstatSync(join(root, 'var/log/linked.log')).isSymbolicLink()).toBe(true);
  });
});
