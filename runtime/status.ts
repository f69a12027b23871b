/** `status`: the droplet compared with the plan. Node 18 APIs only (bundled into the runtime). */
import * as fs from 'node:fs';
import { findBlock, type Op, type Plan } from './plan.js';
import { resolveInRoot } from './root.js';
import { fileSha, latin1, lstat } from './files.js';
import { journaled, readJournal } from './journal.js';
import { opsFor } from './ops.js';
import { readStage, type Stage } from './stage.js';
import { removedDrift } from './removed.js';
import { heldUnits, readyRecord } from './first-boot-records.js';

export interface Drift {
  path: string;
  problem:
    'missing' | 'wrong mode' | 'changed content' | 'hook missing' | 'block changed' | 'wrong link' | 'not removed';
  detail?: string;
}

export interface StatusReport {
  drift: Drift[];
  checked: number;
  stage: Stage;
  /** Seeded files that differ from what was laid down (expected: not drift). */
  seeded: Array<{ path: string; state: 'changed' | 'missing' }>;
  /** The units marked afterFirstBoot (when there are): held until first boot made its record, or released. */
  afterFirstBoot?: { units: string[]; state: 'held' | 'released' };
}

/** The units marked afterFirstBoot and whether first boot's record is there (not drift either way). */
function afterFirstBoot(plan: Plan, root: string): StatusReport['afterFirstBoot'] {
  const units = heldUnits(plan);
  if (!units.length) return undefined;
  let there = false;
  try {
    there = lstat(resolveInRoot(root, readyRecord(plan)).real) !== undefined;
  } catch {
    // a folder on the way is not a directory: the record is not there
  }
  return { units, state: there ? 'released' : 'held' };
}

/** How a block differs from the plan; nothing when it is as planned (or gone as designed). */
function blockDrift(op: Extract<Op, { kind: 'block' }>, real: string, st: fs.Stats | undefined, stage: Stage): Drift[] {
  const text = st?.isFile() ? fs.readFileSync(real, 'latin1') : '';
  const range = findBlock(text, op.id);
  // After the first login the hook has removed itself: that is the design, not drift.
  if (!range && op.hook === 'first-login' && stage.firstLogin === 'done') return [];
  if (!range) return [{ path: op.path, problem: 'hook missing', detail: `mpimg:${op.id}` }];
  if (text.slice(range[0], range[1]) !== latin1(op.text))
    return [{ path: op.path, problem: 'block changed', detail: `mpimg:${op.id}` }];
  return [];
}

/** How a folder, file or link that exists differs from the plan. */
function entryDrift(op: Exclude<Op, { kind: 'block' }>, real: string, st: fs.Stats): Drift[] {
  if (op.kind === 'link') {
    return !st.isSymbolicLink() || fs.readlinkSync(real) !== op.target
      ? [{ path: op.path, problem: 'wrong link', detail: `should point to ${op.target}` }]
      : [];
  }
  if (op.kind === 'file' && !st.isFile())
    return [{ path: op.path, problem: 'changed content', detail: 'not a regular file' }];
  const found: Drift[] = [];
  const mode = st.mode & 0o7777;
  if (mode !== op.mode)
    found.push({
      path: op.path,
      problem: 'wrong mode',
      detail: `${mode.toString(8)} instead of ${op.mode.toString(8)}`,
    });
  if (op.kind === 'file' && fileSha(real) !== op.sha256) found.push({ path: op.path, problem: 'changed content' });
  return found;
}

/** The detail of a `not removed` drift (the sh twin prints the same words). */
export const REMOVED_DETAIL = 'build.remove of mpimg.json lists it; the build removes it';

export function status(plan: Plan, root: string): StatusReport {
  const drift: Drift[] = [];
  const seeded: StatusReport['seeded'] = [];
  const stage = readStage(plan, root);
  const ops = opsFor(plan, root);
  const journal = readJournal(root, plan);
  for (const op of ops) {
    const seed = (op.kind === 'file' || op.kind === 'link') && op.seed === true;
    let real: string;
    try {
      real = resolveInRoot(root, op.path, { followLast: op.kind === 'dir' }).real;
    } catch {
      drift.push({ path: op.path, problem: 'missing', detail: 'a folder on the way is not a directory' });
      continue;
    }
    const st = lstat(real);
    if (op.kind === 'block') {
      drift.push(...blockDrift(op, real, st, stage));
      continue;
    }
    if (!st) {
      // Removed after it was laid down (by a build script, or on a droplet that booted): expected.
      if (seed && (stage.stage !== 'built' || journaled(journal, 'laid', op.path)))
        seeded.push({ path: op.path, state: 'missing' });
      else drift.push({ path: op.path, problem: 'missing' });
      continue;
    }
    const found = entryDrift(op, real, st);
    if (found.length && seed) seeded.push({ path: op.path, state: 'changed' });
    else drift.push(...found);
  }
  // What the build removed (build.remove) and came back: a package reinstalled, a script, a customer.
  const removed = removedDrift(plan, root);
  for (const p of removed.there) drift.push({ path: p, problem: 'not removed', detail: REMOVED_DETAIL });
  const held = afterFirstBoot(plan, root);
  return { drift, checked: ops.length + removed.checked, stage, seeded, ...(held ? { afterFirstBoot: held } : {}) };
}
