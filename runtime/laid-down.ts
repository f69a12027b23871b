/**
 * What an earlier install laid down (installed.json: path → sha256 of the file, or target of the link),
 * and what install kept of the files it replaced (the backup folder). Node 18 APIs only.
 */
import * as fs from 'node:fs';
import { backupDir, type Plan } from './plan.js';
import { resolveInRoot, StepError } from './root.js';
import { atomicLink, atomicWrite, fileSha, lstat } from './files.js';
import type { Journal } from './journal.js';

export interface LaidDown {
  sha256?: string;
  link?: string;
}

/** What an earlier install recorded in installed.json; empty when there was none. */
export function readLaidDown(root: string, plan: Plan): Map<string, LaidDown> {
  const out = new Map<string, LaidDown>();
  try {
    const st = JSON.parse(fs.readFileSync(resolveInRoot(root, `${plan.home}/installed.json`).real, 'utf8')) as {
      items?: Array<{ path?: string; sha256?: string; link?: string }>;
    };
    for (const i of st.items ?? []) if (typeof i.path === 'string') out.set(i.path, { sha256: i.sha256, link: i.link });
  } catch {
    /* no earlier install */
  }
  return out;
}

/** True when what is at `real` is what an earlier install laid down there. */
export function asBefore(prior: LaidDown | undefined, real: string): boolean {
  const st = lstat(real);
  if (!prior || !st) return false;
  if (st.isSymbolicLink()) return prior.link !== undefined && fs.readlinkSync(real) === prior.link;
  return st.isFile() && prior.sha256 !== undefined && fileSha(real) === prior.sha256;
}

/** Copies what is at `real` (a file or a link) to the backup folder, mode and owner kept, then journals it. */
export function backup(root: string, plan: Plan, j: Journal, droplet: string, real: string, st: fs.Stats): void {
  const dest = resolveInRoot(root, `${backupDir(plan)}${droplet}`, { create: true, onCreate: (d) => j.add('dir', d) });
  if (st.isSymbolicLink()) atomicLink(`${backupDir(plan)}${droplet}`, dest.real, fs.readlinkSync(real));
  else if (st.isFile())
    atomicWrite(`${backupDir(plan)}${droplet}`, dest.real, fs.readFileSync(real), st.mode & 0o7777, {
      uid: st.uid,
      gid: st.gid,
    });
  else throw new StepError(droplet, `${droplet} is in the way: it is not a regular file or a link`, 'EEXIST');
  j.add('backup', droplet);
  // The copy and its line on disk before the original is replaced: a lost line here is lost data.
  if (st.isFile()) j.sync(dest.real);
  else j.sync();
}

/** Puts back what install kept of `p` in the backup folder; false when there is no copy. */
export function restoreBackup(plan: Plan, root: string, p: string): boolean {
  const b = resolveInRoot(root, `${backupDir(plan)}${p}`);
  const st = lstat(b.real);
  if (!st) return false;
  const dest = resolveInRoot(root, p);
  try {
    fs.renameSync(b.real, dest.real);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    // another file system: copy (mode and owner kept), then drop the backup
    if (st.isSymbolicLink()) atomicLink(p, dest.real, fs.readlinkSync(b.real));
    else atomicWrite(p, dest.real, fs.readFileSync(b.real), st.mode & 0o7777, { uid: st.uid, gid: st.gid });
    fs.unlinkSync(b.real);
  }
  return true;
}
