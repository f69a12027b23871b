/**
 * $.securityUpdates: the schema's errors at their $.path; dist/<slug>-build.sh's `autoupdates` step
 * on apt distributions with this machine's REAL apt and unattended-upgrades in a root of their own
 * (test/helpers/host-root.ts: the root's /etc/apt holds the package's 50unattended-upgrades, /usr is
 * this machine's, read-only), read back by the real `apt-config dump` and by the real
 * `unattended-upgrade --dry-run`, which names the origins it would take updates from; on the dnf
 * family in a staged root, the written automatic.conf read by dnf's own AutomaticConfig (python3-dnf
 * 4.14 of this machine), whose lack of a reboot option the step reports.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { sectionPackages } from '../../runtime/section-packages.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildOrder } from '../../tasks/steps/index.js';
import { buildRoot, installScript, runBuild, stagedIn, type Os } from '../helpers/build-root.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { makeProject } from '../helpers/project-fixture.js';
import { checkJson, cleanupFixtures, copyBinary, dir, put } from '../scripts/fixture-root.js';
import { afterAll } from 'vitest';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests run apt in namespaces of their own: run them as root');
  for (const f of ['/usr/bin/unattended-upgrade', '/etc/apt/apt.conf.d/50unattended-upgrades'])
    if (!existsSync(f)) throw new Error(`these tests need Debian's unattended-upgrades installed (${f})`);
});

const problems = (securityUpdates: unknown) =>
  validateManifest({ ...MINIMAL_MANIFEST, securityUpdates }).problems.map((p) => `${p.path}: ${p.message}`);

describe('$.securityUpdates at validate time', () => {
  it('takes the reboot policies and refuses others at their $.path', () => {
    for (const reboot of [undefined, 'never', 'when-needed', '04:30', '00:00', '23:59'])
      expect(problems({ automatic: true, reboot }), String(reboot)).toEqual([]);
    for (const reboot of ['24:00', '4:30', '04:60', 'always', '04:30; reboot', ''])
      expect(problems({ automatic: true, reboot }), JSON.stringify(reboot)).toEqual([
        `$.securityUpdates.reboot: bad reboot policy ${JSON.stringify(reboot)}`,
      ]);
    expect(problems({ automatic: true, reboot: '04:30\n' })).toContain(
      '$.securityUpdates.reboot: bad reboot policy "04:30\\n"',
    );
    expect(problems({ reboot: 'never' })[0]).toMatch(/^\$\.securityUpdates(\.automatic)?: /);
    expect(problems({ automatic: 'yes' })[0]).toMatch(/^\$\.securityUpdates\.automatic: /);
    expect(problems({ automatic: false, reboot: '04:30' })).toEqual([
      '$.securityUpdates.reboot: a reboot policy ("04:30") without automatic updates does nothing',
    ]);
    expect(problems({ automatic: true, origins: ['x'] })[0]).toMatch(/^\$\.securityUpdates\.origins: /);
  });
});

const bundleWith = (securityUpdates: Manifest['securityUpdates'], distributions = ['debian-12-x64']) =>
  writeBundle(loadProject(makeProject({ manifest: { securityUpdates, distributions } as Partial<Manifest> })));

/** A root with apt's configuration as unattended-upgrades installs it (its 50unattended-upgrades). */
function aptRoot(script: string, os: Os): string {
  const root = hostRoot(os);
  put(root, 'etc/apt/apt.conf.d/50unattended-upgrades', readFileSync('/etc/apt/apt.conf.d/50unattended-upgrades'));
  put(root, 'etc/apt/sources.list', '');
  for (const d of [
    'var/lib/apt/lists/partial',
    'var/cache/apt/archives/partial',
    'var/lib/dpkg/updates',
    'var/log/unattended-upgrades',
  ])
    dir(root, d);
  put(root, 'var/lib/dpkg/status', '');
  // as on the system: unattended-upgrade keeps its pid file there
  symlinkSync('/run', join(root, 'var/run'));
  put(root, 'mpimg-test/build.sh', readFileSync(script), 0o755);
  return root;
}

/** apt-config dump of the root, by the real apt, inside it. */
const dump = (root: string) => {
  const r = inHostRoot(root, 'apt-config dump');
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};
const originsOf = (d: string) =>
  [...d.matchAll(/^Unattended-Upgrade::(Origins-Pattern|Allowed-Origins):: "(.*)";$/gm)].map((m) => `${m[1]} ${m[2]}`);

