/**
 * The files the template's `file` provisioners lay down, as one tree (droplet path → source), and
 * what the import takes out of it: the per-instance scripts (first-boot steps) and the MOTD script
 * (motd.txt). The rest stays in files/.
 */
import * as path from 'node:path';
import { motdText } from './motd.js';
import type { Step } from './provisioners.js';
import { MOTD_TARGET } from './recognizers/moved.js';
import { Refused, type SourceTree } from './source.js';
import type { ImportState, PersonNote } from './state.js';

const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance/';

export interface TreeEntry {
  source: { rel: string } | { data: Buffer };
  mode: number;
  /** The provisioner that laid it down. */
  origin: string;
}

/** Droplet path → where its bytes come from; a later file provisioner wins, as on the droplet. */
export type FilesTree = Map<string, TreeEntry>;

/** A per-instance script of the template, now a first-boot step at `rel`. */
export interface FirstBootScript {
  target: string;
  rel: string;
  text: string;
  mode: number;
  origin: string;
  name: string;
}

/** Reads a tree entry's bytes; a file the source tree refuses (a link, outside) is named for a person. */
export type EntryReader = (e: Omit<TreeEntry, 'origin'>) => { data: Buffer; mode: number } | undefined;

export function filesTree(steps: Step[], info: PersonNote[]): FilesTree {
  const tree: FilesTree = new Map();
  for (const s of steps) {
    if (s.kind !== 'files') continue;
    for (const e of s.entries) {
      const before = tree.get(e.target);
      // Packer uploads in order: the later provisioner's file is the one the image has
      if (before && before.origin !== s.origin)
        info.push({
          where: s.origin,
          what: `${e.target} is laid down by ${before.origin} too: files/ has this one, the later, as the image had`,
        });
      tree.set(e.target, { source: e.source, mode: e.mode, origin: s.origin });
    }
  }
  return tree;
}

export function entryReader(source: SourceTree, person: PersonNote[]): EntryReader {
  return (e) => {
    if ('data' in e.source) return { data: e.source.data, mode: e.mode };
    try {
      return source.read(e.source.rel);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      person.push({ where: e.source.rel, what: `refused: ${err.message}` });
      return undefined;
    }
  };
}

/**
 * The per-instance scripts (text only: UTF-8, no NUL) as first-boot steps, numbered in name order, and recorded as
 * moved in `state`. `excluded`: those an earlier round left in files/.
 */
export function takeFirstBoot(
  files: FilesTree,
  read: EntryReader,
  excluded: Map<string, PersonNote>,
  state: ImportState,
): FirstBootScript[] {
  const firstBoot: FirstBootScript[] = [];
  const perInstance = [...files.keys()]
    .filter((t) => t.startsWith(PER_INSTANCE) && !t.slice(PER_INSTANCE.length).includes('/') && !excluded.has(t))
    .sort();
  const fbNames = new Set<string>();
  for (const t of perInstance) {
    const e = files.get(t)!;
    const got = read(e);
    if (!got) continue;
    const text = got.data.toString('utf8');
    if (got.data.includes(0) || !Buffer.from(text, 'utf8').equals(got.data)) {
      state.info.push({
        where: e.origin,
        what: `${t} is not text: it stays in files/ as it was (cloud-init runs it on a new droplet), not a first-boot step`,
      });
      continue;
    }
    let name = stepName(path.posix.basename(t));
    for (let k = 2; fbNames.has(name); k++) name = `${name.slice(0, 27)}-${k}`;
    fbNames.add(name);
    firstBoot.push({
      target: t,
      rel: '',
      text,
      mode: got.mode,
      origin: 'source' in e && 'rel' in e.source ? e.source.rel : e.origin,
      name,
    });
  }
  const step = firstBoot.length <= 9 ? 10 : Math.max(1, Math.floor(90 / firstBoot.length));
  firstBoot.forEach((f, i) => {
    const ext = /^#!.*\b(ba|da)?sh\b/.test(f.text) || !f.text.startsWith('#!') ? '.sh' : '';
    f.rel = `first-boot/${String(Math.min(99, 10 + i * step)).padStart(2, '0')}-${f.name}${ext}`;
    state.moved.set(f.target, f.rel);
  });
  for (const t of [...files.keys()].filter((x) => /^\/var\/lib\/cloud\/scripts\/(per-boot|per-once)\//.test(x))) {
    state.info.push({
      where: files.get(t)!.origin,
      what: `${t} stays in files/ (cloud-init runs it ${t.includes('per-boot') ? 'at every boot' : 'once'}; only per-instance scripts become first-boot steps)`,
    });
  }
  return firstBoot;
}

/** A script's file name as a step name: lower case, no number prefix or extension, at most 30. */
function stepName(base: string): string {
  return (
    base
      .toLowerCase()
      .replace(/\.[a-z0-9]+$/, '')
      .replace(/^[\d_.-]+/, '')
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[-_]+|[-_]+$/g, '')
      .slice(0, 30) || 'step'
  );
}

/** The MOTD script (99-one-click, else the first 99-*) as motd.txt text, recorded as moved in `state`. */
export function takeMotd(
  files: FilesTree,
  read: EntryReader,
  excluded: Map<string, PersonNote>,
  slug: string,
  state: ImportState,
): { target: string; text: string } | undefined {
  const motds = [...files.keys()].filter((t) => MOTD_TARGET.test(t) && !excluded.has(t));
  const motdPick =
    motds.find((t) => t === '/etc/update-motd.d/99-one-click') ?? motds.filter((t) => /\/99-[^/]+$/.test(t)).sort()[0];
  if (!motdPick) return undefined;
  let motd: { target: string; text: string } | undefined;
  const got = read(files.get(motdPick)!);
  if (got) {
    const r = motdText(got.data.toString('utf8'), `/etc/update-motd.d/99-${slug}`);
    if ('text' in r) {
      motd = { target: motdPick, text: r.text };
      state.moved.set(motdPick, 'motd.txt');
    } else state.info.push({ where: files.get(motdPick)!.origin, what: `${motdPick} stays in files/: ${r.why}` });
  }
  for (const t of motds.filter((x) => x !== motdPick))
    state.info.push({ where: files.get(t)!.origin, what: `${t} stays in files/ (only one MOTD becomes motd.txt)` });
  return motd;
}
