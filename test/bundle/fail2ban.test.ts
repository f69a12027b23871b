/**
 * $.fail2ban: the schema's errors at their $.path; dist/<slug>-build.sh's `fail2ban` step run with
 * this machine's REAL fail2ban (Debian's 1.0.2) in a root of its own (test/helpers/host-root.ts: the
 * root's /etc/fail2ban a copy of the package's, /usr read-only), its jail file read by the real
 * `fail2ban-client -t` and `-d` there; Debian's own sshd jail, which reads /var/log/auth.log that
 * Debian 12 no longer has, switched to the journal; the packages step and the Packer template.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { sectionPackages } from '../../runtime/section-packages.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildOrder } from '../../tasks/steps/index.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { makeProject } from '../helpers/project-fixture.js';
import { put } from '../scripts/fixture-root.js';

beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('these tests run fail2ban in namespaces of their own: run them as root');
  if (!existsSync('/usr/bin/fail2ban-client'))
    throw new Error("these tests need Debian's fail2ban installed (apt-get install fail2ban python3-systemd)");
});

const problems = (fail2ban: unknown) =>
  validateManifest({ ...MINIMAL_MANIFEST, fail2ban }).problems.map((p) => `${p.path}: ${p.message}`);

describe('$.fail2ban at validate time', () => {
  it('takes jail names and refuses what is not one, at its $.path', () => {
    expect(problems({ jails: ['sshd', 'nginx-http-auth', 'postfix_sasl'] })).toEqual([]);
    expect(problems({ jails: ['sshd', 'nginx http auth'] })).toEqual([
      '$.fail2ban.jails[1]: bad fail2ban jail name "nginx http auth"',
    ]);
    for (const bad of ['a$(id)', 'x]\n[DEFAULT', 'sshd;', 'a.b', '-sshd', '', 'j\u2028'])
      expect([...new Set(problems({ jails: [bad] }).map((p) => p.split(':')[0]))], JSON.stringify(bad)).toEqual([
        '$.fail2ban.jails[0]',
      ]);
    expect(problems({ jails: ['sshd', 'sshd'] })).toEqual(['$.fail2ban.jails[1]: jail "sshd" is listed twice']);
    expect(problems({ jails: ['DEFAULT'] })).toEqual([
      '$.fail2ban.jails[0]: "DEFAULT" is a section of fail2ban\'s configuration, not a jail',
    ]);
    expect(problems({ jails: [] })).toEqual(['$.fail2ban.jails: fail2ban has no jails']);
    expect(problems({})[0]).toMatch(/^\$\.fail2ban(\.jails)?: /);
    expect(problems({ jails: ['sshd'], bantime: 1 })[0]).toMatch(/^\$\.fail2ban\.bantime: /);
  });
});

function bundleWith(fail2ban: Manifest['fail2ban'], extra: Partial<Manifest> = {}) {
  return writeBundle(loadProject(makeProject({ manifest: { fail2ban, ...extra } })));
}

/** A Debian root with fail2ban's files as the package installs them (copies of this machine's). */
function f2bRoot(script: string): string {
  const root = hostRoot('debian');
  cpSync('/etc/fail2ban', join(root, 'etc/fail2ban'), { recursive: true });
  put(root, 'mpimg-test/build.sh', readFileSync(script), 0o755);
  return root;
}

