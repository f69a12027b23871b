/**
 * `mpimg images`: the project's build records, newest first, with their snapshot, distribution,
 * package count, commit (dirty marked) and check counts; --json; unreadable records named, not fatal.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecord } from '../../tasks/record/store.js';
import { sampleRecord } from '../helpers/build-record.js';
import { writeManifest } from '../do/support.js';
import { images, projectsPerTest } from '../helpers/records-project.js';

const project = projectsPerTest('mpimg-images-');

const COMMIT = '0123456789abcdef0123456789abcdef01234567';

describe('mpimg images', () => {
  it('lists the records newest first: when, snapshot, distribution, packages, commit (* dirty), check counts', async () => {
    const dir = project();
    const old = sampleRecord({
      id: '20260301T100000Z-debian-12-x64-aaaaaa',
      createdAt: '2026-03-01T10:00:00.000Z',
      packages: 412,
      git: { commit: COMMIT, dirty: false },
    });
    old.snapshot = { id: 170001, name: 'acme-wiki-1.2.0-20260301', at: '2026-03-01T10:20:00.000Z' };
    const dirty = sampleRecord({
      id: '20260303T100000Z-ubuntu-24-04-x64-bbbbbb',
      createdAt: '2026-03-03T10:00:00.000Z',
      distribution: 'ubuntu-24-04-x64',
      packages: 520,
      git: { commit: COMMIT, dirty: true },
    });
    const nogit = sampleRecord({
      id: '20260302T100000Z-debian-12-x64-cccccc',
      createdAt: '2026-03-02T10:00:00.000Z',
      packages: 3,
    });
    nogit.snapshot = { id: 170002, name: 'evil\u001b[2Jname', at: '2026-03-02T10:20:00.000Z' };
    for (const r of [old, dirty, nogit]) writeRecord(dir, r, {});

    const r = await images(dir);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^WHEN \(UTC\) +SNAPSHOT +DISTRIBUTION +PACKAGES +COMMIT +CHECK P\/W\/F +RECORD$/);
    expect(lines.slice(1).map((l) => l.split(/ {2,}/))).toEqual([
      ['2026-03-03 10:00:00Z', '(no snapshot)', 'ubuntu-24-04-x64', '520', '0123456789ab*', '30/1/0', dirty.id],
      ['2026-03-02 10:00:00Z', '170002 evil?[2Jname', 'debian-12-x64', '3', '-', '30/1/0', nogit.id],
      [
        '2026-03-01 10:00:00Z',
        '170001 acme-wiki-1.2.0-20260301',
        'debian-12-x64',
        '412',
        '0123456789ab',
        '30/1/0',
        old.id,
      ],
    ]);
    expect(r.out).not.toContain('\u001b');
  });

  it('--json: one object per record, newest first, with its folder', async () => {
    const dir = project();
    const a = sampleRecord({
      id: '20260301T100000Z-debian-12-x64-aaaaaa',
      createdAt: '2026-03-01T10:00:00.000Z',
      git: { commit: COMMIT, dirty: true },
    });
    const b = sampleRecord({ id: '20260302T100000Z-debian-12-x64-bbbbbb', createdAt: '2026-03-02T10:00:00.000Z' });
    writeRecord(dir, a, {});
    writeRecord(dir, b, {});
    const r = await images(dir, '--json');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as Array<Record<string, unknown>>;
    expect(list.map((l) => l.id)).toEqual([b.id, a.id]);
    expect(list[1]).toEqual({
      id: a.id,
      dir: `images/${a.id}`,
      createdAt: a.createdAt,
      snapshot: null,
      distribution: 'debian-12-x64',
      packages: 2,
      commit: COMMIT,
      dirty: true,
      check: { pass: 30, warn: 1, fail: 0, skip: 2 },
      freshenedAt: null,
    });
  });

  it('no records yet: says how one is made; a broken record is named on stderr and left out', async () => {
    const dir = project();
    const none = await images(dir);
    expect(none.code).toBe(0);
    expect(none.out).toContain('No build records in images/ yet');
    writeRecord(
      dir,
      sampleRecord({ id: '20260301T100000Z-debian-12-x64-aaaaaa', createdAt: '2026-03-01T10:00:00.000Z' }),
      {},
    );
    mkdirSync(join(dir, 'images/broken'));
    writeFileSync(join(dir, 'images/broken/record.json'), '{"format": 1, ');
    mkdirSync(join(dir, 'images/.20260302T100000Z-debian-12-x64-bbbbbb.tmp-1234'));
    const r = await images(dir, '--json');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as unknown[]).length).toBe(1);
    expect(r.err).toMatch(/^warning: images\/broken\/record\.json: .*\(left out\)$/m);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('an images path that is a file is a clear error', async () => {
    const dir = project();
    writeFileSync(join(dir, 'images'), 'x');
    const r = await images(dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('error: cannot read the build records: images in the project is not a folder');
  });

  it("--latest-snapshot prints the newest snapshot of the listing's distribution, and fails clearly without one", async () => {
    const dir = project();
    const r0 = await images(dir, '--latest-snapshot');
    expect(r0.code).toBe(1);
    expect(r0.err).toContain(
      "error: no build record in images/ has a snapshot of debian-12-x64, the listing's distribution",
    );
    const rec = (id: string, at: string, distribution: string, snap: number | null) => {
      const r = sampleRecord({ id, createdAt: at, distribution });
      r.snapshot = snap === null ? null : { id: snap, name: `s${snap}`, at };
      writeRecord(dir, r, {});
    };
    rec('20260301T100000Z-debian-12-x64-aaaaaa', '2026-03-01T10:00:00.000Z', 'debian-12-x64', 170001);
    rec('20260308T100000Z-debian-12-x64-bbbbbb', '2026-03-08T10:00:00.000Z', 'debian-12-x64', 170005);
    // newer, but of another distribution, or without a snapshot yet
    rec('20260309T100000Z-ubuntu-24-04-x64-cccccc', '2026-03-09T10:00:00.000Z', 'ubuntu-24-04-x64', 170009);
    rec('20260310T100000Z-debian-12-x64-dddddd', '2026-03-10T10:00:00.000Z', 'debian-12-x64', null);
    let r = await images(dir, '--latest-snapshot');
    expect(r).toMatchObject({ code: 0, out: '170005\n' });
    writeManifest(dir, {
      name: 'Acme Wiki',
      slug: 'acme-wiki',
      vendor: 'acme',
      version: '1.2.0',
      distributions: ['debian-12-x64', 'ubuntu-24-04-x64'],
      listing: { distribution: 'ubuntu-24-04-x64' },
    });
    r = await images(dir, '--latest-snapshot');
    expect(r).toMatchObject({ code: 0, out: '170009\n' });
  });
});