describe('the autoupdates step on apt distributions, with the real apt and unattended-upgrades', () => {
  it('Debian: the security archive only, daily, no reboot; unattended-upgrade itself takes only it; timers on', () => {
    const root = aptRoot(bundleWith({ automatic: true }).build, 'debian');
    // as the package leaves it: stable updates too
    expect(originsOf(dump(root)).length).toBeGreaterThan(1);
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh autoupdates');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'autoupdates: unattended-upgrades: security updates daily, reboot never; /etc/apt/apt.conf.d/20auto-upgrades, /etc/apt/apt.conf.d/52acme-wiki-security-updates; apt-daily.timer, apt-daily-upgrade.timer enabled\n',
    );
    const d = dump(root);
    expect(originsOf(d)).toEqual([
      'Origins-Pattern origin=Debian,codename=${distro_codename}-security,label=Debian-Security',
    ]);
    expect(d).toMatch(/^APT::Periodic::Unattended-Upgrade "1";$/m);
    expect(d).toMatch(/^APT::Periodic::Update-Package-Lists "1";$/m);
    expect(d).toMatch(/^Unattended-Upgrade::Automatic-Reboot "false";$/m);
    for (const t of ['apt-daily.timer', 'apt-daily-upgrade.timer'])
      expect(lstatSync(join(root, 'etc/systemd/system/timers.target.wants', t)).isSymbolicLink()).toBe(true);
    // unattended-upgrade reads the same files and says which origins it allows
    const dry = inHostRoot(root, 'unattended-upgrade --dry-run --debug 2>&1; true');
    expect(dry.stdout).toMatch(
      /^Allowed origins are: origin=Debian,codename=bookworm-security,label=Debian-Security$/m,
    );
    expect(dry.stdout).toContain('No packages found that can be upgraded unattended');
    const again = inHostRoot(root, 'sh /mpimg-test/build.sh autoupdates');
    expect(again.stdout).toContain('52acme-wiki-security-updates (already)');
    expect(processesIn(root)).toEqual([]);
  });

  it('Ubuntu: its -security pocket only; a reboot at a time of day', () => {
    const root = aptRoot(bundleWith({ automatic: true, reboot: '04:30' }, ['ubuntu-24-04-x64']).build, 'ubuntu');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh autoupdates');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const d = dump(root);
    expect(originsOf(d)).toEqual(['Allowed-Origins ${distro_id}:${distro_codename}-security']);
    expect(d).toMatch(/^Unattended-Upgrade::Automatic-Reboot "true";$/m);
    expect(d).toMatch(/^Unattended-Upgrade::Automatic-Reboot-Time "04:30";$/m);
    const dry = inHostRoot(root, 'unattended-upgrade --dry-run --debug 2>&1; true');
    expect(dry.stdout).toMatch(/^Allowed origins are: o=Ubuntu,a=noble-security$/m);
  });

  it('fails naming the file when a later apt file brings other origins back', () => {
    const root = aptRoot(bundleWith({ automatic: true, reboot: 'when-needed' }).build, 'debian');
    put(root, 'etc/apt/apt.conf.d/60vendor', 'Unattended-Upgrade::Origins-Pattern { "origin=*"; };\n');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh autoupdates');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: autoupdates: unattended-upgrades would also install from origins other than the security archive: Unattended-Upgrade::Origins-Pattern:: "origin=*";',
    );
  });

  it('never writes over a policy file of that name it did not write', () => {
    const root = aptRoot(bundleWith({ automatic: true }).build, 'debian');
    put(root, 'etc/apt/apt.conf.d/52acme-wiki-security-updates', '// mine\n');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh autoupdates');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      '/etc/apt/apt.conf.d/52acme-wiki-security-updates is in the way: mpimg did not write it',
    );
    expect(readFileSync(join(root, 'etc/apt/apt.conf.d/52acme-wiki-security-updates'), 'utf8')).toBe('// mine\n');
  });

  it('leaves the distribution as it is when mpimg.json does not ask', () => {
    const root = aptRoot(bundleWith({ automatic: false }).build, 'debian');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh autoupdates');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("the distribution's setting is left as it is");
    expect(existsSync(join(root, 'etc/apt/apt.conf.d/20auto-upgrades'))).toBe(false);
  });
});

/** A staged Rocky root holding dnf-automatic's files (its config as python3-dnf ships it, its timer). */
function dnfRoot(script: string, withDnfModule: boolean): string {
  const root = buildRoot('rocky');
  const staged = stagedIn(root, 'staged', 'rocky');
  copyBinary(staged, '/usr/bin/dash', 'bin/sh');
  dir(staged, 'dev');
  const mk = spawnSync('mknod', ['-m', '666', join(staged, 'dev/null'), 'c', '1', '3'], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`mknod ${staged}/dev/null: ${mk.stderr}`);
  put(staged, 'etc/dnf/automatic.conf', readFileSync('/etc/dnf/automatic.conf'));
  put(
    staged,
    'usr/bin/dnf-automatic',
    '#!/usr/bin/python3\nimport sys\nfrom dnf.automatic.main import main\nsys.exit(main(sys.argv[1:]))\n',
    0o755,
  );
  put(
    staged,
    'usr/lib/systemd/system/dnf-automatic.timer',
    '[Unit]\nDescription=dnf-automatic timer\n\n[Timer]\nOnCalendar=*-*-* 6:00\nRandomizedDelaySec=60m\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n',
  );
  if (withDnfModule) {
    dir(staged, 'usr/lib/python3.9/site-packages/dnf/automatic');
    copyFileSync(
      '/usr/lib/python3/dist-packages/dnf/automatic/main.py',
      join(staged, 'usr/lib/python3.9/site-packages/dnf/automatic/main.py'),
    );
  }
  installScript(root, script);
  return root;
}

