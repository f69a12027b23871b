/**
 * The standard tasks (`generator-mpimg/tasks/standard`): the build of an image project, owned by the
 * package so that a fix reaches every project on `npm update`. Each reads mpimg.json when it runs.
 * A project's mpimgfile.mjs re-exports them and may add tasks, or replace one by exporting a task
 * of the same name: the `build` and `testbuild` pipelines run steps by name, so they use the
 * replacement too.
 *
 * The steps of a build and their order are the units of tasks/steps/ (one module each, listed in
 * tasks/steps/index.ts): the pipelines and the task listing come from that list.
 */
import { STEPS, buildOrder, testbuildOrder } from '../steps/index.js';
import type { Task } from '../ssh/task.js';
import { loadTaskFile } from '../ssh/taskfile.js';
import { runBundle } from './bundle-run.js';
import { pipeline, type Pipeline } from './pipeline.js';
import { REGISTRY, standard } from './registry.js';
import { VERIFY_DESCRIPTION, verifyDroplet } from './verify.js';
import { checkReport } from '../steps/check.js';
import { fail } from '../ssh/helpers.js';
import { rootArgs } from './project.js';

export { pipeline, type Pipeline, type PipelineChange, type Step } from './pipeline.js';
export { buildScripts } from '../steps/scripts.js';
export { checkReport };

const stepTask = (name: string): Task => {
  const s = STEPS.find((x) => x.name === name);
  if (!s) throw new Error(`no build step "${name}" in tasks/steps/index.ts`);
  return s.task;
};

export const waitBoot = stepTask('wait-boot');
export const upgrade = stepTask('upgrade');
export const repositories = stepTask('repositories');
export const packages = stepTask('packages');
export const users = stepTask('users');
export const files = stepTask('files');
export const owners = stepTask('owners');
export const scripts = stepTask('scripts');
export const install = stepTask('install');
export const services = stepTask('services');
export const firewall = stepTask('firewall');
export const cleanup = stepTask('cleanup');
export const check = stepTask('check');

export const status = standard(
  'status',
  'compare the droplet with what the bundle installs, for its stage',
  async (c) => {
    const r = await runBundle(c, ['status', ...rootArgs()], { check: false });
    if (r.exitCode !== 0) fail(`the droplet differs from the bundle (exit code ${r.exitCode})`, 'see the lines above');
  },
);

export const verify = standard('verify', VERIFY_DESCRIPTION, async (c) => {
  await verifyDroplet(c);
});

const lookup = (n: string) => REGISTRY.get(n);

/** The steps `build` and `testbuild` both run, by name: a vendor's task of the same name runs in its place. */
export const BUILD_STEPS: readonly string[] = Object.freeze(
  STEPS.filter((s) => s.testbuild === undefined).map((s) => s.name),
);

export const testbuild: Pipeline = pipeline(
  'testbuild',
  'build without cleanup, to try the image on this droplet',
  testbuildOrder(),
  lookup,
  true,
);
export const build: Pipeline = pipeline('build', 'full build', buildOrder(), lookup, true);
REGISTRY.set('testbuild', testbuild);
REGISTRY.set('build', build);

/** Every standard task by name: the build steps in build order first, then the others. */
export function standardTasks(): Map<string, Task> {
  const out = new Map<string, Task>(STEPS.map((s) => [s.name, REGISTRY.get(s.name) ?? s.task]));
  for (const [n, t] of REGISTRY) if (!out.has(n)) out.set(n, t);
  return out;
}

/**
 * The tasks of a project: the standard set overlaid by its mpimgfile.mjs (which re-exports the set
 * of the project's own copy of generator-mpimg, and may replace any of them by name).
 */
export async function projectTasks(dir: string): Promise<{ file: string; tasks: Map<string, Task> }> {
  const { file, tasks } = await loadTaskFile(dir);
  const all = standardTasks();
  for (const [n, t] of tasks) all.set(n, t);
  return { file, tasks: all };
}
