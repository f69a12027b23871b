/**
 * The catalog build steps (what DigitalOcean's 1-click apps all do besides packages), declared in
 * mpimg.json and carried out by dist/<slug>-build.sh, which `mpimg bundle` renders: these tasks
 * upload it and run one of its commands, and the Packer template runs the same commands, so the two
 * build paths cannot differ. A step with nothing to do in mpimg.json says so and returns.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { forDistro, type Manifest } from '../../runtime/manifest.js';
import { buildScriptName, type BuildScriptCommand } from '../bundle/dist-names.js';
import { recordedVariables } from '../bundle/variables.js';
import type { Connection } from '../ssh/connection.js';
import { fail, withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { distroOf, manifestOf, rootArgs, skipPackages, targetRoot } from './project.js';
import { standard } from './registry.js';

const cmdline = (...words: string[]): string => words.map(shellQuote).join(' ');

/** dist/<slug>-build.sh as `mpimg bundle` wrote it. */
export function buildScriptOf(c: Connection, m: Manifest = manifestOf(c)): string {
  const file = join(c.project, 'dist', buildScriptName(m.slug));
  if (!existsSync(file)) fail(`the build script is missing (dist/${buildScriptName(m.slug)})`, 'run `make bundle` first (a bundle of an older generator-mpimg has none)', c.project);
  return file;
}

/**
 * The variables the bundle was made with (mpimg.json's defaults and `mpimg bundle --var`), as the
 * droplet side has them; {} when mpimg.json has none.
 */
export function bundledVariables(c: Connection, m: Manifest = manifestOf(c)): Record<string, string> {
  const names = Object.keys(m.variables ?? {}).sort();
  if (names.length === 0) return {};
  const file = buildScriptOf(c, m);
  const vars = recordedVariables(readFileSync(file, 'utf8'));
  if (!vars || Object.keys(vars).sort().join(' ') !== names.join(' ')) {
    fail(`dist/${basename(file)} was bundled with other variables than mpimg.json has (${names.join(', ')})`, 'run `make bundle` again (with VAR="NAME=value ..." for other values than the defaults)', c.project);
  }
  return vars;
}

/** Uploads the build script into a private temp folder and runs one command of it as root. */
export async function runBuildScript(c: Connection, command: BuildScriptCommand): Promise<void> {
  const m = manifestOf(c);
  const local = buildScriptOf(c, m);
  const env: Record<string, string> = skipPackages() ? { MPIMG_SKIP_PACKAGES: '1' } : {};
  await withRemoteTempDir(c, async (tmp) => {
    const remote = `${tmp}/${basename(local)}`;
    await c.put(local, remote, { mode: 0o700 });
    await c.sudo(cmdline('sh', remote, ...rootArgs(), command), { env, hint: `see the error and fix lines above; \`sh dist/${basename(local)} help\` lists what each step does` });
  }, `${m.slug}-steps`);
}

/** Whether the target has a repository list an earlier build of this image wrote (its mark). */
async function ownRepositoryLists(c: Connection, m: Manifest): Promise<boolean> {
  const root = targetRoot() === '/' ? '' : targetRoot();
  const globs = `${shellQuote(`${root}/etc/apt/sources.list.d`)}/*.sources ${shellQuote(`${root}/etc/yum.repos.d`)}/*.repo`;
  const r = await c.run(`for f in ${globs}; do [ -f "$f" ] || continue; case $(head -n 1 "$f") in ${shellQuote(`# mpimg:${m.slug} repository `)}*) exit 0 ;; esac; done; exit 1`, { quiet: true, echo: false, check: false });
  return r.exitCode === 0;
}

// Also when this distribution's list is empty, if an earlier build added repositories: the ones
// mpimg.json no longer lists are removed then too.
export const repositories = standard('repositories', 'add the build.repositories of mpimg.json with their checked signing keys (before the packages), remove the ones it no longer lists', async (c) => {
  const m = manifestOf(c);
  const d = await distroOf(c, m);
  if (forDistro(m.build?.repositories, d.slug, d.family).length === 0 && !(await ownRepositoryLists(c, m))) return c.log(`mpimg.json lists no build.repositories for ${d.slug}`);
  await runBuildScript(c, 'repositories');
});

export const users = standard('users', 'make the users (and their groups) and directories of mpimg.json', async (c) => {
  const m = manifestOf(c);
  if (!m.users?.length && !m.directories?.length) return c.log('mpimg.json lists no users and no directories');
  await runBuildScript(c, 'users');
});

export const owners = standard('owners', 'set owner and group of the files/ paths of files.owners in mpimg.json', async (c) => {
  const m = manifestOf(c);
  if (!m.files?.owners?.length) return c.log('mpimg.json lists no files.owners');
  await runBuildScript(c, 'owners');
});

export const services = standard('services', 'enable the services of mpimg.json at build (they start at first boot)', async (c) => {
  const m = manifestOf(c);
  const d = await distroOf(c, m);
  if (forDistro(m.services, d.slug, d.family).length === 0) return c.log(`mpimg.json lists no services for ${d.slug}`);
  await runBuildScript(c, 'services');
});

export const firewall = standard('firewall', "set up the image's firewall from mpimg.json (ufw or firewalld), on from the first boot", async (c) => {
  const m = manifestOf(c);
  if (!m.firewall) return c.log('mpimg.json has no firewall (Marketplace review rejects images without an active firewall: add "firewall": {"limit": ["22/tcp"], ...})');
  await runBuildScript(c, 'firewall');
});
