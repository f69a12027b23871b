/** Where a droplet is in its life (see plan.ts), read from what first boot and first login recorded. */
import * as fs from 'node:fs';
import { findBlock, stateFileSets, type stateFiles, type Plan } from './plan.js';
import { resolveInRoot } from './root.js';
import { lstat } from './files.js';

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
  const state = (k: keyof ReturnType<typeof stateFiles>) =>
    stateFileSets(plan)
      .map((f) => file(f[k]))
      .find((t) => t !== undefined);
  const running = state('running');
  const finished = state('finished');
  const failedText = running !== undefined ? running : (state('failed') ?? '');
  const failedSteps = failedText.split('\n').filter((l) => /^\S+ [1-9]\d*$/.test(l));
  const stage: Stage['stage'] =
    running !== undefined ? 'first-boot-running' : finished !== undefined ? 'first-boot-finished' : 'built';
  const hook = plan.ops.find((o) => o.kind === 'block' && o.hook === 'first-login');
  let firstLogin: Stage['firstLogin'] = 'none';
  if (hook && hook.kind === 'block') {
    const bashrc = file(hook.path) ?? '';
    firstLogin =
      state('loginDone') !== undefined || (stage !== 'built' && !findBlock(bashrc, hook.id)) ? 'done' : 'pending';
  }
  return { stage, failedSteps, firstLogin };
}
