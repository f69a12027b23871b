/**
 * Attacks on the build records that `mpimg images`, `--latest-snapshot` (the weekly refresh's choice
 * of image, written by the workflow into $GITHUB_OUTPUT) and `mpimg release` read. The records of the
 * refresh come from a downloaded artifact: a record.json there is data, and one that is not a whole
 * record is named on stderr and left out, never printed as an image id, never a crash.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachSnapshot, writeRecord } from '../../tasks/record/store.js';
import { sampleRecord } from '../helpers/build-record.js';
import { images, projectsPerTest } from '../helpers/records-project.js';

const project = projectsPerTest('mpimg-b23-records-');

function put(dir: string, folder: string, record: unknown): void {
  mkdirSync(join(dir, 'images', folder), { recursive: true });
  writeFileSync(join(dir, 'images', folder, 'record.json'), JSON.stringify(record));
}

const GOOD = '20260301T100000Z-debian-12-x64-aaaaaa';

function good() {
  const r = sampleRecord({ id: GOOD, createdAt: '2026-03-01T10:00:00.000Z' });
  r.snapshot = { id: 170001, name: 'acme-wiki-1.2.0', at: '2026-03-01T10:20:00.000Z' };
  return r;
}

describe('records that are not whole records', () => {
  it('--latest-snapshot never prints a snapshot id that is no number (a line for $GITHUB_OUTPUT)', async () => {
    const dir = project();
    writeRecord(dir, good(), {});
    const id = '20260302T100000Z-debian-12-x64-bbbbbb';
    const bad = sampleRecord({ id, createdAt: '2026-03-02T10:00:00.000Z' });
    put(dir, id, { ...bad, snapshot: { id: '170002\nrebuild=yes', name: 'x', at: '2026-03-02T10:20:00.000Z' } });
    const r = await images(dir, '--latest-snapshot');
    expect(r.out).toBe('170001\n');
    expect(r.err).toContain(`warning: images/${id}/record.json:`);
    expect(r.code).toBe(0);
  });

  it('a record.json missing build and system is left out with a warning, not a TypeError', async () => {
    const dir = project();
    writeRecord(dir, good(), {});
    const id = '20260302T100000Z-debian-12-x64-cccccc';
    put(dir, id, { format: 1, id, createdAt: '2026-03-02T10:00:00.000Z', packages: { count: 1 }, snapshot: null });
    const list = await images(dir);
    expect(list.err).toContain(`warning: images/${id}/record.json:`);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain(GOOD);
    // The snapshot's lookup of the record of its droplet reads the same records.
    expect(() => attachSnapshot(dir, { id: 5, ip: '198.51.100.7' }, { id: 9, name: 'n' })).not.toThrow();
  });

  it('a record whose id is not its folder is left out (its id is printed and named in errors)', async () => {
    const dir = project();
    writeRecord(dir, good(), {});
    const folder = '20260302T100000Z-debian-12-x64-dddddd';
    const r = sampleRecord({ id: '\u001b[2J../../etc', createdAt: '2026-03-02T10:00:00.000Z' });
    put(dir, folder, r);
    const list = await images(dir);
    expect(list.out).not.toContain('\u001b');
    expect(list.err).toContain(`warning: images/${folder}/record.json:`);
  });

  it('a record.json that is a link is not followed (no file outside the project is read into a message)', async () => {
    const dir = project();
    const outside = mkdtempSync(join(tmpdir(), 'mpimg-b23-outside-'));
    try {
      writeFileSync(join(outside, 'secret'), 'TOPSECRET-b23-value\n');
      mkdirSync(join(dir, 'images', GOOD), { recursive: true });
      symlinkSync(join(outside, 'secret'), join(dir, 'images', GOOD, 'record.json'));
      const list = await images(dir);
      expect(list.err).not.toContain('TOPSECRET');
      expect(list.err).toContain(`warning: images/${GOOD}/record.json:`);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
