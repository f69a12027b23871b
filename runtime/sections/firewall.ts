/** $.firewall: the image's allow list (ufw on apt distributions, firewalld on dnf ones), enabled. */
import type { Check } from '../schema.js';
import { obj, push, strings, str } from './common.js';

export interface Firewall {
  /** "22/tcp", "80/tcp", "6000:6010/tcp", "53/udp". */
  allow?: string[];
  /** Allowed, rate-limited (ufw limit): for ssh. */
  limit?: string[];
}

export const RULE_RE = /^(\d{1,5})(?::(\d{1,5}))?(?:\/(tcp|udp))?$/;

const RULE = str({
  pattern: RULE_RE.source,
  'x-message': 'bad rule {value}',
  'x-hint': 'a port or range with its protocol: "443/tcp", "6000:6010/tcp", "53/udp"',
});

export const FIREWALL_SCHEMA = obj(
  {
    allow: strings(RULE, { description: 'Ports let in: "PORT/PROTO" or "LOW:HIGH/PROTO".' }),
    limit: strings(RULE, {
      description: 'Ports let in with a rate limit on new connections (ufw limit), e.g. ["22/tcp"].',
    }),
  },
  {
    description:
      'The firewall of the image: only these ports are let in (Marketplace review rejects images without an active firewall). SSH (22/tcp) must be among them.',
    'x-check': 'firewall',
  },
);

export const FIREWALL_CHECKS: Record<string, Check> = {
  firewall(v, at, out) {
    const f = v as Firewall;
    if (typeof f !== 'object' || f === null) return;
    let ssh = false;
    for (const key of ['allow', 'limit'] as const) {
      (f[key] ?? []).forEach((r, i) => {
        const m = typeof r === 'string' ? RULE_RE.exec(r) : null;
        if (!m) return;
        const lo = Number(m[1]);
        const hi = m[2] === undefined ? lo : Number(m[2]);
        if (lo < 1 || hi > 65535 || hi < lo)
          push(out, `${at}.${key}[${i}]`, `bad port range "${r}"`, 'ports from 1 to 65535, the low one first');
        else if (m[2] !== undefined && !m[3])
          push(out, `${at}.${key}[${i}]`, `a port range needs its protocol: "${r}"`, `e.g. "${r}/tcp"`);
        if (lo <= 22 && 22 <= hi && m[3] !== 'udp') ssh = true;
      });
    }
    if (!ssh)
      push(
        out,
        `${at}`,
        'the firewall does not let SSH (22/tcp) in: customers could not log in',
        'add "22/tcp" to "limit" (or "allow")',
      );
  },
};

/** Every rule as [port spec, proto, 'allow'|'limit'], in the manifest's order. */
export function firewallRules(
  f: Firewall,
): Array<{ ports: string; proto: 'tcp' | 'udp' | 'any'; action: 'allow' | 'limit' }> {
  const out: Array<{ ports: string; proto: 'tcp' | 'udp' | 'any'; action: 'allow' | 'limit' }> = [];
  for (const action of ['limit', 'allow'] as const) {
    for (const r of f[action] ?? []) {
      const m = RULE_RE.exec(r)!;
      out.push({ ports: m[2] ? `${m[1]}:${m[2]}` : m[1], proto: (m[3] as 'tcp' | 'udp' | undefined) ?? 'any', action });
    }
  }
  return out;
}

/** The image check's --firewall argument: "limit:22/tcp allow:80/tcp allow:53" (ufw's order: limits first). */
export function firewallCheckArg(f: Firewall): string {
  return firewallRules(f)
    .map((r) => `${r.action}:${r.ports}${r.proto === 'any' ? '' : `/${r.proto}`}`)
    .join(' ');
}

/**
 * What the bundle and the check task put before the vendor's own check arguments (a later
 * --firewall wins). A vendor's copy of the check from before --firewall existed would refuse the
 * flag, so it is given only to a script that knows it.
 */
export function checkArgs(f: Firewall | undefined, checkScript: string): string[] {
  if (!f || !(f.allow?.length || f.limit?.length) || !knowsFirewallFlag(checkScript)) return [];
  return ['--firewall', firewallCheckArg(f)];
}

export const knowsFirewallFlag = (checkScript: string): boolean => checkScript.includes('--firewall)');