/** The image check's auto-updates result for the root at `dir` (--root: read from its files). */
function autoUpdatesCheck(dir: string, reboot: string) {
  const { report } = checkJson(dir, ['--security-updates', reboot]);
  const c = report.checks.find((x) => x.id === 'auto-updates');
  return c && { status: c.status, message: c.message, evidence: c.evidence };
}

/** dnf's own reading of the file (python3-dnf's AutomaticConfig). */
function dnfReads(file: string): string {
  const r = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import sys, dnf.automatic.main as m\nc = m.AutomaticConfig(sys.argv[1]).commands\nprint(c.upgrade_type, c.download_updates, c.apply_updates)',
      file,
    ],
    { encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('the autoupdates step on the dnf family', () => {
  it('security updates applied, as dnf itself reads the file; its comments kept; dnf-automatic.timer enabled', () => {
    const root = dnfRoot(bundleWith({ automatic: true }, ['rockylinux-9-x64']).build, true);
    const conf = join(root, 'staged/etc/dnf/automatic.conf');
    expect(dnfReads(conf)).toBe('default True False');
    const r = runBuild(root, ['--root', '/staged', 'autoupdates']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'autoupdates: dnf-automatic: security updates applied daily, reboot never; /etc/dnf/automatic.conf (written); dnf-automatic.timer enabled',
    );
    expect(dnfReads(conf)).toBe('security True True');
    const text = readFileSync(conf, 'utf8');
    expect(text).toContain('# security                           = only the security upgrades\n');
    expect(text.match(/^upgrade_type = /gm)).toHaveLength(1);
    expect(
      lstatSync(join(root, 'staged/etc/systemd/system/timers.target.wants/dnf-automatic.timer')).isSymbolicLink(),
    ).toBe(true);
    const again = runBuild(root, ['--root', '/staged', 'autoupdates']);
    expect(again.stdout).toContain('/etc/dnf/automatic.conf (unchanged)');
    // the image check reads what the step wrote (the staged root's own files)
    put(root, 'staged/usr/bin/dnf', '#!/usr/bin/python3\n', 0o755);
    expect(autoUpdatesCheck(join(root, 'staged'), 'never')).toEqual({
      status: 'pass',
      message: 'dnf-automatic installs security updates only, daily, reboot: never',
      evidence: [],
    });
    expect(autoUpdatesCheck(join(root, 'staged'), 'when-needed')).toEqual({
      status: 'fail',
      message:
        "automatic security updates (dnf-automatic) are not as mpimg.json says (below): run the build's autoupdates step again",
      evidence: ['reboot is "", not when-needed'],
    });
  });

  it('a reboot policy on a dnf-automatic without its reboot option (dnf 4.14) stops the build, saying so', () => {
    const root = dnfRoot(bundleWith({ automatic: true, reboot: 'when-needed' }, ['rockylinux-9-x64']).build, true);
    const before = readFileSync(join(root, 'staged/etc/dnf/automatic.conf'), 'utf8');
    const r = runBuild(root, ['--root', '/staged', 'autoupdates']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: autoupdates: this dnf-automatic cannot reboot by itself (its reboot option came with dnf 4.15)\n',
    );
    expect(readFileSync(join(root, 'staged/etc/dnf/automatic.conf'), 'utf8')).toBe(before);
  });
});

describe('autoupdates in the build order, the packages and the Packer template', () => {
  it('comes after fail2ban; the package of the family joins build.packages', () => {
    const order = buildOrder();
    expect(order.indexOf('autoupdates')).toBe(order.indexOf('fail2ban') + 1);
    expect(sectionPackages({ securityUpdates: { automatic: true } }, 'apt')).toEqual(['unattended-upgrades']);
    expect(sectionPackages({ securityUpdates: { automatic: true } }, 'dnf')).toEqual(['dnf-automatic']);
    expect(sectionPackages({ securityUpdates: { automatic: false } }, 'apt')).toEqual([]);
    const packer = readFileSync(bundleWith({ automatic: true }).packer, 'utf8');
    expect(packer).toContain("install 'jq' 'unattended-upgrades'");
    expect(packer).toContain('"sh ${local.work}/acme-wiki-build.sh autoupdates"');
  });

  it('the rendered step is clean for shellcheck', () => {
    const b = bundleWith({ automatic: true, reboot: '04:30' });
    const r = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', b.build], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
