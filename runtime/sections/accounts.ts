/** $.users and $.directories: system users and owned folders, made at build time. */
import type { Check, Schema } from '../schema.js';
import { ACCOUNT_RE, dropletPath, obj, octalMode, push, str, strings } from './common.js';

export interface User {
  name: string;
  /** A system account (default true): no password, a uid below 1000. */
  system?: boolean;
  home?: string;
  /** Default /usr/sbin/nologin. */
  shell?: string;
  /** Its own group of the same name is always made; these are extra groups. */
  groups?: string[];
  comment?: string;
}

export interface Directory {
  path: string;
  owner?: string;
  group?: string;
  mode?: string;
}

export interface Ownership {
  /** A droplet path glob over files/ (e.g. "/etc/app/**"). */
  path: string;
  owner?: string;
  group?: string;
}

const account = (what: string): Schema => str({ description: what, pattern: ACCOUNT_RE.source, 'x-message': 'bad name {value}', 'x-hint': 'a user or group name: lower-case letters, digits, "_" and "-", starting with a letter or "_"' });

export const USERS_SCHEMA: Schema = strings(obj({
  name: account('The user name.'),
  system: { type: 'boolean', description: 'A system account (default true): no password, no login, a uid below 1000.' },
  home: dropletPath('Its home folder (made, owned by it).'),
  shell: dropletPath('Its login shell (default /usr/sbin/nologin).'),
  groups: strings(account('An extra group.'), { description: 'Extra groups (made when missing); the user\'s own group is always made.' }),
  comment: str({ description: 'The GECOS comment.', pattern: '^[^:]*$', 'x-hint': 'no ":"' }),
}, { required: ['name'] }), { description: 'Users (and their groups) made at build time, before files/ and the build scripts.', 'x-check': 'uniqueNames' });

export const DIRECTORIES_SCHEMA: Schema = strings(obj({
  path: dropletPath('The folder (made with its parents).'),
  owner: account('Its owner (a user of $.users or of the system).'),
  group: account('Its group.'),
  mode: octalMode('Its mode, e.g. "0750".'),
}, { required: ['path'] }), { description: 'Folders made at build time with owner, group and mode (empty ones too).' });

export const OWNERS_SCHEMA: Schema = strings(obj({
  path: str({ description: 'A droplet path glob over files/: * is one level, ** any depth.', pattern: '^/', 'x-hint': 'a droplet path starting with "/", e.g. "/etc/app/**"' }),
  owner: account('The owner.'),
  group: account('The group.'),
}, { required: ['path'] }), { description: 'Owner and group of files/ paths, set when files/ is laid down.' });

export const ACCOUNT_CHECKS: Record<string, Check> = {
  uniqueNames(v, at, out) {
    if (!Array.isArray(v)) return;
    const seen = new Map<string, number>();
    v.forEach((u, i) => {
      const n = (u as User)?.name;
      if (typeof n !== 'string') return;
      if (seen.has(n)) push(out, `${at}[${i}].name`, `duplicate user "${n}" (also ${at}[${seen.get(n)}])`, 'list each user once');
      else seen.set(n, i);
    });
  },
};
