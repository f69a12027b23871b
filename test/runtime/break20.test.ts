/**
 * Issue #20 attacked: templates that hold a secret, written into place at first boot, on droplets as
 * real packages leave them (a config the package installed at the template's path, a folder the
 * service's user owns). Real sh runs the installed first-boot steps in a private mount namespace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { makeProject } from '../helpers/project-fixture.js';
import { stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import { cleanRoot, cleanupFixtures } from '../scripts/fixture-root.js';
import { validateManifest, type Manifest } from '../../runtime/manifest.js';
import { variableOverrides } from '../../tasks/bundle/variables.js';

const NO_METADATA = { MPIMG_METADATA_URL: 'http://127.0.0.1:9/none', MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' };
const FIRST_BOOT = 'for f in /var/lib/cloud/scripts/per-instance/*; do "$f" || echo "FAILED $f"; done';
const CONF = '/opt/kv/kv.conf';
const TEXT = 'port 6379\nrequirepass {{secret.KV_PASSWORD}}\n';

function bundle(manifest: Partial<Manifest> = {}, text = TEXT) {
  const dir = tempDir('mpimg-proj-');
  fs.mkdirSync(path.join(dir, 'files/opt/kv'), { recursive: true });
  fs.writeFileSync(path.join(dir, `files${CONF}`), text, { mode: 0o640 });
  makeProject({
    dir,
    manifest: {
      secrets: [{ name: 'KV_PASSWORD', length: 32 }],
      files: { dir: 'files', templates: [CONF] },
      services: [{ name: 'kv.service', afterFirstBoot: true }],
      ...manifest,
    },
  });
  // the package's own cleanup and image check, not the fixture's stand-ins
  for (const f of ['scripts/90-cleanup.sh', 'scripts/99-img-check.sh']) fs.rmSync(path.join(dir, f));
  const out = tempDir('mpimg-dist-');
  fs.chmodSync(out, 0o755);
  return writeBundle(loadProject(dir), out);
}

function install(b: ReturnType<typeof bundle>, root = stagedRoot()) {
  const r = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  return root;
}

function firstBoot(root: string) {
  const bin = tempDir('mpimg-bin-');
  fs.writeFileSync(path.join(bin, 'systemctl'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return runInSandbox(root, FIRST_BOOT, { env: { ...NO_METADATA, PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` } });
}
const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), 'utf8');

afterAll(cleanupFixtures);

/** The first-boot-secrets entry of the image check, run by the bundle's node runtime and sh installer. */
function secretsCheck(b: ReturnType<typeof bundle>, root: string) {
  return [process.execPath, 'sh'].map((cmd) => {
    const file = cmd === 'sh' ? b.sh : b.cjs;
    const r = spawnSync(cmd, [file, 'check', '--root', root, '--json'], { encoding: 'utf8' });
    const report = JSON.parse(r.stdout) as {
      checks: Array<{ id: string; status: string; message: string; evidence: string[] }>;
    };
    return { status: r.status, entry: report.checks.find((c) => c.id === 'first-boot-secrets') };
  });
}

