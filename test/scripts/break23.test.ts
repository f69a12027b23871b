// Attacks on the counting of pending updates (99-img-check.sh --pending-updates, what `mpimg
// outdated` and the image check's security-updates line read): a refresh of the package indexes that
// could not fetch them must be an error, never "nothing pending" from the old indexes; package names
// and versions apt really prints (+, ~, epochs, a foreign architecture) pass through as data.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePendingUpdates } from '../../tasks/standard/pending-updates.js';
import { CHECK_SCRIPT, cleanupFixtures, fullRoot, put, readCalls } from './fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests chroot into fixture roots and must run as root (CI does)');
});

const pending = (root: string, args: string[] = []) =>
  spawnSync('bash', [CHECK_SCRIPT, '--root', root, '--pending-updates', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });

describe('apt-get update without its indexes (no network, a mirror down)', () => {
  it("this machine's apt-get update exits 0 when an index cannot be fetched, 100 with APT::Update::Error-Mode=any", () => {
    // The fact the check relies on, from the real apt-get, with lists and cache in a temp folder and no
    // network at all (a network namespace of its own): nothing of this machine's apt state is used.
    const d = mkdtempSync(join(tmpdir(), 'mpimg-b23-apt-'));
    try {
      for (const p of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(d, p), { recursive: true });
      writeFileSync(join(d, 'sources.list'), 'deb http://deb.debian.org/debian bookworm main\n');
      const update = (...more: string[]) =>
        spawnSync(
          'unshare',
          [
            '-n',
            'apt-get',
            '-qq',
            '-o',
            `Dir::State::Lists=${d}/lists`,
            '-o',
            `Dir::Etc::SourceList=${d}/sources.list`,
            '-o',
            `Dir::Etc::SourceParts=${d}/none`,
            '-o',
            `Dir::Cache=${d}/cache`,
            '-o',
            'Debug::NoLocking=1',
            ...more,
            'update',
          ],
          { encoding: 'utf8' },
        );
      const plain = update();
      expect(plain.status).toBe(0);
      expect(plain.stderr).toMatch(/^W: Failed to fetch/m);
      expect(update('-o', 'APT::Update::Error-Mode=any').status).toBe(100);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  // apt-get as apt 2.6 behaves (above): a failed fetch is a warning and exit 0, an error with Error-Mode=any.
  const APT_26 = `#!/bin/sh
echo "apt-get $*" >> /pm-calls.log
case " $* " in
  *" update "*)
    case " $* " in *" APT::Update::Error-Mode=any "*)
      echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving" >&2; exit 100 ;; esac
    echo "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving" >&2
    echo "W: Some index files failed to download. They have been ignored, or old ones used instead." >&2
    exit 0 ;;
  *" -s "*) exit 0 ;;
esac
`;
  // An older apt, which knows no Error-Mode: only its warnings say the refresh failed.
  const APT_OLD = APT_26.replace('*" APT::Update::Error-Mode=any "*)', '*" never "*)');

  for (const [what, fake] of [
    ['apt 2.6', APT_26],
    ['an apt without Error-Mode', APT_OLD],
  ] as const)
    it(`--pending-updates --refresh: could not tell (exit 1), not "nothing pending" (${what})`, () => {
      const root = fullRoot('apt', '');
      put(root, 'usr/bin/apt-get', fake, 0o755);
      const r = pending(root, ['--refresh']);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('apt-get update failed (3 tries)');
      expect(r.status).toBe(1);
      expect(readCalls(root).filter((c) => c.endsWith(' update'))).toHaveLength(3);
    });
});

describe('package names and versions as apt prints them', () => {
  // libstdc++6 (+ in a name), ~ and + in versions, an epoch, a package of a foreign architecture.
  const SIM = `Inst libstdc++6 [12.2.0-14] (12.2.0-14+deb12u1 Debian:12.9/stable [amd64])
Inst libc6:i386 [2.36-9+deb12u3] (2.36-9+deb12u4 Debian-Security:12/stable-security [i386])
Inst libc6 [2.36-9+deb12u3] (2.36-9+deb12u4 Debian-Security:12/stable-security [amd64])
Inst xz-utils [5.4.1-0.2] (1:5.4.1-1~deb12u1 Debian:12.9/stable-updates [amd64])
`;
  const POLICY = `libstdc++6:
  Installed: 12.2.0-14
  Candidate: 12.2.0-14+deb12u1
  Version table:
     12.2.0-14+deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 12.2.0-14 100
        100 /var/lib/dpkg/status
libc6:i386:
  Installed: 2.36-9+deb12u3
  Candidate: 2.36-9+deb12u4
  Version table:
     2.36-9+deb12u4 500
        500 http://deb.debian.org/debian-security bookworm-security/main i386 Packages
 *** 2.36-9+deb12u3 100
        100 /var/lib/dpkg/status
libc6:
  Installed: 2.36-9+deb12u3
  Candidate: 2.36-9+deb12u4
  Version table:
     2.36-9+deb12u4 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 2.36-9+deb12u3 100
        100 /var/lib/dpkg/status
xz-utils:
  Installed: 5.4.1-0.2
  Candidate: 1:5.4.1-1~deb12u1
  Version table:
     1:5.4.1-1~deb12u1 500
        500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
 *** 5.4.1-0.2 100
        100 /var/lib/dpkg/status
`;

  it('each one line of data that `mpimg outdated` reads back unchanged', () => {
    const root = fullRoot('apt', SIM, { policy: POLICY });
    const r = pending(root);
    expect(r.status, r.stderr).toBe(0);
    const p = parsePendingUpdates(r.stdout);
    expect(p.packages).toEqual([
      {
        name: 'libstdc++6',
        installed: '12.2.0-14',
        candidate: '12.2.0-14+deb12u1',
        security: false,
        source: 'bookworm',
      },
      {
        name: 'libc6:i386',
        installed: '2.36-9+deb12u3',
        candidate: '2.36-9+deb12u4',
        security: true,
        source: 'bookworm-security',
      },
      {
        name: 'libc6',
        installed: '2.36-9+deb12u3',
        candidate: '2.36-9+deb12u4',
        security: true,
        source: 'bookworm-security',
      },
      {
        name: 'xz-utils',
        installed: '5.4.1-0.2',
        candidate: '1:5.4.1-1~deb12u1',
        security: false,
        source: 'bookworm-updates',
      },
    ]);
  });

  it('a line with a TAB too many (or a newline in a field) is an error, not a shifted package', () => {
    expect(() => parsePendingUpdates('manager\tapt\nupdate\tfoo\t1\t2\t0\tsuite\textra\n')).toThrow(/unexpected line/);
    expect(() => parsePendingUpdates('manager\tapt\nupdate\tfoo\t1\n2\t0\tsuite\n')).toThrow(/unexpected line/);
  });
});
