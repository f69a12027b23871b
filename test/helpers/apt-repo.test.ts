/**
 * The local signed apt repository of test/helpers/apt-repo.ts is what apt would accept, checked
 * without apt-get (which must never run on this machine): the InRelease signature with gpgv against
 * the served key, every file the Release names by its SHA256, the package's Packages entry by the
 * .deb it points at, and the same bytes over HTTP.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSha256, makeAptRepo, releaseHashes, type AptRepo } from './apt-repo.js';
import { fingerprintsOf } from './gpg.js';
import { tempDir } from './temp.js';

let repo: AptRepo;
beforeAll(async () => {
  repo = await makeAptRepo({ suite: 'bookworm' });
});
afterAll(async () => {
  await repo?.close();
});

describe('local signed apt repository (test helper)', () => {
  it('is served on 127.0.0.1 with its key, whose fingerprint it reports', async () => {
    expect(repo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const key = await (await fetch(repo.keyUrl)).text();
    expect(key).toBe(readFileSync(repo.keyFile, 'utf8'));
    expect(key).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(fingerprintsOf(repo.keyFile)).toEqual([repo.fingerprint]);
    expect((await fetch(`${repo.url}/../../etc/passwd`)).status).not.toBe(200);
  });

  it('InRelease and Release.gpg are good signatures by that key (gpgv, as apt checks them); a changed Release is not', () => {
    const dists = join(repo.dir, 'dists/bookworm');
    const ring = join(tempDir('mpimg-apt-ring-'), 'key.gpg');
    writeFileSync(ring, execFileSync('gpg', ['--batch', '--dearmor'], { input: readFileSync(repo.keyFile) }));
    const inline = spawnSync('gpgv', ['--keyring', ring, join(dists, 'InRelease')], { encoding: 'utf8' });
    expect(inline.status, inline.stderr).toBe(0);
    expect(inline.stderr).toContain('Good signature');
    const detached = spawnSync('gpgv', ['--keyring', ring, join(dists, 'Release.gpg'), join(dists, 'Release')], {
      encoding: 'utf8',
    });
    expect(detached.status, detached.stderr).toBe(0);
    const tampered = join(tempDir('mpimg-apt-bad-'), 'InRelease');
    writeFileSync(tampered, readFileSync(join(dists, 'InRelease'), 'utf8').replace('Suite: bookworm', 'Suite: evil'));
    expect(spawnSync('gpgv', ['--keyring', ring, tampered], { encoding: 'utf8' }).status).not.toBe(0);
  });

  it('the Release names its suite and component and the true hashes of its Packages files; the .deb is the package', () => {
    const dists = join(repo.dir, 'dists/bookworm');
    const release = readFileSync(join(dists, 'Release'), 'utf8');
    expect(release).toMatch(/^Suite: bookworm$/m);
    expect(release).toMatch(/^Components: main$/m);
    const hashes = releaseHashes(release);
    for (const f of ['main/binary-amd64/Packages', 'main/binary-amd64/Packages.gz', 'main/binary-all/Packages']) {
      expect(hashes.get(f)?.sha256, f).toBe(fileSha256(join(dists, f)));
    }
    const packages = readFileSync(join(dists, 'main/binary-amd64/Packages'), 'utf8');
    const filename = /^Filename: (\S+)$/m.exec(packages)![1];
    expect(packages).toMatch(new RegExp(`^Package: ${repo.package}$`, 'm'));
    expect(packages).toMatch(new RegExp(`^SHA256: ${fileSha256(join(repo.dir, filename))}$`, 'm'));
    const info = execFileSync('dpkg-deb', ['--field', join(repo.dir, filename), 'Package', 'Version']).toString();
    expect(info).toBe(`Package: ${repo.package}\nVersion: ${repo.version}\n`);
    expect(execFileSync('dpkg-deb', ['--contents', join(repo.dir, filename)]).toString()).toContain(
      `.${repo.installedFile}`,
    );
  });

  it('serves the same bytes over HTTP', async () => {
    for (const rel of ['dists/bookworm/InRelease', 'dists/bookworm/main/binary-amd64/Packages.gz']) {
      const body = Buffer.from(await (await fetch(`${repo.url}/${rel}`)).arrayBuffer());
      expect(body.equals(readFileSync(join(repo.dir, rel))), rel).toBe(true);
    }
  });
});
