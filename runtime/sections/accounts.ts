/** $.users and $.directories: system users and owned folders, made at build time. */
import {
  groupOrOtherWritable,
  isSystemAccount,
  isSystemDir,
  PASSWD_FIELD_RE,
  PRIVILEGED_GROUPS,
  ROOT_ACCOUNTS,
  rootRunOf,
  rootRunPaths,
  toolDirOf,
} from '../policy.js';
import type { Check, Problem } from '../schema.js';
import { ACCOUNT_RE, bool, dropletPath, obj, octalMode, push, str, strings } from './common.js';

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
  /** The mode of the files it matches, e.g. "0640" (git keeps only 0644 and 0755). */
  mode?: string;
}

const account = (what: string) =>
  str({
    description: what,
    pattern: ACCOUNT_RE.source,
    'x-message': 'bad name {value}',
    'x-hint': 'a user or group name: lower-case letters, digits, "_" and "-", starting with a letter or "_"',
  });

const passwdPath = (what: string) =>
  dropletPath(what, {
    pattern: PASSWD_FIELD_RE.source,
    'x-message': 'bad path {value}: it goes into /etc/passwd, where ":" separates the fields',
    'x-hint': 'a path without ":"',
  });

export const USERS_SCHEMA = strings(
  obj(
    {
      name: account(
        'The user name; not root (nor another uid-0 name), nor a group that hands root (sudo, shadow, docker, ...: it would be its own group). A base image account (www-data, nobody, systemd-*, _*, ...) gets groups only, no home or shell.',
      ),
      system: bool('A system account (default true): no password, no login, a uid below 1000.'),
      home: passwdPath(
        'Its home folder (made, owned by it); not a system folder, nor where root runs code from (/opt/<vendor>/<slug> and above, /usr, ...).',
      ),
      shell: passwdPath('Its login shell (default /usr/sbin/nologin).'),
      groups: strings(account('An extra group.'), {
        description:
          'Extra groups (made when missing; its own group is always made); not root, sudo, wheel, admin, shadow, disk, kmem, docker, lxd or staff.',
      }),
      comment: str({ description: 'The GECOS comment.', pattern: '^[^:]*$', 'x-hint': 'no ":"' }),
    },
    { required: ['name'], 'x-check': 'user' },
  ),
  {
    description: 'Users (and their groups) made at build time, before files/ and the build scripts.',
    'x-check': 'uniqueNames',
  },
);

export const DIRECTORIES_SCHEMA = strings(
  obj(
    {
      path: dropletPath(
        "The folder (made with its parents); not a system folder (/, /tmp, /etc, /var/lib, ...) nor the tool's (/var/lib/mpimg, /var/log/mpimg).",
      ),
      owner: account(
        'Its owner (of $.users or the system); only root where root runs code from (/opt/<vendor>/<slug> and the folders above it, /etc/profile.d, /usr, ...).',
      ),
      group: account('Its group.'),
      mode: octalMode('Its mode, e.g. "0750"; no group or other write where root runs code from.'),
    },
    { required: ['path'], 'x-check': 'directory' },
  ),
  { description: 'Folders made at build time with owner, group and mode (empty ones too).' },
);

export const OWNERS_SCHEMA = strings(
  obj(
    {
      path: str({
        description: 'A droplet path glob over files/: * is one level, ** any depth.',
        pattern: '^/',
        'x-hint': 'a droplet path starting with "/", e.g. "/etc/app/**"',
      }),
      owner: account('The owner; only root where root runs code from.'),
      group: account('The group.'),
      mode: octalMode(
        'The mode of the files it matches (not of links), e.g. "0640" for a file that holds a secret: git keeps no mode but 0644 and 0755. Replaces their mode in files/ wherever they are laid down (build, install, first boot); no setuid, setgid or sticky bit, no other write, no group write where root runs code from.',
      ),
    },
    { required: ['path'], 'x-check': 'ownership' },
  ),
  {
    description:
      'Owner, group and mode of files/ paths, set when files/ is laid down; a later entry overrides what an earlier one sets on the same path.',
  },
);

/** The image's root-run paths, from the manifest's vendor and slug when they are there. */
function rootRunFor(root: Record<string, unknown>): string[] {
  return typeof root.vendor === 'string' && typeof root.slug === 'string'
    ? rootRunPaths(root.vendor, root.slug)
    : rootRunPaths();
}

/** Why a folder cannot be made or owned through the manifest, or null. */
function folderProblem(p: string, what: string): string | null {
  if (isSystemDir(p)) return `${p} is a system folder: ${what} would change it on every droplet made from the image`;
  const tool = toolDirOf(p);
  if (tool) return `${p} is in ${tool}, generator-mpimg's own folder on the droplet`;
  return null;
}

const notRoot = (name: unknown): name is string => typeof name === 'string' && !ROOT_ACCOUNTS.includes(name);

