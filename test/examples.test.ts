import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/temp.js';
import { withoutOldPacker } from './helpers/old-packer.js';

// The examples are projects a vendor would have made with this release: when a template or a rule
// changes, they must be regenerated (`mpimg upgrade`) in the same change. The e2e suite builds and
// boots them; this catches a stale example in seconds, without the bed.
const root = fileURLToPath(new URL('..', import.meta.url));
const examples = path.join(root, 'examples');
const names = fs.readdirSync(examples).filter((d) => fs.existsSync(path.join(examples, d, 'mpimg.json')));

const mpimg = (args: string[], cwd: string) =>
  spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** A copy as a fresh clone has it: no node_modules, no dist. */
function copyOf(name: string): string {
  const dir = path.join(tempDir('mpimg-example-'), name);
  fs.cpSync(path.join(examples, name), dir, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (p) => !['node_modules', 'dist'].includes(path.relative(path.join(examples, name), p).split(path.sep)[0]),
  });
  return dir;
}

describe('examples/', () => {
  it('holds the catalog-style projects', () => {
    expect(names.sort()).toEqual(['compose', 'django', 'lamp', 'lemp', 'redis', 'static-https', 'webapp']);
  });

  for (const name of names) {
    it(`examples/${name}: validates with this release (no generated file stale), bundles, and its scripts pass sh -n`, () => {
      const dir = copyOf(name);
      const v = mpimg(['validate'], dir);
      // the example itself must cause no warning (this machine's old packer is not the example's)
      expect(withoutOldPacker(v.stderr).text).toBe('');
      expect(v.status).toBe(0);
      const b = mpimg(['bundle'], dir);
      expect(b.status, b.stderr).toBe(0);
      const slug = JSON.parse(fs.readFileSync(path.join(dir, 'mpimg.json'), 'utf8')).slug;
      for (const f of [`${slug}-install.sh`, `${slug}-build.sh`]) {
        const sh = spawnSync('sh', ['-n', path.join(dir, 'dist', f)], { encoding: 'utf8' });
        expect(sh.status, `${f}: ${sh.stderr}`).toBe(0);
      }
    });

    it(`examples/${name}: its Makefile runs \`make validate bundle\` with the project's own mpimg (examples/lamp's was once emptied unnoticed)`, () => {
      const dir = copyOf(name);
      // as `npm install` (or `mpimg new --link`) leaves it: node_modules/.bin/mpimg of this checkout
      fs.mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
      fs.symlinkSync(root, path.join(dir, 'node_modules/generator-mpimg'));
      fs.symlinkSync('../generator-mpimg/bin/mpimg.js', path.join(dir, 'node_modules/.bin/mpimg'));
      const make = spawnSync('make', ['--no-print-directory', 'validate', 'bundle'], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: dir },
      });
      expect(withoutOldPacker(make.stderr).text).toBe('');
      expect(make.status).toBe(0);
      expect(make.stdout).toMatch(/mpimg\.json: ok/);
      const slug = JSON.parse(fs.readFileSync(path.join(dir, 'mpimg.json'), 'utf8')).slug;
      for (const f of [`${slug}.cjs`, `${slug}-install.sh`, `${slug}-build.sh`, `${slug}.pkr.hcl`])
        expect(fs.existsSync(path.join(dir, 'dist', f)), f).toBe(true);
    });
  }
});
