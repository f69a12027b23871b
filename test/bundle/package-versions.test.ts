/**
 * build.packages entries with versions: name=version with apt/dnf globs and {{VARIABLE}}s of
 * $.variables, checked at validate time at their $.path, filled in at bundle time, and handed to
 * the package manager as exactly one argument each (the Packer template's own command, run by sh
 * with a stand-in apt-get/dnf on PATH that records its argv); shell characters are refused.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { validateManifest, type Manifest } from '../../runtime/manifest.js';
import { packageArgument } from '../../runtime/sections/build.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';

const BASE = MINIMAL_MANIFEST;
const problems = (packages: unknown, variables: unknown = { DJANGO_VERSION: '4.2.*' }) =>
  validateManifest({ ...BASE, variables, build: { packages } }).problems.filter((p) =>
    p.path.startsWith('$.build.packages'),
  );

describe('$.build.packages entries', () => {
  it('takes names, name=version with globs, epochs and Debian revisions, and {{VARIABLE}}s of $.variables', () => {
    expect(
      problems([
        'nginx',
        'nginx=1.24.*',
        'nginx=1.22.1-9+deb12u1',
        'libc6=2:2.36-9~bpo?',
        'python3-django={{DJANGO_VERSION}}',
        'python3-django={{DJANGO_VERSION}}-1',
        'g++',
      ]),
    ).toEqual([]);
    expect(problems({ all: ['nginx=1.24.*'], dnf: ['nginx=1:1.24*'] })).toEqual([]);
  });

  it("refuses shell characters, spaces and brackets at the entry's $.path, with the fix", () => {
    for (const bad of [
      'nginx=1.24; rm -rf /',
      'nginx 1.24',
      'nginx=$(id)',
      'nginx=`id`',
      'nginx=1|x',
      'nginx=[1]',
      "nginx='1'",
      'nginx=1\nx',
      'nginx=1&',
      'nginx>1',
      '-nginx',
      'nginx={{lower}}',
      'nginx={{DJANGO_VERSION}',
    ]) {
      const p = problems(['nginx', bad]);
      expect(p.length, bad).toBeGreaterThan(0);
      expect(p[0].path, bad).toBe('$.build.packages[1]');
      expect(p[0].hint, bad).toBeTruthy();
    }
    expect(problems(['nginx=1.24; x'])[0].message).toBe('bad package entry "nginx=1.24; x"');
    expect(problems(['nginx=1.24; x'])[0].hint).toMatch(/"nginx=1\.24\.\*", "python3-django=\{\{DJANGO_VERSION\}\}"/);
  });

  it('an unknown variable, or a default that is no version, is a validate error naming the entry', () => {
    expect(problems({ apt: ['nginx', 'python3-django={{DJANGO_VER}}'] })).toEqual([
      {
        path: '$.build.packages.apt[1]',
        message: '{{DJANGO_VER}} in package entry "python3-django={{DJANGO_VER}}" is not a variable of $.variables',
        hint: 'add "DJANGO_VER" to "variables" in mpimg.json (e.g. "DJANGO_VER": "1.0.*"), or write the version itself',
      },
    ]);
    expect(problems(['python3-django={{DJANGO_VERSION}}'], {})[0].path).toBe('$.build.packages[0]');
    const p = problems(['python3-django={{DJANGO_VERSION}}'], { DJANGO_VERSION: { default: '4.2 $(id)' } });
    expect(p).toHaveLength(1);
    expect(p[0].message).toBe(
      'the default of DJANGO_VERSION ("4.2 $(id)") is no package version, so package entry "python3-django={{DJANGO_VERSION}}" cannot be installed',
    );
  });

  it('the argument the package manager gets: variables filled in; name-version on the dnf family', () => {
    const vars = { DJANGO_VERSION: '4.2.*' };
    expect(packageArgument('python3-django={{DJANGO_VERSION}}', vars, 'apt')).toBe('python3-django=4.2.*');
    expect(packageArgument('python3-django={{DJANGO_VERSION}}', vars, 'dnf')).toBe('python3-django-4.2.*');
    expect(packageArgument('nginx', vars, 'dnf')).toBe('nginx');
    expect(() => packageArgument('x={{NOPE}}', vars, 'apt')).toThrow(/\{\{NOPE\}\} is not a variable of \$\.variables/);
    expect(() => packageArgument('x={{V}}', { V: '1;id' }, 'apt')).toThrow(
      /the value of V \("1;id"\) is no package version/,
    );
  });
});

/** The install command of the Packer template's packages step, as sh gets it (HCL string unquoted). */
function packerInstallCommand(packer: string): string {
  const text = readFileSync(packer, 'utf8');
  const m = /# step packages: .*\n(?: .*\n)*? {6}("(?:[^"\\]|\\.)*"),?\n/.exec(text);
  if (!m) throw new Error(`no packages step in ${packer}`);
  return JSON.parse(m[1].replaceAll('$${', '${')) as string;
}

