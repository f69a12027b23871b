import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MpimgError } from '../../core/errors.js';
import { collectTasks, type Task } from './task.js';

export const TASK_FILE = 'mpimgfile.mjs';

/** Loads `<dir>/mpimgfile.mjs` and returns its tasks by name. */
export async function loadTaskFile(dir: string): Promise<{ file: string; tasks: Map<string, Task> }> {
  const file = join(dir, TASK_FILE);
  if (!existsSync(file)) {
    throw new MpimgError(`no ${TASK_FILE} in ${dir}`, {
      where: file,
      hint: 'run this inside an image project (create one with `mpimg new <dir>`)',
    });
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && /generator-mpimg/.test(e.message)) {
      throw new MpimgError(`${TASK_FILE} imports generator-mpimg, which is not installed in this project`, {
        where: file,
        hint: 'run `npm install` in the project (generator-mpimg is one of its devDependencies)',
      });
    }
    // An error of the library itself (e.g. a pipeline change naming no step) says how to fix it.
    const hint =
      typeof (err as { hint?: unknown })?.hint === 'string'
        ? (err as { hint: string }).hint
        : 'fix the error in the file (node --check mpimgfile.mjs shows syntax errors)';
    throw new MpimgError(`${TASK_FILE} could not be loaded: ${e?.message ?? String(err)}`, { where: file, hint });
  }
  const tasks = collectTasks(mod);
  if (tasks.size === 0) {
    throw new MpimgError(`${TASK_FILE} defines no tasks`, {
      where: file,
      hint: "export tasks made with task('name', 'description', async (c) => { ... })",
    });
  }
  return { file, tasks };
}
