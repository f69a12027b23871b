/**
 * The build record of a Packer build: the template's check and record steps and its post-processors,
 * run by the real packer (null builder over the test sshd, MPIMG_ROOT a staged root), write on the
 * "vendor side" the record the SSH record step writes for the same root, with a valid SBOM; the
 * snapshot of Packer's manifest is added to the record of its run. Hostile names stay data.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordBuild } from '../../tasks/record/build-record.js';
import type { BuildRecord } from '../../tasks/record/types.js';
import { hclString, nullBuildDir, runPacker } from '../helpers/packer-run.js';
import { sshdPerFile } from '../helpers/sshd-run.js';
import { tempDir } from '../helpers/temp.js';
import { makeFixtureProject, REPO, type FixtureProject } from '../tasks/fixture-project.js';
import { connectTo } from '../tasks/helpers.js';

const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
const sshd = sshdPerFile();
let home: string;
let bin: string;
const HOSTILE_NAME = `Acme "q'u\`o$(touch PWNED)\${var.do_token}%{x}&<>`;

beforeAll(async () => {
  home = tempDir('mpimg-packer-home-');
  // `mpimg` on PATH, as a vendor without node_modules/.bin/mpimg in the project has it
  bin = tempDir('mpimg-packer-bin-');
  symlinkSync(join(REPO, 'bin/mpimg.js'), join(bin, 'mpimg'));
});

const packer = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  runPacker(cwd, args, { home, env: { PATH: `${bin}:${process.env.PATH}`, ...env } });

const STATUS = `Package: libcap2
Status: install ok installed
Architecture: amd64
Version: 1:2.66-4
Description: $(touch PWNED) "quoted" \`x\`

Package: nano
Status: install ok installed
Architecture: amd64
Version: 7.2-1+deb12u1
Description: editor

Package: oldtool
Status: deinstall ok config-files
Architecture: amd64
Version: 0.9-1
Description: removed

`;

function newRoot(): string {
  const r = tempDir('mpimg-packer-rec-root-');
  mkdirSync(join(r, 'etc'));
  writeFileSync(join(r, 'etc/os-release'), 'PRETTY_NAME="Debian $(touch PWNED) `x`"\nID=debian\nVERSION_ID="12"\n');
  mkdirSync(join(r, 'var/lib/dpkg/info'), { recursive: true });
  writeFileSync(join(r, 'var/lib/dpkg/status'), STATUS);
  return r;
}

const forOldPacker = (text: string): string =>
  text.replace(/^packer \{\n[\s\S]*?\n\}\n/m, '').replace(/^ {2}droplet_agent += false\n/m, '');

/** The template's check and record steps and its post-processors, run over the test sshd against `root`. */
function runRecordSteps(p: FixtureProject, text: string, root: string, checkExit: number) {
  const step = (name: string): string => {
    const from = text.indexOf(`\n  # step ${name}: `);
    return text.slice(from, text.indexOf('\n  # ', from + 1));
  };
  const post = text.slice(text.indexOf('\n  post-processors {'), text.lastIndexOf('\n}'));
  const steps = `${step('check')}\n${step('record')}`.replaceAll(
    '"MPIMG_ROOT=/"',
    JSON.stringify(`MPIMG_ROOT=${root}`),
  );
  expect(steps).toContain('provisioner "shell-local"');
  const work = join(tempDir('mpimg-packer-rec-work-'), 'work');
  // the bundle's sh twin stands in for the check: its Summary line and exit code
  const twin = `#!/bin/sh\necho '[PASS] checked'\necho 'Summary: 7 passed, 1 warnings, 0 failed, 2 skipped'\nexit ${checkExit}\n`;
  const runDir = nullBuildDir(sshd, {
    locals: { project: hclString(p.dir), work: hclString(work), snapshot_name: '"acme-test-1.2.3"' },
    prepare: [
      '"date -u +%Y-%m-%dT%H:%M:%SZ > ${local.work}/started"',
      hclString(`printf '%s' '${twin.replace(/'/g, `'\\''`)}' > ${work}/acme-test-install.sh`),
    ],
    body: `${steps}\n${post}`,
  });
  const r = packer(runDir, ['build', '-color=false', 'run.pkr.hcl']);
  return { r, runDir, work };
}

/** The SSH record step (its run: tasks/record/build-record.ts) over the test sshd against `root`. */
async function sshRecord(p: FixtureProject, root: string) {
  const { c, err } = connectTo(sshd, { project: p.dir });
  const saved = process.env.MPIMG_TARGET_ROOT;
  process.env.MPIMG_TARGET_ROOT = root;
  try {
    await recordBuild(c);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${err.text}`);
  } finally {
    if (saved === undefined) delete process.env.MPIMG_TARGET_ROOT;
    else process.env.MPIMG_TARGET_ROOT = saved;
  }
}

const records = (p: FixtureProject): BuildRecord[] =>
  existsSync(join(p.dir, 'images'))
    ? readdirSync(join(p.dir, 'images'))
        .filter((n) => !n.startsWith('.'))
        .sort()
        .map((id) => JSON.parse(readFileSync(join(p.dir, 'images', id, 'record.json'), 'utf8')) as BuildRecord)
    : [];

describe('the build record of a Packer build', () => {
  it('validates for apt and dnf distributions', async () => {
    for (const d of ['debian-12-x64', 'almalinux-9-x64']) {
      const p = await makeFixtureProject({ manifest: { distributions: [d], name: HOSTILE_NAME } });
      const text = readFileSync(join(p.dir, 'dist/acme-test.pkr.hcl'), 'utf8');
      expect(text).toContain('direction   = "download"');
      writeFileSync(join(p.dir, 'dist/check.pkr.hcl'), forOldPacker(text));
      const v = packer(p.dir, ['validate', 'dist/check.pkr.hcl'], { DIGITALOCEAN_TOKEN: 'dop_v1_not-a-real-token' });
      expect(v.stdout + v.stderr, d).not.toMatch(/Error/);
      expect(v.status, d).toBe(0);
      rmSync(p.dir, { recursive: true, force: true });
    }
  }, 240_000);

  it("writes on the vendor's side the record the SSH record step writes for the same root; the manifest adds the snapshot", async () => {
    const p = await makeFixtureProject({
      manifest: { name: HOSTILE_NAME, variables: { APP_VERSION: { default: '4.5.6' } } },
    });
    const text = readFileSync(join(p.dir, 'dist/acme-test.pkr.hcl'), 'utf8');
    const root = newRoot();
    const { r, runDir, work } = runRecordSteps(p, text, root, 0);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Summary: 7 passed, 1 warnings, 0 failed, 2 skipped');
    // the facts file was consumed; nothing of the hostile values ran anywhere
    expect(existsSync(join(runDir, 'acme-test-record-facts'))).toBe(false);
    for (const d of [p.dir, runDir, root, work, '/tmp']) expect(existsSync(join(d, 'PWNED')), d).toBe(false);
    const [packed] = records(p);
    expect(packed).toBeDefined();

    await sshRecord(p, root);
    const ssh = records(p).find((x) => x.id !== packed.id)!;
    expect(packed.packages).toEqual(ssh.packages);
    expect(packed.packages.list.map((x) => x.name)).toEqual(['libcap2', 'nano']);
    expect(packed.system).toEqual(ssh.system);
    expect(packed.system.prettyName).toBe('Debian $(touch PWNED) `x`');
    expect(packed.project).toEqual(ssh.project);
    expect(packed.project.name).toBe(HOSTILE_NAME);
    expect(packed.project.variables).toEqual({ APP_VERSION: '4.5.6' });
    expect(packed.build).toMatchObject({ target: 'packer', dropletId: null, freshen: null, steps: [] });
    expect(packed.build.check).toEqual({ pass: 7, warn: 1, fail: 0, skip: 2 });
    expect(packed.build.packerRun).toMatch(/^[0-9a-f-]{8,}$/);
    expect(packed.snapshot).toBeNull(); // the null builder makes no snapshot: a warning, the build passed
    expect(r.stdout + r.stderr).toContain('the snapshot could not be added to its build record');
    const sbom = readFileSync(join(p.dir, 'images', packed.id, 'sbom.cdx.json'), 'utf8');
    expect(await validator.validate(sbom)).toBeNull();
    expect(sbom).toContain('pkg:deb/debian/libcap2@1%3A2.66-4?arch=amd64');

    // A DigitalOcean build's manifest: its run's snapshot goes into that run's record.
    const manifest = join(runDir, 'acme-test-packer-manifest.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        builds: [
          { packer_run_uuid: 'other-run-0000', artifact_id: 'nyc3:111', custom_data: { snapshot_name: 'old' } },
          {
            packer_run_uuid: packed.build.packerRun,
            artifact_id: 'nyc3:987654321',
            custom_data: { snapshot_name: 'acme-test-1.2.3-20261207' },
          },
        ],
        last_run_uuid: packed.build.packerRun,
      }),
    );
    const a = spawnSync(join(bin, 'mpimg'), ['record', '--packer-manifest', manifest], {
      cwd: p.dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: home },
    });
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).toContain(`build record images/${packed.id}: snapshot 987654321 "acme-test-1.2.3-20261207" added`);
    const after = records(p).find((x) => x.id === packed.id)!;
    expect(after.snapshot).toMatchObject({ id: 987654321, name: 'acme-test-1.2.3-20261207' });
    expect(records(p).find((x) => x.id === ssh.id)!.snapshot).toBeNull();
  }, 300_000);

  it('a failed check fails the Packer build: no record', async () => {
    const p = await makeFixtureProject();
    const text = readFileSync(join(p.dir, 'dist/acme-test.pkr.hcl'), 'utf8');
    const { r } = runRecordSteps(p, text, newRoot(), 1);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('Summary: 7 passed');
    expect(records(p)).toEqual([]);
  }, 240_000);
});
