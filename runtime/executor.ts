/**
 * The node executor's `install`: applies a plan under a root directory. Node 18 APIs only (this file is
 * bundled into the on-droplet runtime). The sh installer twin (templates/droplet/installer.sh.ejs) does
 * the same, step for step: both leave byte-identical trees. `status` and `uninstall` live beside it.
 *
 * What install may destroy is nothing: a file it replaces is backed up first, everything it makes is
 * journaled before it is made, and uninstall removes only what the journal says install made and
 * what still has the content install gave it.
 */
import * as fs from 'node:fs';
import { backupDir, ensureBlock, stateFileSets, type Op, type Plan } from './plan.js';
import { resolveInRoot, StepError } from './root.js';
import { atomicLink, atomicWrite, fileSha, latin1, lstat } from './files.js';
import { Journal } from './journal.js';
import { asBefore, backup, readLaidDown, type LaidDown } from './laid-down.js';
import { removeUnplanned } from './unplanned.js';
import { readStage } from './stage.js';
import { opsFor, type Change } from './ops.js';

export interface InstallOptions {
  /** `seeded`: only the folders and the seeded files (files/), before the build scripts run. */
  only?: 'seeded';
  /** Install on a droplet whose first boot already ran (the first-login hook is never put back). */
  force?: boolean;
}

interface Context {
  plan: Plan;
  root: string;
  j: Journal;
  /** What the last install laid down (installed.json). */
  laidDown: Map<string, LaidDown>;
  /** The same, consulted for ownership only when there is no journal yet (an install from before it). */
  prior: Map<string, LaidDown>;
  changes: Change[];
}

const mkdirs = (j: Journal) => ({ create: true, onCreate: (d: string) => j.add('dir', d) });

/** A file at this path is ours when install made it, or it is still what an earlier install laid down. */
const ours = (ctx: Context, p: string, real: string): boolean =>
  p.startsWith(`${ctx.plan.home}/`) ||
  ctx.j.has('file', p) ||
  ctx.j.has('backup', p) ||
  asBefore(ctx.prior.get(p), real);

/**
 * A login on the build droplet ran the first-login setup; the image must start with it to come
 * (install puts the hook back), or its MOTD and status would say it is done.
 */
function forgetBuildLogin(ctx: Context): void {
  // where this bundle keeps it, and where an older bundle did (stateFileSets)
  for (const { loginDone } of stateFileSets(ctx.plan)) {
    const done = resolveInRoot(ctx.root, loginDone);
    if (!lstat(done.real)?.isFile()) continue;
    fs.unlinkSync(done.real);
    ctx.changes.push({
      op: 'file',
      path: loginDone,
      action: 'removed',
      note: 'a first login on this build droplet: the image starts with its first login to come',
    });
  }
}

function installDir(ctx: Context, op: Extract<Op, { kind: 'dir' }>): void {
  const before = lstat(resolveInRoot(ctx.root, op.path, { followLast: true }).real);
  const r = resolveInRoot(ctx.root, op.path, {
    ...mkdirs(ctx.j),
    createLast: true,
    lastMode: op.mode,
    followLast: true,
  });
  if (before && !before.isDirectory())
    throw new StepError(op.path, `${op.path} is in the way: it is not a directory`, 'ENOTDIR');
  if (before && (before.mode & 0o7777) !== op.mode) {
    fs.chmodSync(r.real, op.mode);
    ctx.changes.push({ op: op.kind, path: op.path, action: 'updated', note: 'mode' });
  } else ctx.changes.push({ op: op.kind, path: op.path, action: before ? 'unchanged' : 'created' });
  ctx.j.flush();
}

