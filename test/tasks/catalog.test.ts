/**
 * The catalog steps as standard tasks, through `mpimg run` against the real sshd (the "droplet" is
 * this machine as root): each uploads dist/<slug>-build.sh and runs one of its commands under the
 * temp root (MPIMG_TARGET_ROOT → --root). Only steps whose effects stay in that root even if the
 * script ignored --root are run here (no useradd, no apt: those run in chroots in
 * test/bundle/build-script.test.ts). Variables of `mpimg bundle --var` reach the build scripts.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testbuildOrder } from '../../tasks/steps/index.js';
import { buildRoot } from '../helpers/build-root.js';
import { runTaskInRoot, sshdPerFile } from '../helpers/sshd-run.js';
import { cleanupFixtures } from '../scripts/fixture-root.js';
import { makeFixtureProject, REPO, SLUG, type FixtureProject } from './fixture-project.js';

const sshd = sshdPerFile();
let project: FixtureProject;
const roots: string[] = [];

const UNIT =
  '[Unit]\nDescription=Acme test\n[Service]\nExecStart=/usr/local/bin/acme-hello\n[Install]\nWantedBy=multi-user.target\n';

function newRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'mpimg-catalog-root-'));
  roots.push(r);
  // the accounts of the staged system (made by a package, say): owners looks names up here
  mkdirSync(join(r, 'etc'));
  writeFileSync(
    join(r, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/bash\nacmeapp:x:4242:4243::/var/lib/acmeapp:/usr/sbin/nologin\n',
  );
  writeFileSync(join(r, 'etc/group'), 'root:x:0:\nacmeapp:x:4243:\n');
  writeFileSync(join(r, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
  return r;
}

const runTask = (name: string, root: string, p: FixtureProject = project) =>
  runTaskInRoot(sshd, name, root, { cwd: p.dir });

const bundle = (p: FixtureProject, args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileSync(process.execPath, [join(REPO, 'bin/mpimg.js'), 'bundle', ...args], {
    cwd: p.dir,
    stdio: 'pipe',
    env: { ...process.env, ...env },
  }).toString();
const scratch = () =>
  readdirSync('/tmp')
    .filter((n) => n.startsWith(`${SLUG}-`))
    .sort();
const order = (err: string) => [...err.matchAll(/^ {4}([a-z0-9-]+) /gm)].map((m) => m[1]);

beforeAll(async () => {
  project = await makeFixtureProject({
    manifest: {
      variables: { APP_VERSION: '2.4.1', EDITION: { default: 'community', description: 'which edition' } },
      files: { dir: 'files', owners: [{ path: '/etc/acme-test/*.conf', owner: 'acmeapp', group: 'acmeapp' }] },
      services: ['acme-test.service'],
    },
  });
  if (!project.realBundle) throw new Error('these tests need the real bundle: run `npm run build` first');
  mkdirSync(join(project.dir, 'files/etc/systemd/system'), { recursive: true });
  writeFileSync(join(project.dir, 'files/etc/systemd/system/acme-test.service'), UNIT);
  bundle(project, ['--var', 'APP_VERSION=2.5.0']);
});

afterAll(async () => {
  cleanupFixtures();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  if (project) rmSync(project.dir, { recursive: true, force: true });
});

describe('catalog steps over SSH (standard tasks)', () => {
  it('testbuild: each step in order; owners and services done under the root; steps with nothing to do say so', async () => {
    const root = newRoot();
    const before = scratch();
    const r = await runTask('testbuild', root);
    expect(r.code, r.err).toBe(0);
    expect(order(r.err)).toEqual(testbuildOrder());
    expect(r.err).toContain('[repositories] mpimg.json lists no build.repositories for debian-12-x64');
    expect(r.err).toContain('[users] mpimg.json lists no users and no directories');
    expect(r.err).toMatch(
      /\[firewall\] mpimg\.json has no firewall \(Marketplace review rejects images without an active firewall/,
    );
    // owners: after files/, numeric ids of the root's own accounts
    const conf = lstatSync(join(root, 'etc/acme-test/app.conf'));
    expect(`${conf.uid}:${conf.gid}`).toBe('4242:4243');
    expect(r.out).toContain('[owners] owners: /etc/acme-test/app.conf: acmeapp:acmeapp');
    // services: enabled in the root (systemctl --root), with the unit from files/
    expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/acme-test.service'))).toBe(
      '/etc/systemd/system/acme-test.service',
    );
    expect(r.out).toContain('[services] services: service acme-test.service: enabled');
    // the remote copies of the build script are gone
    expect(scratch()).toEqual(before);
  });

  it('build scripts get the variables of the bundle under their own names (--var over the default)', async () => {
    const root = newRoot();
    const r = await runTask('testbuild', root);
    expect(r.code, r.err).toBe(0);
    const env = readFileSync(join(root, 'var/lib/acme-build/env'), 'utf8');
    expect(env).toContain('APP_VERSION=2.5.0\n');
    expect(env).toContain('EDITION=community\n');
    expect(env).toContain(`MPIMG_SLUG=${SLUG}\n`);
  });

  it('repositories runs also when mpimg.json lists none any more: what an earlier build added is removed', async () => {
    const root = newRoot();
    // as an earlier build with a repository "acme-old" left it; and the distribution's own list
    const mark = `# mpimg:${SLUG} repository acme-old: written by ${SLUG}-build.sh from mpimg.json (edit mpimg.json, not this file)`;
    mkdirSync(join(root, 'etc/apt/sources.list.d'), { recursive: true });
    mkdirSync(join(root, 'etc/apt/keyrings'), { recursive: true });
    writeFileSync(
      join(root, 'etc/apt/sources.list.d/acme-old.sources'),
      `${mark}\nTypes: deb\nURIs: https://apt.acme.example\nSuites: bookworm\nSigned-By: /etc/apt/keyrings/acme-old.gpg\n`,
    );
    writeFileSync(join(root, 'etc/apt/keyrings/acme-old.gpg'), 'key');
    writeFileSync(
      join(root, 'etc/apt/sources.list.d/debian.sources'),
      'Types: deb\nURIs: http://deb.debian.org/debian\n',
    );
    const r = await runTask('repositories', root);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('[repositories] repositories: repository acme-old: removed (no longer in mpimg.json)');
    expect(readdirSync(join(root, 'etc/apt/sources.list.d'))).toEqual(['debian.sources']);
    expect(readdirSync(join(root, 'etc/apt/keyrings'))).toEqual([]);
  });

  it("a failing step stops the build with the script's error and fix lines (ufw is not in this root)", async () => {
    const p = await makeFixtureProject({ manifest: { firewall: { limit: ['22/tcp'], allow: ['80/tcp'] } } });
    try {
      const root = newRoot();
      const r = await runTask('firewall', root, p);
      expect(r.code).toBe(1);
      expect(r.err).toContain("| error: firewall: ufw is not installed, so the image's firewall cannot be set up");
      expect(r.err).toContain('| fix: add "ufw" to build.packages in mpimg.json');
      expect(r.err).toMatch(/error: remote command failed with exit code 1 in task "firewall"/);
      expect(existsSync(join(root, 'etc/ufw'))).toBe(false);
    } finally {
      rmSync(p.dir, { recursive: true, force: true });
    }
  });

  it("configtest: the services' checks run in the target root; a broken config fails the build naming the unit, with its output", async () => {
    const check = `grep -qx 'listen 80;' /etc/acme-test/app.conf || { echo "acme-test: no 'listen 80;' in /etc/acme-test/app.conf" >&2; exit 4; }`;
    const p = await makeFixtureProject({ manifest: { services: [{ name: 'acme-test.service', check }] } });
    try {
      // a root with a shell and grep of its own (buildRoot): the check runs there, as on the droplet
      const root = buildRoot();
      mkdirSync(join(root, 'etc/acme-test'));
      writeFileSync(join(root, 'etc/acme-test/app.conf'), 'listen 80;\n');
      const ok = await runTask('configtest', root, p);
      expect(ok.code, ok.err).toBe(0);
      expect(ok.out).toContain(`[configtest] configtest: service acme-test.service: check passed: ${check}`);

      writeFileSync(join(root, 'etc/acme-test/app.conf'), 'lisen 80;\n');
      const bad = await runTask('configtest', root, p);
      expect(bad.code).toBe(1);
      expect(bad.err).toContain("|   | acme-test: no 'listen 80;' in /etc/acme-test/app.conf");
      expect(bad.err).toContain(
        `| error: configtest: service acme-test.service: its check failed (exit code 4, its output above): ${check}`,
      );
      expect(bad.err).toMatch(/error: remote command failed with exit code 1 in task "configtest"/);
    } finally {
      rmSync(p.dir, { recursive: true, force: true });
    }
  });

  it("packages: entries with versions and variables resolved with the bundle's values, as the Packer template has them", async () => {
    const p = await makeFixtureProject({
      manifest: {
        variables: { DJANGO_VERSION: '4.2.*' },
        build: { packages: ['nginx=1.24.*', 'python3-django={{DJANGO_VERSION}}'] },
      },
    });
    try {
      bundle(p, ['--var', 'DJANGO_VERSION=5.0.1-1']);
      const r = await runTask('packages', newRoot(), p);
      expect(r.code, r.err).toBe(0);
      // (MPIMG_SKIP_PACKAGES=1: the arguments apt-get would get, not installed on this machine)
      expect(r.err).toContain('MPIMG_SKIP_PACKAGES=1: not installing nginx=1.24.* python3-django=5.0.1-1');
    } finally {
      rmSync(p.dir, { recursive: true, force: true });
    }
  });

  it('a bundle without the build script, or bundled with other variables than mpimg.json has: run make bundle', async () => {
    const p = await makeFixtureProject({
      manifest: { variables: { APP_VERSION: '1.0.0' }, services: ['acme-test.service'] },
    });
    try {
      rmSync(join(p.dir, `dist/${SLUG}-build.sh`));
      const gone = await runTask('services', newRoot(), p);
      expect(gone.code).toBe(1);
      expect(gone.err).toContain(`error: the build script is missing (dist/${SLUG}-build.sh)`);
      expect(gone.err).toContain('fix: run `make bundle` first');
      bundle(p, []);
      const m = JSON.parse(readFileSync(join(p.dir, 'mpimg.json'), 'utf8'));
      m.variables.OTHER = 'x';
      writeFileSync(join(p.dir, 'mpimg.json'), JSON.stringify(m));
      const stale = await runTask('scripts', newRoot(), p);
      expect(stale.code).toBe(1);
      expect(stale.err).toContain(
        `error: dist/${SLUG}-build.sh was bundled with other variables than mpimg.json has (APP_VERSION, OTHER)`,
      );
    } finally {
      rmSync(p.dir, { recursive: true, force: true });
    }
  });
});
