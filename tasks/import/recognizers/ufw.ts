/**
 * ufw lines (and DigitalOcean's 014-ufw-*.sh presets, which are nothing else) become $.firewall.
 * The package's firewall step deletes every rule mpimg.json does not list, so either every rule
 * line of the build maps onto $.firewall, or none is taken and they all stay as script.
 */
import { validateManifest } from '../../../runtime/manifest.js';
import { argv, commandsOf, type SimpleCommand, type Unit } from '../shell.js';
import type { ImportState, Recognizer } from '../state.js';
import { plainPipelines, prog, quietRedirects } from './util.js';

/** /etc/services names and ufw application profiles DigitalOcean's images use. */
const NAMED: Record<string, string[]> = {
  ssh: ['22/tcp'],
  openssh: ['22/tcp'],
  http: ['80/tcp'],
  https: ['443/tcp'],
  www: ['80/tcp'],
  'www secure': ['443/tcp'],
  'www full': ['80/tcp', '443/tcp'],
  'nginx http': ['80/tcp'],
  'nginx https': ['443/tcp'],
  'nginx full': ['80/tcp', '443/tcp'],
  apache: ['80/tcp'],
  'apache secure': ['443/tcp'],
  'apache full': ['80/tcp', '443/tcp'],
  mysql: ['3306/tcp'],
  postgresql: ['5432/tcp'],
  postgres: ['5432/tcp'],
  smtp: ['25/tcp'],
  submission: ['587/tcp'],
  smtps: ['465/tcp'],
  imap: ['143/tcp'],
  imaps: ['993/tcp'],
  pop3: ['110/tcp'],
  pop3s: ['995/tcp'],
  ftp: ['21/tcp'],
  domain: ['53'],
  dns: ['53'],
  ntp: ['123/udp'],
  postfix: ['25/tcp'],
  'postfix smtps': ['465/tcp'],
  'postfix submission': ['587/tcp'],
  'dovecot imap': ['143/tcp'],
  'dovecot secure imap': ['993/tcp'],
  'dovecot pop3': ['110/tcp'],
  'dovecot secure pop3': ['995/tcp'],
  cups: ['631/tcp'],
};

type UfwLine =
  | { kind: 'rule'; action: 'allow' | 'limit'; rules: string[] }
  | { kind: 'enable' | 'defaults' | 'harmless' | 'logging' | 'reset' }
  | { kind: 'unmapped'; why: string };

/** "80", "80/tcp", "6000:6010/tcp", "80,443/tcp" → mpimg rules, or undefined. */
function portSpec(spec: string, proto?: string): string[] | undefined {
  const m = /^([\d:,]+)(?:\/(tcp|udp))?$/.exec(spec);
  if (!m) return undefined;
  const p = m[2] ?? proto;
  const parts = m[1].split(',');
  if (parts.some((x) => !/^\d+(:\d+)?$/.test(x))) return undefined;
  return parts.map((x) => (p ? `${x}/${p}` : x));
}

function ufwLine(c: SimpleCommand): UfwLine | undefined {
  const w = argv(c);
  if (prog(w) !== 'ufw') return undefined;
  if (!w.every((x) => x.plain) || !quietRedirects(c)) return { kind: 'unmapped', why: 'it uses shell expansions' };
  let a = w.slice(1).map((x) => x.text);
  a = a.filter((x) => x !== '--force' && x !== '-f');
  const [verb, ...rest] = a;
  if (verb === 'enable' && rest.length === 0) return { kind: 'enable' };
  if ((verb === 'reload' || verb === 'status') && rest.every((x) => x === 'verbose' || x === 'numbered'))
    return { kind: 'harmless' };
  if (verb === 'logging') return { kind: 'logging' };
  // the firewall step converges on exactly mpimg.json's rules: a reset before them is what it does
  if (verb === 'reset' && rest.length === 0) return { kind: 'reset' };
  if (verb === 'default') {
    const s = rest.join(' ');
    if (s === 'deny incoming' || s === 'allow outgoing' || s === 'deny' || s === 'reject incoming')
      return { kind: 'defaults' };
    return { kind: 'unmapped', why: `"ufw default ${s}" has no $.firewall equivalent` };
  }
  if (verb !== 'allow' && verb !== 'limit')
    return { kind: 'unmapped', why: `"ufw ${a.join(' ')}" has no $.firewall equivalent` };
  // drop a trailing comment 'text' and an "in" direction
  let r = rest;
  const ci = r.indexOf('comment');
  if (ci >= 0) r = r.slice(0, ci);
  if (r[0] === 'in') r = r.slice(1);
  let rules: string[] | undefined;
  if (r.length === 1) {
    // "ssh", "ssh/tcp", "Nginx Full"
    const m = /^([A-Za-z][A-Za-z0-9 -]*)(?:\/(tcp|udp))?$/.exec(r[0]);
    const named = m ? NAMED[m[1].toLowerCase()] : undefined;
    rules = named
      ? m![2]
        ? named
            .filter((x) => !x.includes('/') || x.endsWith(`/${m![2]}`))
            .map((x) => (x.includes('/') ? x : `${x}/${m![2]}`))
        : named
      : portSpec(r[0]);
    if (rules && rules.length === 0) rules = undefined;
  } else {
    // proto P from any to any port X  |  from any to any port X proto P  |  to any port X
    const s = r.join(' ');
    const m = /^(?:proto (tcp|udp) )?(?:from any )?to any port ([\d:,]+)(?: proto (tcp|udp))?$/.exec(s);
    if (m) rules = portSpec(m[2], m[1] ?? m[3]);
  }
  if (!rules) return { kind: 'unmapped', why: `"ufw ${a.join(' ')}" has no $.firewall equivalent` };
  return { kind: 'rule', action: verb, rules };
}

