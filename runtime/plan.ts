/**
 * The plan: a pure, ordered list of file operations computed at bundle time from the manifest.
 * Executed by the node runtime (runtime/executor.ts) or rendered as a POSIX-sh installer
 * (tasks/bundle/sh-installer.ts); both must leave byte-identical trees.
 */

import { legacyToolDirs } from './policy.js';
import type { PerDistro } from './sections/common.js';

export interface DirOp {
  kind: 'dir';
  path: string;
  mode: number;
}

export interface FileOp {
  kind: 'file';
  path: string;
  mode: number;
  /** base64 of the exact bytes. */
  content: string;
  sha256: string;
  /**
   * Seeded (files/ by default): content that build scripts, first boot or the customer are expected to
   * change. Laid down once, never "repaired", not drift when changed; uninstall removes it only while
   * unchanged. Without it the file is managed: the tool's own, status reports its drift.
   */
  seed?: true;
}

export interface BlockOp {
  kind: 'block';
  /** The shared file that receives the block, e.g. /root/.bashrc. */
  path: string;
  /** Marker id, "<slug> <what>": lines `# >>> mpimg:<id> >>>` ... `# <<< mpimg:<id> <<<`. */
  id: string;
  /** The whole block including both marker lines, ending with "\n". */
  text: string;
  /** start: prepended (removal is then byte-exact whatever the file ends with); end: appended. */
  position: 'start' | 'end';
  /** Mode when the file has to be created. */
  createMode: number;
  /** The first-login hook: it removes itself after the first login, which is then not drift. */
  hook?: 'first-login';
}

/** A symbolic link laid down as a link (never followed): e.g. nginx sites-enabled/x -> ../sites-available/x. */
export interface LinkOp {
  kind: 'link';
  path: string;
  target: string;
  seed?: true;
}

/**
 * An operation only for one package family: the executors read the target's os-release (its
 * ID/ID_LIKE) and skip the others, so one bundle serves an image built on Ubuntu and on Rocky.
 */
export type Family = 'apt' | 'dnf';

export type Op = (DirOp | FileOp | BlockOp | LinkOp) & { family?: Family };

/** The family of a root's os-release text (ID and ID_LIKE); apt when it says neither (or is missing). */
export function familyOfOsRelease(text: string): Family {
  const v = (k: string) =>
    new RegExp(`^${k}=(.*)$`, 'm')
      .exec(text)?.[1]
      .replace(/^(["'])(.*)\1$/, '$2')
      .toLowerCase() ?? '';
  const words = ` ${v('ID')} ${v('ID_LIKE')} `;
  if (/ (debian|ubuntu) /.test(words)) return 'apt';
  if (/ (rhel|fedora|centos) /.test(words)) return 'dnf';
  return 'apt';
}

export interface Plan {
  name: string;
  slug: string;
  vendor: string;
  version: string;
  /** /opt/<vendor>/<slug> */
  home: string;
  /** /var/lib/mpimg/<slug>: what first boot and first login record (see droplet stages below). */
  state: string;
  /** /var/log/mpimg/<slug>: the first-boot steps' logs. */
  logs: string;
  ops: Op[];
  /** build.remove of mpimg.json: paths the build removed, which `status` reports when they are there. */
  removed?: PerDistro<string>;
}

/**
 * The stages a droplet goes through, read from what first boot and first login record in the state
 * folder: `installed` (built, not booted: the build droplet or a staged root), first boot `running` or
 * `finished` (with the steps that failed), and first login `pending` or `done`.
 */
export const stateFiles = (plan: Pick<Plan, 'state'>) => ({
  running: `${plan.state}/first-boot.status`,
  finished: `${plan.state}/first-boot.last`,
  failed: `${plan.state}/first-boot.failed`,
  loginDone: `${plan.state}/first-login.done`,
});

/**
 * The state files where this bundle keeps them, then where bundles before the tool's folders were
 * namespaced did (/var/lib/<slug>, runtime/policy.ts): status and install of a newer bundle still
 * know the stage of a droplet an older one built or booted.
 */
export const stateFileSets = (plan: Pick<Plan, 'state' | 'slug'>) => [
  stateFiles(plan),
  stateFiles({ state: legacyToolDirs(plan.slug).state }),
];

export const startMarker = (id: string): string => `# >>> mpimg:${id} >>>`;
export const endMarker = (id: string): string => `# <<< mpimg:${id} <<<`;

/**
 * The install journal: one line per thing install made, appended (and synced) BEFORE the thing is made,
 * so an interrupted or failed install leaves nothing uninstall cannot find. Lines are `<verb> <path>`:
 *   dir PATH        a directory install created (the resolved droplet path)
 *   file PATH       a planned file (or link) that did not exist before
 *   backup PATH     a planned file that replaced an existing one, kept under backupDir
 *   blockfile PATH  a shared file created just to hold a block
 *   laid PATH       a seeded file (files/) laid down whole (written AFTER it was): when it is gone
 *                   later, a build script or the customer removed it, and it is not laid down again
 * Paths never hold a newline (the manifest and the bundler refuse control characters).
 */
export const journalFile = (plan: Plan): string => `${plan.home}/.journal`;
/** Copies of files that install replaced, at their droplet path below this folder. */
export const backupDir = (plan: Plan): string => `${plan.home}/backup`;
export const JOURNAL_VERBS = ['dir', 'file', 'backup', 'blockfile', 'laid'] as const;
export type JournalVerb = (typeof JOURNAL_VERBS)[number];

/**
 * Finds the block's line range in `text` (latin1 string, so bytes map 1:1 to chars).
 * Returns [startOffset, endOffset) covering the marker lines and their newlines, or null.
 */
export function findBlock(text: string, id: string): [number, number] | null {
  const lines = text.split('\n');
  let offset = 0;
  let start = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const hasNl = i < lines.length - 1;
    if (start < 0 && line === startMarker(id)) start = offset;
    else if (start >= 0 && line === endMarker(id)) return [start, offset + line.length + (hasNl ? 1 : 0)];
    offset += line.length + (hasNl ? 1 : 0);
  }
  return null;
}

export function removeBlock(text: string, id: string): string {
  const range = findBlock(text, id);
  return range ? text.slice(0, range[0]) + text.slice(range[1]) : text;
}

/** Puts the block in place: replaced where it is, else prepended or appended. */
export function ensureBlock(text: string, op: Pick<BlockOp, 'id' | 'text' | 'position'>): string {
  const range = findBlock(text, op.id);
  if (range) return text.slice(0, range[0]) + op.text + text.slice(range[1]);
  if (op.position === 'start') return op.text + text;
  const sep = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
  return text + sep + op.text;
}

export function describeOp(op: Op): string {
  const text = describeOne(op);
  return op.family ? `${text} [${op.family} only]` : text;
}

function describeOne(op: Op): string {
  const mode = (m: number) => m.toString(8).padStart(4, '0');
  switch (op.kind) {
    case 'dir':
      return `dir   ${mode(op.mode)} ${op.path}`;
    case 'file':
      return `file  ${mode(op.mode)} ${op.path} (${Buffer.from(op.content, 'base64').length} bytes${op.seed ? ', seeded' : ''})`;
    case 'block':
      return `block      ${op.path} [mpimg:${op.id}] (${op.position})`;
    case 'link':
      return `link       ${op.path} -> ${op.target}${op.seed ? ' (seeded)' : ''}`;
  }
}
