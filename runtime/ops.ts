/**
 * What the executor acts on (the plan's operations for this root) and what it reports (one change per
 * operation). Node 18 APIs only (bundled into the runtime).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { familyOfOsRelease, type Op, type Plan } from './plan.js';
import { resolveInRoot, StepError } from './root.js';

/** The root's os-release text (/etc, else /usr/lib), or '' when it has none. */
export function readOsRelease(root: string): string {
  for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      return fs.readFileSync(resolveInRoot(root, f, { followLast: true }).real, 'utf8');
    } catch {
      /* try the next one */
    }
  }
  return '';
}

/** The operations of the plan for the root's package family (its os-release), in plan order. */
export function opsFor(plan: Plan, root: string): Op[] {
  const family = familyOfOsRelease(readOsRelease(root));
  return plan.ops.filter((op) => !op.family || op.family === family);
}

export interface Change {
  op: Op['kind'];
  path: string;
  action: 'created' | 'updated' | 'unchanged' | 'removed' | 'restored' | 'absent' | 'kept';
  note?: string;
}

/** One line for a failed step: what, where, and the way back. */
export function describeFailure(cmd: string, e: unknown): string {
  if (e instanceof StepError) return `${cmd} stopped at ${e.droplet}: ${e.message}`;
  const err = e as NodeJS.ErrnoException;
  return `${cmd} failed: ${err?.message ?? String(e)}${err?.path ? ` (${path.basename(err.path)})` : ''}`;
}