/** The ufw lines of one unit, or undefined when it is not all ufw. */
function ufwLines(u: Unit): UfwLine[] | undefined {
  const p = plainPipelines(u);
  if (!p) return undefined;
  const out: UfwLine[] = [];
  for (const pl of p) {
    // `yes | ufw enable`, `echo y | ufw enable`
    const cmds =
      pl.commands.length === 2 && ['yes', 'echo'].includes(prog(argv(pl.commands[0]))) ? [pl.commands[1]] : pl.commands;
    if (cmds.length !== 1) return undefined;
    const l = ufwLine(cmds[0]);
    if (!l) return undefined;
    out.push(l);
  }
  return out;
}

const MENTIONS_UFW_RULE = /\bufw\s+(?:--force\s+)?(allow|limit|deny|reject|delete|insert|prepend|route)\b/;

/**
 * Before any build script is read: can every ufw line of the build map onto $.firewall? Sets
 * state.firewallMode and, in 'map' mode, the rules (so SSH can be checked at once).
 */
export function planFirewall(state: ImportState, scripts: Array<{ origin: string; units: Unit[] }>): void {
  const limit: string[] = [];
  const allow: string[] = [];
  let seen = false;
  for (const s of scripts) {
    for (const u of s.units) {
      if (u.kind !== 'command' && u.kind !== 'compound') continue;
      const lines = ufwLines(u);
      if (!lines) {
        if (
          MENTIONS_UFW_RULE.test(u.text) &&
          (u.kind === 'compound' || commandsOf(u).some((c) => prog(argv(c)) === 'ufw'))
        ) {
          state.firewallMode = 'keep';
          state.firewallWhy = `${s.origin}:${u.start} sets ufw rules in a way $.firewall cannot say`;
          return;
        }
        continue;
      }
      seen = true;
      for (const l of lines) {
        if (l.kind === 'unmapped') {
          state.firewallMode = 'keep';
          state.firewallWhy = `${s.origin}:${u.start}: ${l.why}`;
          return;
        }
        if (l.kind === 'reset') {
          limit.length = 0;
          allow.length = 0;
        }
        if (l.kind === 'rule')
          for (const r of l.rules)
            (l.action === 'limit' ? limit : allow).includes(r) || (l.action === 'limit' ? limit : allow).push(r);
      }
    }
  }
  if (!seen || (limit.length === 0 && allow.length === 0)) {
    state.firewallMode = 'keep';
    if (seen) state.firewallWhy = 'the ufw lines set no rule';
    return;
  }
  // A port both limited and allowed: ufw keeps the first; mpimg.json lists it once, as limited.
  const firewall = { limit, allow: allow.filter((r) => !limit.includes(r)) };
  const probe = {
    name: 'p',
    slug: 'probe',
    vendor: 'probe',
    version: '1',
    distributions: ['ubuntu-24-04-x64'],
    firewall,
  };
  const problems = validateManifest(probe).problems;
  if (problems.length) {
    state.firewallMode = 'keep';
    state.firewallWhy = `the rules would not make a valid $.firewall: ${problems[0].message}`;
    return;
  }
  state.firewallMode = 'map';
  state.firewall = firewall;
}

export const ufw: Recognizer = {
  name: 'ufw',
  roles: ['build'],
  match(u, view) {
    if (view.state.firewallMode !== 'map') return undefined;
    const lines = ufwLines(u);
    // `ufw logging ...` is not a rule: it stays (the firewall step leaves it alone)
    if (!lines || lines.some((l) => l.kind === 'logging')) return undefined;
    const rules = lines.flatMap((l) => (l.kind === 'rule' ? l.rules.map((r) => `${l.action} ${r}`) : []));
    if (rules.length) return { became: `firewall: ${rules.join(', ')}` };
    const kinds = lines.map((l) => l.kind);
    const what = kinds.includes('enable')
      ? 'turning ufw on: the firewall step does it, on from the first boot'
      : kinds.includes('reset')
        ? 'ufw reset: the firewall step keeps exactly the rules of mpimg.json'
        : 'ufw defaults/reload: the firewall step sets them';
    return { became: `dropped (${what})` };
  },
};
