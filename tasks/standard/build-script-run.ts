/**
 * dist/<slug>-build.sh over SSH: the catalog steps (tasks/steps/: repositories, users, owners,
 * services, firewall) upload it and run their command of it, as the Packer template does, so the two
 * build paths cannot differ.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Manifest } from '../../runtime/manifest.js';
import { buildScriptName } from '../bundle/dist-names.js';
import { recordedVariables } from '../bundle/variables.js';
import type { Connection } from '../ssh/connection.js';
import { fail, withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { manifestOf, rootArgs, skipPackages } from './project.js';

const cmdline = (...words: string[]): string => words.map(shellQuote).join(' ');

/** dist/<slug>-build.sh as `mpimg bundle` wrote it. */
export function buildScriptOf(c: Pick<Connection, 'project'>, m: Manifest = manifestOf(c)): string {
  const file = join(c.project, 'dist', buildScriptName(m.slug));
  if (!existsSync(file))
    fail(
      `the build script is missing (dist/${buildScriptName(m.slug)})`,
      'run `make bundle` first (a bundle of an older generator-mpimg has none)',
      c.project,
    );
  return file;
}

/**
 * The variables the bundle was made with (mpimg.json's defaults and `mpimg bundle --var`), as the
 * droplet side has them; {} when mpimg.json has none.
 */
export function bundledVariables(c: Pick<Connection, 'project'>, m: Manifest = manifestOf(c)): Record<string, string> {
  const names = Object.keys(m.variables ?? {}).sort();
  if (names.length === 0) return {};
  const file = buildScriptOf(c, m);
  const vars = recordedVariables(readFileSync(file, 'utf8'));
  if (!vars || Object.keys(vars).sort().join(' ') !== names.join(' ')) {
    fail(
      `dist/${basename(file)} was bundled with other variables than mpimg.json has (${names.join(', ')})`,
      'run `make bundle` again (with VAR="NAME=value ..." for other values than the defaults)',
      c.project,
    );
  }
  return vars;
}

/** Uploads the build script into a private temp folder and runs one command of it as root. */
export async function runBuildScript(c: Connection, command: string): Promise<void> {
  const m = manifestOf(c);
  const local = buildScriptOf(c, m);
  const env: Record<string, string> = skipPackages() ? { MPIMG_SKIP_PACKAGES: '1' } : {};
  await withRemoteTempDir(
    c,
    async (tmp) => {
      const remote = `${tmp}/${basename(local)}`;
      await c.put(local, remote, { mode: 0o700 });
      await c.sudo(cmdline('sh', remote, ...rootArgs(), command), {
        env,
        hint: `see the error and fix lines above; \`sh dist/${basename(local)} help\` lists what each step does`,
      });
    },
    `${m.slug}-steps`,
  );
}
