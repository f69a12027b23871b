/**
 * The record step over the real loopback sshd, against a staged root (MPIMG_TARGET_ROOT) holding a
 * small dpkg database: the record's packages are what dpkg-query says of that root, secrets appear by
 * name only, the git state of the project (none, clean, dirty), a bad records folder, two builds
 * of one image, and a whole `build` whose record carries the step timings, the review-day upgrade
 * and the image check's counts.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildRecord } from '../../tasks/record/types.js';
import { buildOrder } from '../../tasks/steps/index.js';
import { runTaskInRoot, sshdPerFile } from '../helpers/sshd-run.js';
import { makeFixtureProject, type FixtureProject } from './fixture-project.js';

const sshd = sshdPerFile();
const temps: string[] = [];

const STATUS = `Package: libcap2
Status: install ok installed
Priority: important
Maintainer: Debian <debian@example.org>
Architecture: amd64
Multi-Arch: same
Version: 1:2.66-4
Description: POSIX 1003.1e capabilities (library)

Package: nano
Status: install ok installed
Maintainer: Debian <debian@example.org>
Architecture: amd64
Version: 7.2-1+deb12u1
Description: small, friendly text editor

Package: tzdata
Status: install ok installed
Maintainer: Debian <debian@example.org>
Architecture: all
Version: 2024a-0+deb12u1
Description: time zone data

Package: oldtool
Status: deinstall ok config-files
Maintainer: Debian <debian@example.org>
Architecture: amd64
Version: 0.9-1
Description: removed, its configuration kept

`;

function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

/** A staged Debian 12 root with a small dpkg database. */
function newRoot(): string {
  const r = temp('mpimg-record-root-');
  mkdirSync(join(r, 'etc'));
  writeFileSync(
    join(r, 'etc/os-release'),
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
  );
  mkdirSync(join(r, 'var/lib/dpkg/info'), { recursive: true });
  writeFileSync(join(r, 'var/lib/dpkg/status'), STATUS);
  return r;
}

const runTask = (name: string, root: string, p: FixtureProject) => runTaskInRoot(sshd, name, root, { cwd: p.dir });

const readRecord = (p: FixtureProject, id: string): BuildRecord =>
  JSON.parse(readFileSync(join(p.dir, 'images', id, 'record.json'), 'utf8')) as BuildRecord;
/**
 * The records in the order they were made: by createdAt (milliseconds), since the folder names of
 * builds of one second differ only by their random part.
 */
const recordDirs = (p: FixtureProject): string[] =>
  existsSync(join(p.dir, 'images'))
    ? readdirSync(join(p.dir, 'images'))
        .map((id) => ({ id, at: readRecord(p, id).createdAt }))
        .sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : x.id < y.id ? -1 : 1))
        .map((r) => r.id)
    : [];

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, '-c', 'user.name=T', '-c', 'user.email=t@example.org', ...args], {
    encoding: 'utf8',
  }).trim();

let plain: FixtureProject;

beforeAll(async () => {
  plain = await makeFixtureProject({
    manifest: {
      variables: { APP_VERSION: { default: '4.5.6' } },
      secrets: [{ name: 'DB_PASSWORD' }, { name: 'ADMIN_PASSWORD', length: 20 }],
    },
  });
  temps.push(plain.dir);
});