/** Runs `command` with sh and stand-ins for apt-get and dnf that record each argument on a line. */
function runRecorded(command: string): string[] {
  const dir = tempDir('mpimg-pkg-argv-');
  mkdirSync(join(dir, 'bin'));
  for (const pm of ['apt-get', 'dnf']) {
    writeFileSync(join(dir, 'bin', pm), `#!/bin/sh\nprintf '%s\\n' "${pm}" "$@" > "${dir}/argv"\n`);
    chmodSync(join(dir, 'bin', pm), 0o755);
  }
  // a file a glob in an unquoted argument would match: it must stay a pattern for apt
  writeFileSync(join(dir, 'nginx=1.24.0'), '');
  const r = spawnSync('sh', ['-c', command], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: `${dir}/bin:/usr/bin:/bin` },
  });
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(join(dir, 'argv'), 'utf8').trimEnd().split('\n');
}

describe('versions and variables reach the package manager as one argument each', () => {
  const manifest = (distributions: string[], packages: string[]) =>
    ({ distributions, variables: { DJANGO_VERSION: '4.2.*' }, build: { packages } }) as Partial<Manifest>;

  it('apt (Packer path): the exact arguments, globs unexpanded, the variable of this build (--var over the default)', () => {
    const dir = makeProject({
      manifest: manifest(['debian-12-x64'], ['nginx=1.24.*', 'python3-django={{DJANGO_VERSION}}']),
    });
    const argv = runRecorded(packerInstallCommand(writeBundle(loadProject(dir)).packer));
    expect(argv.slice(-3)).toEqual(['install', 'nginx=1.24.*', 'python3-django=4.2.*']);
    expect(argv[0]).toBe('apt-get');
    const over = loadProject(dir, { overrides: { DJANGO_VERSION: '5.0.1-1' } });
    expect(runRecorded(packerInstallCommand(writeBundle(over).packer)).slice(-1)).toEqual(['python3-django=5.0.1-1']);
  });

  it('dnf (Packer path): name-version', () => {
    const dir = makeProject({
      manifest: manifest(['rockylinux-9-x64'], ['nginx=1:1.24*', 'python3-django={{DJANGO_VERSION}}']),
    });
    expect(runRecorded(packerInstallCommand(writeBundle(loadProject(dir)).packer))).toEqual([
      'dnf',
      '-y',
      'install',
      'nginx-1:1.24*',
      'python3-django-4.2.*',
    ]);
  });

  it('a --var value that is no version stops the bundle, naming the entry and the variable', () => {
    const dir = makeProject({ manifest: manifest(['debian-12-x64'], ['python3-django={{DJANGO_VERSION}}']) });
    expect(() => writeBundle(loadProject(dir, { overrides: { DJANGO_VERSION: '4.2 $(touch x)' } }))).toThrow(
      'build.packages entry "python3-django={{DJANGO_VERSION}}": the value of DJANGO_VERSION ("4.2 $(touch x)") is no package version',
    );
  });
});