describe('a template that holds a secret, on a droplet as packages leave it', () => {
  // Found: a package's config at the template's path was reported as "first boot already ran here",
  // which it had not, with no way out named; the vendor's way is build.remove.
  it("names a package's config left at the template's path, and build.remove", () => {
    const b = bundle();
    const root = cleanRoot();
    fs.mkdirSync(path.join(root, 'opt/kv'), { recursive: true });
    fs.writeFileSync(path.join(root, CONF), 'port 6379\n# no password\n');
    install(b, root);
    expect(read(root, CONF)).toBe('port 6379\n# no password\n');
    for (const { status, entry } of secretsCheck(b, root)) {
      expect(status).toBe(1);
      expect(entry?.status).toBe('fail');
      expect(entry?.message).not.toContain('first boot already ran');
      expect(entry?.evidence).toEqual([
        `${CONF}: holds a secret, so the image must not carry it at its path (first boot writes it from /opt/acme/acme-wiki/templates${CONF}; a package's own config there: list it in build.remove of mpimg.json)`,
      ]);
    }
  });

  // Found: a template in a folder a package gives its service user (Debian's redis-server: /etc/redis,
  // redis:redis 2770) passed validate, the build and the image check, then failed the prepare step of
  // every droplet's first boot, its afterFirstBoot units never started.
  it("FAILs the image when the template's folder is not root's alone, before any droplet boots", () => {
    const b = bundle();
    const root = cleanRoot();
    fs.mkdirSync(path.join(root, 'opt/kv'), { recursive: true });
    fs.chownSync(path.join(root, 'opt/kv'), 4242, 4242);
    fs.chmodSync(path.join(root, 'opt/kv'), 0o2770);
    install(b, root);
    for (const { status, entry } of secretsCheck(b, root)) {
      expect(status).toBe(1);
      expect(entry?.message).toBe(
        'a template that holds a secret is not where first boot can write it (below): every droplet would run without it',
      );
      expect(entry?.evidence).toEqual([
        `${CONF}: first boot writes it as root in /opt/kv, owned by uid 4242, mode 2770: refused there (another user could put a link in its place); keep the template in a folder of root's (e.g. /etc/<app>/) and give the file to the service with $.files.owners`,
      ]);
    }
    // what the check foretells: the prepare step refuses, the unit stays held
    const r = firstBoot(root);
    expect(r.stdout).toContain('FAILED /var/lib/cloud/scripts/per-instance/0-acme-wiki-prepare');
    expect(read(root, 'var/log/mpimg/acme-wiki/prepare.log')).toContain("/opt/kv is not root's alone");
    expect(fs.existsSync(path.join(root, 'var/lib/mpimg/acme-wiki/first-boot-ready'))).toBe(false);
    // a folder of root's: the check passes
    const ok = cleanRoot();
    install(b, ok);
    for (const { entry } of secretsCheck(b, ok)) expect(entry?.status).toBe('pass');
  });
});

// Found: a variable of 140,000 characters passed validate and bundle, then every droplet's prepare
// step failed ("uname: Argument list too long": the value is in the environment of every program it
// starts), its afterFirstBoot units never started.
describe("a variable too long for a program's environment", () => {
  const base = { name: 'A', slug: 'acme-a', vendor: 'acme', version: '1.0.0', distributions: ['debian-12-x64'] };
  it('is refused by the schema, with its path, as a default in either form', () => {
    for (const v of ['x'.repeat(8193), { default: 'x'.repeat(8193) }]) {
      const { problems } = validateManifest({ ...base, variables: { BIG: v } });
      expect(problems.map((p) => [p.path, p.hint])).toContainEqual([
        typeof v === 'string' ? '$.variables.BIG' : '$.variables.BIG.default',
        'at most 8192 characters',
      ]);
    }
    expect(validateManifest({ ...base, variables: { BIG: 'x'.repeat(8192) } }).problems).toEqual([]);
  });

  it('is refused as an override, --var or environment', () => {
    const m = validateManifest({ ...base, variables: { BIG: 'x' } }).manifest!;
    expect(() => variableOverrides(m, [`BIG=${'y'.repeat(8193)}`])).toThrow(
      '--var BIG: the value of BIG is 8193 characters long, more than 8192',
    );
    expect(() => variableOverrides(m, [], { MPIMG_VAR_BIG: 'y'.repeat(9000) })).toThrow(
      'environment variable MPIMG_VAR_BIG: the value of BIG is 9000 characters long, more than 8192',
    );
    expect(variableOverrides(m, [`BIG=${'y'.repeat(8192)}`]).BIG).toHaveLength(8192);
  });

  it('of the largest length allowed, in a template, is filled in at first boot', () => {
    // three bytes a character in UTF-8: the most 8192 characters can be
    const big = '€'.repeat(8192);
    const b = bundle({ variables: { BIG: big } }, `${TEXT}big {{BIG}}\n`);
    const root = install(b);
    const r = firstBoot(root);
    expect(r.stdout).not.toContain('FAILED');
    expect(read(root, CONF)).toMatch(new RegExp(`^port 6379\\nrequirepass [A-Za-z0-9]{32}\\nbig ${big}\\n$`));
  });
});

