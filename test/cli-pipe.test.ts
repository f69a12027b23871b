import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

it('`mpimg upgrade | head -1` still writes every file it records (a closed pipe only drops the output)', () => {
  const dir = path.join(tempDir('mpimg-pipe-'), 'p');
  const made = spawnSync(
    process.execPath,
    [path.join(root, 'bin/mpimg.js'), 'new', dir, '--yes', '--name', 'Pipe Test', '--link'],
    { encoding: 'utf8', input: '' },
  );
  expect(made.status, made.stderr).toBe(0);
  // A project from before the workflow existed: neither the file nor its record.
  const wf = '.github/workflows/image.yml';
  fs.rmSync(path.join(dir, '.github'), { recursive: true });
  const rc = JSON.parse(fs.readFileSync(path.join(dir, '.yo-rc.json'), 'utf8'));
  const key = Object.keys(rc)[0];
  delete rc[key].generated[wf];
  fs.writeFileSync(path.join(dir, '.yo-rc.json'), `${JSON.stringify(rc, null, 2)}\n`);
  const r = spawnSync(
    'sh',
    ['-c', `"${process.execPath}" "${path.join(root, 'bin/mpimg.js')}" upgrade 2>&1 | head -c 1; sleep 1`],
    { cwd: dir, encoding: 'utf8' },
  );
  expect(r.status).toBe(0);
  expect(fs.existsSync(path.join(dir, wf))).toBe(true);
  const after = JSON.parse(fs.readFileSync(path.join(dir, '.yo-rc.json'), 'utf8'));
  expect(Object.keys(after[key].generated)).toContain(wf);
});
