// The image check's firewall comparison (--firewall RULES, as the bundle and the
// check task pass mpimg.json's $.firewall): staged roots with the files ufw and
// firewalld keep their rules in.
import { afterAll, describe, expect, it } from 'vitest';
import { LIMIT_FILE, LIMIT_UNIT, limitRuleset, limitUnit } from '../../tasks/bundle/firewall-limit.js';
import { check, checkJson, cleanRoot, cleanupFixtures, link, put, remove, tagOf, treeHash } from './fixture-root.js';

afterAll(cleanupFixtures);

const RULES = 'limit:22/tcp allow:80/tcp allow:443/tcp';

/** user.rules as ufw writes it: a "### tuple ###" comment before each rule's iptables lines. */
function ufwRules(tuples: string[], v6 = false): string {
  const any = v6 ? '::/0' : '0.0.0.0/0';
  const body = tuples
    .map((t) => {
      const tuple = t.includes('/')
        ? t
        : (() => {
            const [action, proto, port, app] = t.split(' ');
            return app
              ? `${action} ${proto} ${port} ${any} any ${any} ${app} - in`
              : `${action} ${proto} ${port} ${any} any ${any} in`;
          })();
      const [action, proto, port] = tuple.split(' ');
      const p = proto === 'any' ? '' : ` -p ${proto}`;
      return `### tuple ### ${tuple}\n-A ufw${v6 ? '6' : ''}-user-input${p} --dport ${port} -j ${action === 'limit' ? 'ufw-user-limit' : 'ACCEPT'}\n`;
    })
    .join('\n');
  return `*filter\n:ufw-user-input - [0:0]\n### RULES ###\n\n${body}\n### END RULES ###\nCOMMIT\n`;
}

function ufwRoot(tuples: string[], opts: { ipv6?: boolean; v6tuples?: string[] } = {}): string {
  const root = cleanRoot();
  put(root, 'etc/ufw/user.rules', ufwRules(tuples));
  if (opts.ipv6) {
    put(root, 'etc/default/ufw', 'IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\n');
    put(root, 'etc/ufw/user6.rules', ufwRules(opts.v6tuples ?? tuples, true));
  } else {
    put(root, 'etc/default/ufw', 'IPV6=no\n');
  }
  return root;
}

function evidence(root: string, args: string[]): { status?: string; evidence: string[] } {
  const { report } = checkJson(root, args);
  const c = report.checks.find((x) => x.id === 'firewall');
  return { status: c?.status, evidence: c?.evidence ?? [] };
}

const SSH_SERVICE =
  '<?xml version="1.0" encoding="utf-8"?>\n<service>\n  <short>SSH</short>\n  <port protocol="tcp" port="22"/>\n</service>\n';
const DHCP6_SERVICE =
  '<?xml version="1.0" encoding="utf-8"?>\n<service>\n  <short>DHCPv6 Client</short>\n  <port protocol="udp" port="546"/>\n</service>\n';

/** The per-source limit the build writes for the limit rules under firewalld, its unit enabled. */
function perSourceLimit(root: string): void {
  put(root, LIMIT_FILE.slice(1), limitRuleset({ limit: ['22/tcp'] })!);
  put(root, `etc/systemd/system/${LIMIT_UNIT}`, limitUnit());
  link(root, `etc/systemd/system/multi-user.target.wants/${LIMIT_UNIT}`, `/etc/systemd/system/${LIMIT_UNIT}`);
}

function firewalldRoot(zone: string): string {
  const root = cleanRoot();
  perSourceLimit(root);
  remove(root, 'etc/ufw');
  put(root, 'usr/lib/systemd/system/firewalld.service', '[Unit]\n');
  link(
    root,
    'etc/systemd/system/multi-user.target.wants/firewalld.service',
    '/usr/lib/systemd/system/firewalld.service',
  );
  put(root, 'usr/lib/firewalld/services/ssh.xml', SSH_SERVICE);
  put(root, 'usr/lib/firewalld/services/dhcpv6-client.xml', DHCP6_SERVICE);
  put(root, 'etc/firewalld/firewalld.conf', 'DefaultZone=public\n');
  put(
    root,
    'etc/firewalld/zones/public.xml',
    `<?xml version="1.0" encoding="utf-8"?>\n<zone>\n  <short>Public</short>\n${zone}</zone>\n`,
  );
  return root;
}

