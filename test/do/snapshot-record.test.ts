/**
 * The snapshot's part of the build record: `mpimg snapshot` adds the snapshot's id and name (and the
 * base image's id the API gives) to the record of the build that ran on that droplet, found by the
 * droplet's id or else its public IPv4; other records stay as they were, and a project without a
 * record for the droplet gets a note, not a failure.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSnapshotCommand } from '../../tasks/commands/snapshot.js';
import { writeRecord } from '../../tasks/record/store.js';
import type { BuildRecord } from '../../tasks/record/types.js';
import { sampleRecord } from '../helpers/build-record.js';
import { apiDoublePerTest } from '../helpers/do-api-project.js';
import { FAST_RETRY, FAST_TIMINGS, fastClock } from './support.js';

const { api, project, runner } = apiDoublePerTest({
  prefix: 'mpimg-snaprec-',
  prepare: (a) => {
    a.behaviour.actionMs = { shutdown: 10, snapshot: 15 };
  },
});

const NOW = new Date('2026-03-04T05:06:07Z');

async function snapshot(droplet: number) {
  const cmd = createSnapshotCommand({ clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS, now: () => NOW });
  const { cap, run } = runner(cmd);
  const code = await run(['--droplet', String(droplet), '--json']);
  return { code, out: cap.out(), err: cap.err() };
}

const stored = (id: string): BuildRecord =>
  JSON.parse(readFileSync(join(project.dir, 'images', id, 'record.json'), 'utf8')) as BuildRecord;
const raw = (id: string): string => readFileSync(join(project.dir, 'images', id, 'record.json'), 'utf8');

describe('the snapshot completes the build record', () => {
  it("of the droplet's newest build by its public IPv4; older and other droplets' records stay as they were", async () => {
    const d = api.addDroplet({ name: 'build-1', tags: ['mpimg-build'], image: 'debian-12-x64' });
    const older = sampleRecord({
      id: '20260304T040000Z-debian-12-x64-aaaaaa',
      createdAt: '2026-03-04T04:00:00.000Z',
      host: d.ip,
    });
    const newer = sampleRecord({
      id: '20260304T050000Z-debian-12-x64-bbbbbb',
      createdAt: '2026-03-04T05:00:00.000Z',
      host: d.ip,
    });
    const other = sampleRecord({
      id: '20260304T050500Z-debian-12-x64-cccccc',
      createdAt: '2026-03-04T05:05:00.000Z',
      host: '198.51.100.4',
    });
    for (const r of [older, newer, other]) writeRecord(project.dir, r, {});
    const before = { older: raw(older.id), other: raw(other.id) };

    const r = await snapshot(d.id);
    expect(r.code, r.err).toBe(0);
    const img = JSON.parse(r.out) as { id: number; name: string };
    expect(stored(newer.id).snapshot).toEqual({ id: img.id, name: img.name, at: NOW.toISOString() });
    expect(stored(newer.id).base.imageId).toBe(100_000 + 'debian-12-x64'.length);
    expect(raw(older.id)).toBe(before.older);
    expect(raw(other.id)).toBe(before.other);
    expect(r.err).toContain(`build record images/${newer.id}: snapshot ${img.id} "${img.name}" added`);
  });

  it('by the droplet id the build read from the metadata service, before any address', async () => {
    const d = api.addDroplet({ name: 'build-2', tags: ['mpimg-build'] });
    const byId = sampleRecord({
      id: '20260304T040000Z-debian-12-x64-dddddd',
      createdAt: '2026-03-04T04:00:00.000Z',
      host: '198.51.100.7',
      dropletId: d.id,
    });
    // same address, another droplet (the IP was reused): not this one's
    const reused = sampleRecord({
      id: '20260304T050000Z-debian-12-x64-eeeeee',
      createdAt: '2026-03-04T05:00:00.000Z',
      host: d.ip,
      dropletId: d.id + 1000,
    });
    writeRecord(project.dir, byId, {});
    writeRecord(project.dir, reused, {});
    const r = await snapshot(d.id);
    expect(r.code, r.err).toBe(0);
    expect(stored(byId.id).snapshot?.id).toBe((JSON.parse(r.out) as { id: number }).id);
    expect(stored(reused.id).snapshot).toBeNull();
  });

  it('a project without a record of that droplet: a note, the snapshot still succeeds; a staged-root record is never taken', async () => {
    const d = api.addDroplet({ name: 'build-3', tags: ['mpimg-build'] });
    const staged = sampleRecord({
      id: '20260304T040000Z-debian-12-x64-ffffff',
      createdAt: '2026-03-04T04:00:00.000Z',
      host: d.ip,
      root: '/tmp/x',
    });
    writeRecord(project.dir, staged, {});
    const r = await snapshot(d.id);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`note: no build record of droplet ${d.id} in images/`);
    expect(stored(staged.id).snapshot).toBeNull();
  });
});
