import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const shBlocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].trim());

describe('README', () => {
  it('keeps the two commands: the main job first, the tests second, and .ci/run runs the latter', () => {
    expect(shBlocks[0]).toMatch(/^npm ci && npm run build && node bin\/mpimg\.js new \S+ --yes/);
    expect(shBlocks[1]).toBe('npm run lint && npm test && npm run test:e2e');
    const ci = fs.readFileSync(path.join(root, '.ci/run'), 'utf8');
    expect(ci.trimEnd().split('\n').pop()).toBe(shBlocks[1]);
  });

  it('main job: scaffolds a project non-interactively, as root, and builds its bundle', () => {
    // `npm ci && npm run build` already ran for this suite (global setup); the rest runs as written.
    const target = path.join(tempDir('mpimg-readme-'), 'acme-wiki');
    const rest = shBlocks[0].replace(/^npm ci && npm run build && /, '').replaceAll('/tmp/acme-wiki', target);
    const r = spawnSync('bash', ['-c', rest], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.status, r.stderr).toBe(0);
    const cjs = path.join(target, 'dist/acme-wiki.cjs');
    expect(fs.statSync(cjs).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(target, 'dist/acme-wiki-install.sh')).mode & 0o777).toBe(0o755);
    // The paragraph after the command names every file `make bundle` wrote, no fewer.
    const after = readme.slice(readme.indexOf(shBlocks[0]) + shBlocks[0].length).split('\n\n')[1];
    const named = [...after.matchAll(/`(?:\/tmp\/acme-wiki\/)?dist\/([^`/]+)`/g)].map((m) => m[1]).sort();
    expect(named).toEqual(
      fs
        .readdirSync(path.join(target, 'dist'))
        .filter((f) => fs.statSync(path.join(target, 'dist', f)).isFile())
        .sort(),
    );
    const plan = spawnSync(process.execPath, [cjs, 'plan'], { encoding: 'utf8' });
    expect(plan.stdout).toContain('/var/lib/cloud/scripts/per-instance/10-acme-wiki-setup');
  });
});
