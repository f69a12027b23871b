/**
 * A snapshot of a droplet whose first boot ran would ship that droplet's secrets: the image check
 * fails on them and the cleanup removes what it can. A clean image (the Marketplace fixture root)
 * with the bundle installed, first boot run for real by sh in a private mount namespace, and the
 * bundle's own check and cleanup run through both executors (node runtime and sh installer).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject } from '../helpers/project-fixture.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle, type BundleResult } from '../../tasks/bundle/write-bundle.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import { cleanRoot, cleanupFixtures, type CheckReport } from '../scripts/fixture-root.js';
import type { Manifest } from '../../runtime/manifest.js';

afterAll(cleanupFixtures);

const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const RUN_PARTS = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
const CREDENTIALS = '/root/.acme-wiki-credentials';
// Under /opt: a folder the sandbox gives the staged root (first boot writes nothing of this machine's)
const TEMPLATE = '/opt/acme-app/app.conf';
// A template without a secret: laid down unfilled at its path, filled in at first boot.
const SITE = '/opt/acme-app/site.conf';
const manifest: Partial<Manifest> = {
  loginHold: false,
  secrets: [{ name: 'DB_PASSWORD', length: 24 }],
  files: { dir: 'files', templates: [TEMPLATE, SITE] },
};
const HELD = `${TEMPLATE}: holds a secret, so the image must not carry it at its path (first boot writes it from /opt/acme/acme-wiki/templates${TEMPLATE}; a package's own config there: list it in build.remove of mpimg.json)`;
const FILLED = `${SITE}: filled in at first boot (it differs from /opt/acme/acme-wiki/templates${SITE})`;

let b: BundleResult;
beforeAll(() => {
  const dir = tempDir('mpimg-proj-');
  fs.mkdirSync(path.join(dir, 'files/opt/acme-app'), { recursive: true });
  fs.writeFileSync(path.join(dir, `files${TEMPLATE}`), 'host = {{hostname}}\npassword = {{secret.DB_PASSWORD}}\n', {
    mode: 0o640,
  });
  fs.writeFileSync(path.join(dir, `files${SITE}`), 'server_name {{hostname}};\n');
  makeProject({ manifest, dir, firstLogin: false });
  // The fixture project brings stand-ins of its own: the package's cleanup and check are what is tested.
  for (const f of ['scripts/90-cleanup.sh', 'scripts/99-img-check.sh']) fs.rmSync(path.join(dir, f));
  const out = tempDir('mpimg-dist-');
  fs.chmodSync(out, 0o755);
  b = writeBundle(loadProject(dir), out);
});

type Executor = 'node' | 'sh';
const EXECUTORS: Executor[] = ['node', 'sh'];
const bundle = (x: Executor, args: string[]) =>
  x === 'node'
    ? spawnSync(process.execPath, [b.cjs, ...args], { encoding: 'utf8' })
    : spawnSync('sh', [b.sh, ...args], { encoding: 'utf8' });

/** The image check of the bundle by this executor, as JSON. */
function check(x: Executor, root: string, args: string[] = []) {
  const r = bundle(x, ['check', '--root', root, '--json', ...args]);
  const report = JSON.parse(r.stdout) as CheckReport;
  return { r, report, entry: report.checks.find((c) => c.id === 'first-boot-secrets') };
}

