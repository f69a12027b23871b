/**
 * The firewall step of dist/<slug>-build.sh on apt distributions, with this machine's REAL ufw, in
 * a root of its own (test/helpers/host-root.ts: ufw's /etc is the root's, /usr read-only) and a
 * network namespace of its own (ufw probes iptables there, never on this machine). Where ufw cannot
 * use netfilter (here: run without CAP_NET_ADMIN, as in a container or chroot that lacks it), it
 * warns "initcaps", prints "Skipping unsupported IPv6 'limit' rule", exits 0 and writes no IPv6
 * half of `limit 22/tcp`: the step must fail right there, naming the rule.
 * (test/bundle/build-script.test.ts has a stand-in ufw that does the same.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { put } from '../scripts/fixture-root.js';

const FIREWALL = { limit: ['22/tcp'], allow: ['80/tcp', '53'] };
let script: string;

beforeAll(() => {
  const dir = makeProject({ manifest: { firewall: FIREWALL, build: { packages: ['ufw'] } } as Partial<Manifest> });
  script = writeBundle(loadProject(dir)).build;
});

/** A Debian root with ufw's files as the package installs them (the package's own copies in /usr/share). */
function ufwRoot(): string {
  const root = hostRoot('debian');
  for (const f of readdirSync('/usr/share/ufw/iptables'))
    put(root, `etc/ufw/${f}`, readFileSync(join('/usr/share/ufw/iptables', f)), 0o640);
  put(root, 'etc/ufw/ufw.conf', readFileSync('/usr/share/ufw/ufw.conf'));
  put(root, 'etc/ufw/sysctl.conf', readFileSync('/etc/ufw/sysctl.conf'));
  // application profiles (ufw refuses to run without the folder); copies of this machine's
  for (const f of readdirSync('/etc/ufw/applications.d'))
    put(root, `etc/ufw/applications.d/${f}`, readFileSync(join('/etc/ufw/applications.d', f)));
  put(
    root,
    'etc/default/ufw',
    'IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\nDEFAULT_FORWARD_POLICY="DROP"\nDEFAULT_APPLICATION_POLICY="SKIP"\nMANAGE_BUILTINS=no\nIPT_SYSCTL=/etc/ufw/sysctl.conf\nIPT_MODULES=""\n',
  );
  put(root, 'mpimg-test/build.sh', readFileSync(script), 0o755);
  return root;
}

const tuples = (root: string, file: string) =>
  readFileSync(join(root, 'etc/ufw', file), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('### tuple ### '))
    .map((l) => l.slice(14))
    .sort();

describe('the ufw step with real ufw', () => {
  it('where ufw can use netfilter: every rule in user.rules and user6.rules; read back; on from the first boot', () => {
    const root = ufwRoot();
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh firewall', { net: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(tuples(root, 'user.rules')).toEqual([
      'allow any 53 0.0.0.0/0 any 0.0.0.0/0 in',
      'allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in',
      'limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in',
    ]);
    expect(tuples(root, 'user6.rules')).toEqual([
      'allow any 53 ::/0 any ::/0 in',
      'allow tcp 80 ::/0 any ::/0 in',
      'limit tcp 22 ::/0 any ::/0 in',
    ]);
    expect(r.stdout).toContain(
      'firewall: ufw on from the first boot (ENABLED=yes, ufw.service enabled); not switched on here\n',
    );
    expect(readFileSync(join(root, 'etc/ufw/ufw.conf'), 'utf8')).toMatch(/^ENABLED=yes$/m);
    expect(processesIn(root)).toEqual([]);
  });

  it('where ufw cannot probe ip6tables (no CAP_NET_ADMIN) it skips the IPv6 limit rule: the step fails on the spot, naming it', () => {
    const root = ufwRoot();
    const r = inHostRoot(
      root,
      'setpriv --bounding-set=-net_admin --inh-caps=-net_admin sh /mpimg-test/build.sh firewall',
      { net: true },
    );
    // what real ufw did: the IPv4 half only
    expect(tuples(root, 'user.rules')).toContain('limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in');
    expect(tuples(root, 'user6.rules')).not.toContain('limit tcp 22 ::/0 any ::/0 in');
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('ufw on from the first boot');
    expect(r.stderr).toContain('  missing: limit 22/tcp (IPv6)\n');
    expect(r.stderr).toContain("  ufw said: Skipping unsupported IPv6 'limit' rule\n");
    expect(r.stderr).toContain(
      'error: firewall: ufw did not write every rule of mpimg.json: limit 22/tcp (IPv6) is missing from /etc/ufw/user6.rules (all listed above)\n',
    );
    expect(r.stderr).toMatch(
      /\nfix: ufw leaves out IPv6 'limit' rules where it cannot use ip6tables .*set IPV6=no in \/etc\/default\/ufw/,
    );
    // the IPv4 rules and the IPv6 allow rules are there: only the skipped half is named
    expect(r.stderr.match(/ {2}missing: /g)).toHaveLength(1);
  });
});