afterAll(async () => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('the record step', () => {
  it("writes images/<id>/record.json: the root's installed packages as dpkg-query lists them, system, project, no secret values", async () => {
    const root = newRoot();
    const r = await runTask('record', root, plain);
    expect(r.code, r.err).toBe(0);
    const ids = recordDirs(plain);
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^\d{8}T\d{6}Z-debian-12-x64-[0-9a-f]{6}$/);
    expect(readdirSync(join(plain.dir, 'images', ids[0])).sort()).toEqual(['record.json', 'sbom.cdx.json']);
    const rec = readRecord(plain, ids[0]);
    expect(r.err).toContain(`build record images/${ids[0]}/: debian-12-x64, 3 packages, no git repository`);

    const expected = execFileSync(
      'dpkg-query',
      [`--admindir=${root}/var/lib/dpkg`, '-W', '-f', '${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\n'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .split('\n')
      .filter((l) => l.startsWith('installed\t'))
      .map((l) => l.split('\t').slice(1).join(' '))
      .sort();
    expect(expected).toHaveLength(3);
    expect(rec.packages.list.map((p) => `${p.name} ${p.version} ${p.arch}`).sort()).toEqual(expected);
    expect(rec.packages).toMatchObject({ database: 'dpkg', count: 3 });

    expect(rec.system).toEqual({
      distribution: 'debian-12-x64',
      id: 'debian',
      versionId: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      family: 'apt',
      kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    });
    expect(rec.project).toEqual({
      name: 'Acme Test',
      slug: 'acme-test',
      version: '1.2.3',
      variables: { APP_VERSION: '4.5.6' },
      secrets: ['ADMIN_PASSWORD', 'DB_PASSWORD'],
      buildSecrets: [],
      git: null,
    });
    expect(rec.generator.name).toBe('generator-mpimg');
    expect(rec.generator.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(rec.build).toMatchObject({ host: sshd.host, root, dropletId: null, steps: [], freshen: null, check: null });
    expect(rec.base).toEqual({ image: 'debian-12-x64', imageId: null });
    expect(rec.snapshot).toBeNull();

    const sbom = readFileSync(join(plain.dir, 'images', ids[0], 'sbom.cdx.json'), 'utf8');
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(sbom)).toBeNull();
    expect(sbom).toContain('"purl": "pkg:deb/debian/libcap2@1%3A2.66-4?arch=amd64&distro=debian-12"');
    expect(sbom).toContain('"purl": "pkg:deb/debian/nano@7.2-1%2Bdeb12u1?arch=amd64&distro=debian-12"');
    expect(sbom).not.toContain('oldtool');
    rmSync(join(plain.dir, 'images'), { recursive: true });
  });

  it('two builds of the same image each keep their own record', async () => {
    const root = newRoot();
    expect((await runTask('record', root, plain)).code).toBe(0);
    const [first] = recordDirs(plain);
    const before = readFileSync(join(plain.dir, 'images', first, 'record.json'), 'utf8');
    // the second build sees one more package
    writeFileSync(
      join(root, 'var/lib/dpkg/status'),
      `${STATUS}Package: curl\nStatus: install ok installed\nMaintainer: D <d@example.org>\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u8\nDescription: url tool\n\n`,
    );
    expect((await runTask('record', root, plain)).code).toBe(0);
    const ids = recordDirs(plain);
    expect(ids).toHaveLength(2);
    expect(readFileSync(join(plain.dir, 'images', first, 'record.json'), 'utf8')).toBe(before);
    const second = readRecord(
      plain,
      ids.find((i) => i !== first)!,
    );
    expect(second.packages.count).toBe(4);
    expect(second.id).not.toBe(first);
    rmSync(join(plain.dir, 'images'), { recursive: true });
  });

  it('a records folder that is a file, or a link out of the project, is a clear error that changes nothing', async () => {
    const root = newRoot();
    writeFileSync(join(plain.dir, 'images'), 'not a folder\n');
    const r = await runTask('record', root, plain);
    expect(r.code).toBe(1);
    expect(r.err).toContain('error: cannot write the build record: images in the project is not a folder');
    expect(r.err).toMatch(/fix: move that file away/);
    expect(readFileSync(join(plain.dir, 'images'), 'utf8')).toBe('not a folder\n');
    rmSync(join(plain.dir, 'images'));

    const outside = temp('mpimg-record-outside-');
    symlinkSync(outside, join(plain.dir, 'images'));
    const l = await runTask('record', root, plain);
    expect(l.code).toBe(1);
    expect(l.err).toContain('error: cannot write the build record:');
    expect(l.err).toContain(outside);
    expect(readdirSync(outside)).toEqual([]);
    rmSync(join(plain.dir, 'images'));
  });

  it('names the commit of a git project and whether its tree was dirty (the records folder aside)', async () => {
    const p = await makeFixtureProject();
    temps.push(p.dir);
    // as a generated project ignores them, but not images/ (some keep their records in git)
    writeFileSync(join(p.dir, '.gitignore'), 'node_modules/\ndist/\n');
    git(p.dir, 'init', '-q');
    git(p.dir, 'add', '-A');
    git(p.dir, 'commit', '-qm', 'initial');
    const head = git(p.dir, 'rev-parse', 'HEAD');
    const root = newRoot();
    expect((await runTask('record', root, p)).code).toBe(0);
    // its own record (images/, not ignored here) does not make the next build dirty
    expect((await runTask('record', root, p)).code).toBe(0);
    writeFileSync(join(p.dir, 'motd.txt'), 'changed\n');
    const r = await runTask('record', root, p);
    expect(r.code, r.err).toBe(0);
    const [a, b, c] = recordDirs(p).map((id) => readRecord(p, id).project.git);
    expect(a).toEqual({ commit: head, dirty: false });
    expect(b).toEqual({ commit: head, dirty: false });
    expect(c).toEqual({ commit: head, dirty: true });
    expect(r.err).toContain(`commit ${head.slice(0, 12)} (dirty)`);
  });

  it('after a whole build: the step timings, when the review-day upgrade ran, the check counts', async () => {
    const p = await makeFixtureProject();
    temps.push(p.dir);
    // the project's check prints the Summary line of the real check
    const check = join(p.dir, 'scripts/99-img-check.sh');
    writeFileSync(
      check,
      readFileSync(check, 'utf8').replace(
        'echo "0 failures"',
        'echo "Summary: 7 passed, 2 warnings, 0 failed, 1 skipped"',
      ),
    );
    const r = await runTask('build', newRoot(), p);
    expect(r.code, r.err).toBe(0);
    const [id] = recordDirs(p);
    const rec = readRecord(p, id);
    expect(rec.build.steps.map((s) => s.name)).toEqual(buildOrder().filter((n) => n !== 'record'));
    expect(rec.build.steps.every((s) => s.ok && s.ms >= 0 && !Number.isNaN(Date.parse(s.startedAt!)))).toBe(true);
    const freshen = rec.build.steps.find((s) => s.name === 'freshen')!;
    expect(rec.build.freshen).toEqual({ startedAt: freshen.startedAt, ms: freshen.ms });
    expect(Date.parse(rec.build.freshen!.startedAt!)).toBeLessThan(
      Date.parse(rec.build.steps.find((s) => s.name === 'cleanup')!.startedAt!) + 1,
    );
    expect(rec.build.check).toEqual({ pass: 7, warn: 2, fail: 0, skip: 1 });
    expect(Date.parse(rec.build.startedAt)).toBeLessThanOrEqual(Date.parse(rec.build.steps[0].startedAt!));
    expect(r.out).toContain('[freshen] freshen: MPIMG_SKIP_PACKAGES=1: not upgrading');
  });

  it('a build that fails its check writes no record', async () => {
    const p = await makeFixtureProject();
    temps.push(p.dir);
    const root = newRoot();
    writeFileSync(join(root, 'fail-marker'), '');
    const r = await runTask('build', root, p);
    expect(r.code).toBe(1);
    expect(recordDirs(p)).toEqual([]);
  });
});
