/**
 * Droplet paths under a root directory (`--root DIR`, or `/` on the droplet itself), resolved the way
 * the droplet's kernel would resolve them if DIR were its `/`: a symlink met on the way is followed
 * INSIDE the root (an absolute target is re-rooted, `..` stops at the root), never onto the host.
 * Node 18 APIs only (bundled into the runtime). The sh installer twin implements the same walk.
 */
import * as fs from 'node:fs';

/** An install/uninstall step that could not be done, with the droplet path it was about. */
export class StepError extends Error {
  constructor(
    readonly droplet: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'StepError';
  }
}

const MAX_LINKS = 40;

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR')
      return undefined;
    throw e;
  }
}

export interface Resolved {
  /** The host path to act on (root prefix + resolved droplet path). */
  real: string;
  /** The resolved droplet path (starts with `/`). */
  droplet: string;
}

export interface ResolveOptions {
  /** Follow a symlink in the LAST component too (default false: act on the link itself). */
  followLast?: boolean;
  /**
   * Create missing directories on the way (all components but the last, or all of them with
   * `createLast`), calling `onCreate(dropletPath)` just before each mkdir.
   */
  create?: boolean;
  createLast?: boolean;
  /** Mode of the last directory when `createLast` makes it (others get 0755). */
  lastMode?: number;
  onCreate?: (dropletDir: string) => void;
}

/** Joins the root and a resolved droplet path. */
export const hostPath = (root: string, droplet: string): string =>
  root === '/' ? droplet : `${root}${droplet === '/' ? '' : droplet}`;

/**
 * Resolves `dropletPath` under `root`. Throws StepError when a middle component is not a directory,
 * a link loops, or (with `create`) a link points at something missing.
 */
export function resolveInRoot(root: string, dropletPath: string, opts: ResolveOptions = {}): Resolved {
  const pending = dropletPath.split('/').filter((p) => p !== '' && p !== '.');
  const cur: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      cur.pop();
      continue;
    }
    const last = pending.length === 0;
    const droplet = `/${[...cur, part].join('/')}`;
    const real = hostPath(root, droplet);
    const st = lstat(real);
    if (st?.isSymbolicLink() && (!last || opts.followLast)) {
      if (++links > MAX_LINKS)
        throw new StepError(dropletPath, `too many symbolic links on the way to ${dropletPath}`, 'ELOOP');
      const target = fs.readlinkSync(real);
      if (target.startsWith('/')) cur.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    if (!st) {
      if (opts.create && (!last || opts.createLast)) {
        const mode = last && opts.lastMode !== undefined ? opts.lastMode : 0o755;
        opts.onCreate?.(droplet);
        try {
          fs.mkdirSync(real, { mode });
          fs.chmodSync(real, mode);
        } catch (e) {
          throw new StepError(
            droplet,
            `cannot create directory ${droplet}: ${(e as Error).message}`,
            (e as NodeJS.ErrnoException).code,
          );
        }
      }
    } else if (!last && !st.isDirectory() && opts.create) {
      // Only a problem when something is to be made there; to look, the path simply does not exist.
      throw new StepError(
        droplet,
        `${droplet} is in the way: it is not a directory (needed for ${dropletPath})`,
        'ENOTDIR',
      );
    }
    cur.push(part);
  }
  const droplet = `/${cur.join('/')}`;
  return { real: hostPath(root, droplet), droplet };
}