describe('99-img-check.sh --firewall: the image lets in exactly what mpimg.json allows', () => {
  it('ufw with the manifest rules (IPv4 and IPv6) passes', () => {
    const root = ufwRoot(['limit tcp 22', 'allow tcp 80', 'allow tcp 443'], { ipv6: true });
    const r = check(root, ['--firewall', RULES]);
    expect(tagOf(r.stdout, 'firewall'), r.stdout).toBe('PASS');
    expect(r.stdout).toMatch(/\[PASS\] firewall: the firewall lets in exactly what mpimg\.json allows/);
    expect(r.code, r.stdout).toBe(0);
  });

  it('a rule by application name (ufw allow "Nginx Full"-style) counts as its ports; a "80,443" list as both', () => {
    const root = ufwRoot(['limit tcp 22 OpenSSH', 'allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 in']);
    expect(tagOf(check(root, ['--firewall', RULES]).stdout, 'firewall')).toBe('PASS');
  });

  it('a missing rule, an extra one and allow-instead-of-limit each FAIL, named in the evidence', () => {
    const root = ufwRoot(['allow tcp 22', 'allow tcp 80', 'allow tcp 8080']);
    const r = check(root, ['--firewall', RULES]);
    expect(tagOf(r.stdout, 'firewall'), r.stdout).toBe('FAIL');
    expect(r.code).toBe(1);
    const e = evidence(root, ['--firewall', RULES]);
    expect(e.status).toBe('fail');
    expect(e.evidence).toEqual(
      expect.arrayContaining([
        'missing: limit tcp 22',
        'missing: allow tcp 443',
        'not in mpimg.json: allow tcp 22',
        'not in mpimg.json: allow tcp 8080',
      ]),
    );
    expect(e.evidence).not.toContain('missing: allow tcp 80');
  });

  it('IPv6 is compared on its own when ufw filters it: a rule only IPv4 has FAILs as "(IPv6)"', () => {
    const root = ufwRoot(['limit tcp 22', 'allow tcp 80', 'allow tcp 443'], {
      ipv6: true,
      v6tuples: ['limit tcp 22', 'allow tcp 80'],
    });
    const e = evidence(root, ['--firewall', RULES]);
    expect(e.status).toBe('fail');
    expect(e.evidence).toContain('missing: allow tcp 443 (IPv6)');
  });

  it('a rule open only to some sources is not an open port: listed whole', () => {
    const root = ufwRoot(['limit tcp 22', 'allow tcp 80', 'allow tcp 443 0.0.0.0/0 any 10.0.0.0/8 in']);
    const e = evidence(root, ['--firewall', RULES]);
    expect(e.status).toBe('fail');
    expect(e.evidence).toEqual(
      expect.arrayContaining([
        'missing: allow tcp 443',
        'not in mpimg.json: allow tcp 443 0.0.0.0/0 any 10.0.0.0/8 in',
      ]),
    );
  });

  it('ports without a protocol and ranges are ufw\'s "any" and "LOW:HIGH"', () => {
    const root = ufwRoot(['limit tcp 22', 'allow any 53', 'allow udp 60000:61000']);
    expect(tagOf(check(root, ['--firewall', 'limit:22/tcp allow:53 allow:60000:61000/udp']).stdout, 'firewall')).toBe(
      'PASS',
    );
  });

  it('no firewall enabled is a FAIL when mpimg.json declares one (a WARN otherwise)', () => {
    const root = ufwRoot(['limit tcp 22']);
    put(root, 'etc/ufw/ufw.conf', 'ENABLED=no\n');
    const r = check(root, ['--firewall', RULES]);
    expect(tagOf(r.stdout, 'firewall'), r.stdout).toBe('FAIL');
    expect(r.stdout).toMatch(/mpimg\.json declares a firewall, but none is enabled at boot/);
    expect(r.code).toBe(1);
    expect(tagOf(check(root).stdout, 'firewall')).toBe('WARN');
  });

  it('ufw enabled without any rules file FAILs (nothing would be let in as declared)', () => {
    const root = cleanRoot();
    const e = evidence(root, ['--firewall', RULES]);
    expect(e.status).toBe('fail');
    expect(e.evidence).toEqual(
      expect.arrayContaining(['missing: limit tcp 22', 'not in mpimg.json: no /etc/ufw/user.rules']),
    );
  });

  it("firewalld: the default zone's ports and services (resolved by their definitions) must be the manifest's", () => {
    const good = firewalldRoot(
      '  <service name="ssh"/>\n  <port protocol="tcp" port="80"/>\n  <port port="443" protocol="tcp"/>\n',
    );
    const r = check(good, ['--firewall', RULES]);
    expect(tagOf(r.stdout, 'firewall'), r.stdout).toBe('PASS');
    const extra = firewalldRoot(
      '  <service name="ssh"/>\n  <service name="dhcpv6-client"/>\n  <service name="cockpit"/>\n  <port protocol="tcp" port="80"/>\n',
    );
    const e = evidence(extra, ['--firewall', RULES]);
    expect(e.status).toBe('fail');
    expect(e.evidence).toEqual(
      expect.arrayContaining([
        'missing: 443/tcp',
        'not in mpimg.json: 546/udp',
        'not in mpimg.json: service cockpit (no definition)',
      ]),
    );
  });

  it('firewalld: the zone named in firewalld.conf is the one compared; a range is LOW-HIGH there', () => {
    const root = firewalldRoot('  <service name="ssh"/>\n');
    put(root, 'etc/firewalld/firewalld.conf', '# comment\nDefaultZone=app\n');
    put(
      root,
      'etc/firewalld/zones/app.xml',
      '<zone>\n  <port protocol="tcp" port="22"/>\n  <port protocol="tcp" port="6000-6010"/>\n</zone>\n',
    );
    expect(tagOf(check(root, ['--firewall', 'limit:22/tcp allow:6000:6010/tcp']).stdout, 'firewall')).toBe('PASS');
    expect(tagOf(check(root, ['--firewall', RULES]).stdout, 'firewall')).toBe('FAIL');
  });

  it("firewalld: each limit rule needs its per-source limit (IPv4 and IPv6), loaded at boot; firewalld's global rich-rule limit is not one", () => {
    const zone =
      '  <port protocol="tcp" port="22"/>\n  <port protocol="tcp" port="80"/>\n  <port protocol="tcp" port="443"/>\n';
    // an image from before the per-source limit: port 22 only as firewalld's one rate for every source
    const old = firewalldRoot(
      '  <rule>\n    <port port="22" protocol="tcp"/>\n    <accept>\n      <limit value="10/m"/>\n    </accept>\n  </rule>\n  <port protocol="tcp" port="80"/>\n  <port protocol="tcp" port="443"/>\n',
    );
    remove(old, LIMIT_FILE.slice(1));
    let e = evidence(old, ['--firewall', RULES]);
    expect(e.status).toBe('fail');
    expect(e.evidence).toEqual(
      expect.arrayContaining(['missing: limit 22/tcp per source (IPv4)', 'missing: limit 22/tcp per source (IPv6)']),
    );
    // the unit that loads it not enabled at boot
    const off = firewalldRoot(zone);
    remove(off, `etc/systemd/system/multi-user.target.wants/${LIMIT_UNIT}`);
    e = evidence(off, ['--firewall', RULES]);
    expect(e.status).toBe('fail');
    expect(e.evidence).toContain(`missing: ${LIMIT_UNIT} enabled at boot (it loads the per-source limit)`);
    // a limit on a port mpimg.json only allows; a range and a port of both protocols
    const extra = firewalldRoot(zone);
    put(extra, LIMIT_FILE.slice(1), limitRuleset({ limit: ['22/tcp', '80/tcp'] })!);
    e = evidence(extra, ['--firewall', RULES]);
    expect(e.status).toBe('fail');
    expect(e.evidence).toEqual(
      expect.arrayContaining([
        'not in mpimg.json: limit 80/tcp per source (IPv4)',
        'not in mpimg.json: limit 80/tcp per source (IPv6)',
      ]),
    );
    const many = firewalldRoot(
      '  <port protocol="tcp" port="6000-6010"/>\n  <port protocol="tcp" port="53"/>\n  <port protocol="udp" port="53"/>\n',
    );
    put(many, LIMIT_FILE.slice(1), limitRuleset({ limit: ['6000:6010/tcp', '53'] })!);
    expect(evidence(many, ['--firewall', 'limit:6000:6010/tcp limit:53']).status).toBe('pass');
  });

  it('a firewall the manifest cannot describe (nftables) FAILs with the reason', () => {
    const root = cleanRoot();
    put(root, 'etc/ufw/ufw.conf', 'ENABLED=no\n');
    put(
      root,
      'etc/nftables.conf',
      'table inet filter {\n  chain input { type filter hook input priority 0; policy drop; }\n}\n',
    );
    link(root, 'etc/systemd/system/sysinit.target.wants/nftables.service', '/lib/systemd/system/nftables.service');
    const r = check(root, ['--firewall', RULES]);
    expect(tagOf(r.stdout, 'firewall'), r.stdout).toBe('FAIL');
    expect(r.stdout).toMatch(/filters with nftables: its rules cannot be compared/);
  });

  it('refuses a malformed --firewall with exit 2 before checking anything; a glob is never expanded', () => {
    const root = ufwRoot(['limit tcp 22']);
    const before = treeHash(root);
    for (const bad of ['22/tcp', 'allow:http', 'deny:22/tcp', '', '   ', 'allow:*', '*']) {
      const r = check(root, ['--firewall', bad]);
      expect(r.code, `${bad}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/--firewall/);
    }
    expect(check(root, ['--firewall']).code).toBe(2);
    expect(treeHash(root)).toBe(before);
  });
});