/** The jails the real fail2ban enables with the root's configuration (its own dump, read here). */
function enabledJails(root: string): string[] {
  const r = spawnSync('fail2ban-client', ['-c', join(root, 'etc/fail2ban'), '-d'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return [...r.stdout.matchAll(/^\['add', '([^']+)', '([^']+)'\]$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
}

const JAIL_FILE = 'etc/fail2ban/jail.d/acme-wiki.local';

describe('the fail2ban step with the real fail2ban', () => {
  it('enables exactly the jails of mpimg.json (sshd from the journal), tested by fail2ban, on at boot; a re-run changes nothing', () => {
    const b = bundleWith({ jails: ['sshd', 'nginx-http-auth'] });
    const root = f2bRoot(b.build);
    // nginx's log, as nginx (installed before, with build.packages) leaves it
    put(root, 'var/log/nginx/error.log', '');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'fail2ban: jails nginx-http-auth sshd enabled in /etc/fail2ban/jail.d/acme-wiki.local (written), tested with fail2ban-client -t; fail2ban.service enabled at boot\n',
    );
    expect(readFileSync(join(root, JAIL_FILE), 'utf8')).toBe(
      '# generator-mpimg: the jails of mpimg.json ($.fail2ban); written again by every build\n\n[sshd]\nenabled = true\nbackend = systemd\n\n[nginx-http-auth]\nenabled = true\n',
    );
    expect(lstatSync(join(root, JAIL_FILE)).mode & 0o777).toBe(0o644);
    expect(enabledJails(root)).toEqual(['nginx-http-auth auto', 'sshd systemd']);
    expect(lstatSync(join(root, 'etc/systemd/system/multi-user.target.wants/fail2ban.service')).isSymbolicLink()).toBe(
      true,
    );
    const again = inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('/etc/fail2ban/jail.d/acme-wiki.local (unchanged)');
    expect(processesIn(root)).toEqual([]);
  });

  it("Debian's own sshd jail as it comes fails on Debian 12 (no /var/log/auth.log): the reason for backend = systemd", () => {
    const root = f2bRoot(bundleWith({ jails: ['sshd'] }).build);
    const r = spawnSync('fail2ban-client', ['-c', join(root, 'etc/fail2ban'), '-t'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('Have not found any log file for sshd jail');
    expect(inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban').code).toBe(0);
    expect(spawnSync('fail2ban-client', ['-c', join(root, 'etc/fail2ban'), '-t']).status).toBe(0);
  });

  it("switches Debian's sshd jail off when mpimg.json does not name it", () => {
    const root = f2bRoot(bundleWith({ jails: ['nginx-http-auth'] }).build);
    put(root, 'var/log/nginx/error.log', '');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, JAIL_FILE), 'utf8')).toContain('\n[sshd]\nenabled = false\n');
    expect(enabledJails(root)).toEqual(['nginx-http-auth auto']);
  });

  it("fails the build, showing fail2ban's reason, when a jail's log is not there or the jail is unknown", () => {
    const root = f2bRoot(bundleWith({ jails: ['sshd', 'nginx-http-auth'] }).build);
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Have not found any log file for nginx-http-auth jail');
    expect(r.stderr).toContain(
      'error: fail2ban: fail2ban refuses the configuration with the jails of mpimg.json (fail2ban-client -t, its output above)\n',
    );
    expect(r.stdout).not.toContain('enabled at boot');
    const unknown = f2bRoot(bundleWith({ jails: ['no-such-jail'] }).build);
    const u = inHostRoot(unknown, 'sh /mpimg-test/build.sh fail2ban');
    expect(u.code).toBe(1);
    expect(u.stderr).toContain("Errors in jail 'no-such-jail'");
  });

  it('fails when another file enables a jail mpimg.json does not name, naming it', () => {
    const root = f2bRoot(bundleWith({ jails: ['sshd'] }).build);
    put(root, 'etc/fail2ban/jail.d/zz-vendor.local', '[pam-generic]\nenabled = true\nbackend = systemd\n');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: fail2ban: fail2ban also enables the jail(s) pam-generic, which mpimg.json does not name\n',
    );
  });

  it('never writes over a file of that name it did not write, nor through a link', () => {
    const root = f2bRoot(bundleWith({ jails: ['sshd'] }).build);
    put(root, JAIL_FILE, '[sshd]\nenabled = true\n');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: fail2ban: /etc/fail2ban/jail.d/acme-wiki.local is in the way: mpimg did not write it\n',
    );
    expect(readFileSync(join(root, JAIL_FILE), 'utf8')).toBe('[sshd]\nenabled = true\n');
    const linked = f2bRoot(bundleWith({ jails: ['sshd'] }).build);
    put(linked, 'etc/elsewhere.local', "# not fail2ban's\n");
    symlinkSync('/etc/elsewhere.local', join(linked, JAIL_FILE));
    const l = inHostRoot(linked, 'sh /mpimg-test/build.sh fail2ban');
    expect(l.code).toBe(1);
    expect(l.stderr).toContain('/etc/fail2ban/jail.d/acme-wiki.local is in the way: mpimg did not write it');
    expect(readFileSync(join(linked, 'etc/elsewhere.local'), 'utf8')).toBe("# not fail2ban's\n");
  });

  it('does nothing without $.fail2ban', () => {
    const root = f2bRoot(writeBundle(loadProject(makeProject())).build);
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('fail2ban: mpimg.json has no fail2ban: nothing to do\n');
    expect(existsSync(join(root, JAIL_FILE))).toBe(false);
  });
});

describe('fail2ban in the build order, the packages and the Packer template', () => {
  it('comes after the firewall; apt images get fail2ban and python3-systemd with build.packages', () => {
    const order = buildOrder();
    expect(order.indexOf('fail2ban')).toBe(order.indexOf('firewall') + 1);
    expect(sectionPackages({ fail2ban: { jails: ['sshd'] } }, 'apt')).toEqual(['fail2ban', 'python3-systemd']);
    // EPEL's: the step installs epel-release, then fail2ban
    expect(sectionPackages({ fail2ban: { jails: ['sshd'] } }, 'dnf')).toEqual([]);
    const b = bundleWith({ jails: ['sshd'] }, { build: { packages: ['nginx', 'fail2ban'] } });
    const packer = readFileSync(b.packer, 'utf8');
    expect(packer).toContain("install 'nginx' 'fail2ban' 'python3-systemd'");
    expect(packer).toContain('"sh ${local.work}/acme-wiki-build.sh fail2ban"');
  });

  it('the rendered step is clean for shellcheck', () => {
    const b = bundleWith({ jails: ['sshd', 'nginx-http-auth'] });
    const r = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', b.build], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
