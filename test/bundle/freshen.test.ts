/**
 * The freshen command of dist/<slug>-build.sh (the review-day upgrade before cleanup), in a chroot
 * with a staged root whose package manager is a stand-in that logs its calls: dist-upgrade on apt
 * (not plain upgrade, which keeps back updates needing new packages), dnf upgrade on the RHEL family,
 * nothing with MPIMG_SKIP_PACKAGES=1, and a failing upgrade fails the step with its output shown.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildRoot, calls, installScript, runBuild, stagedIn, standIn, type Os } from '../helpers/build-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { cleanupFixtures, copyBinary } from '../scripts/fixture-root.js';

afterAll(cleanupFixtures);

const APT =
  'apt-get -y -q -o DPkg::Lock::Timeout=900 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** A chroot holding the bundled build script and a staged root of `os` with stand-ins for apt-get and dnf. */
function bed(os: Os, body = 'true'): string {
  const distributions = os === 'rocky' ? ['rockylinux-9-x64'] : ['debian-12-x64'];
  const root = buildRoot();
  stagedIn(root, 'staged', os);
  copyBinary(join(root, 'staged'), '/usr/bin/dash', 'bin/sh');
  standIn(root, 'staged/usr/bin/apt-get', body);
  standIn(root, 'staged/usr/bin/dnf', body);
  installScript(
    root,
    writeBundle(loadProject(makeProject({ manifest: { distributions } as Partial<Manifest> }))).build,
  );
  return root;
}

describe('build.sh freshen', () => {
  it('apt: update, then dist-upgrade, in the staged root', () => {
    const root = bed('debian');
    const r = runBuild(root, ['--root', '/staged', 'freshen']);
    expect(r.code, r.stderr).toBe(0);
    expect(calls(join(root, 'staged'))).toEqual([
      `${APT} -o APT::Update::Error-Mode=any update`,
      `${APT} dist-upgrade`,
    ]);
    expect(r.stdout).toContain('freshen: every package upgraded (apt-get update, dist-upgrade)');
  });

  it('dnf: upgrade --refresh', () => {
    const root = bed('rocky');
    const r = runBuild(root, ['--root', '/staged', 'freshen']);
    expect(r.code, r.stderr).toBe(0);
    expect(calls(join(root, 'staged'))).toEqual(['dnf -y upgrade --refresh']);
  });

  it('MPIMG_SKIP_PACKAGES=1: no package manager at all', () => {
    const root = bed('debian');
    const r = runBuild(root, ['--root', '/staged', 'freshen'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(calls(join(root, 'staged'))).toEqual([]);
    expect(r.stdout).toContain('freshen: MPIMG_SKIP_PACKAGES=1: not upgrading');
  });

  it('a failing upgrade fails the step, its output shown, with what to do', () => {
    const root = bed('debian', 'case "$*" in *dist-upgrade*) echo "E: Broken packages" >&2; exit 100 ;; esac');
    const r = runBuild(root, ['--root', '/staged', 'freshen']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('  | E: Broken packages');
    expect(r.stderr).toContain('error: freshen: apt-get dist-upgrade failed');
    expect(r.stderr).toMatch(/^fix: see its output above/m);
  });
});
