import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_FILES } from '../../core/files.js';
import { REPO } from './support.js';

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

describe('templates/', () => {
  it('no file contains a CR byte (droplet scripts must be LF only)', () => {
    const root = join(REPO, 'templates');
    const all = files(root);
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((f) => readFileSync(join(root, f)).includes(13))).toEqual([]);
  });

  it('every entry of the skeleton list exists, and every project template is listed or used by a sub-generator', () => {
    const root = join(REPO, 'templates', 'project');
    const listed = new Set(PROJECT_FILES.map((f) => f.template));
    const subOnly = ['first-boot/script.sh.ejs'];
    expect([...listed].filter((t) => !files(root).includes(t))).toEqual([]);
    expect(files(root).filter((t) => !listed.has(t) && !subOnly.includes(t))).toEqual([]);
  });
});
