// The cleanup run as on the running system (no --root) refuses unless the machine looks like a
// DigitalOcean build droplet. Every run here is INSIDE A CHROOT of a dirty fixture root, so that
// even a broken guard could only clean the fixture, never this machine.
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture } from '../helpers/bundled.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { templatesDir } from '../../core/paths.js';
import {
  CHROOT_ENV,
  CLEANUP_SCRIPT,
  CHECK_SCRIPT,
  type Run,
  chrootCommand,
  cleanupFixtures,
  copyLibraries,
  exists,
  inChroot,
  leaks,
  liveCleanup,
  liveRoot,
  put,
  readCalls,
  remove,
  removeLater,
  tempRoot,
  treeHash,
} from './fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests chroot into fixture roots and must run as root (CI does)');
});

// What a dirty build leaves and a real cleanup removes: proof that it ran (or did not).
const DIRT = [
  'root/.ssh/authorized_keys',
  'home/bob/.ssh/authorized_keys',
  'etc/ssh/ssh_host_rsa_key',
  'root/.bash_history',
  'var/lib/cloud/instances',
];
const dirtLeft = (root: string) => DIRT.filter((f) => exists(root, f));

function expectRefused(root: string, r: Run, before: string, missing: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain(
    '90-cleanup.sh: refusing to clean the running system: it does not look like a DigitalOcean build droplet.',
  );
  expect(r.stderr).toMatch(missing);
  expect(r.stderr).toContain('pass --root DIR');
  expect(r.stderr).toContain('pass --yes-this-is-a-build-droplet');
  expect(r.stderr).toContain('nothing was changed');
  expect(treeHash(root)).toBe(before);
  expect(dirtLeft(root)).toEqual(DIRT);
  expect(readCalls(root)).toEqual([]);
}

function expectCleaned(root: string, r: Run, note: string): void {
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^mpimg cleanup of \/\n/);
  expect(r.stdout).toContain(`    ${note}\n`);
  expect(r.stdout).toMatch(/^Summary: 12 steps, \d+ change\(s\), .* freed, 0 error\(s\)$/m);
  expect(dirtLeft(root)).toEqual([]);
  expect(leaks(r.stdout + r.stderr)).toEqual([]);
}

