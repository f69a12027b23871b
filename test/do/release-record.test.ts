// `mpimg release` and the image's build record: software versions read from the packages installed
// in the released image, the age warning, and exit status 75 while the listing is pending or in review.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createReleaseCommand } from '../../tasks/commands/release.js';
import { writeRecord } from '../../tasks/record/store.js';
import type { BuildRecord } from '../../tasks/record/types.js';
import { validateManifest } from '../../runtime/manifest.js';
import { apiDoublePerTest } from '../helpers/do-api-project.js';
import { sampleRecord } from '../helpers/build-record.js';
import { FAST_RETRY, MANIFEST, apiEnv, captureContext, fastClock, writeManifest } from './support.js';

const APP = 'acme-wiki-app';
const NOW = new Date('2026-03-20T12:00:00Z');
const LISTED = {
  ...MANIFEST,
  variables: { WIKI_VERSION: '3.1.4' },
  listing: {
    appId: APP,
    software: [
      { name: 'Acme Wiki', version: '{{WIKI_VERSION}}' },
      { name: 'Nginx', package: 'nginx', website: 'https://nginx.org/' },
      { name: 'PostgreSQL', package: 'postgresql-15' },
    ],
  },
};

const { api, project, runner } = apiDoublePerTest({
  prefix: 'mpimg-release-record-',
  manifest: LISTED,
  prepare: (a) => {
    a.addApp({ appId: APP, name: 'Acme Wiki' });
  },
});
let imageId: number;
beforeEach(() => {
  imageId = api.addImage({ name: 'acme-wiki-1.2.0', created_at: '2026-03-18T08:00:00Z' }).id;
});

/** A record of a build whose snapshot is `snapshotId`, with these packages, freshened at `freshen`. */
function record(
  id: string,
  snapshotId: number | null,
  packages: Array<[string, string]>,
  freshen: string | null = '2026-03-18T07:40:00Z',
): BuildRecord {
  const r = sampleRecord({ id, createdAt: `${id.slice(0, 4)}-03-18T07:50:00.000Z` });
  r.packages.list = packages.map(([name, version]) => ({ name, version, arch: 'amd64' }));
  r.packages.count = packages.length;
  r.build.freshen = freshen === null ? null : { startedAt: freshen, ms: 42000 };
  r.snapshot = snapshotId === null ? null : { id: snapshotId, name: 'acme-wiki-1.2.0', at: '2026-03-18T08:00:00Z' };
  writeRecord(project.dir, r, { bomFormat: 'CycloneDX' });
  return r;
}

function setup() {
  return runner(createReleaseCommand({ clock: fastClock(), retry: FAST_RETRY, now: () => NOW }));
}
const patches = () => api.requests.filter((r) => r.method === 'PATCH');

