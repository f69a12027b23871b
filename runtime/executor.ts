/**
 * The node executor: applies, checks and reverses a plan under a root directory.
 * Node 18 APIs only (this file is bundled into the on-droplet runtime). The sh installer twin
 * (templates/droplet/installer.sh.ejs) does the same, step for step: both leave byte-identical trees.
 *
 * What install may destroy is nothing: a file it replaces is backed up first, everything it makes is
 * journaled before it is made, and uninstall removes only what the journal says install made and
 * what still has the content install gave it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { backupDir, ensureBlock, familyOfOsRelease, findBlock, journalFile, removeBlock, stateFileSets, stateFiles, JOURNAL_VERBS, type JournalVerb, type Op, type Plan } from './plan.js';
import { resolveInRoot, StepError } from './root.js';

export { StepError } from './root.js';

/** The operations of the plan for the root's package family (its os-release), in plan order. */
export function opsFor(plan: Plan, root: string): Op[] {
  let text = '';
  for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      text = fs.readFileSync(resolveInRoot(root, f, { followLast: true }).real, 'utf8');
      break;
    } catch {
      /* try the next one */
    }
  }
  const family = familyOfOsRelease(text);
  return plan.ops.filter((op) => !op.family || op.family === family);
}

export interface Change {
  op: Op['kind'];
  path: string;
  action: 'created' | 'updated' | 'unchanged' | 'removed' | 'restored' | 'absent' | 'kept';
  note?: string;
}

