/**
 * services[].check on a real staged root: dist/<slug>-build.sh's `configtest` (run in a chroot of a
 * fixture root with --root, as in build-script.test.ts) runs each check inside the staged root once
 * everything is in place, fails the build naming the unit with the check's own output, and passes
 * quietly; the schema refuses what is not one line of shell; the Packer template runs the same
 * command after the services and the firewall, before cleanup.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildOrder } from '../../tasks/steps/index.js';
import { buildRoot, calls, installScript, runBuild, standIn, stagedIn } from '../helpers/build-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { cleanupFixtures, copyBinary, put } from '../scripts/fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('these tests chroot into fixture roots: they must run as root (CI does)');
});

const bundled = (services: unknown) =>
  writeBundle(loadProject(makeProject({ manifest: { services } as Partial<Manifest> })));

// An nginx stand-in as `nginx -t` behaves: reads its config, says what is wrong on stderr, exits 1.
const NGINX = `[ "$1" = -t ] || exit 2
if grep -q lisen /etc/nginx/nginx.conf; then
  echo 'nginx: [emerg] unknown directive "lisen" in /etc/nginx/nginx.conf:3' >&2
  echo 'nginx: configuration file /etc/nginx/nginx.conf test failed' >&2
  exit 1
fi
echo 'nginx: configuration file /etc/nginx/nginx.conf test is successful' >&2`;

/** A staged root with a shell, grep and the nginx stand-in of its own (the build root has none). */
function nginxRoot(conf: string): { root: string; staged: string } {
  const root = buildRoot();
  const staged = stagedIn(root, 'staged');
  copyBinary(staged, '/bin/dash', 'bin/sh');
  copyBinary(staged, '/usr/bin/grep', 'usr/bin/grep');
  for (const t of ['cat', 'head']) copyBinary(staged, `/usr/bin/${t}`, `usr/bin/${t}`);
  standIn(root, 'staged/usr/sbin/nginx', NGINX);
  put(root, 'staged/etc/nginx/nginx.conf', conf);
  return { root, staged };
}

const SERVICES = [
  { name: 'nginx.service', check: 'nginx -t' },
  // single quotes, $ and a pipe in a check: one line of shell, run as written
  { name: 'acme.service', check: `test "$(cat /etc/nginx/nginx.conf | head -n 1)" = 'events {}'` },
];

describe('services[].check, run by the build script on a staged root', () => {
  it('runs each check inside the staged root; all pass: one line each, exit 0, runs again the same', () => {
    const { root, staged } = nginxRoot('events {}\nhttp {\n  server { listen 80; }\n}\n');
    installScript(root, bundled(SERVICES).build);
    const r = runBuild(root, ['--root', '/staged', 'configtest']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'configtest: service nginx.service: check passed: nginx -t',
      `configtest: service acme.service: check passed: ${SERVICES[1].check}`,
    ]);
    // the nginx of the staged root ran (the build root has none): the check ran where the droplet's files are
    expect(calls(`${staged}`)).toEqual(['nginx -t']);
    const again = runBuild(root, ['--root', '/staged', 'configtest']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(r.stdout);
  });

  it("a broken config fails the build: the unit named, the check's own output shown, the fix said", () => {
    const { root } = nginxRoot('events {}\nhttp {\n  server { lisen 80; }\n}\n');
    installScript(root, bundled(SERVICES).build);
    const r = runBuild(root, ['--root', '/staged', 'configtest']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      '  | nginx: [emerg] unknown directive "lisen" in /etc/nginx/nginx.conf:3',
      '  | nginx: configuration file /etc/nginx/nginx.conf test failed',
      'error: configtest: service nginx.service: its check failed (exit code 1, its output above): nginx -t',
      'fix: fix the configuration of nginx.service (files/, a build script or build.packages) until its check exits 0, then build again',
    ]);
  });

  it('a check that hangs is stopped after its time limit and fails the build, naming the unit and the limit', () => {
    const { root, staged } = nginxRoot('events {}\n');
    copyBinary(staged, '/usr/bin/sleep', 'usr/bin/sleep');
    const script = bundled([{ name: 'slow.service', check: 'sleep 300; echo never', checkTimeoutSeconds: 1 }]).build;
    installScript(root, script);
    const started = Date.now();
    const r = runBuild(root, ['--root', '/staged', 'configtest']);
    // (the harness stops a run after 60 s: well before that, the build's own limit stopped it)
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('never');
    expect(r.stderr).toContain(
      'error: configtest: service slow.service: its check did not finish within 1 s and was stopped: sleep 300; echo never',
    );
    expect(r.stderr).toContain('services[].checkTimeoutSeconds');
    // without a limit of its own a check gets the default, 120 s
    expect(readFileSync(bundled(SERVICES).build, 'utf8')).toContain("mpimg_configtest 'nginx.service' 120 'nginx -t'");
  });

  it('no check for this distribution: says so; the step sits after services and firewall, before cleanup', () => {
    const root = buildRoot();
    stagedIn(root, 'staged');
    installScript(root, bundled({ all: ['nginx.service'], dnf: [{ name: 'httpd.service', check: 'httpd -t' }] }).build);
    const r = runBuild(root, ['--root', '/staged', 'configtest']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('configtest: mpimg.json has no service checks (services[].check) for debian-12-x64\n');
    const at = (n: string) => buildOrder().indexOf(n);
    expect(at('configtest')).toBeGreaterThan(at('services'));
    expect(at('configtest')).toBeGreaterThan(at('firewall'));
    // between it and the cleanup only the review-day upgrade (freshen)
    expect(buildOrder().slice(at('configtest') + 1, at('cleanup'))).toEqual(['freshen']);
  });
});

describe('services[].check in the Packer template', () => {
  it('runs `build.sh configtest` right before cleanup', () => {
    const text = readFileSync(bundled(SERVICES).packer, 'utf8');
    const steps = [...text.matchAll(/^ {2}# step ([a-z0-9-]+):/gm)].map((m) => m[1]);
    expect(steps.indexOf('configtest')).toBeGreaterThan(steps.indexOf('services'));
    expect(text).toMatch(
      /# step configtest: .*\n  provisioner "shell" \{\n    inline = \[\n      "sh \$\{local\.work\}\/acme-wiki-build\.sh configtest",\n/,
    );
  });
});

describe('$.services[].check at validate time', () => {
  const BASE = MINIMAL_MANIFEST;
  const problems = (check: unknown) =>
    validateManifest({ ...BASE, services: [{ name: 'nginx.service', check }] }).problems;

  it('takes one line of shell', () => {
    for (const ok of ['nginx -t', 'apachectl configtest', 'sshd -t -f \'/etc/ssh/sshd_config\' && echo "$x"'])
      expect(problems(ok), ok).toEqual([]);
  });

  it('refuses blank, multi-line and control characters at its $.path, with the fix', () => {
    for (const bad of [
      '',
      '   ',
      'nginx -t\nrm -rf /',
      'nginx -t\r',
      'nginx -t\u2028id',
      'a\u0000b',
      'x'.repeat(2001),
      7,
    ]) {
      const p = problems(bad);
      expect(p.length, JSON.stringify(bad)).toBeGreaterThan(0);
      expect(p[0].path, JSON.stringify(bad)).toBe('$.services[0].check');
      if (typeof bad === 'string') {
        // (a line break or control character is named by the schema's own rule for every string)
        expect(p[0].message).toMatch(/^bad check command |control or line-separator character/);
        expect(p[0].hint).toBeTruthy();
      }
    }
  });
});
