/**
 * `uninstall`: removes only what the journal says install made and what still has the content install
 * gave it; puts back what install replaced. Node 18 APIs only (bundled into the runtime).
 */
import * as fs from 'node:fs';
import { backupDir, journalFile, removeBlock, type Op, type Plan } from './plan.js';
import { resolveInRoot } from './root.js';
import { atomicWrite, fileSha, lstat } from './files.js';
import { journaled, parseJournal, rewriteJournal, type JournalEntry } from './journal.js';
import { asBefore, readLaidDown, restoreBackup, type LaidDown } from './laid-down.js';
import { removeUnplanned } from './unplanned.js';
import { opsFor, type Change } from './ops.js';
import { leftovers } from './first-boot-records.js';
import { credentialsFile } from './sections/credentials.js';

interface Context {
  plan: Plan;
  root: string;
  force: boolean;
  entries: JournalEntry[];
  /** The `.created` list of an install from before the journal. */
  legacyLines: string[];
  laid: Map<string, LaidDown>;
  /** Files kept because they changed since install: the journal then stays for `uninstall --force`. */
  kept: number;
}

/** Takes the block out of its file; the file goes too when install created it for the block alone. */
function removeBlockOp(
  ctx: Context,
  op: Extract<Op, { kind: 'block' }>,
  real: string,
  st: fs.Stats | undefined,
): Change {
  if (!st?.isFile()) return { op: op.kind, path: op.path, action: 'absent' };
  const before = fs.readFileSync(real, 'latin1');
  const after = removeBlock(before, op.id);
  if (after === before) return { op: op.kind, path: op.path, action: 'absent' };
  if (after.length === 0 && (journaled(ctx.entries, 'blockfile', op.path) || ctx.legacyLines.includes(op.path))) {
    fs.unlinkSync(real);
    return { op: op.kind, path: op.path, action: 'removed' };
  }
  atomicWrite(op.path, real, Buffer.from(after, 'latin1'), st.mode & 0o7777, { uid: st.uid, gid: st.gid });
  return { op: op.kind, path: op.path, action: 'removed', note: 'block' };
}

/** Removes a planned file or link install made (or restores what it replaced); keeps one changed since. */
function removeEntryOp(
  ctx: Context,
  op: Extract<Op, { kind: 'file' | 'link' }>,
  real: string,
  st: fs.Stats | undefined,
): Change {
  const { plan, entries } = ctx;
  const backedUp = journaled(entries, 'backup', op.path);
  const made = journaled(entries, 'file', op.path);
  // Unchanged: what this bundle would lay down, or what the last install laid down (an uninstall
  // with a newer bundle than the one installed), or anything in the image's own home folder.
  const matches =
    (op.kind === 'file'
      ? Boolean(st?.isFile()) && fileSha(real) === op.sha256
      : Boolean(st?.isSymbolicLink()) && fs.readlinkSync(real) === op.target) ||
    (Boolean(st) && (op.path.startsWith(`${plan.home}/`) || asBefore(ctx.laid.get(op.path), real)));
  // An install made before the journal existed: its files are ours when they still hold the planned bytes.
  const noJournal = entries.length === 0;
  if (!made && !backedUp && !(noJournal && matches)) {
    return st
      ? { op: op.kind, path: op.path, action: 'kept', note: 'it was there before install' }
      : { op: op.kind, path: op.path, action: 'absent' };
  }
  if (st && !matches && !ctx.force) {
    ctx.kept++;
    return {
      op: op.kind,
      path: op.path,
      action: 'kept',
      note: `changed since install; \`uninstall --force\` removes it${backedUp ? ` and restores the original from ${backupDir(plan)}` : ''}`,
    };
  }
  if (st) fs.unlinkSync(real);
  if (backedUp && restoreBackup(plan, ctx.root, op.path))
    return { op: op.kind, path: op.path, action: 'restored', note: 'the file that was there before install' };
  return { op: op.kind, path: op.path, action: st ? 'removed' : 'absent' };
}

/** The folders install created, in reverse creation order (the deepest first); non-empty ones stay. */
function removeMadeDirs(ctx: Context, changes: Change[]): void {
  const dirs = [...ctx.entries.filter(([v]) => v === 'dir').map(([, p]) => p), ...ctx.legacyLines];
  for (const d of [...new Set(dirs)].reverse()) {
    let real: string;
    try {
      real = resolveInRoot(ctx.root, d).real;
    } catch {
      continue;
    }
    if (!lstat(real)?.isDirectory()) continue; // a block's file, handled above
    try {
      fs.rmdirSync(real);
      changes.push({ op: 'dir', path: d, action: 'removed' });
    } catch {
      changes.push({ op: 'dir', path: d, action: 'kept', note: 'not empty' });
    }
  }
}

/**
 * What first boot made that uninstall leaves (first-boot-records.ts), each one there named with how to
 * remove it: never silently left behind, never taken from a droplet whose services use it.
 */
function reportLeftovers(plan: Plan, root: string, credentials: string | undefined, changes: Change[]): void {
  for (const l of leftovers(plan, credentials ?? credentialsFile({ slug: plan.slug }))) {
    let st: fs.Stats | undefined;
    try {
      st = lstat(resolveInRoot(root, l.path).real);
    } catch {
      continue;
    }
    if (l.op === 'file' ? !st?.isFile() : !st?.isDirectory()) continue;
    changes.push({ op: l.op, path: l.path, action: 'kept', note: l.note });
  }
}

export function uninstall(plan: Plan, root: string, opts: { force?: boolean; credentials?: string } = {}): Change[] {
  const changes: Change[] = [];
  const jr = resolveInRoot(root, journalFile(plan));
  const legacy = resolveInRoot(root, `${plan.home}/.created`);
  const ctx: Context = {
    plan,
    root,
    force: Boolean(opts.force),
    entries: lstat(jr.real)?.isFile() ? parseJournal(fs.readFileSync(jr.real, 'utf8')) : [],
    legacyLines: lstat(legacy.real)?.isFile() ? fs.readFileSync(legacy.real, 'utf8').split('\n').filter(Boolean) : [],
    laid: readLaidDown(root, plan),
    kept: 0,
  };
  for (const op of [...opsFor(plan, root)].reverse()) {
    if (op.kind === 'dir') continue; // directories go below, and only those install created
    const { real } = resolveInRoot(root, op.path);
    // what an interrupted write left (never a file of its own: install names its temp files so)
    const half = lstat(`${real}.mpimg-tmp`);
    if (half && !half.isDirectory()) fs.unlinkSync(`${real}.mpimg-tmp`);
    const st = lstat(real);
    changes.push(op.kind === 'block' ? removeBlockOp(ctx, op, real, st) : removeEntryOp(ctx, op, real, st));
  }
  // What an install of an older bundle made that this bundle's plan no longer has.
  const unplanned = removeUnplanned(plan, root, ctx.entries, ctx.laid, ctx.force, changes);
  if (ctx.kept + unplanned.kept > 0) {
    rewriteJournal(jr.real, ctx.entries, unplanned.forget);
    reportLeftovers(plan, root, opts.credentials, changes);
    return changes; // journal and backups stay, so a later `uninstall --force` can finish
  }
  for (const f of [jr.real, legacy.real]) fs.rmSync(f, { force: true });
  removeMadeDirs(ctx, changes);
  reportLeftovers(plan, root, opts.credentials, changes);
  return changes;
}