/** A clean image with the bundle installed (no first boot yet). */
function installed(x: Executor = 'node'): string {
  const root = cleanRoot();
  const r = bundle(x, ['install', '--root', root]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return root;
}

/** The real first boot, as cloud-init runs the per-instance scripts. */
function firstBoot(root: string): Record<string, string> {
  const r = runInSandbox(root, RUN_PARTS);
  expect(r.stdout).not.toContain('FAILED');
  const text = fs.readFileSync(path.join(root, CREDENTIALS), 'utf8');
  return Object.fromEntries([...text.matchAll(/^([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
}

describe('the image check on a droplet whose first boot ran', () => {
  it('passes the clean image, and FAILs naming the credentials file, the records and the filled-in template', () => {
    const root = installed();
    for (const x of EXECUTORS) {
      const clean = check(x, root);
      expect(clean.r.status, clean.r.stdout + clean.r.stderr).toBe(0);
      expect(clean.report.result).toBe('pass');
      expect(clean.entry?.status).toBe('pass');
    }
    const secrets = firstBoot(root);
    expect(secrets.DB_PASSWORD).toMatch(/^[A-Za-z0-9]{24}$/);
    const [n, s] = EXECUTORS.map((x) => check(x, root));
    for (const { r, entry } of [n, s]) {
      expect(r.status).toBe(1);
      expect(entry?.status).toBe('fail');
      expect(entry?.message).toContain('Build the image from a fresh droplet (run the build again)');
      expect(entry?.evidence).toEqual([
        `${CREDENTIALS}: the credentials file, where first boot saved its secrets`,
        '/var/lib/mpimg/acme-wiki: what first boot recorded (it ran on this system)',
        HELD,
        FILLED,
      ]);
      for (const v of Object.values(secrets)) expect(r.stdout + r.stderr).not.toContain(v);
    }
    expect(s.report).toEqual(n.report);
  });

  it('the cleanup removes the credentials file and the records; the filled-in template still fails', () => {
    const after = EXECUTORS.map((x) => {
      const root = installed(x);
      firstBoot(root);
      const r = bundle(x, ['cleanup', '--root', root, '--no-packages']);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`remove ${CREDENTIALS}`);
      expect(r.stdout).toContain('remove /var/lib/mpimg/acme-wiki');
      expect(fs.existsSync(path.join(root, CREDENTIALS))).toBe(false);
      expect(fs.readdirSync(path.join(root, 'var/lib/mpimg'))).toEqual([]);
      // a filled-in template cannot be told from the vendor's text: left, and the check says so
      expect(fs.readFileSync(path.join(root, TEMPLATE), 'utf8')).toMatch(/^host = .+\npassword = [A-Za-z0-9]{24}\n$/);
      const c = check(x, root);
      expect(c.r.status).toBe(1);
      expect(c.entry?.evidence).toEqual([HELD, FILLED]);
      return c.entry;
    });
    expect(after[1]).toEqual(after[0]);
  });

  it('FAILs an image that carries a template holding a secret at its path, even unfilled', () => {
    const root = installed();
    // what an older bundle laid down: the unfilled template where the software reads it
    fs.mkdirSync(path.dirname(path.join(root, TEMPLATE)), { recursive: true });
    fs.copyFileSync(path.join(root, `opt/acme/acme-wiki/templates${TEMPLATE}`), path.join(root, TEMPLATE));
    for (const x of EXECUTORS) {
      const c = check(x, root);
      expect(c.r.status).toBe(1);
      expect(c.entry?.evidence).toEqual([HELD]);
    }
  });

  it('--booted expects them, with the credentials file 0600 root and the records root-only', () => {
    const root = installed();
    firstBoot(root);
    const st = fs.statSync(path.join(root, 'var/lib/mpimg/acme-wiki'));
    expect(st.mode & 0o777).toBe(0o700);
    for (const x of EXECUTORS)
      expect(check(x, root, ['--booted']).entry).toMatchObject({
        status: 'pass',
        message: "the credentials file and first-boot records are root's alone (2 checked)",
      });
    fs.chmodSync(path.join(root, CREDENTIALS), 0o644);
    fs.chmodSync(path.join(root, 'var/lib/mpimg/acme-wiki'), 0o755);
    for (const x of EXECUTORS)
      expect(check(x, root, ['--booted']).entry).toMatchObject({
        status: 'fail',
        evidence: [
          `${CREDENTIALS}: owner uid 0, mode 644; must be root's, mode 600 (chown root:root, chmod 600)`,
          "/var/lib/mpimg/acme-wiki: owner uid 0, mode 755; must be root's alone (chown root, chmod 700)",
        ],
      });
  });

  it('refuses a relative --credentials (usage, exit 2)', () => {
    const root = installed();
    for (const x of EXECUTORS) {
      const r = bundle(x, ['check', '--root', root, '--credentials', 'root/.x']);
      // the bundle's own --credentials comes first; the caller's replaces it, and is refused
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("--credentials 'root/.x' is not an absolute path");
      const c = bundle(x, ['cleanup', '--root', root, '--credentials', 'x']);
      expect(c.status).toBe(2);
      expect(c.stderr).toContain("--credentials 'x' is not an absolute path");
    }
  });
});
