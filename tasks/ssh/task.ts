import { MpimgError } from '../errors.js';
import { formatDuration } from './output.js';
import type { Connection } from './connection.js';

/** Marks task objects, shared by every copy of this library (the CLI's and the project's may differ). */
export const TASK_MARK = Symbol.for('generator-mpimg.task');

/** A step: any async function of the connection. */
export type TaskFn = (c: Connection) => unknown;

/** A named, described step. Calling it runs it with a `[name]` prefix on output and a timing. */
export interface Task {
  (c: Connection): Promise<void>;
  readonly taskName: string;
  readonly description: string;
  readonly [TASK_MARK]: true;
}

export const TASK_NAME_RE = /^[a-z][a-z0-9_:-]{0,63}$/;

/**
 * Defines a task: `export const build = task('build', 'Build the image', async (c) => { ... })`.
 * Tasks may call other tasks; nested output is prefixed with the innermost task's name.
 */
export function task(name: string, description: string, fn: TaskFn): Task {
  if (!TASK_NAME_RE.test(name)) {
    throw new MpimgError(`bad task name ${JSON.stringify(name)}`, { where: 'task()', hint: 'lower-case letters, digits, "-", "_" and ":", starting with a letter' });
  }
  if (typeof fn !== 'function') throw new MpimgError(`task "${name}" has no function`, { where: 'task()', hint: 'pass an async function (c) => { ... } as the third argument' });
  const run = async (c: Connection): Promise<void> => {
    const parent = c.prefix;
    const depth = c.depth;
    c.prefix = name;
    c.depth = depth + 1;
    c.log(`> ${name}${description ? `: ${description}` : ''}`);
    const start = performance.now();
    // Recorded when the task starts, so the table lists tasks in running order (parents first).
    const timing = { name, ms: 0, ok: false, depth };
    c.timings.push(timing);
    try {
      await fn(c);
      timing.ok = true;
    } finally {
      timing.ms = performance.now() - start;
      c.log(timing.ok ? `done in ${formatDuration(timing.ms)}` : `FAILED after ${formatDuration(timing.ms)}`);
      c.prefix = parent;
      c.depth = depth;
    }
  };
  Object.defineProperty(run, 'name', { value: name });
  return Object.assign(run, { taskName: name, description, [TASK_MARK]: true as const });
}

/** Runs steps one after another, stopping at the first failure. */
export function series(...steps: TaskFn[]): (c: Connection) => Promise<void> {
  steps.forEach((s, i) => {
    if (typeof s !== 'function') throw new MpimgError(`series(): step ${i + 1} is not a function or task`, { where: 'series()', hint: 'pass tasks or async functions (c) => { ... }' });
  });
  return async (c: Connection) => {
    for (const step of steps) await step(c);
  };
}

export function isTask(v: unknown): v is Task {
  return typeof v === 'function' && (v as unknown as Record<symbol, unknown>)[TASK_MARK] === true && typeof (v as Task).taskName === 'string';
}

/** The tasks a task file exports (named exports and/or a default array), by task name. */
export function collectTasks(mod: Record<string, unknown>): Map<string, Task> {
  const found = new Map<string, Task>();
  const add = (v: unknown) => {
    if (!isTask(v)) return;
    const prev = found.get(v.taskName);
    if (prev && prev !== v) throw new MpimgError(`two tasks are named "${v.taskName}"`, { where: 'mpimgfile.mjs', hint: 'give every task its own name' });
    found.set(v.taskName, v);
  };
  for (const v of Object.values(mod)) {
    if (Array.isArray(v)) v.forEach(add);
    else add(v);
  }
  return found;
}
