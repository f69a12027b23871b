/**
 * Passwords a first-boot script makes (`admin_pass=$(openssl rand -hex 16)`, pwgen, tr from
 * /dev/urandom): each becomes a $.secrets entry of the same strength, made by the tool once per
 * droplet (and saved in the credentials file), and the line takes its value from the environment:
 * `admin_pass=$ADMIN_PASS`. Writing it to /root/.digitalocean_password(s) stays (passwords.ts).
 * Only first-boot scripts: a password made at build time would be the same on every droplet.
 */
import { reservedVariable, VARIABLE_NAME_RE } from '../../../runtime/sections/variables.js';
import type { Secret } from '../../../runtime/sections/secrets.js';
import type { ImportState, Recognizer } from '../state.js';
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
export const foundSecrets = (state: ImportState): Secret[] =>
  (state as ImportState & { secrets?: Secret[] }).secrets ?? [];

export const secrets: Recognizer = {
  name: 'secrets',
  roles: ['first-boot'],
  match(u, view) {
    const cmds = plainCommands(u);
    if (!cmds || cmds.length !== 1) return undefined;
    const c = cmds[0];
    if (c.words.length || c.redirects.length || c.assigns.length !== 1) return undefined;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(?:"\$\((.*)\)"|\$\((.*)\))$/s.exec(c.assigns[0].raw);
    if (!m) return undefined;
    const made = secretOf(m[2] ?? m[3]);
    const name = m[1].toUpperCase();
    const found = foundSecrets(view.state);
    if (!made || !VARIABLE_NAME_RE.test(name) || reservedVariable(name) || found.some((s) => s.name === name))
      return undefined;
    const length = Math.min(256, Math.max(made.length ?? 32, 12));
    (view.state as ImportState & { secrets?: Secret[] }).secrets = [
      ...found,
      { name, length, alphabet: made.alphabet },
    ];
    const indent = /^[ \t]*/.exec(u.text)![0];
    return {
      became: `secrets: ${name} (${length} ${made.alphabet}, made once per droplet)`,
      replace: name === m[1] ? `${indent}# ${name}: $.secrets (made at first boot)` : `${indent}${m[1]}=$${name}`,
    };
  },
};