export interface Drift {
  path: string;
  problem: 'missing' | 'wrong mode' | 'changed content' | 'hook missing' | 'block changed' | 'wrong link';
  detail?: string;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** Files are handled as latin1 strings (one char per byte); block texts are UTF-8. */
const latin1 = (utf8: string): string => Buffer.from(utf8, 'utf8').toString('latin1');

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function fileSha(p: string): string {
  return sha256(fs.readFileSync(p));
}

/** temp file + rename: an interrupted or full-disk run never leaves a half-written file in place. */
function atomicWrite(droplet: string, target: string, data: Buffer, mode: number, owner?: { uid: number; gid: number }): void {
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

function atomicLink(droplet: string, target: string, linkTarget: string): void {
  const tmp = `${target}.mpimg-tmp`;
  try {
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(linkTarget, tmp);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new StepError(droplet, `cannot create the link ${droplet}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code);
  }
}

/**
 * The install journal (see plan.ts). Entries are appended and synced before the step they describe;
 * until the journal's own folder (the image's home) exists they wait in memory.
 */
class Journal {
  readonly entries: Array<[JournalVerb, string]> = [];
  private written = 0;
  private file?: string;

  constructor(private readonly root: string, private readonly plan: Plan) {
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
    return this.entries.some(([v, x]) => v === verb && x === p);
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
  }

  /** Writes what waits in memory once the image's home exists. */
  flush(): void {
    if (this.written === this.entries.length) return;
    if (!this.file) {
      const home = resolveInRoot(this.root, this.plan.home, { followLast: true });
      if (!lstat(home.real)?.isDirectory()) return;
      this.file = resolveInRoot(this.root, journalFile(this.plan)).real;
    }
    const text = this.entries.slice(this.written).map(([v, p]) => `${v} ${p}\n`).join('');
    const fd = fs.openSync(this.file, 'a', 0o644);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.written = this.entries.length;
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

/** Journal lines; a line of the old format (a bare path) counts as a directory or block file. */
export function parseJournal(text: string): Array<[JournalVerb, string]> {
  const out: Array<[JournalVerb, string]> = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const verb = line.slice(0, sp) as JournalVerb;
    if (sp > 0 && JOURNAL_VERBS.includes(verb)) out.push([verb, line.slice(sp + 1)]);
  }
  return out;
}

/** What an earlier install recorded in installed.json: path → sha256 of the file (or target of the link) it laid down. */
function priorItems(root: string, plan: Plan): Map<string, { sha256?: string; link?: string }> {
  const out = new Map<string, { sha256?: string; link?: string }>();
  try {
    const st = JSON.parse(fs.readFileSync(resolveInRoot(root, `${plan.home}/installed.json`).real, 'utf8')) as { items?: Array<{ path?: string; sha256?: string; link?: string }> };
    for (const i of st.items ?? []) if (typeof i.path === 'string') out.set(i.path, { sha256: i.sha256, link: i.link });
  } catch {
    /* no earlier install */
  }
  return out;
}

/** True when what is at `real` is what an earlier install laid down there. */
function asBefore(prior: { sha256?: string; link?: string } | undefined, real: string): boolean {
  const st = lstat(real);
  if (!prior || !st) return false;
  if (st.isSymbolicLink()) return prior.link !== undefined && fs.readlinkSync(real) === prior.link;
  return st.isFile() && prior.sha256 !== undefined && fileSha(real) === prior.sha256;
}

/** Copies what is at `real` (a file or a link) to the backup folder, mode and owner kept, then journals it. */
function backup(root: string, plan: Plan, j: Journal, droplet: string, real: string, st: fs.Stats): void {
  const dest = resolveInRoot(root, `${backupDir(plan)}${droplet}`, { create: true, onCreate: (d) => j.add('dir', d) });
  if (st.isSymbolicLink()) atomicLink(`${backupDir(plan)}${droplet}`, dest.real, fs.readlinkSync(real));
  else if (st.isFile()) atomicWrite(`${backupDir(plan)}${droplet}`, dest.real, fs.readFileSync(real), st.mode & 0o7777, { uid: st.uid, gid: st.gid });
  else throw new StepError(droplet, `${droplet} is in the way: it is not a regular file or a link`, 'EEXIST');
  j.add('backup', droplet);
}

/** Rewrites the journal without what it says of the paths in `forget` but their folders (temp file + rename). */
function rewriteJournal(real: string, entries: Array<[JournalVerb, string]>, forget: Set<string>): Array<[JournalVerb, string]> {
  const keep = entries.filter(([v, p]) => v === 'dir' || v === 'blockfile' || !forget.has(p));
  if (keep.length === entries.length || !lstat(real)?.isFile()) return keep;
  atomicWrite(real, real, Buffer.from(keep.map(([v, p]) => `${v} ${p}\n`).join('')), 0o644);
  return keep;
}

/**
 * What an earlier install made (the journal says so) that the plan no longer has: a first-boot step
 * or a files/ entry removed from the project. Without this, a reinstall with a newer bundle (the
 * testbuild, edit, build loop on one droplet) would ship the removed step in the snapshot. Each goes
 * when it is still what that install laid down (installed.json) or lies in the image's home folder,
 * and what it had replaced comes back; one changed since stays (`force`: goes too).
 * Returns the paths that are no longer ours, for the journal to forget.
 */
function removeUnplanned(plan: Plan, root: string, entries: Array<[JournalVerb, string]>, laidDown: Map<string, { sha256?: string; link?: string }>, force: boolean, changes: Change[]): { forget: Set<string>; kept: number } {
  const planned = new Set(opsFor(plan, root).filter((o) => o.kind !== 'dir').map((o) => o.path));
  const stale = [...new Set(entries.filter(([v, p]) => (v === 'file' || v === 'backup') && !planned.has(p)).map(([, p]) => p))];
  const has = (v: JournalVerb, p: string) => entries.some(([x, y]) => x === v && y === p);
  const forget = new Set<string>();
  let kept = 0;
  for (const p of stale.reverse()) {
    const { real } = resolveInRoot(root, p);
    const st = lstat(real);
    const op: Change['op'] = st?.isSymbolicLink() ? 'link' : 'file';
    if (st && !st.isFile() && !st.isSymbolicLink()) continue; // a folder now: not ours to touch
    if (st && !force && !p.startsWith(`${plan.home}/`) && !asBefore(laidDown.get(p), real)) {
      kept++;
      changes.push({ op, path: p, action: 'kept', note: 'no longer in the plan, but changed since it was laid down; `uninstall --force` removes it' });
      continue;
    }
    if (st) fs.unlinkSync(real);
    if (has('backup', p) && restoreBackup(plan, root, p)) changes.push({ op, path: p, action: 'restored', note: 'no longer in the plan: the file that was there before install is back' });
    else if (st) changes.push({ op, path: p, action: 'removed', note: 'no longer in the plan' });
    forget.add(p);
  }
  return { forget, kept };
}

/** Puts back what install kept of `p` in the backup folder; false when there is no copy. */
function restoreBackup(plan: Plan, root: string, p: string): boolean {
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

/** Where a droplet is in its life (see plan.ts), read from what first boot and first login recorded. */
export interface Stage {
  stage: 'built' | 'first-boot-running' | 'first-boot-finished';
  /** Steps of the last (or running) first boot that failed, as "ID EXIT". */
  failedSteps: string[];
  firstLogin: 'none' | 'pending' | 'done';
}

export function readStage(plan: Plan, root: string): Stage {
  const file = (p: string): string | undefined => {
    try {
      const real = resolveInRoot(root, p).real;
      return lstat(real)?.isFile() ? fs.readFileSync(real, 'utf8') : undefined;
    } catch {
      return undefined;
    }
  };
  // Where this bundle keeps each state file, else where an older one did (stateFileSets).
  const state = (k: keyof ReturnType<typeof stateFiles>) => stateFileSets(plan).map((f) => file(f[k])).find((t) => t !== undefined);
  const running = state('running');
  const finished = state('finished');
  const failedText = running !== undefined ? running : state('failed') ?? '';
  const failedSteps = failedText.split('\n').filter((l) => /^\S+ [1-9]\d*$/.test(l));
  const stage: Stage['stage'] = running !== undefined ? 'first-boot-running' : finished !== undefined ? 'first-boot-finished' : 'built';
  const hook = plan.ops.find((o) => o.kind === 'block' && o.hook === 'first-login');
  let firstLogin: Stage['firstLogin'] = 'none';
  if (hook && hook.kind === 'block') {
    const bashrc = file(hook.path) ?? '';
    firstLogin = state('loginDone') !== undefined || (stage !== 'built' && !findBlock(bashrc, hook.id)) ? 'done' : 'pending';
  }
  return { stage, failedSteps, firstLogin };
}

export interface InstallOptions {
  /** `seeded`: only the folders and the seeded files (files/), before the build scripts run. */
  only?: 'seeded';
  /** Install on a droplet whose first boot already ran (the first-login hook is never put back). */
  force?: boolean;
}

export function install(plan: Plan, root: string, opts: InstallOptions = {}): Change[] {
  process.umask(0o022);
  const changes: Change[] = [];
  const stage = readStage(plan, root);
  const booted = stage.stage !== 'built';
  if (booted && !opts.force) {
    throw new StepError(plan.state, `this droplet already ran its first boot (${stage.stage.replace(/-/g, ' ')}): installing again would undo what first boot and the customer set up`, 'EBOOTED');
  }
  const j = new Journal(root, plan);
  // installed.json tells what an earlier install laid down only for an install from before the
  // journal; once there is a journal, it alone says what is ours.
  const laidDown = priorItems(root, plan);
  const prior = j.entries.length === 0 ? laidDown : new Map<string, { sha256?: string; link?: string }>();
  const hook = plan.ops.find((o) => o.kind === 'block' && o.hook === 'first-login');
  if (!booted && opts.only !== 'seeded' && hook) {
    // A login on the build droplet ran the first-login setup; the image must start with it to come
    // (install puts the hook back), or its MOTD and status would say it is done.
    for (const { loginDone } of stateFileSets(plan)) {
      const done = resolveInRoot(root, loginDone);
      if (!lstat(done.real)?.isFile()) continue;
      fs.unlinkSync(done.real);
      changes.push({ op: 'file', path: loginDone, action: 'removed', note: 'a first login on this build droplet: the image starts with its first login to come' });
    }
  }
  if (opts.only !== 'seeded' && j.entries.length > 0) {
    const { forget } = removeUnplanned(plan, root, j.entries, laidDown, false, changes);
    j.forget(forget);
  }
  const mkdirs = { create: true, onCreate: (d: string) => j.add('dir', d) };
  /** A file at this path is ours when install made it, or it is still what an earlier install laid down. */
  const ours = (p: string, real: string) =>
    p.startsWith(`${plan.home}/`) || j.has('file', p) || j.has('backup', p) || asBefore(prior.get(p), real);
  try {
    for (const op of opsFor(plan, root)) {
      if (opts.only === 'seeded' && op.kind !== 'dir' && !((op.kind === 'file' || op.kind === 'link') && op.seed)) continue;
      if (booted && op.kind === 'block' && op.hook === 'first-login') {
        changes.push({ op: op.kind, path: op.path, action: 'kept', note: 'first boot ran: the first-login hook is not put back' });
        continue;
      }
      if (op.kind === 'dir') {
        const before = lstat(resolveInRoot(root, op.path, { followLast: true }).real);
        const r = resolveInRoot(root, op.path, { ...mkdirs, createLast: true, lastMode: op.mode, followLast: true });
        if (before && !before.isDirectory()) throw new StepError(op.path, `${op.path} is in the way: it is not a directory`, 'ENOTDIR');
        if (before && (before.mode & 0o7777) !== op.mode) {
          fs.chmodSync(r.real, op.mode);
          changes.push({ op: op.kind, path: op.path, action: 'updated', note: 'mode' });
        } else changes.push({ op: op.kind, path: op.path, action: before ? 'unchanged' : 'created' });
        j.flush();
      } else if (op.kind === 'file' || op.kind === 'link') {
        const { real } = resolveInRoot(root, op.path, mkdirs);
        const st = lstat(real);
        if (st?.isDirectory()) throw new StepError(op.path, `${op.path} is in the way: it is a directory`, 'EISDIR');
        const same = op.kind === 'file'
          ? st?.isFile() && (st.mode & 0o7777) === op.mode && fileSha(real) === op.sha256
          : st?.isSymbolicLink() && fs.readlinkSync(real) === op.target;
        // What an earlier install laid down (or the home folder holds) is ours: journal it as made by us.
        const claim = () => {
          if (!ours(op.path, real)) return false;
          if (!j.has('file', op.path) && !j.has('backup', op.path)) j.add('file', op.path);
          return true;
        };
        if (same) {
          claim();
          if (op.seed) j.add('laid', op.path);
          changes.push({ op: op.kind, path: op.path, action: 'unchanged' });
          continue;
        }
        if (!st && op.seed && j.has('laid', op.path)) {
          changes.push({ op: op.kind, path: op.path, action: 'kept', note: 'seeded: removed here since it was laid down' });
          continue;
        }
        let note: string | undefined;
        // Laid down once: what a build script, first boot or the customer made of it stays. Only a
        // copy nobody touched since the last install (installed.json says so) follows a new files/.
        if (st && op.seed && claim() && !asBefore(laidDown.get(op.path), real)) {
          changes.push({ op: op.kind, path: op.path, action: 'kept', note: 'seeded: changed here since it was laid down' });
          continue;
        }
        if (!st) j.add('file', op.path);
        else if (!claim()) {
          backup(root, plan, j, op.path, real, st);
          note = `the file that was there is kept in ${backupDir(plan)}`;
        }
        if (op.kind === 'file') atomicWrite(op.path, real, Buffer.from(op.content, 'base64'), op.mode);
        else atomicLink(op.path, real, op.target);
        if (op.seed) j.add('laid', op.path);
        changes.push({ op: op.kind, path: op.path, action: st ? 'updated' : 'created', ...(note ? { note } : {}) });
      } else {
        const { real } = resolveInRoot(root, op.path, mkdirs);
        const st = lstat(real);
        if (st && !st.isFile()) throw new StepError(op.path, `${op.path} is in the way: it is not a regular file`, 'EEXIST');
        const before = st ? fs.readFileSync(real, 'latin1') : '';
        const after = ensureBlock(before, { ...op, text: latin1(op.text) });
        if (st && after === before) {
          changes.push({ op: op.kind, path: op.path, action: 'unchanged' });
          continue;
        }
        if (!st) j.add('blockfile', op.path);
        atomicWrite(op.path, real, Buffer.from(after, 'latin1'), st ? st.mode & 0o7777 : op.createMode, st ? { uid: st.uid, gid: st.gid } : undefined);
        changes.push({ op: op.kind, path: op.path, action: st ? 'updated' : 'created' });
      }
    }
  } catch (e) {
    j.rollbackUnwritten();
    throw e;
  }
  return changes;
}

export interface StatusReport {
  drift: Drift[];
  checked: number;
  stage: Stage;
  /** Seeded files that differ from what was laid down (expected: not drift). */
  seeded: Array<{ path: string; state: 'changed' | 'missing' }>;
}

export function status(plan: Plan, root: string): StatusReport {
  const drift: Drift[] = [];
  const seeded: StatusReport['seeded'] = [];
  const stage = readStage(plan, root);
  const ops = opsFor(plan, root);
  let journal: Array<[JournalVerb, string]> = [];
  try {
    const jr = resolveInRoot(root, journalFile(plan)).real;
    if (lstat(jr)?.isFile()) journal = parseJournal(fs.readFileSync(jr, 'utf8'));
  } catch {
    /* no journal */
  }
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
      const text = st?.isFile() ? fs.readFileSync(real, 'latin1') : '';
      const range = findBlock(text, op.id);
      // After the first login the hook has removed itself: that is the design, not drift.
      if (!range && op.hook === 'first-login' && stage.firstLogin === 'done') continue;
      if (!range) drift.push({ path: op.path, problem: 'hook missing', detail: `mpimg:${op.id}` });
      else if (text.slice(range[0], range[1]) !== latin1(op.text)) drift.push({ path: op.path, problem: 'block changed', detail: `mpimg:${op.id}` });
      continue;
    }
    if (!st) {
      // Removed after it was laid down (by a build script, or on a droplet that booted): expected.
      if (seed && (stage.stage !== 'built' || journal.some(([v, p]) => v === 'laid' && p === op.path))) seeded.push({ path: op.path, state: 'missing' });
      else drift.push({ path: op.path, problem: 'missing' });
      continue;
    }
    const found: Drift[] = [];
    if (op.kind === 'link') {
      if (!st.isSymbolicLink() || fs.readlinkSync(real) !== op.target) found.push({ path: op.path, problem: 'wrong link', detail: `should point to ${op.target}` });
    } else if (op.kind === 'file' && !st.isFile()) {
      found.push({ path: op.path, problem: 'changed content', detail: 'not a regular file' });
    } else {
      const mode = st.mode & 0o7777;
      if (mode !== op.mode) found.push({ path: op.path, problem: 'wrong mode', detail: `${mode.toString(8)} instead of ${op.mode.toString(8)}` });
      if (op.kind === 'file' && fileSha(real) !== op.sha256) found.push({ path: op.path, problem: 'changed content' });
    }
    if (found.length && seed) seeded.push({ path: op.path, state: 'changed' });
    else drift.push(...found);
  }
  return { drift, checked: ops.length, stage, seeded };
}

export function uninstall(plan: Plan, root: string, opts: { force?: boolean } = {}): Change[] {
  const changes: Change[] = [];
  const jr = resolveInRoot(root, journalFile(plan));
  const legacy = resolveInRoot(root, `${plan.home}/.created`);
  const entries = lstat(jr.real)?.isFile() ? parseJournal(fs.readFileSync(jr.real, 'utf8')) : [];
  const has = (v: JournalVerb, p: string) => entries.some(([x, y]) => x === v && y === p);
  const legacyLines = lstat(legacy.real)?.isFile() ? fs.readFileSync(legacy.real, 'utf8').split('\n').filter(Boolean) : [];
  // An install made before the journal existed: its files are ours when they still hold the planned bytes.
  const noJournal = entries.length === 0;
  const laid = priorItems(root, plan);
  let kept = 0;

  for (const op of [...opsFor(plan, root)].reverse()) {
    if (op.kind === 'dir') continue; // directories go below, and only those install created
    const { real } = resolveInRoot(root, op.path);
    // what an interrupted write left (never a file of its own: install names its temp files so)
    const half = lstat(`${real}.mpimg-tmp`);
    if (half && !half.isDirectory()) fs.unlinkSync(`${real}.mpimg-tmp`);
    const st = lstat(real);
    if (op.kind === 'block') {
      if (!st?.isFile()) {
        changes.push({ op: op.kind, path: op.path, action: 'absent' });
        continue;
      }
      const before = fs.readFileSync(real, 'latin1');
      const after = removeBlock(before, op.id);
      if (after === before) changes.push({ op: op.kind, path: op.path, action: 'absent' });
      else if (after.length === 0 && (has('blockfile', op.path) || legacyLines.includes(op.path))) {
        fs.unlinkSync(real); // install created this file for the block alone
        changes.push({ op: op.kind, path: op.path, action: 'removed' });
      } else {
        atomicWrite(op.path, real, Buffer.from(after, 'latin1'), st.mode & 0o7777, { uid: st.uid, gid: st.gid });
        changes.push({ op: op.kind, path: op.path, action: 'removed', note: 'block' });
      }
      continue;
    }
    const backedUp = has('backup', op.path);
    const made = has('file', op.path);
    // Unchanged: what this bundle would lay down, or what the last install laid down (an uninstall
    // with a newer bundle than the one installed), or anything in the image's own home folder.
    const matches = (op.kind === 'file'
      ? Boolean(st?.isFile()) && fileSha(real) === op.sha256
      : Boolean(st?.isSymbolicLink()) && fs.readlinkSync(real) === op.target)
      || (Boolean(st) && (op.path.startsWith(`${plan.home}/`) || asBefore(laid.get(op.path), real)));
    if (!made && !backedUp && !(noJournal && matches)) {
      if (st) changes.push({ op: op.kind, path: op.path, action: 'kept', note: 'it was there before install' });
      else changes.push({ op: op.kind, path: op.path, action: 'absent' });
      continue;
    }
    if (st && !matches && !opts.force) {
      kept++;
      changes.push({ op: op.kind, path: op.path, action: 'kept', note: `changed since install; \`uninstall --force\` removes it${backedUp ? ` and restores the original from ${backupDir(plan)}` : ''}` });
      continue;
    }
    if (st) fs.unlinkSync(real);
    if (backedUp && restoreBackup(plan, root, op.path)) changes.push({ op: op.kind, path: op.path, action: 'restored', note: 'the file that was there before install' });
    else changes.push({ op: op.kind, path: op.path, action: st ? 'removed' : 'absent' });
  }
  // What an install of an older bundle made that this bundle's plan no longer has.
  const unplanned = removeUnplanned(plan, root, entries, laid, Boolean(opts.force), changes);
  kept += unplanned.kept;
  if (kept > 0) {
    rewriteJournal(jr.real, entries, unplanned.forget);
    return changes; // journal and backups stay, so a later `uninstall --force` can finish
  }

  for (const f of [jr.real, legacy.real]) fs.rmSync(f, { force: true });
  const dirs = [...entries.filter(([v]) => v === 'dir').map(([, p]) => p), ...legacyLines];
  // In reverse creation order: the deepest first.
  for (const d of [...new Set(dirs)].reverse()) {
    let real: string;
    try {
      real = resolveInRoot(root, d).real;
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
  return changes;
}

/** One line for a failed step: what, where, and the way back. */
export function describeFailure(cmd: string, e: unknown): string {
  if (e instanceof StepError) return `${cmd} stopped at ${e.droplet}: ${e.message}`;
  const err = e as NodeJS.ErrnoException;
  return `${cmd} failed: ${err?.message ?? String(e)}${err?.path ? ` (${path.basename(err.path)})` : ''}`;
}
