import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEnv } from 'yeoman-environment';
import { gunzipSync } from 'node:zlib';
import { packDirectory } from '../core/package-source.js';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('the published package', () => {
  it('ships the compiled generators, CLI, runtime bundle and templates, and no TypeScript sources', () => {
    const [{ files }] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
    );
    const names: string[] = files.map((f: { path: string }) => f.path);
    for (const f of [
      'bin/mpimg.js',
      'lib/tasks/cli.js',
      'lib/tasks/library.js',
      'lib/generators/app/index.js',
      'lib/core/app-project.js',
      'lib/core/manifest-file.js',
      'lib/runtime/mpimg-runtime.cjs',
      'templates/project/gitignore',
      'templates/droplet/lib.sh.ejs',
    ]) {
      expect(names).toContain(f);
    }
    expect(names.filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts'))).toEqual([]);
    // no test files or test folders (a module may have "test" in its name: steps/configtest)
    expect(names.filter((n) => /(^|\/)(test|tests|__tests__)\/|\.test\./.test(n))).toEqual([]);
    // exports and bin point at files that are shipped
    for (const target of [
      ...Object.values(pkg.exports as Record<string, string>),
      ...Object.values(pkg.bin as Record<string, string>),
    ]) {
      expect(names).toContain(target.replace(/^\.\//, ''));
    }
    const bin = names.find((n) => n === 'bin/mpimg.js');
    expect(files.find((f: { path: string; mode: number }) => f.path === bin).mode & 0o111).not.toBe(0);
  });

  it('installed as node_modules/generator-mpimg, yo finds mpimg:app and its sub-generators', async () => {
    const dir = tempDir('mpimg-pack-');
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: root });
    const tgz = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    fs.mkdirSync(path.join(dir, 'node_modules'));
    execFileSync('tar', ['xzf', tgz], { cwd: dir });
    fs.renameSync(path.join(dir, 'package'), path.join(dir, 'node_modules/generator-mpimg'));
    const env = createEnv();
    await env.lookup({ packagePaths: [path.join(dir, 'node_modules/generator-mpimg')] });
    expect(Object.keys(env.getGeneratorsMeta()).sort()).toEqual([
      'mpimg:app',
      'mpimg:first-boot',
      'mpimg:first-login',
      'mpimg:motd',
    ]);
  });

  it('installed from a clone (`npm install -g <clone>` links the folder), yo lists only the four real generators', async () => {
    // the clone's own tasks/ once showed up as a broken `mpimg:tasks` in `yo --generators`
    const global = path.join(tempDir('mpimg-global-'), 'node_modules');
    fs.mkdirSync(global);
    fs.symlinkSync(root, path.join(global, 'generator-mpimg'));
    const env = createEnv();
    await env.lookup({ packagePaths: [path.join(global, 'generator-mpimg')] });
    expect(Object.keys(env.getGeneratorsMeta()).sort()).toEqual([
      'mpimg:app',
      'mpimg:first-boot',
      'mpimg:first-login',
      'mpimg:motd',
    ]);
    for (const meta of Object.values(env.getGeneratorsMeta()))
      expect(meta.resolved).toMatch(/\/lib\/generators\/[a-z-]+\/index\.js$/);
  });

  it('what an image project installs is light: generator-mpimg needs ejs only (Yeoman is for `yo mpimg`, an optional peer)', () => {
    expect(Object.keys(pkg.dependencies)).toEqual(['ejs']);
    expect(pkg.peerDependenciesMeta['yeoman-generator']).toEqual({ optional: true });
    // nothing `mpimg` runs in a project loads Yeoman: only the yo entry points import it
    const imports = execFileSync(
      'grep',
      ['-rlE', "from 'yeoman-(generator|environment)'", 'core', 'tasks', 'generators', 'runtime'],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    expect(imports.split('\n').filter(Boolean).sort()).toEqual(['generators/app/index.ts', 'generators/lib/sub.ts']);
  });

  it('the copy `mpimg new` puts into vendor/ holds exactly the files `npm pack` ships, and the same bytes every time', () => {
    const [{ files }] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
    );
    const tgz = packDirectory(root);
    expect(packDirectory(root).equals(tgz)).toBe(true);
    const tar = gunzipSync(tgz);
    const names: string[] = [];
    for (let off = 0; off + 512 <= tar.length;) {
      const h = tar.subarray(off, off + 512);
      if (h.every((b) => b === 0)) break;
      const str = (a: number, n: number) =>
        h
          .subarray(a, a + n)
          .toString('utf8')
          .replace(/\0.*$/s, '');
      const prefix = str(345, 155);
      names.push(`${prefix ? `${prefix}/` : ''}${str(0, 100)}`);
      const size = parseInt(str(124, 12), 8);
      off += 512 + Math.ceil(size / 512) * 512;
    }
    expect(names.map((n) => n.replace(/^package\//, '')).sort()).toEqual(
      files.map((f: { path: string }) => f.path).sort(),
    );
  });
});
