import { MpimgError } from '../../core/errors.js';
import { formatDuration } from './output.js';
import type { Connection } from './connection.js';

/** Marks task objects, shared by every copy of this library (the CLI's and the project's may differ). */
export const TASK_MARK = Symbol.for('generator-mpimg.task');
/** Marks the package's standard tasks: a vendor's task of the same name replaces them. */
export const STANDARD_MARK = Symbol.for('generator-mpimg.standard-task');
/** Marks what series() returns: exported from a task file, it is a task named after its export. */
export const SERIES_MARK = Symbol.for('generator-mpimg.series');

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
    throw new MpimgError(`bad task name ${JSON.stringify(name)}`, {
      where: 'task()',
      hint: 'lower-case letters, digits, "-", "_" and ":", starting with a letter',
    });
  }
  if (typeof fn !== 'function')
    throw new MpimgError(`task "${name}" has no function`, {
      where: 'task()',
      hint: 'pass an async function (c) => { ... } as the third argument',
    });
  const run = async (c: Connection): Promise<void> => {
    const parent = c.prefix;
    const depth = c.depth;
    c.prefix = name;
    c.depth = depth + 1;
    c.log(`> ${name}${description ? `: ${description}` : ''}`);
    const start = performance.now();
    // Recorded when the task starts, so the table lists tasks in running order (parents first).
    const timing = { name, ms: 0, ok: false, depth, startedAt: new Date().toISOString() };
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

/**
 * Runs steps one after another, stopping at the first failure. Exported from mpimgfile.mjs as it is
 * (`export const deploy = series(a, b)`), it is a task named after its export (`mpimg run deploy`).
 */
export function series(...steps: TaskFn[]): (c: Connection) => Promise<void> {
  steps.forEach((s, i) => {
    if (typeof s !== 'function')
      throw new MpimgError(`series(): step ${i + 1} is not a function or task`, {
        where: 'series()',
        hint: 'pass tasks or async functions (c) => { ... }',
      });
  });
  const run = async (c: Connection) => {
    for (const step of steps) await step(c);
  };
  const names = steps.map((s) => (isTask(s) ? s.taskName : s.name || 'step'));
  return Object.assign(run, { [SERIES_MARK]: names });
}

export const isStandard = (t: Task): boolean => (t as unknown as Record<symbol, unknown>)[STANDARD_MARK] === true;

export function isTask(v: unknown): v is Task {
  return (
    typeof v === 'function' &&
    (v as unknown as Record<symbol, unknown>)[TASK_MARK] === true &&
    typeof (v as Task).taskName === 'string'
  );
}

/**
 * The tasks a task file exports (named exports and/or a default array), by task name. A vendor's task
 * wins over a standard task of the same name (the file may re-export the standard set); an exported
 * series() becomes a task named after its export.
 */
export function collectTasks(mod: Record<string, unknown>): Map<string, Task> {
  const found = new Map<string, Task>();
  const add = (v: unknown, exportName?: string) => {
    if (!isTask(v)) {
      const steps = typeof v === 'function' ? (v as unknown as Record<symbol, unknown>)[SERIES_MARK] : undefined;
      if (!Array.isArray(steps) || !exportName || !TASK_NAME_RE.test(exportName)) return;
      v = task(exportName, `series: ${steps.join(', ')}`, v as TaskFn);
    }
    const t = v as Task;
    const prev = found.get(t.taskName);
    if (prev && prev !== t) {
      if (isStandard(prev) && !isStandard(t)) return void found.set(t.taskName, t);
      if (!isStandard(prev) && isStandard(t)) return;
      throw new MpimgError(`two tasks are named "${t.taskName}"`, {
        where: 'mpimgfile.mjs',
        hint: 'give every task its own name',
      });
    }
    found.set(t.taskName, t);
  };
  for (const [k, v] of Object.entries(mod)) {
    if (Array.isArray(v)) v.forEach((x) => add(x));
    else add(v, k === 'default' ? undefined : k);
  }
  return found;
}
