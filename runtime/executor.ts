/**
 * The node executor: applies, checks and reverses a plan under a root directory.
 * Node 18 APIs only (this file is bundled into the on-droplet runtime).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { createdDirsFile, ensureBlock, findBlock, removeBlock, type Op, type Plan } from './plan.js';

export interface Change {
  op: Op['kind'];
  path: string;
  action: 'created' | 'updated' | 'unchanged' | 'removed' | 'absent' | 'kept';
  note?: string;
}

export interface Drift {
  path: string;
  problem: 'missing' | 'wrong mode' | 'changed content' | 'hook missing' | 'block changed';
  detail?: string;
}

const at = (root: string, p: string): string => (root === '/' ? p : path.join(root, p));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** Files are handled as latin1 strings (one char per byte); block texts are UTF-8. */
const latin1 = (utf8: string): string => Buffer.from(utf8, 'utf8').toString('latin1');
const modeOf = (p: string): number => fs.statSync(p).mode & 0o7777;

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** temp file + rename: an interrupted run never leaves a half-written script in place. */
function atomicWrite(target: string, data: Buffer, mode: number): void {
  const tmp = `${target}.mpimg-tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, target);
}

/** mkdir -p that reports which directories it created (droplet paths, top-down). */
function makeDirs(root: string, dir: string, finalMode: number | null, created: string[]): void {
  const parts = dir.split('/').filter(Boolean);
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    cur += `/${parts[i]}`;
    const real = at(root, cur);
    if (exists(real)) continue;
    const mode = i === parts.length - 1 && finalMode !== null ? finalMode : 0o755;
    fs.mkdirSync(real, { mode });
    fs.chmodSync(real, mode);
    created.push(cur);
  }
}

export function install(plan: Plan, root: string): Change[] {
  process.umask(0o022);
  const changes: Change[] = [];
  const created: string[] = [];
  for (const op of plan.ops) {
    const real = at(root, op.path);
    if (op.kind === 'dir') {
      const had = exists(real);
      makeDirs(root, op.path, op.mode, created);
      if (had && modeOf(real) !== op.mode) {
        fs.chmodSync(real, op.mode);
        changes.push({ op: op.kind, path: op.path, action: 'updated', note: 'mode' });
      } else changes.push({ op: op.kind, path: op.path, action: had ? 'unchanged' : 'created' });
    } else if (op.kind === 'file') {
      makeDirs(root, path.posix.dirname(op.path), null, created);
      const data = Buffer.from(op.content, 'base64');
      const had = exists(real);
      if (had && sha256(fs.readFileSync(real)) === op.sha256 && modeOf(real) === op.mode) {
        changes.push({ op: op.kind, path: op.path, action: 'unchanged' });
        continue;
      }
      atomicWrite(real, data, op.mode);
      changes.push({ op: op.kind, path: op.path, action: had ? 'updated' : 'created' });
    } else {
      makeDirs(root, path.posix.dirname(op.path), null, created);
      const had = exists(real);
      const before = had ? fs.readFileSync(real, 'latin1') : '';
      const after = ensureBlock(before, { ...op, text: latin1(op.text) });
      if (had && after === before) {
        changes.push({ op: op.kind, path: op.path, action: 'unchanged' });
        continue;
      }
      atomicWrite(real, Buffer.from(after, 'latin1'), had ? modeOf(real) : op.createMode);
      if (!had) created.push(op.path);
      changes.push({ op: op.kind, path: op.path, action: had ? 'updated' : 'created' });
    }
  }
  recordCreatedDirs(plan, root, created);
  return changes;
}

function recordCreatedDirs(plan: Plan, root: string, created: string[]): void {
  if (created.length === 0) return;
  const file = at(root, createdDirsFile(plan));
  const old = exists(file) ? fs.readFileSync(file, 'utf8') : '';
  const known = new Set(old.split('\n').filter(Boolean));
  const add = created.filter((d) => !known.has(d));
  if (add.length === 0) return;
  atomicWrite(file, Buffer.from(old + add.map((d) => `${d}\n`).join('')), 0o644);
}

export function status(plan: Plan, root: string): { drift: Drift[]; checked: number } {
  const drift: Drift[] = [];
  for (const op of plan.ops) {
    const real = at(root, op.path);
    if (!exists(real)) {
      drift.push({ path: op.path, problem: op.kind === 'block' ? 'hook missing' : 'missing' });
      continue;
    }
    if (op.kind === 'block') {
      const text = fs.readFileSync(real, 'latin1');
      const range = findBlock(text, op.id);
      if (!range) drift.push({ path: op.path, problem: 'hook missing', detail: `mpimg:${op.id}` });
      else if (text.slice(range[0], range[1]) !== latin1(op.text)) drift.push({ path: op.path, problem: 'block changed', detail: `mpimg:${op.id}` });
      continue;
    }
    const mode = modeOf(real);
    if (mode !== op.mode) drift.push({ path: op.path, problem: 'wrong mode', detail: `${mode.toString(8)} instead of ${op.mode.toString(8)}` });
    if (op.kind === 'file' && sha256(fs.readFileSync(real)) !== op.sha256) drift.push({ path: op.path, problem: 'changed content' });
  }
  return { drift, checked: plan.ops.length };
}

export function uninstall(plan: Plan, root: string): Change[] {
  const changes: Change[] = [];
  const list = at(root, createdDirsFile(plan));
  const created = exists(list) ? fs.readFileSync(list, 'utf8').split('\n').filter(Boolean) : [];
  for (const op of [...plan.ops].reverse()) {
    const real = at(root, op.path);
    if (op.kind === 'dir') continue; // directories go below, and only those install created
    if (!exists(real)) {
      changes.push({ op: op.kind, path: op.path, action: 'absent' });
      continue;
    }
    if (op.kind === 'file') {
      fs.unlinkSync(real);
      changes.push({ op: op.kind, path: op.path, action: 'removed' });
    } else {
      const before = fs.readFileSync(real, 'latin1');
      const after = removeBlock(before, op.id);
      if (after === before) {
        changes.push({ op: op.kind, path: op.path, action: 'absent' });
      } else if (after.length === 0 && created.includes(op.path)) {
        // install created this file for the block alone
        fs.unlinkSync(real);
        changes.push({ op: op.kind, path: op.path, action: 'removed' });
      } else {
        atomicWrite(real, Buffer.from(after, 'latin1'), modeOf(real));
        changes.push({ op: op.kind, path: op.path, action: 'removed', note: 'block' });
      }
    }
  }
  if (exists(list)) fs.unlinkSync(list);
  for (const d of [...created].reverse()) {
    if (!fs.lstatSync(at(root, d), { throwIfNoEntry: false })?.isDirectory()) continue; // a block's file, handled above
    try {
      fs.rmdirSync(at(root, d));
      changes.push({ op: 'dir', path: d, action: 'removed' });
    } catch {
      changes.push({ op: 'dir', path: d, action: 'kept', note: 'not empty or gone' });
    }
  }
  return changes;
}