function installEntry(ctx: Context, op: Extract<Op, { kind: 'file' | 'link' }>): void {
  const { j, changes } = ctx;
  const { real } = resolveInRoot(ctx.root, op.path, mkdirs(j));
  const st = lstat(real);
  if (st?.isDirectory()) throw new StepError(op.path, `${op.path} is in the way: it is a directory`, 'EISDIR');
  const same =
    op.kind === 'file'
      ? st?.isFile() && (st.mode & 0o7777) === op.mode && fileSha(real) === op.sha256
      : st?.isSymbolicLink() && fs.readlinkSync(real) === op.target;
  // What an earlier install laid down (or the home folder holds) is ours: journal it as made by us.
  const claim = () => {
    if (!ours(ctx, op.path, real)) return false;
    if (!j.has('file', op.path) && !j.has('backup', op.path)) j.add('file', op.path);
    return true;
  };
  if (same) {
    claim();
    if (op.seed) j.add('laid', op.path);
    changes.push({ op: op.kind, path: op.path, action: 'unchanged' });
    return;
  }
  if (!st && op.seed && j.has('laid', op.path)) {
    changes.push({ op: op.kind, path: op.path, action: 'kept', note: 'seeded: removed here since it was laid down' });
    return;
  }
  // Laid down once: what a build script, first boot or the customer made of it stays. Only a
  // copy nobody touched since the last install (installed.json says so) follows a new files/.
  if (st && op.seed && claim() && !asBefore(ctx.laidDown.get(op.path), real)) {
    changes.push({ op: op.kind, path: op.path, action: 'kept', note: 'seeded: changed here since it was laid down' });
    return;
  }
  let note: string | undefined;
  if (!st) j.add('file', op.path);
  else if (!claim()) {
    backup(ctx.root, ctx.plan, j, op.path, real, st);
    note = `the file that was there is kept in ${backupDir(ctx.plan)}`;
  }
  if (op.kind === 'file') atomicWrite(op.path, real, Buffer.from(op.content, 'base64'), op.mode);
  else atomicLink(op.path, real, op.target);
  if (op.seed) j.add('laid', op.path);
  changes.push({ op: op.kind, path: op.path, action: st ? 'updated' : 'created', ...(note ? { note } : {}) });
}

function installBlock(ctx: Context, op: Extract<Op, { kind: 'block' }>): void {
  const { real } = resolveInRoot(ctx.root, op.path, mkdirs(ctx.j));
  const st = lstat(real);
  if (st && !st.isFile()) throw new StepError(op.path, `${op.path} is in the way: it is not a regular file`, 'EEXIST');
  const before = st ? fs.readFileSync(real, 'latin1') : '';
  const after = ensureBlock(before, { ...op, text: latin1(op.text) });
  if (st && after === before) {
    ctx.changes.push({ op: op.kind, path: op.path, action: 'unchanged' });
    return;
  }
  if (!st) ctx.j.add('blockfile', op.path);
  atomicWrite(
    op.path,
    real,
    Buffer.from(after, 'latin1'),
    st ? st.mode & 0o7777 : op.createMode,
    st ? { uid: st.uid, gid: st.gid } : undefined,
  );
  ctx.changes.push({ op: op.kind, path: op.path, action: st ? 'updated' : 'created' });
}

export function install(plan: Plan, root: string, opts: InstallOptions = {}): Change[] {
  process.umask(0o022);
  const stage = readStage(plan, root);
  const booted = stage.stage !== 'built';
  if (booted && !opts.force) {
    throw new StepError(
      plan.state,
      `this droplet already ran its first boot (${stage.stage.replace(/-/g, ' ')}): installing again would undo what first boot and the customer set up`,
      'EBOOTED',
    );
  }
  const j = new Journal(root, plan);
  // installed.json tells what an earlier install laid down only for an install from before the
  // journal; once there is a journal, it alone says what is ours.
  const laidDown = readLaidDown(root, plan);
  const ctx: Context = { plan, root, j, laidDown, prior: j.entries.length === 0 ? laidDown : new Map(), changes: [] };
  const hook = plan.ops.find((o) => o.kind === 'block' && o.hook === 'first-login');
  if (!booted && opts.only !== 'seeded' && hook) forgetBuildLogin(ctx);
  if (opts.only !== 'seeded' && j.entries.length > 0) {
    const { forget } = removeUnplanned(plan, root, j.entries, laidDown, false, ctx.changes);
    j.forget(forget);
  }
  try {
    for (const op of opsFor(plan, root)) {
      if (opts.only === 'seeded' && op.kind !== 'dir' && !((op.kind === 'file' || op.kind === 'link') && op.seed))
        continue;
      if (booted && op.kind === 'block' && op.hook === 'first-login') {
        ctx.changes.push({
          op: op.kind,
          path: op.path,
          action: 'kept',
          note: 'first boot ran: the first-login hook is not put back',
        });
        continue;
      }
      if (op.kind === 'dir') installDir(ctx, op);
      else if (op.kind === 'file' || op.kind === 'link') installEntry(ctx, op);
      else installBlock(ctx, op);
    }
  } catch (e) {
    j.rollbackUnwritten();
    try {
      j.sync();
    } catch {
      /* the step's own error is the one to report */
    }
    throw e;
  }
  j.sync();
  return ctx.changes;
}
