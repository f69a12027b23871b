/**
 * The project's files as one run of the generator changes them: writes and deletions are held in
 * memory and committed together at the end, so a run that fails half way writes nothing.
 *
 * Every file is written atomically (a temporary file beside it, then rename): an interrupted run, a
 * full disk or a killed process leaves the old bytes or the new ones, never an empty or half-written
 * file. The record of what was written (.yo-rc.json) is committed LAST: a run stopped before it
 * leaves files whose bytes are this release's (a re-run sees them as identical and records them),
 * never a record that claims bytes a file does not hold (which made `mpimg upgrade` take a
 * truncated Makefile for the vendor's edit, for good).
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
  chmodSync,
} from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { MpimgError } from './errors.js';
import { CONFIG_KEY, readYoRc, YO_RC } from './yo-rc.js';

const TMP_SUFFIX = '.mpimg-tmp';

/** Temporary files a killed run left beside `abs` (`.<name>.<pid>-<hex>.mpimg-tmp`). */
function removeLeftovers(abs: string): void {
  const dir = dirname(abs);
  if (!existsSync(dir)) return;
  const prefix = `.${basename(abs)}.`;
  for (const f of readdirSync(dir))
    if (f.startsWith(prefix) && f.endsWith(TMP_SUFFIX)) rmSync(join(dir, f), { force: true });
}

/** Writes `data` to `abs` through a temporary file in the same folder, then renames it over. */
export function writeAtomic(abs: string, data: Buffer | string, mode = 0o644): void {
  mkdirSync(dirname(abs), { recursive: true });
  const tmp = join(dirname(abs), `.${basename(abs)}.${process.pid}-${randomBytes(4).toString('hex')}${TMP_SUFFIX}`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    chmodSync(tmp, mode); // the umask narrowed what openSync asked for
    renameSync(tmp, abs); // a symlink at abs is replaced, never written through
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

type Pending = { data: Buffer; mode: number } | null;

export class ProjectFs {
  private readonly pending = new Map<string, Pending>();
  private rc: Record<string, unknown>;
  private readonly rcText: string | undefined;

  constructor(readonly root: string) {
    // an unreadable .yo-rc.json holds no answers; it is written anew on commit
    ({ text: this.rcText, rc: this.rc } = readYoRc(root));
  }

  /** Absolute path of a project path; refuses one that leaves the project. */
  path(rel: string): string {
    const abs = join(this.root, rel);
    const back = relative(this.root, abs);
    if (back === '' || back.startsWith(`..${sep}`) || back === '..')
      throw new Error(`${rel} is not a path inside the project`);
    return abs;
  }

  exists(rel: string): boolean {
    const p = this.pending.get(rel);
    if (p !== undefined) return p !== null;
    return existsSync(this.path(rel));
  }

  /** The bytes this run would leave at rel (pending write, else the disk), undefined when none. */
  read(rel: string): Buffer | undefined {
    const p = this.pending.get(rel);
    if (p !== undefined) return p === null ? undefined : p.data;
    const abs = this.path(rel);
    return existsSync(abs) ? readFileSync(abs) : undefined;
  }

  write(rel: string, data: Buffer | string, mode = 0o644): void {
    this.path(rel);
    this.pending.set(rel, { data: Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'), mode });
  }

  delete(rel: string): void {
    this.path(rel);
    this.pending.set(rel, null);
  }

  /** Paths this run writes or deletes, in the order they were first changed. */
  changes(): Array<{ path: string; deleted: boolean }> {
    return [...this.pending].map(([path, p]) => ({ path, deleted: p === null }));
  }

  /** The generator's answers and record in .yo-rc.json (Yeoman's layout, so `yo mpimg` shares them). */
  readonly config = {
    getAll: (): Record<string, unknown> => ({ ...(this.rc[CONFIG_KEY] as Record<string, unknown>) }),
    get: (key: string): unknown => (this.rc[CONFIG_KEY] as Record<string, unknown>)[key],
    set: (key: string | Record<string, unknown>, value?: unknown): void => {
      const mine = this.rc[CONFIG_KEY] as Record<string, unknown>;
      if (typeof key === 'string') mine[key] = value;
      else Object.assign(mine, key);
    },
  };

  /** What .yo-rc.json holds after this run. */
  rcTextAfter(): string {
    return `${JSON.stringify(this.rc, null, 2)}\n`;
  }

  /**
   * Writes everything: the files first (each atomically), then the deletions, then .yo-rc.json
   * (when its content changed). Returns the paths written.
   */
  commit(): string[] {
    const done: string[] = [];
    let current = YO_RC;
    try {
      for (const [rel, p] of this.pending) {
        if (p === null) continue;
        current = rel;
        const abs = this.path(rel);
        removeLeftovers(abs);
        const have = existsSync(abs) && lstatSync(abs).isFile() ? readFileSync(abs) : undefined;
        if (have && have.equals(p.data) && (lstatSync(abs).mode & 0o777) === p.mode) continue;
        if (have && have.equals(p.data)) chmodSync(abs, p.mode);
        else writeAtomic(abs, p.data, p.mode);
        done.push(rel);
      }
      for (const [rel, p] of this.pending) {
        if (p !== null) continue;
        current = rel;
        const abs = this.path(rel);
        if (existsSync(abs)) {
          unlinkSync(abs);
          done.push(rel);
        }
      }
      this.pending.clear();
      current = YO_RC;
      const rc = this.rcTextAfter();
      if (rc !== this.rcText) writeAtomic(join(this.root, YO_RC), rc, 0o644);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new MpimgError(`could not write ${current}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' ').trim(), {
        where: join(this.root, current),
        hint: `${current} is as it was (files are replaced whole, never left half written)${done.length ? `; ${done.length} file(s) before it already hold the new version` : ''}. Fix the cause (disk space, permissions) and run again: it picks up where this stopped`,
      });
    }
    return done;
  }
}
