/**
 * What an earlier install made (the journal says so) that the plan no longer has: a first-boot step
 * or a files/ entry removed from the project. Without this, a reinstall with a newer bundle (the
 * testbuild, edit, build loop on one droplet) would ship the removed step in the snapshot.
 */
import * as fs from 'node:fs';
import type { Plan } from './plan.js';
import { resolveInRoot } from './root.js';
import { lstat } from './files.js';
import { journaled, type JournalEntry } from './journal.js';
import { asBefore, restoreBackup, type LaidDown } from './laid-down.js';
import { opsFor, type Change } from './ops.js';

/**
 * Each unplanned path goes when it is still what that install laid down (installed.json) or lies in the
 * image's home folder, and what it had replaced comes back; one changed since stays (`force`: goes too).
 * Returns the paths that are no longer ours, for the journal to forget.
 */
export function removeUnplanned(
  plan: Plan,
  root: string,
  entries: JournalEntry[],
  laidDown: Map<string, LaidDown>,
  force: boolean,
  changes: Change[],
): { forget: Set<string>; kept: number } {
  const planned = new Set(
    opsFor(plan, root)
      .filter((o) => o.kind !== 'dir')
      .map((o) => o.path),
  );
  const stale = [
    ...new Set(entries.filter(([v, p]) => (v === 'file' || v === 'backup') && !planned.has(p)).map(([, p]) => p)),
  ];
  const forget = new Set<string>();
  let kept = 0;
  for (const p of stale.reverse()) {
    const { real } = resolveInRoot(root, p);
    const st = lstat(real);
    const op: Change['op'] = st?.isSymbolicLink() ? 'link' : 'file';
    if (st && !st.isFile() && !st.isSymbolicLink()) continue; // a folder now: not ours to touch
    if (st && !force && !p.startsWith(`${plan.home}/`) && !asBefore(laidDown.get(p), real)) {
      kept++;
      changes.push({
        op,
        path: p,
        action: 'kept',
        note: 'no longer in the plan, but changed since it was laid down; `uninstall --force` removes it',
      });
      continue;
    }
    if (st) fs.unlinkSync(real);
    if (journaled(entries, 'backup', p) && restoreBackup(plan, root, p))
      changes.push({
        op,
        path: p,
        action: 'restored',
        note: 'no longer in the plan: the file that was there before install is back',
      });
    else if (st) changes.push({ op, path: p, action: 'removed', note: 'no longer in the plan' });
    forget.add(p);
  }
  return { forget, kept };
}
