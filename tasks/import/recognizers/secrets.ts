/**
 * Passwords a first-boot script makes (`admin_pass=$(openssl rand -hex 16)`, pwgen, tr from
 * /dev/urandom): each becomes a $.secrets entry of the same strength, made by the tool once per
 * droplet (and saved in the credentials file), and the line takes its value from the environment:
 * `admin_pass=$ADMIN_PASS`. Writing it to /root/.digitalocean_password(s) stays (passwords.ts).
 * Only first-boot scripts: a password made at build time would be the same on every droplet.
 */
import { reservedVariable } from '../../../runtime/sections/variables.js';
import type { Secret } from '../../../runtime/sections/secrets.js';
import { where, type ImportState, type Recognizer } from '../state.js';
import { plainCommands } from './util.js';

/** A secret of the manifest: name, length and alphabet of what the command makes; undefined when unknown. */
export function secretOf(command: string): Omit<Secret, 'name'> | undefined {
  const c = command.trim().replace(/\s+/g, ' ');
  let m = /^openssl rand -hex (\d+)$/.exec(c);
  if (m) return { length: 2 * Number(m[1]), alphabet: 'hex' };
  m = /^openssl rand -base64 (\d+)( \| tr -d ['"]?[^|]*['"]?)?$/.exec(c);
  if (m) return { length: Math.ceil((4 * Number(m[1])) / 3), alphabet: 'base64url' };
  m = /^pwgen( -[a-zA-Z]+)* (\d+) 1$/.exec(c);
  if (m) return { length: Number(m[2]), alphabet: 'alnum' };
  // tr -dc SET < /dev/urandom | head -c N, or head /dev/urandom | tr -dc SET | head -c N
  m =
    /^(?:(?:cat|head(?: -c \d+)?) \/dev\/urandom \| )?tr -dc ['"]?([^'" |]+)['"]?(?: < ?\/dev\/urandom)? \| (?:fold -w \d+ \| )?head -c ?(\d+)(?: \| head -n ?1| ; echo)?$/.exec(
      c,
    );
  if (m) {
    const set = m[1];
    const alphabet = /^(a-f0-9|0-9a-f|\[:xdigit:\]|A-F0-9|0-9A-F)$/.test(set) ? 'hex' : 'alnum';
    return { length: Number(m[2]), alphabet };
  }
  return undefined;
}

/** The first-boot secrets found: put into mpimg.json by the importer. */
export const foundSecrets = (state: ImportState): Secret[] => state.secrets.map((s) => s.secret);

/**
 * The secret's name for the script's variable `variable`: its capitals, valid in mpimg.json and as a
 * shell variable, never reserved, never a variable of the project or another secret, and (when not the
 * script's own name) never one the first-boot scripts expand: `${n}_2`, `${n}_3`... when taken.
 */
export function secretName(variable: string, state: ImportState): string {
  let n = variable.toUpperCase().replace(/^[^A-Z]+/, '') || 'SECRET';
  if (reservedVariable(n)) n = `APP_${n}`;
  n = n.slice(0, 64);
  const taken = (c: string): boolean =>
    state.variables.has(c) ||
    state.secrets.some((s) => s.secret.name === c) ||
    (c !== variable && state.firstBootTexts.some((t) => new RegExp(`\\$\\{?${c}(?![A-Za-z0-9_])`).test(t)));
  let cand = n;
  for (let k = 2; taken(cand); k++) cand = `${n.slice(0, 63 - String(k).length)}_${k}`;
  return cand;
}

export const secrets: Recognizer = {
  name: 'secrets',
  roles: ['first-boot'],
  match(u, view) {
    const cmds = plainCommands(u);
    if (!cmds || cmds.length !== 1) return undefined;
    const c = cmds[0];
    if (c.words.length || c.redirects.length || c.assigns.length !== 1) return undefined;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(?:"\$\((.*)\)"|\$\((.*)\))$/s.exec(c.assigns[0].raw);
    const made = m && secretOf(m[2] ?? m[3]);
    if (!m || !made) return undefined;
    const name = secretName(m[1], view.state);
    const length = Math.min(256, Math.max(made.length ?? 32, 12));
    view.state.secrets.push({
      secret: { name, length, alphabet: made.alphabet },
      variable: m[1],
      from: `${where(view, u)} (${m[1]})`,
    });
    const indent = /^[ \t]*/.exec(u.text)![0];
    return {
      became: `secrets: ${name} (${length} ${made.alphabet}, made once per droplet)`,
      replace: name === m[1] ? `${indent}# ${name}: $.secrets (made at first boot)` : `${indent}${m[1]}=$${name}`,
    };
  },
};
