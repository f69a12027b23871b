/**
 * The standard tasks (`generator-mpimg/tasks/standard`): the build of an image project, owned by the
 * package so that a fix reaches every project on `npm update`. Each reads mpimg.json when it runs.
 * A project's mpimgfile.mjs re-exports them and may add tasks, or replace one by exporting a task
 * of the same name: the `build` and `testbuild` pipelines run steps by name, so they use the
 * replacement too.
 *
 * Order of a build: wait for cloud-init → upgrade → repositories → packages → users (and
 * directories) → files/ (seeded: laid down BEFORE the build scripts, which may edit them) → owners of
 * files/ paths → build scripts → install (the tool's own parts: first-boot steps, first-login hook,
 * MOTD, hold) → services enabled → firewall → cleanup → check. The catalog steps (repositories,
 * users, owners, services, firewall) are in catalog.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DEFAULTS, forDistro } from '../../runtime/manifest.js';
import { checkArgs, knowsFirewallFlag } from '../../runtime/sections/firewall.js';
import { cleanupScriptOf, checkScriptOf } from '../bundle/droplet-scripts.js';
import { outsideMessage, outsideProject } from '../bundle/project.js';
import { scriptsDirEntry } from '../bundle/scripts-dir.js';
import type { Connection } from '../ssh/connection.js';
import { fail, installPackages, upgradePackages, withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import type { Task } from '../ssh/task.js';
import { loadTaskFile } from '../ssh/taskfile.js';
import { waitCloudInit } from '../ssh/wait.js';
import { runBundle } from './bundle-run.js';
import { bundledVariables } from './catalog.js';
import { pipeline, type Pipeline } from './pipeline.js';
import { distroOf, manifestOf, rootArgs, skipPackages, targetRoot } from './project.js';
import { REGISTRY, standard } from './registry.js';
import { VERIFY_DESCRIPTION, verifyDroplet } from './verify.js';

export { pipeline, type Pipeline, type PipelineChange, type Step } from './pipeline.js';
export { firewall, owners, repositories, services, users } from './catalog.js';

const cmdline = (...words: string[]): string => words.map(shellQuote).join(' ');

export const waitBoot = standard('wait-boot', 'wait (bounded) until cloud-init has finished the first boot', (c) => waitCloudInit(c));

export const upgrade = standard('upgrade', 'refresh the package lists and upgrade every package', async (c) => {
  if (skipPackages()) return c.log('MPIMG_SKIP_PACKAGES=1: not upgrading');
  await upgradePackages(c);
});

export const packages = standard('packages', 'install the build.packages of mpimg.json (for this distribution)', async (c) => {
  const m = manifestOf(c);
  const d = await distroOf(c, m);
  const list = forDistro(m.build?.packages, d.slug, d.family);
  if (list.length === 0) return c.log('mpimg.json lists no build.packages');
  if (skipPackages()) return c.log(`MPIMG_SKIP_PACKAGES=1: not installing ${list.join(' ')}`);
  await installPackages(c, list);
});

export const files = standard('files', 'lay down files/ (seeded: before the build scripts, which may change them)', async (c) => {
  await runBundle(c, ['install', '--only', 'seeded', ...rootArgs()]);
});

/** The bundle's rule (tasks/bundle/project.ts): nothing is read through a link leading out of the project. */
function refuseOutside(project: string, rel: string): void {
  const real = outsideProject(project, rel);
  if (real !== null) {
    const { message, hint } = outsideMessage(rel, real);
    fail(message, hint, project);
  }
}

/** scripts/NN-*: the build steps, in order, by the bundle's own rule (tasks/bundle/scripts-dir.ts). */
export function buildScripts(c: Connection): string[] {
  const m = manifestOf(c);
  const rel = m.build?.scriptsDir ?? DEFAULTS.scriptsDir;
  const dir = join(c.project, rel);
  if (!existsSync(dir)) return [];
  refuseOutside(c.project, rel);
  const names = readdirSync(dir).filter((f) => scriptsDirEntry(m, f) === 'step').sort();
  for (const f of names) refuseOutside(c.project, `${rel}/${f}`);
  return names.map((f) => join(dir, f));
}

export const scripts = standard('scripts', 'run the build scripts scripts/NN-* in order', async (c) => {
  const list = buildScripts(c);
  if (list.length === 0) return c.log('no build scripts in scripts/');
  const m = manifestOf(c);
  // mpimg.json's values reach the scripts as environment, so no script has to repeat them; its
  // variables under their own names, with the values of the bundle (as the droplet side has them).
  const env = { ...bundledVariables(c, m), MPIMG_ROOT: targetRoot(), MPIMG_NAME: m.name, MPIMG_SLUG: m.slug, MPIMG_VERSION: m.version, MPIMG_DISTRO: m.droplet?.image ?? m.distributions[0] };
  await withRemoteTempDir(c, async (tmp) => {
    for (const file of list) {
      const remote = `${tmp}/${basename(file)}`;
      await c.put(file, remote, { mode: 0o755 });
      c.log(`--- ${basename(file)}`);
      await c.sudo(shellQuote(remote), { env, hint: `fix scripts/${basename(file)} and run the task again` });
    }
  }, `${m.slug}-build`);
});

