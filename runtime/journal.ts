/**
 * The install journal (format in plan.ts): what install made, journaled before it is made, so that
 * uninstall removes only that. Node 18 APIs only (bundled into the runtime).
 */
import * as fs from 'node:fs';
import { journalFile, JOURNAL_VERBS, type JournalVerb, type Plan } from './plan.js';
import { resolveInRoot } from './root.js';
import { atomicWrite, lstat } from './files.js';

export type JournalEntry = [JournalVerb, string];

/** Journal lines; a line of the old format (a bare path) counts as a directory or block file. */
export function parseJournal(text: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const verb = line.slice(0, sp) as JournalVerb;
    if (sp > 0 && JOURNAL_VERBS.includes(verb)) out.push([verb, line.slice(sp + 1)]);
  }
  return out;
}

/** The entries of the journal under `root`; none when there is no journal (or no way to it). */
export function readJournal(root: string, plan: Plan): JournalEntry[] {
  try {
    const real = resolveInRoot(root, journalFile(plan)).real;
    return lstat(real)?.isFile() ? parseJournal(fs.readFileSync(real, 'utf8')) : [];
  } catch {
    return [];
  }
}

/** True when `entries` hold `verb path`. */
export const journaled = (entries: readonly JournalEntry[], verb: JournalVerb, p: string): boolean =>
  entries.some(([v, x]) => v === verb && x === p);

/** Rewrites the journal without what it says of the paths in `forget` but their folders (temp file + rename). */
export function rewriteJournal(real: string, entries: JournalEntry[], forget: Set<string>): JournalEntry[] {
  const keep = entries.filter(([v, p]) => v === 'dir' || v === 'blockfile' || !forget.has(p));
  if (keep.length === entries.length || !lstat(real)?.isFile()) return keep;
  atomicWrite(real, real, Buffer.from(keep.map(([v, p]) => `${v} ${p}\n`).join('')), 0o644);
  return keep;
}

/**
 * The journal install writes. Entries are appended before the step they describe; until the
 * journal's own folder (the image's home) exists they wait in memory.
 * Durability, as the sh installer has it (installer.sh.ejs): an appended line is in the page cache at
 * once, so uninstall after a killed install reads it. Only a power loss drops lines since the last
 * sync, with the unsynced bytes of the files those steps wrote, and uninstall then keeps such a file
 * as one that was there before. So the journal is synced when it gets its place, before a backed-up
 * file is replaced (a lost line there is lost data), and at the end of a run; not per line (an fsync
 * per line was a fifth of an install's time).
 */
export class Journal {
  readonly entries: JournalEntry[] = [];
  private written = 0;
  private file?: string;
  private dirty = false;

  constructor(
    private readonly root: string,
    private readonly plan: Plan,
  ) {
    let real: string | undefined;
    try {
      real = resolveInRoot(root, journalFile(plan)).real;
    } catch {
      return; // something on the way is not a folder: install reports it at its first step
    }
    if (lstat(real)?.isFile()) {
      this.file = real;
      this.entries.push(...parseJournal(fs.readFileSync(real, 'utf8')));
      this.written = this.entries.length;
    }
  }

  has(verb: JournalVerb, p: string): boolean {
    return journaled(this.entries, verb, p);
  }

  add(verb: JournalVerb, p: string): void {
    if (this.has(verb, p)) return;
    this.entries.push([verb, p]);
    this.flush();
  }

  /** Drops the file and backup entries of `paths` (they are no longer ours). */
  forget(paths: Set<string>): void {
    // Only called for a journal read from its file, so there is a file to rewrite.
    if (paths.size === 0 || !this.file) return;
    this.flush();
    this.entries.splice(0, this.entries.length, ...rewriteJournal(this.file, this.entries, paths));
    this.written = this.entries.length;
    this.dirty = true;
  }

  /** Writes what waits in memory once the image's home exists. */
  flush(): void {
    if (this.written === this.entries.length) return;
    if (!this.file) {
      const home = resolveInRoot(this.root, this.plan.home, { followLast: true });
      if (!lstat(home.real)?.isDirectory()) return;
      this.file = resolveInRoot(this.root, journalFile(this.plan)).real;
    }
    const text = this.entries
      .slice(this.written)
      .map(([v, p]) => `${v} ${p}\n`)
      .join('');
    const placed = this.written === 0 && !this.dirty;
    const fd = fs.openSync(this.file, 'a', 0o644);
    try {
      fs.writeSync(fd, text);
      if (placed) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.dirty = !placed;
    this.written = this.entries.length;
  }

  /** The journal's appended lines (and `files`) on disk. */
  sync(...files: string[]): void {
    this.flush();
    if (this.dirty && this.file) files.push(this.file);
    this.dirty = false;
    for (const f of files) {
      const fd = fs.openSync(f, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  /** Directories made before the journal could be written (install failed that early): undo them. */
  rollbackUnwritten(): void {
    for (const [v, p] of this.entries.slice(this.written).reverse()) {
      if (v !== 'dir') continue;
      try {
        fs.rmdirSync(resolveInRoot(this.root, p).real);
      } catch {
        /* not empty or gone: left as it is */
      }
    }
  }
}
