/**
 * File primitives of the node executor: lstat without throwing, content hashes, and writes that never
 * leave a half-written file in place (temp file + rename). Node 18 APIs only (bundled into the runtime).
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { StepError } from './root.js';

/** The stat of `p` itself (a link is not followed), or undefined when nothing is there. */
export function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

export function fileSha(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

/** Files are handled as latin1 strings (one char per byte); block texts are UTF-8. */
export const latin1 = (utf8: string): string => Buffer.from(utf8, 'utf8').toString('latin1');

/** temp file + rename: an interrupted or full-disk run never leaves a half-written file in place. */
export function atomicWrite(
  droplet: string,
  target: string,
  data: Buffer,
  mode: number,
  owner?: { uid: number; gid: number },
): void {
  const tmp = `${target}.mpimg-tmp`;
  try {
    fs.writeFileSync(tmp, data, { mode });
    fs.chmodSync(tmp, mode);
    if (owner) fs.chownSync(tmp, owner.uid, owner.gid);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new StepError(droplet, `cannot write ${droplet}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code);
  }
}

export function atomicLink(droplet: string, target: string, linkTarget: string): void {
  const tmp = `${target}.mpimg-tmp`;
  try {
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(linkTarget, tmp);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new StepError(
      droplet,
      `cannot create the link ${droplet}: ${(e as Error).message}`,
      (e as NodeJS.ErrnoException).code,
    );
  }
}
