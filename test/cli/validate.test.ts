// `mpimg validate`: a dist/ older than the project is a warning that says what to run (an error with
// --strict, for CI); --json prints problems and warnings as data; every warning says "warning:" once.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { withoutOldPacker } from '../helpers/old-packer.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const mpimg = (args: string[], cwd: string) =>
  spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

function editManifest(dir: string, change: (m: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'mpimg.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  change(m);
  fs.writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`);
}

const STALE_DIST =
  'warning: dist/: 4 file(s) bundled before the last change to the project (or to generator-mpimg): acme-wiki.cjs, acme-wiki-install.sh, acme-wiki-build.sh, acme-wiki.pkr.hcl\n' +
  '  fix: run `make bundle` (or `mpimg bundle`) to write them again\n';

describe('mpimg validate after an edit of mpimg.json, before the next bundle', () => {
  it('passes with a warning that says to bundle again (exit 0), and names no file as wrong', () => {
    const dir = makeProject();
    expect(mpimg(['bundle'], dir).status).toBe(0);
    editManifest(dir, (m) => {
      m.version = '1.2.4';
    });
    const r = mpimg(['validate'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(STALE_DIST);
    expect(r.stderr).not.toMatch(/^error:|where: .*mpimg\.json/m);
    expect(r.stdout).toMatch(
      /mpimg\.json: ok \(2 first-boot script\(s\), 3 file\(s\), \d+ install operations\); \d+ warning\(s\)\n$/,
    );
    // bundling again clears it
    expect(mpimg(['bundle'], dir).status).toBe(0);
    const again = mpimg(['validate'], dir);
    expect(withoutOldPacker(again.stderr).text).not.toContain('dist/');
  });

  it('--strict (CI): the same files are an error, exit 1, with what to run', () => {
    const dir = makeProject();
    expect(mpimg(['bundle'], dir).status).toBe(0);
    expect(mpimg(['validate', '--strict'], dir).status).toBe(0);
    editManifest(dir, (m) => {
      m.name = 'Acme Wiki Pro';
    });
    const r = mpimg(['validate', '--strict'], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      'error: 4 generated file(s) no longer follow the project (--strict makes this an error):\n' +
        '  dist/: 4 file(s) bundled before the last change to the project (or to generator-mpimg): acme-wiki.cjs, acme-wiki-install.sh, acme-wiki-build.sh, acme-wiki.pkr.hcl\n' +
        '    fix: run `make bundle` (or `mpimg bundle`) to write them again\n',
    );
    // a dist/ that lacks a file an older release did not write: missing, not "older"
    expect(mpimg(['bundle'], dir).status).toBe(0);
    fs.rmSync(path.join(dir, 'dist/acme-wiki-build.sh'));
    expect(mpimg(['validate', '--strict'], dir).stderr).toContain(
      'dist/: 1 file(s) missing: dist/ is from an older release: acme-wiki-build.sh\n',
    );
  });

  it('from another folder the fix names the project: make -C DIR, or --project DIR', () => {
    const top = tempDir('mpimg-val-');
    const dir = makeProject({ dir: path.join(top, 'my images', 'web') });
    expect(mpimg(['bundle', '--project', dir], top).status).toBe(0);
    editManifest(dir, (m) => {
      m.version = '2.0.0';
    });
    const r = mpimg(['validate', '--project', 'my images/web'], top);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      "  fix: run `make -C 'my images/web' bundle` (or `mpimg bundle --project 'my images/web'`) to write them again\n",
    );
  });
});

describe('mpimg validate --json', () => {
  it('a good project: ok, no problems, warnings as {path, message, hint}, nothing on stderr', () => {
    const dir = makeProject();
    fs.writeFileSync(path.join(dir, 'first-boot/30-db.sh'), '#!/bin/sh\nrm -rf $DIR/*\n', { mode: 0o755 });
    expect(mpimg(['bundle'], dir).status).toBe(0);
    editManifest(dir, (m) => {
      m.version = '1.2.4';
    });
    const r = mpimg(['validate', '--json'], dir);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      ok: true,
      project: fs.realpathSync(dir) === dir ? dir : expect.any(String),
      problems: [],
      summary: { firstBootScripts: 3, files: 3 },
    });
    expect(j.warnings).toContainEqual({
      path: expect.stringMatching(/^first-boot\/30-db\.sh:2:\d+$/),
      message: expect.stringMatching(/\[SC2115\]$/),
    });
    expect(j.warnings).toContainEqual({
      path: 'dist/',
      message: expect.stringContaining('4 file(s) bundled before the last change'),
      hint: 'run `make bundle` (or `mpimg bundle`) to write them again',
    });
    expect(j.stale.map((s: { path: string }) => s.path)).toEqual([
      'dist/acme-wiki.cjs',
      'dist/acme-wiki-install.sh',
      'dist/acme-wiki-build.sh',
      'dist/acme-wiki.pkr.hcl',
    ]);
    // --strict moves the stale files to the problems
    const strict = mpimg(['validate', '--json', '--strict'], dir);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toBe('');
    expect(JSON.parse(strict.stdout)).toMatchObject({ ok: false, problems: [{ path: 'dist/' }] });
  });

  it('a broken project: ok false, every problem with its path and fix, exit 1, nothing written', () => {
    const dir = makeProject();
    editManifest(dir, (m) => {
      m.slug = 'Bad';
      m.colour = 'blue';
      m.distributions = 'debian-12-x64';
    });
    const r = mpimg(['validate', '--json'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.summary).toBe(null);
    expect(j.problems.map((p: { path: string }) => p.path).sort()).toEqual(['$.colour', '$.distributions', '$.slug']);
    for (const p of j.problems) expect(Object.keys(p).sort()).toEqual(['hint', 'message', 'path']);
    expect(fs.existsSync(path.join(dir, 'dist'))).toBe(false);

    const none = mpimg(['validate', '--json'], tempDir('mpimg-none-'));
    expect(none.status).toBe(1);
    expect(JSON.parse(none.stdout)).toMatchObject({
      ok: false,
      problems: [{ path: 'mpimg.json', message: 'no mpimg.json in this folder' }],
    });
    const syntax = makeProject();
    fs.writeFileSync(path.join(syntax, 'mpimg.json'), '{\n  "name": "x",\n}\n');
    expect(JSON.parse(mpimg(['validate', '--json'], syntax).stdout).problems[0]).toMatchObject({
      path: 'mpimg.json:3:1',
      message: expect.stringContaining('not valid JSON'),
    });
  });
});

describe('warnings and messages read right', () => {
  it('a shellcheck finding says "warning:" once, with file:line:column', () => {
    const dir = makeProject();
    fs.writeFileSync(path.join(dir, 'first-boot/30-db.sh'), '#!/bin/sh\nrm -rf $DIR/*\n', { mode: 0o755 });
    for (const cmd of ['validate', 'bundle']) {
      const r = mpimg([cmd], dir);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^warning: first-boot\/30-db\.sh:2:\d+: Use "\$\{var:\?\}" .*\[SC2115\]$/m);
      expect(r.stderr).not.toMatch(/warning:.*warning:/);
    }
  });

  it('a value of the wrong type is "an array", "an object", "a string": never "a array"', () => {
    const dir = makeProject();
    editManifest(dir, (m) => {
      m.distributions = 'debian-12-x64';
      m.droplet = 'fra1';
      m.name = 7;
    });
    const r = mpimg(['validate'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('$.distributions: must be array, got string\n    fix: change it to an array\n');
    expect(r.stderr).toContain('$.droplet: must be object, got string\n    fix: change it to an object\n');
    expect(r.stderr).toContain('$.name: must be string, got integer\n    fix: change it to a string\n');
    expect(r.stderr).not.toMatch(/\ba (array|object|integer)\b/);
  });
});