describe('90-cleanup.sh on the running system: refusals', () => {
  it('no cloud-init: refuses, says which evidence is missing and how to override, exit 2, nothing changed', () => {
    const root = liveRoot();
    remove(root, 'usr/bin/cloud-init');
    put(root, 'sys/class/dmi/id/sys_vendor', 'DigitalOcean\n');
    const before = treeHash(root);
    expectRefused(
      root,
      liveCleanup(root),
      before,
      /missing evidence: cloud-init is not installed \(no cloud-init command\)/,
    );
  });

  it('cloud-init but nothing saying DigitalOcean (DMI vendor QEMU, no datasource, metadata port closed)', () => {
    const root = liveRoot();
    put(root, 'sys/class/dmi/id/sys_vendor', 'QEMU\n');
    const before = treeHash(root);
    expectRefused(
      root,
      liveCleanup(root),
      before,
      new RegExp(
        [
          'missing evidence: cloud-init is installed, but nothing says this is a DigitalOcean droplet:',
          ' /sys/class/dmi/id/sys_vendor is "QEMU", not DigitalOcean;',
          ' /var/lib/cloud/instance/datasource is missing;',
          ' the metadata service at http://127\\.0\\.0\\.1:9/metadata/v1/id did not answer with a droplet id',
        ].join(''),
      ),
    );
  });

  it('a datasource of another cloud and no DMI file are no evidence either', () => {
    const root = liveRoot();
    put(
      root,
      'var/lib/cloud/instances/123456/datasource',
      'DataSourceNoCloud: DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud]\n',
    );
    const before = treeHash(root);
    expectRefused(
      root,
      liveCleanup(root),
      before,
      /sys_vendor is missing, not DigitalOcean; \/var\/lib\/cloud\/instance\/datasource does not name DigitalOcean;/,
    );
  });

  it('--dry-run still runs, changes nothing and says a real run would refuse', () => {
    const root = liveRoot();
    const before = treeHash(root);
    const r = liveCleanup(root, ['--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^ {4}a real run would refuse: cloud-init is installed, but nothing says .* \(override: --yes-this-is-a-build-droplet\)$/m,
    );
    expect(r.stdout).toContain('would remove /root/.ssh/authorized_keys');
    expect(treeHash(root)).toBe(before);
  });
});

describe('90-cleanup.sh on the running system: evidence and override', () => {
  it('--yes-this-is-a-build-droplet cleans it', () => {
    const root = liveRoot();
    remove(root, 'usr/bin/cloud-init');
    expectCleaned(
      root,
      liveCleanup(root, ['--yes-this-is-a-build-droplet']),
      'cleaning the running system: --yes-this-is-a-build-droplet',
    );
    // The package steps ran with the image's (recorded) apt-get, directly: this is the live path.
    expect(readCalls(root)).toHaveLength(4);
  });

  it('a DMI file saying DigitalOcean cleans it', () => {
    const root = liveRoot();
    put(root, 'sys/class/dmi/id/sys_vendor', 'DigitalOcean\n');
    expectCleaned(
      root,
      liveCleanup(root),
      'cleaning the running system: a build droplet (DMI system vendor is DigitalOcean)',
    );
  });

  it("cloud-init's recorded datasource DigitalOcean cleans it", () => {
    const root = liveRoot();
    put(root, 'var/lib/cloud/instances/123456/datasource', 'DataSourceDigitalOcean: DataSourceDigitalOcean\n');
    expectCleaned(
      root,
      liveCleanup(root),
      "cleaning the running system: a build droplet (cloud-init's datasource is DigitalOcean)",
    );
  });

  describe('the metadata service (a local double on 127.0.0.1)', () => {
    let server: Server;
    let answer = { status: 200, body: '123456789' };
    let url = '';
    beforeAll(async () => {
      server = createServer((req, res) => {
        res.writeHead(req.url === '/metadata/v1/id' ? answer.status : 404).end(answer.body);
      });
      await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata/v1/id`;
    });
    afterAll(() => new Promise<void>((res) => server.close(() => res())));

    // spawn, not spawnSync: the double answers from this process's event loop.
    const run = (root: string): Promise<Run> =>
      new Promise((res) => {
        const [cmd, args] = chrootCommand(root, ['/usr/bin/bash', '/mpimg-test/90-cleanup.sh']);
        const c = spawn(cmd, args, { env: { ...CHROOT_ENV, MPIMG_METADATA_URL: url } });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (b: Buffer) => {
          stdout += b.toString();
        });
        c.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
        });
        c.on('close', (code, signal) => res({ code, stdout, stderr, signal }));
      });

    it('answering with a droplet id cleans it', async () => {
      answer = { status: 200, body: '123456789' };
      const root = liveRoot();
      expectCleaned(
        root,
        await run(root),
        `cleaning the running system: a build droplet (the DigitalOcean metadata service answers at ${url})`,
      );
    });

    it('answering something else (another service on that address) is no evidence', async () => {
      answer = { status: 200, body: '<html>hello</html>' };
      const root = liveRoot();
      const before = treeHash(root);
      expectRefused(
        root,
        await run(root),
        before,
        /the metadata service at http:\/\/127\.0\.0\.1:\d+\/metadata\/v1\/id did not answer with a droplet id/,
      );
    });
  });
});

describe("the bundle's cleanup command (runtime/main.ts runs the embedded script with bash -s)", () => {
  // A bundle of a project carrying the real cleanup and check scripts.
  let cjs = '';
  beforeAll(() => {
    const b = bundledFixture();
    removeLater(b.project, dirname(b.cjs));
    copyFileSync(CLEANUP_SCRIPT, join(b.project, 'scripts/90-cleanup.sh'));
    copyFileSync(CHECK_SCRIPT, join(b.project, 'scripts/99-img-check.sh'));
    expect(readFileSync(join(templatesDir(), 'droplet/90-cleanup.sh'), 'utf8')).toBe(
      readFileSync(CLEANUP_SCRIPT, 'utf8'),
    );
    cjs = writeBundle(loadProject(b.project), tempRoot('mpimg-scripts-dist-')).cjs;
  });

  // node runs inside the chroot too: this machine's node bind-mounted read-only in a private mount
  // namespace (its libraries copied), so the bundle's `bash -s` is the root's bash.
  function withBundle(root: string): string {
    copyLibraries(root, process.execPath);
    put(root, 'usr/bin/node', '');
    put(root, 'mpimg-test/bundle.cjs', readFileSync(cjs));
    return root;
  }
  const bundleCleanup = (root: string, args: string[]): Run =>
    inChroot(
      root,
      ['/usr/bin/node', '/mpimg-test/bundle.cjs', 'cleanup', ...args],
      { MPIMG_METADATA_URL: 'http://127.0.0.1:9/metadata/v1/id' },
      `mount --bind '${process.execPath}' "$r/usr/bin/node" && mount -o remount,bind,ro "$r/usr/bin/node"`,
    );

  it('refuses on a machine that is not a build droplet, exit 2, nothing changed', () => {
    const root = withBundle(liveRoot());
    const before = treeHash(root);
    const r = bundleCleanup(root, []);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('90-cleanup.sh: refusing to clean the running system');
    expect(r.stderr).toContain('--yes-this-is-a-build-droplet');
    expect(treeHash(root)).toBe(before);
    expect(dirtLeft(root)).toEqual(DIRT);
  });

  it('passes its arguments on: --yes-this-is-a-build-droplet cleans', () => {
    const root = withBundle(liveRoot());
    const r = bundleCleanup(root, ['--yes-this-is-a-build-droplet']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('cleaning the running system: --yes-this-is-a-build-droplet');
    expect(dirtLeft(root)).toEqual([]);
  });
});