/** A folder where root runs code from (or above it) stays root's: no other owner, no group or other write. */
function rootRunProblems(
  out: Problem[],
  at: { owner: string; mode: string },
  p: string,
  root: Record<string, unknown>,
  d: { owner?: string; mode?: string },
  what: string,
): void {
  const r = rootRunOf(p, rootRunFor(root));
  if (!r) return;
  const where =
    r === p
      ? `${p} is where root runs code from`
      : p.startsWith(`${r}/`)
        ? `${p} is inside ${r}, where root runs code from`
        : `${p} holds ${r}, where root runs code from`;
  if (notRoot(d.owner))
    push(
      out,
      at.owner,
      `${where}: ${what} owned by "${d.owner}" could change what root runs`,
      'leave it to root (remove "owner"), or use a folder of the app\'s own, e.g. /var/lib/<app>',
    );
  if (typeof d.mode === 'string' && /^0?[0-7]{3,4}$/.test(d.mode) && groupOrOtherWritable(d.mode))
    push(
      out,
      at.mode,
      `${where}: mode ${d.mode} lets a group or others write there`,
      'use a mode without group and other write, e.g. "0755" or "0750"',
    );
}

/**
 * A mode $.files.owners gives files: none of the bits that make a file run as its owner or group
 * (setuid, setgid; sticky means nothing on a file), nothing every user may change, and no group
 * write where root runs code from (`rootRun` says why, when the glob is there).
 */
function fileModeProblems(out: Problem[], at: string, mode: unknown, rootRun: string | null): void {
  if (typeof mode !== 'string' || !/^0?[0-7]{3,4}$/.test(mode)) return;
  const bits = parseInt(mode, 8);
  if (bits & 0o7000)
    push(
      out,
      at,
      `mode ${mode} sets the setuid, setgid or sticky bit: the files would run with their owner's or group's rights`,
      'use the permission bits only, e.g. "0640" or "0750"',
    );
  else if (bits & 0o002)
    push(out, at, `mode ${mode} lets every user change the files`, 'take other write off, e.g. "0644" or "0640"');
  else if (rootRun && bits & 0o020)
    push(out, at, `${rootRun}: mode ${mode} lets a group write there`, 'take group write off, e.g. "0644" or "0640"');
}

export const ACCOUNT_CHECKS: Record<string, Check> = {
  user(v, at, out, root) {
    const u = v as User;
    if (ROOT_ACCOUNTS.includes(u.name)) {
      push(
        out,
        `${at}.name`,
        `"${u.name}" is root: $.users never changes it (a shell of nologin locks every customer out)`,
        "remove this entry; make a user of the app's own instead",
      );
    } else if (PRIVILEGED_GROUPS.includes(u.name)) {
      // its own group is the group of that name, the user's primary group
      push(
        out,
        `${at}.name`,
        `a user "${u.name}" would have the group "${u.name}" as its own, which hands root (or its secrets) to its members`,
        'name the user after the app, e.g. "acme"',
      );
    } else if (isSystemAccount(u.name)) {
      for (const k of ['home', 'shell'] as const) {
        if (u[k] !== undefined)
          push(
            out,
            `${at}.${k}`,
            `"${u.name}" is an account of the base image: its ${k} is not the image's to change`,
            `remove "${k}" (the entry may still add it to groups), or make a user of the app's own`,
          );
      }
      if (u.system === false)
        push(out, `${at}.system`, `"${u.name}" is a system account of the base image`, 'remove "system"');
    }
    (u.groups ?? []).forEach((g, i) => {
      if (PRIVILEGED_GROUPS.includes(g))
        push(
          out,
          `${at}.groups[${i}]`,
          `group "${g}" hands root (or its secrets) to its members`,
          "remove it: the image's users get only what the app needs",
        );
    });
    if (typeof u.home === 'string' && u.home.startsWith('/')) {
      const why = folderProblem(u.home, 'a home owned by the user');
      if (why) push(out, `${at}.home`, why, 'give the user a folder of its own, e.g. /var/lib/<name>');
      else rootRunProblems(out, { owner: `${at}.home`, mode: `${at}.home` }, u.home, root, { owner: u.name }, 'a home');
    }
  },
  directory(v, at, out, root) {
    const d = v as Directory;
    if (typeof d.path !== 'string' || !d.path.startsWith('/')) return;
    const why = folderProblem(d.path, 'its owner or mode');
    if (why) push(out, `${at}.path`, why, "name a folder of the app's own, e.g. /var/lib/<app>/data or /etc/<app>");
    else rootRunProblems(out, { owner: `${at}.owner`, mode: `${at}.mode` }, d.path, root, d, 'a folder');
  },
  ownership(v, at, out, root) {
    const o = v as Ownership;
    if (typeof o.path !== 'string') return;
    // The part of the glob before its first wildcard: every path it matches is inside that folder.
    const parts = o.path.split('/');
    const wild = parts.findIndex((seg) => /[*?[]/.test(seg));
    const fixed = wild < 0 ? o.path : parts.slice(0, wild).join('/') || '/';
    const r = rootRunFor(root).find((x) => fixed === x || fixed.startsWith(`${x}/`));
    fileModeProblems(out, `${at}.mode`, o.mode, r ? `${o.path} is in ${r}, where root runs code from` : null);
    if (r && notRoot(o.owner))
      push(
        out,
        `${at}.owner`,
        `${o.path} is in ${r}, where root runs code from: owned by "${o.owner}" it could change what root runs`,
        'leave them to root (remove "owner"), or move them to a folder of the app\'s own',
      );
  },
  uniqueNames(v, at, out) {
    if (!Array.isArray(v)) return;
    const seen = new Map<string, number>();
    v.forEach((u, i) => {
      const n = (u as User)?.name;
      if (typeof n !== 'string') return;
      if (seen.has(n))
        push(out, `${at}[${i}].name`, `duplicate user "${n}" (also ${at}[${seen.get(n)}])`, 'list each user once');
      else seen.set(n, i);
    });
  },
};
