/**
 * A pipeline: a named task that runs other tasks BY NAME, looked up when it runs in the run's task
 * set (the project's mpimgfile over the standard tasks). So a vendor's own `scripts` task is what
 * `build` and `testbuild` run, and `build.with({ after: 'packages', run: myStep })` inserts a step.
 */
import { MpimgError } from '../../core/errors.js';
import type { Connection } from '../ssh/connection.js';
import { isTask, STANDARD_MARK, task, type Task, type TaskFn } from '../ssh/task.js';

export type Step = string | Task | TaskFn;

export interface PipelineChange {
  /** Insert `run` right after / before the step of this name, or put it in that step's place. */
  after?: string;
  before?: string;
  replace?: string;
  run: Step;
}

export interface Pipeline extends Task {
  readonly steps: readonly Step[];
  /** A new pipeline of the same name with one step inserted or replaced. */
  with(change: PipelineChange): Pipeline;
  /** A new pipeline of the same name without these steps. */
  without(...names: string[]): Pipeline;
}

const stepName = (s: Step): string => (typeof s === 'string' ? s : isTask(s) ? s.taskName : s.name || '(step)');

/** `fallback` gives the standard task of a name when the run's task set has none (e.g. a direct call). */
export function pipeline(
  name: string,
  description: string,
  steps: readonly Step[],
  fallback: (n: string) => Task | undefined,
  standard = false,
): Pipeline {
  const run = async (c: Connection) => {
    for (const s of steps) {
      if (typeof s !== 'string') {
        await s(c);
        continue;
      }
      const t = c.tasks?.get(s) ?? fallback(s);
      if (!t)
        throw new MpimgError(`pipeline "${name}": no task "${s}"`, {
          where: 'mpimgfile.mjs',
          hint: `define a task named "${s}" or take it out with ${name}.without('${s}')`,
        });
      await t(c);
    }
  };
  const t = task(name, description, run);
  const find = (n: string, what: string): number => {
    const i = steps.findIndex((s) => stepName(s) === n);
    if (i < 0)
      throw new MpimgError(`${name}.${what}: no step "${n}"`, {
        where: 'mpimgfile.mjs',
        hint: `the steps of ${name} are: ${steps.map(stepName).join(', ')}`,
      });
    return i;
  };
  const make = (next: Step[]) => pipeline(name, description, next, fallback);
  const extra: Pick<Pipeline, 'steps' | 'with' | 'without'> = {
    steps: [...steps],
    with(change) {
      const given = [change.after, change.before, change.replace].filter((x) => x !== undefined);
      if (given.length !== 1)
        throw new MpimgError(`${name}.with(): give exactly one of after, before, replace`, {
          where: 'mpimgfile.mjs',
          hint: `e.g. ${name}.with({ after: 'packages', run: myStep })`,
        });
      if (typeof change.run !== 'function' && typeof change.run !== 'string')
        throw new MpimgError(`${name}.with(): run must be a task, a function or a task name`, {
          where: 'mpimgfile.mjs',
        });
      const next = [...steps];
      if (change.after !== undefined) next.splice(find(change.after, 'with') + 1, 0, change.run);
      else if (change.before !== undefined) next.splice(find(change.before, 'with'), 0, change.run);
      else next.splice(find(change.replace!, 'with'), 1, change.run);
      return make(next);
    },
    without(...names) {
      for (const n of names) find(n, 'without');
      return make(steps.filter((s) => !names.includes(stepName(s))));
    },
  };
  const out = Object.assign(t, extra);
  if (standard) Object.defineProperty(out, STANDARD_MARK, { value: true });
  // A description that lists the steps, so `mpimg tasks` shows what the pipeline runs.
  Object.defineProperty(out, 'description', { value: `${description} (${steps.map(stepName).join(' → ')})` });
  return out as Pipeline;
}