describe('a newer bundle that holds back a template the older one laid down', () => {
  it('takes the older unfilled file off its path on reinstall; first boot then writes it filled in', () => {
    const older = bundle({ secrets: [{ name: 'KV_PASSWORD', length: 32 }] }, 'port 6379\nhost {{hostname}}\n');
    const newer = bundle();
    const root = install(older, cleanRoot());
    expect(read(root, CONF)).toBe('port 6379\nhost {{hostname}}\n');
    const r = spawnSync(process.execPath, [newer.cjs, 'install', '--root', root], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(fs.existsSync(path.join(root, CONF))).toBe(false);
    for (const { entry } of secretsCheck(newer, root)) expect(entry?.status).toBe('pass');
    const s = spawnSync(process.execPath, [newer.cjs, 'status', '--root', root], { encoding: 'utf8' });
    expect(s.status, s.stdout + s.stderr).toBe(0);
    expect(firstBoot(root).stdout).not.toContain('FAILED');
    expect(read(root, CONF)).toMatch(/^port 6379\nrequirepass [A-Za-z0-9]{32}\n$/);
    expect(fs.statSync(path.join(root, CONF)).mode & 0o777).toBe(0o640);
  });
});

describe('a prepare step killed while it fills in a template', () => {
  it('leaves no partial file at its path and no record; a run again finishes it and removes what it left', () => {
    const b = bundle();
    const root = install(b);
    const bin = tempDir('mpimg-bin-');
    // chown of the temporary file: the step is killed there (as a power cut would stop it)
    fs.writeFileSync(path.join(bin, 'chown'), '#!/bin/sh\nkill -9 $PPID\nexit 1\n', { mode: 0o755 });
    const prepare = '/var/lib/cloud/scripts/per-instance/0-acme-wiki-prepare';
    const env = { ...NO_METADATA, PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` };
    runInSandbox(root, `/opt/acme/acme-wiki/prepare; echo "rc=$?"`, { env });
    expect(fs.existsSync(path.join(root, CONF))).toBe(false);
    expect(fs.existsSync(path.join(root, 'var/lib/mpimg/acme-wiki/prepared'))).toBe(false);
    // the temporary file beside it, root's alone, holds the secrets
    const [left] = fs.readdirSync(path.join(root, 'opt/kv'));
    expect(left).toMatch(/^\.mpimg-render\.[A-Za-z0-9]{6}$/);
    expect(fs.statSync(path.join(root, 'opt/kv', left)).mode & 0o777).toBe(0o600);
    const again = runInSandbox(root, `${prepare} || echo FAILED`, { env: NO_METADATA });
    expect(again.stdout).not.toContain('FAILED');
    expect(read(root, CONF)).toMatch(/^port 6379\nrequirepass [A-Za-z0-9]{32}\n$/);
    // Found: the killed run's temporary file, with the secrets, stayed there for good.
    expect(fs.readdirSync(path.join(root, 'opt/kv'))).toEqual(['kv.conf']);
  });
});

// Found: when the rename of the filled-in temporary file into place failed, set -e ended the step
// there and the temporary file, with the secrets, stayed beside the template's path.
describe('a prepare step whose rename into place fails', () => {
  it('removes its temporary file, says which template, and leaves no record', () => {
    const b = bundle();
    const root = install(b);
    // the unfilled template at its path (filled in again), made a mount point: rename(2) refuses it
    fs.mkdirSync(path.join(root, 'opt/kv'), { recursive: true });
    fs.writeFileSync(path.join(root, CONF), TEXT, { mode: 0o640 });
    const r = runInSandbox(root, `mount --bind ${CONF} ${CONF} && /opt/acme/acme-wiki/prepare; echo "rc=$?"`, {
      env: NO_METADATA,
    });
    expect(r.stdout).toMatch(/rc=[1-9]/);
    expect(r.stderr).toContain(`template ${CONF}: could not be put in place`);
    expect(fs.readdirSync(path.join(root, 'opt/kv'))).toEqual(['kv.conf']);
    expect(read(root, CONF)).toBe(TEXT);
    expect(fs.existsSync(path.join(root, 'var/lib/mpimg/acme-wiki/prepared'))).toBe(false);
  });
});

// Found: a prepare step stopped by SIGTERM (the first-boot timeout) while it filled in a template left
// the temporary file, with the secrets, beside it until a later run.
describe('a prepare step stopped by SIGTERM while it fills in a template', () => {
  it('removes its temporary file on the way out, and leaves no record', () => {
    const root = install(bundle());
    const bin = tempDir('mpimg-bin-');
    fs.writeFileSync(path.join(bin, 'chown'), '#!/bin/sh\nkill -TERM $PPID\nexit 0\n', { mode: 0o755 });
    const env = { ...NO_METADATA, PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` };
    const r = runInSandbox(root, `/opt/acme/acme-wiki/prepare; echo "rc=$?"`, { env });
    expect(r.stdout).toContain('rc=143');
    expect(fs.readdirSync(path.join(root, 'opt/kv'))).toEqual([]);
    expect(fs.existsSync(path.join(root, 'var/lib/mpimg/acme-wiki/prepared'))).toBe(false);
  });
});
