/** The standard tasks by name: what pipelines fall back to, and `standardTasks()` lists. */
import { STANDARD_MARK, task, type Task, type TaskFn } from '../ssh/task.js';

export const REGISTRY = new Map<string, Task>();

/** A task of the package (marked standard: a vendor's task of the same name replaces it). */
export function standard(name: string, description: string, fn: TaskFn): Task {
  const t = task(name, description, fn);
  Object.defineProperty(t, STANDARD_MARK, { value: true });
  REGISTRY.set(name, t);
  return t;
}
