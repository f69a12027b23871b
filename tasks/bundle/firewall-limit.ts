/**
 * The per-source `limit` of the RHEL family. firewalld's own rich-rule limit (`accept limit
 * value="10/m"`) is ONE rate for all sources together: background SSH scanning alone would use it up
 * and lock every customer out. ufw's limit counts per source address; this gives firewalld images
 * the same, as an nftables table of the image's own beside firewalld's (firewalld replaces only its
 * own tables when it starts or reloads), loaded at boot by a unit of its own (nftables.service
 * conflicts with firewalld.service). firewalld's zone opens the port; this table only drops a
 * source's new connections beyond its rate.
 *
 * The names are fixed (one image holds one project) so the image check, which knows only the
 * rules of --firewall, finds them: templates/droplet/99-img-check.sh uses the same ones.
 */
import { firewallRules, type Firewall } from '../../runtime/sections/firewall.js';

export const LIMIT_TABLE = 'mpimg_firewall_limit';
export const LIMIT_FILE = '/etc/nftables/mpimg-firewall-limit.nft';
export const LIMIT_UNIT = 'mpimg-firewall-limit.service';
/** The first line of both files: what the build step may replace or remove (never another's file). */
export const LIMIT_MARK =
  '# mpimg firewall limit: written by the firewall step of the build (generator-mpimg); do not edit';
/**
 * ufw's limit: a source's 6th new connection within 30 s is refused. Here: a burst of 5, then 10 a
 * minute, per address (a token bucket of the same average).
 */
export const LIMIT_RATE = '10/minute';
export const LIMIT_BURST = 5;

/** One nftables rule per protocol and family: "tcp dport 22" / "udp dport 6000-6010". */
function matches(f: Firewall): Array<{ proto: 'tcp' | 'udp'; ports: string; rule: string }> {
  const out: Array<{ proto: 'tcp' | 'udp'; ports: string; rule: string }> = [];
  for (const r of firewallRules(f)) {
    if (r.action !== 'limit') continue;
    for (const proto of ['tcp', 'udp'] as const) {
      if (r.proto !== 'any' && r.proto !== proto) continue;
      out.push({
        proto,
        ports: r.ports.replace(':', '-'),
        rule: `limit ${r.ports}${r.proto === 'any' ? '' : `/${r.proto}`}`,
      });
    }
  }
  return out;
}

/** The nftables file of the per-source limit, or undefined when $.firewall has no `limit` rule. */
export function limitRuleset(f: Firewall | undefined): string | undefined {
  const list = f ? matches(f) : [];
  if (list.length === 0) return undefined;
  const sets: string[] = [];
  const rules: string[] = [];
  list.forEach((m, i) => {
    for (const [fam, type, saddr] of [
      ['4', 'ipv4_addr', 'ip'],
      ['6', 'ipv6_addr', 'ip6'],
    ] as const) {
      const set = `limit${fam}_${i + 1}`;
      // dynamic: filled by the rule; timeout: an address idle for a minute is forgotten (its bucket
      // is full again by then); size: bounded memory, and a full set lets new addresses through.
      sets.push(`\tset ${set} {\n\t\ttype ${type}\n\t\tflags dynamic,timeout\n\t\ttimeout 1m\n\t\tsize 65535\n\t}`);
      rules.push(
        `\t\t${m.proto} dport ${m.ports} ct state new update @${set} { ${saddr} saddr limit rate over ${LIMIT_RATE} burst ${LIMIT_BURST} packets } drop comment "${m.rule}"`,
      );
    }
  });
  return [
    LIMIT_MARK,
    '# The per-source rate limit of the "limit" rules of mpimg.json, as ufw\'s limit: new connections',
    `# from one address beyond a burst of ${LIMIT_BURST}, then ${LIMIT_RATE.replace('/', ' a ')}, are dropped; other addresses are`,
    `# not affected. Loaded at boot by ${LIMIT_UNIT}, beside firewalld's own tables`,
    '# (whose zone opens the ports). Create, delete and define: loading it again replaces the table',
    '# in one transaction.',
    `table inet ${LIMIT_TABLE}`,
    `delete table inet ${LIMIT_TABLE}`,
    `table inet ${LIMIT_TABLE} {`,
    ...sets,
    '\tchain input {',
    // Before firewalld's input chain (priority filter + 10): a drop here is final, an accept is not.
    '\t\ttype filter hook input priority -10; policy accept;',
    ...rules,
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** The unit that loads it at boot (and removes the table when stopped). */
export function limitUnit(): string {
  return [
    LIMIT_MARK,
    '[Unit]',
    'Description=Per-source rate limit of the "limit" ports of mpimg.json (nftables table ' + LIMIT_TABLE + ')',
    `Documentation=file:${LIMIT_FILE}`,
    // Up before any network is, as firewalld itself.
    'Before=network-pre.target',
    'Wants=network-pre.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=/usr/sbin/nft -f ${LIMIT_FILE}`,
    `ExecReload=/usr/sbin/nft -f ${LIMIT_FILE}`,
    `ExecStop=/usr/sbin/nft delete table inet ${LIMIT_TABLE}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
