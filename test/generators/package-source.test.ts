/**
 * generator-mpimg is not on the npm registry yet: the `npm install` that `mpimg new`'s next steps,
 * the Makefile and the generated README point at must still work, and so must `npm ci` in the
 * generated workflow, from the lock file the vendor commits. A new project gets a copy of the
 * package in vendor/ and names it relatively.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, removeDir, tempDir } from './support.js';

const parent = tempDir('mpimg-source-');
afterAll(() => removeDir(parent));

const mpimg = (args: string[], cwd: string) =>
  spawnSync('sh', ['-c', 'exec "$0" "$@" 0<&-', process.execPath, join(REPO, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
  });
const npm = (args: string[], cwd: string) =>
  spawnSync('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund'], { cwd, encoding: 'utf8' });
const pkgOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

describe('how a new project gets generator-mpimg', () => {
  it('by default a copy in vendor/: npm install works, the lock file names it relatively, and a clone of the project installs with npm ci', () => {
    const r = mpimg(['new', 'vendored', '--yes'], parent);
    expect(r.status, r.stderr).toBe(0);
    const dir = join(parent, 'vendored');
    expect(pkgOf(dir).devDependencies['generator-mpimg']).toBe('file:vendor/generator-mpimg-0.1.0.tgz');
    expect(r.stdout).toContain('npm install');
    const install = npm(['install'], dir);
    expect(install.status, install.stderr).toBe(0);
    const lock = readFileSync(join(dir, 'package-lock.json'), 'utf8');
    expect(lock).toContain('"resolved": "file:vendor/generator-mpimg-0.1.0.tgz"');
    expect(lock).not.toContain(parent);
    // what an image project installs is light: generator-mpimg and ejs's few
    expect(readdirSync(join(dir, 'node_modules')).filter((n) => !n.startsWith('.')).length).toBeLessThanOrEqual(25);
    const make = spawnSync('make', ['-s', 'validate', 'bundle'], { cwd: dir, encoding: 'utf8' });
    expect(make.status, make.stderr).toBe(0);

    // CI: a clone of the repository (no node_modules), `npm ci` from the committed lock file
    const clone = join(parent, 'clone');
    cpSync(dir, clone, { recursive: true, filter: (p) => !/\/(node_modules|dist)(\/|$)/.test(p.slice(dir.length)) });
    const ci = npm(['ci'], clone);
    expect(ci.status, ci.stderr).toBe(0);
    expect(existsSync(join(clone, 'node_modules/.bin/mpimg'))).toBe(true);
  });

  it('--package with a packed .tgz or a clone folder copies it into vendor/; an npm spec stays as given', () => {
    const packs = tempDir('mpimg-packs-');
    try {
      execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', packs], { cwd: REPO });
      const tgz = readdirSync(packs).find((f) => f.endsWith('.tgz'))!;
      const a = mpimg(['new', 'from-tgz', '--yes', '--package', join(packs, tgz)], parent);
      expect(a.status, a.stderr).toBe(0);
      const dirA = join(parent, 'from-tgz');
      expect(pkgOf(dirA).devDependencies['generator-mpimg']).toBe(`file:vendor/${tgz}`);
      expect(readFileSync(join(dirA, 'vendor', tgz)).equals(readFileSync(join(packs, tgz)))).toBe(true);
      // a relative path is the caller's, as npm reads it
      const b = mpimg(['new', 'from-clone', '--yes', '--package', REPO], parent);
      expect(b.status, b.stderr).toBe(0);
      expect(pkgOf(join(parent, 'from-clone')).devDependencies['generator-mpimg']).toBe(
        'file:vendor/generator-mpimg-0.1.0.tgz',
      );
      // a newer copy replaces the older one in vendor/
      const newer = join(packs, 'generator-mpimg-0.1.1.tgz');
      writeFileSync(newer, readFileSync(join(packs, tgz)));
      expect(mpimg(['new', '.', '--package', newer], dirA).status).toBe(0);
      expect(readdirSync(join(dirA, 'vendor'))).toEqual(['generator-mpimg-0.1.1.tgz']);
      const spec = mpimg(['new', 'by-spec', '--yes', '--package', 'github:acme/generator-mpimg#v0.1.0'], parent);
      expect(spec.status, spec.stderr).toBe(0);
      expect(pkgOf(join(parent, 'by-spec')).devDependencies['generator-mpimg']).toBe(
        'github:acme/generator-mpimg#v0.1.0',
      );
      expect(existsSync(join(parent, 'by-spec/vendor'))).toBe(false);
      const notPkg = join(packs, 'notes.txt');
      writeFileSync(notPkg, 'x');
      const bad = mpimg(['new', 'bad-pkg', '--yes', '--package', notPkg], parent);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('notes.txt is not a package tarball');
      expect(existsSync(join(parent, 'bad-pkg'))).toBe(false);
    } finally {
      rmSync(packs, { recursive: true, force: true });
    }
  });
});