export const install = standard('install', "install the image's own parts with the bundle (first-boot steps, first-login hook, MOTD, hold)", async (c) => {
  await runBundle(c, ['install', ...rootArgs(), '--remove-self']);
});

/** Runs the cleanup or check script (the project's customised copy, else the package's) with bash. */
async function runDropletScript(c: Connection, which: 'cleanup' | 'check', args: string[]): Promise<number> {
  const m = manifestOf(c);
  const script = which === 'cleanup' ? cleanupScriptOf(c.project, m) : checkScriptOf(c.project, m);
  if (script.custom) {
    refuseOutside(c.project, script.rel);
    c.log(`using the project's own ${script.rel}`);
  }
  if (which === 'check') {
    const text = readFileSync(script.abs, 'utf8');
    if (m.firewall && !knowsFirewallFlag(text)) c.log(`${script.rel} has no --firewall option, so the firewall is not compared with mpimg.json (compare: mpimg add check-script --show | diff -u ${script.rel} -)`);
    args = [...checkArgs(m.firewall, text), ...args];
  }
  return withRemoteTempDir(c, async (tmp) => {
    const remote = `${tmp}/${basename(script.abs)}`;
    await c.put(script.abs, remote, { mode: 0o700 });
    return (await c.sudo(cmdline('bash', remote, ...args), { check: false })).exitCode;
  }, `${m.slug}-${which}`);
}

export const cleanup = standard('cleanup', 'clean the droplet for its snapshot (keys, logs, histories, caches, cloud-init data)', async (c) => {
  const m = manifestOf(c);
  const args = [...rootArgs()];
  if (m.cleanup?.lockRootPassword) args.push('--lock-root-password');
  if (m.cleanup?.zeroFill) {
    // Zero-filling is for the droplet's own disk only: never for a staged root.
    if (targetRoot() === '/') {
      args.push('--zero-fill');
      if (m.cleanup.zeroFillMaxMiB) args.push('--zero-fill-max-mib', String(m.cleanup.zeroFillMaxMiB));
    } else c.log('cleanup.zeroFill is on, but not for a staged root: skipped');
  }
  // The cleanup refuses a machine that does not look like a DigitalOcean build droplet; a build on
  // another cloud or a local VM says so explicitly.
  if (process.env.MPIMG_BUILD_DROPLET === 'yes') args.push('--yes-this-is-a-build-droplet');
  const code = await runDropletScript(c, 'cleanup', args);
  if (code !== 0) fail(`the cleanup failed (exit code ${code})`, code === 2 ? 'see its message above (on a machine that is not a DigitalOcean droplet: MPIMG_BUILD_DROPLET=yes)' : 'see the FAILED lines above and run the task again');
});

export const check = standard('check', 'run the Marketplace image check and fail on [FAIL] lines', async (c) => {
  const code = await runDropletScript(c, 'check', rootArgs());
  if (code === 1) fail('the image check found failures (the [FAIL] lines above)', 'fix them (often: run `make cleanup HOST=...`) and run the check again');
  if (code !== 0) fail(`the image check could not run (exit code ${code})`, 'see its message above');
});

export const checkReport = standard('check-report', 'run the image check and only report (never fails)', async (c) => {
  const code = await runDropletScript(c, 'check', rootArgs());
  c.log(code === 0 ? 'image check: no failures' : `image check exit code ${code}: expected before cleanup; \`make build\` cleans and checks again`);
});

export const status = standard('status', 'compare the droplet with what the bundle installs, for its stage', async (c) => {
  const r = await runBundle(c, ['status', ...rootArgs()], { check: false });
  if (r.exitCode !== 0) fail(`the droplet differs from the bundle (exit code ${r.exitCode})`, 'see the lines above');
});

export const verify = standard('verify', VERIFY_DESCRIPTION, async (c) => { await verifyDroplet(c); });

const lookup = (n: string) => REGISTRY.get(n);

/** The steps of a build, by name: a vendor's task of the same name runs in its place. */
export const BUILD_STEPS = ['wait-boot', 'upgrade', 'repositories', 'packages', 'users', 'files', 'owners', 'scripts', 'install', 'services', 'firewall'] as const;

export const testbuild: Pipeline = pipeline('testbuild', 'build without cleanup, to try the image on this droplet', [...BUILD_STEPS, 'check-report'], lookup, true);
export const build: Pipeline = pipeline('build', 'full build', [...BUILD_STEPS, 'cleanup', 'check'], lookup, true);
REGISTRY.set('testbuild', testbuild);
REGISTRY.set('build', build);

/** Every standard task by name. */
export function standardTasks(): Map<string, Task> {
  return new Map(REGISTRY);
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
