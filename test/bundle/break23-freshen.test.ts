/**
 * The freshen step (the review-day upgrade) when apt-get update cannot fetch the indexes (no network,
 * a mirror down): the real apt-get only warns and exits 0 there (test/scripts/break23.test.ts shows it
 * on this machine's apt), so the upgrade ran from the base image's old indexes and the build record
 * said the image was freshened. The step fails instead, naming the network.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildRoot, calls, installScript, runBuild, stagedIn, standIn } from '../helpers/build-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { cleanupFixtures, copyBinary } from '../scripts/fixture-root.js';

afterAll(cleanupFixtures);

// apt-get update as apt 2.6 answers without a network: a warning and exit 0, exit 100 with Error-Mode=any.
const APT_26 = `case " $* " in
  *" update "*)
    case " $* " in *" APT::Update::Error-Mode=any "*) echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease" >&2; exit 100 ;; esac
    echo "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease" >&2; exit 0 ;;
esac`;

describe('build.sh freshen without the package indexes', () => {
  it('fails the step (no dist-upgrade from old indexes, no "every package upgraded")', () => {
    const root = buildRoot();
    stagedIn(root, 'staged', 'debian');
    copyBinary(join(root, 'staged'), '/usr/bin/dash', 'bin/sh');
    standIn(root, 'staged/usr/bin/apt-get', APT_26);
    installScript(
      root,
      writeBundle(loadProject(makeProject({ manifest: { distributions: ['debian-12-x64'] } as Partial<Manifest> })))
        .build,
    );
    const r = runBuild(root, ['--root', '/staged', 'freshen']);
    expect(r.stdout).not.toContain('every package upgraded');
    expect(r.stderr).toContain('error: freshen: apt-get update failed');
    expect(r.code).toBe(1);
    expect(calls(join(root, 'staged')).filter((c) => c.includes('dist-upgrade'))).toEqual([]);
  });
});
