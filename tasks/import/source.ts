/**
 * The folder a Packer template's paths are relative to ("where Packer ran"), read as data: a path
 * the template names must stay inside it (no "..", no absolute path elsewhere), and no symbolic
 * link on the way is followed. Files are opened with O_NOFOLLOW and checked to be regular files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONTROL_RE } from '../../runtime/manifest.js';

/** Largest file carried over (a 1-click image's files/ are configs and scripts, not disk images). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

export class Refused extends Error {}

export interface TreeEntry {
  /** Path relative to the base, POSIX separators. */
  rel: string;
  /** Path relative to the walked folder. */
  inner: string;
  kind: 'file' | 'dir' | 'link' | 'other';
  mode: number;
  /** For links: where it points (never followed). */
  target?: string;
  /** Set when the name itself is unusable (not UTF-8): listed, never opened. */
  bad?: string;
}

export class SourceTree {
  readonly base: string;

  constructor(base: string) {
    this.base = fs.realpathSync(base);
  }

  /**
   * A template path as a path relative to the base, or Refused saying why: empty, a control
   * character, "..", a backslash, absolute outside the base.
   */
  relative(p: string): string {
    if (p === '') throw new Refused('the path is empty');
    if (CONTROL_RE.test(p)) throw new Refused('the path holds a control character');
    if (p.includes('\\')) throw new Refused('the path holds a backslash');
    let rel = p;
    if (p.startsWith('/')) {
      if (p !== this.base && !p.startsWith(`${this.base}/`)) throw new Refused(`an absolute path outside ${this.base}`);
      rel = p.slice(this.base.length + 1);
    }
    const parts = rel.split('/').filter((x) => x !== '' && x !== '.');
    if (parts.includes('..')) throw new Refused('the path holds ".."');
    return parts.join('/');
  }

  /** lstat of every component from the base down: a link anywhere on the way is refused. */
  private lstatPath(rel: string): fs.Stats | undefined {
    let cur = this.base;
    let st: fs.Stats | undefined = fs.lstatSync(cur);
    const parts = rel === '' ? [] : rel.split('/');
    for (let k = 0; k < parts.length; k++) {
      cur = path.join(cur, parts[k]);
      try {
        st = fs.lstatSync(cur);
      } catch {
        return undefined;
      }
      if (st.isSymbolicLink())
        throw new Refused(`${parts.slice(0, k + 1).join('/')} is a symbolic link (links are not followed)`);
      if (k < parts.length - 1 && !st.isDirectory()) return undefined;
    }
    return st;
  }

  /** What is at `rel`: 'file', 'dir', 'missing' (links refused). */
  kind(rel: string): 'file' | 'dir' | 'missing' | 'other' {
    const st = this.lstatPath(rel);
    if (!st) return 'missing';
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  }

  exists(rel: string): boolean {
    try {
      return this.kind(rel) !== 'missing';
    } catch {
      return false;
    }
  }

  abs(rel: string): string {
    return path.join(this.base, rel);
  }

  /** The bytes and mode of a regular file, never through a link. */
  read(rel: string): { data: Buffer; mode: number } {
    const st = this.lstatPath(rel);
    if (!st) throw new Refused('no such file');
    if (!st.isFile()) throw new Refused('not a regular file');
    const fd = fs.openSync(this.abs(rel), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const fst = fs.fstatSync(fd);
      if (!fst.isFile()) throw new Refused('not a regular file');
      if (fst.size > MAX_FILE_BYTES) throw new Refused(`larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
      const data = Buffer.alloc(fst.size);
      let off = 0;
      while (off < data.length) {
        const n = fs.readSync(fd, data, off, data.length - off, off);
        if (n === 0) break;
        off += n;
      }
      return { data: data.subarray(0, off), mode: fst.mode & 0o7777 };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Every entry under folder `rel` (sorted, depth first); links are listed, never entered. */
  walk(rel: string): TreeEntry[] {
    const st = this.lstatPath(rel);
    if (!st || !st.isDirectory()) throw new Refused('not a folder');
    const out: TreeEntry[] = [];
    const visit = (inner: string) => {
      const dir = inner ? `${rel}/${inner}` : rel;
      const raws = fs.readdirSync(this.abs(dir), { encoding: 'buffer' });
      const names: string[] = [];
      for (const raw of raws) {
        const name = raw.toString('utf8');
        if (Buffer.from(name, 'utf8').equals(raw)) names.push(name);
        else {
          const shown = [...raw]
            .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`))
            .join('');
          out.push({
            rel: `${dir}/${shown}`,
            inner: inner ? `${inner}/${shown}` : shown,
            kind: 'other',
            mode: 0,
            bad: 'its name is not UTF-8',
          });
        }
      }
      names.sort();
      for (const name of names) {
        const childInner = inner ? `${inner}/${name}` : name;
        const childRel = dir ? `${dir}/${name}` : name;
        const s = fs.lstatSync(this.abs(childRel));
        if (s.isSymbolicLink())
          out.push({
            rel: childRel,
            inner: childInner,
            kind: 'link',
            mode: 0o777,
            target: fs.readlinkSync(this.abs(childRel)),
          });
        else if (s.isDirectory()) {
          out.push({ rel: childRel, inner: childInner, kind: 'dir', mode: s.mode & 0o7777 });
          visit(childInner);
        } else
          out.push({ rel: childRel, inner: childInner, kind: s.isFile() ? 'file' : 'other', mode: s.mode & 0o7777 });
      }
    };
    visit('');
    return out;
  }
}