describe('mpimg release takes software versions from the build record of the released image', () => {
  it('sends the version installed in that image (not of another record), as the package database has it', async () => {
    record('20260318T075000Z-debian-12-x64-aaaaaa', imageId, [
      ['nginx', '1.22.1-9+deb12u1'],
      ['postgresql-15', '15.10-0+deb12u1'],
    ]);
    // an older build of another snapshot, and a newer one without a snapshot yet: neither is this image
    record('20260301T075000Z-debian-12-x64-bbbbbb', imageId + 100, [['nginx', '1.22.1-9']]);
    record('20260319T075000Z-debian-12-x64-cccccc', null, [['nginx', '1.22.1-10']]);
    const { cap, run } = setup();
    expect(await run(['--image', String(imageId), '--reason', 'security updates']), cap.err()).toBe(0);
    expect(patches().map((p) => p.body)).toEqual([
      expect.objectContaining({
        imageId,
        softwareIncluded: [
          { name: 'Acme Wiki', version: '3.1.4' },
          { name: 'Nginx', version: '1.22.1-9+deb12u1', website: 'https://nginx.org/' },
          { name: 'PostgreSQL', version: '15.10-0+deb12u1' },
        ],
      }),
    ]);
    // the "package" key is mpimg.json's, never the Vendor API's
    expect(JSON.stringify(patches()[0].body)).not.toContain('"package"');
    expect(cap.err()).not.toContain('warning');
  });

  it('--dry-run shows the versions from the record; without a record of the image, an error that says what to do, and nothing sent', async () => {
    record('20260318T075000Z-debian-12-x64-aaaaaa', imageId, [
      ['nginx', '1.22.1-9+deb12u1'],
      ['postgresql-15', '15.10-0+deb12u1'],
    ]);
    let s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x', '--dry-run']), s.cap.err()).toBe(0);
    expect(s.cap.out()).toContain('"version": "1.22.1-9+deb12u1"');

    const other = api.addImage({ name: 'built-elsewhere' }).id;
    s = setup();
    expect(await s.run(['--image', String(other), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toMatch(
      new RegExp(
        `error: image ${other} has no build record in images/, and "Nginx" takes its version from the package "nginx" installed in it\\n\\s+where: \\$\\.listing\\.software\\[1\\]\\.package in mpimg\\.json\\n\\s+fix: release an image built from this project folder`,
      ),
    );
    s = setup();
    expect(await s.run(['--image', String(other), '--reason', 'x', '--dry-run'])).toBe(1);
    expect(s.cap.err()).toContain(`image ${other} has no build record`);
    expect(patches()).toHaveLength(0);
    expect(api.requests.filter((r) => r.path === `/v2/images/${other}`)).toHaveLength(0);
  });

  it('a package the image does not have, or has in two versions (two architectures): an error naming image, package and record', async () => {
    record('20260318T075000Z-debian-12-x64-aaaaaa', imageId, [['nginx', '1.22.1-9+deb12u1']]);
    let s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toMatch(
      new RegExp(
        `error: the package "postgresql-15" is not installed in image ${imageId}\\n\\s+where: \\$\\.listing\\.software\\[2\\]\\.package in mpimg\\.json \\(build record images/20260318T075000Z-debian-12-x64-aaaaaa of image ${imageId}\\)`,
      ),
    );
    const second = api.addImage({ name: 'multiarch' }).id;
    const r = record('20260318T080000Z-debian-12-x64-dddddd', second, [
      ['nginx', '1.22.1-9'],
      ['postgresql-15', '15.10-0+deb12u1'],
    ]);
    r.packages.list.push({ name: 'nginx', version: '1.22.1-8', arch: 'i386' });
    writeRecord(project.dir, { ...r, id: '20260318T080100Z-debian-12-x64-eeeeee' }, {});
    s = setup();
    expect(await s.run(['--image', String(second), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toContain(
      `the package "nginx" is installed in image ${second} in 2 versions (1.22.1-9, 1.22.1-8)`,
    );
    expect(patches()).toHaveLength(0);
  });

  it('the schema: each software entry has a version or a package, not both; a package name as dpkg/rpm write it', () => {
    const problems = (software: unknown[]) =>
      validateManifest({ ...LISTED, listing: { appId: APP, software } }).problems.map((p) => `${p.path}: ${p.message}`);
    expect(problems([{ name: 'Nginx', package: 'nginx' }])).toEqual([]);
    expect(problems([{ name: 'Nginx' }])).toEqual(['$.listing.software[0]: no version and no package']);
    expect(problems([{ name: 'Nginx', version: '1', package: 'nginx' }])).toEqual([
      '$.listing.software[0]: both version and package',
    ]);
    expect(problems([{ name: 'x', package: 'nginx; rm -rf /' }])[0]).toMatch(
      /^\$\.listing\.software\[0\]\.package: bad package name/,
    );
    expect(
      validateManifest({ ...LISTED, listing: { appId: APP, maxImageAgeDays: 0 } }).problems.map((p) => p.path),
    ).toEqual(['$.listing.maxImageAgeDays']);
  });
});

describe('mpimg release warns about an old image', () => {
  const WARNING = /warning: image \d+ is (\d+) days old \((.*?)\), older than \$\.listing\.maxImageAgeDays \((\d+)\)/;

  it('older than $.listing.maxImageAgeDays since its freshen: a warning that says how to refresh, and it still releases', async () => {
    record(
      '20260301T075000Z-debian-12-x64-aaaaaa',
      imageId,
      [
        ['nginx', '1.22.1-9'],
        ['postgresql-15', '15.10'],
      ],
      '2026-03-01T07:40:00Z',
    );
    let s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x']), s.cap.err()).toBe(0);
    expect(s.cap.err().match(WARNING)?.slice(1)).toEqual([
      '19',
      'its packages were upgraded (freshen) at 2026-03-01T07:40:00Z',
      '14',
    ]);
    expect(s.cap.err()).toContain('To refresh: build a new image (`mpimg image --verify`) and release that one');
    expect(s.cap.out()).toContain(`now points at image ${imageId}`);
    expect(patches()).toHaveLength(1);

    // a vendor's own bound
    api.apps.get(APP)!.status = 'approved';
    writeManifest(project.dir, { ...LISTED, listing: { ...LISTED.listing, maxImageAgeDays: 30 } });
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x']), s.cap.err()).toBe(0);
    expect(s.cap.err()).not.toContain('warning');
  });

  it("without a record (or a freshen in it), the snapshot's created_at from the API counts; --dry-run warns too", async () => {
    writeManifest(project.dir, { ...MANIFEST, listing: { appId: APP, maxImageAgeDays: 1 } });
    let s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x', '--dry-run']), s.cap.err()).toBe(0);
    expect(s.cap.err().match(WARNING)?.slice(1)).toEqual(['2', 'the snapshot was made at 2026-03-18T08:00:00Z', '1']);
    expect(patches()).toHaveLength(0);
    writeManifest(project.dir, { ...MANIFEST, listing: { appId: APP } });
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x']), s.cap.err()).toBe(0);
    expect(s.cap.err()).toBe('');
  });
});

describe('mpimg release with an unreadable records folder', () => {
  it('stops when a version depends on it; else warns and releases (the age from the snapshot)', async () => {
    writeFileSync(join(project.dir, 'images'), 'not a folder');
    let s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toContain('error: cannot read the build records: images in the project is not a folder');
    expect(patches()).toHaveLength(0);
    writeManifest(project.dir, { ...MANIFEST, listing: { appId: APP } });
    s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x']), s.cap.err()).toBe(0);
    expect(s.cap.err()).toContain(
      "warning: cannot read the build records: images in the project is not a folder: the image's age is taken from the snapshot",
    );
    expect(patches()).toHaveLength(1);
  });
});

describe('mpimg release while the listing is pending or in review', () => {
  it('exits 75 (EX_TEMPFAIL: try later), through the CLI too, and says so; other refusals stay 1', async () => {
    writeManifest(project.dir, { ...MANIFEST, listing: { appId: APP } });
    for (const status of ['pending', 'in review'] as const) {
      api.apps.get(APP)!.status = status;
      const cap = captureContext({ cwd: project.dir, env: apiEnv(api.url, project.dir) });
      expect(await main(['release', '--image', String(imageId), '--reason', 'x'], cap.ctx)).toBe(75);
      expect(cap.err()).toContain(`listing ${APP} cannot be updated now: app is ${status}`);
      expect(cap.err()).toContain('(exit status 75: try later)');
    }
    api.apps.get(APP)!.status = 'approved';
    api.inject({ method: 'PATCH', status: 400, body: { id: 'bad_request', message: 'osVersion is too long' } });
    const s = setup();
    expect(await s.run(['--image', String(imageId), '--reason', 'x'])).toBe(1);
    expect(s.cap.err()).toContain('the Vendor API refused the update');
  });
});
