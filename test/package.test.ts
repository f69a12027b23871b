import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEnv } from 'yeoman-environment';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('the published package', () => {
  it('ships the compiled generators, CLI, runtime bundle and templates, and no TypeScript sources', () => {
    const [{ files }] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
    const names: string[] = files.map((f: { path: string }) => f.path);
    for (const f of ['bin/mpimg.js', 'lib/tasks/cli.js', 'lib/tasks/index.js', 'lib/generators/app/index.js', 'lib/runtime/mpimg-runtime.cjs', 'templates/project/gitignore', 'templates/droplet/lib.sh.ejs']) {
      expect(names).toContain(f);
    }
    expect(names.filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts'))).toEqual([]);
    expect(names.filter((n) => n.includes('test'))).toEqual([]);
    // exports and bin point at files that are shipped
    for (const target of [...Object.values(pkg.exports as Record<string, string>), ...Object.values(pkg.bin as Record<string, string>)]) {
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
    expect(Object.keys(env.getGeneratorsMeta()).sort()).toEqual(['mpimg:app', 'mpimg:first-boot', 'mpimg:first-login', 'mpimg:motd']);
  });
});
