/** repositories: build.repositories with their checked signing keys, before the packages. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Family } from '../../runtime/distro.js';
import { forDistro, type Manifest, type PerDistro } from '../../runtime/manifest.js';
import type { Repository } from '../../runtime/sections/build.js';
import type { Project } from '../bundle/project.js';
import { sq } from '../bundle/shell-word.js';
import { MpimgError } from '../../core/errors.js';
import type { Connection } from '../ssh/connection.js';
import { shellQuote } from '../ssh/quote.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { distroOf, manifestOf, targetRoot } from '../standard/project.js';
import { buildSecretRef } from '../../runtime/sections/build-secrets.js';
import { buildSecretValues } from '../build-secrets.js';
import { fail } from '../ssh/helpers.js';
import { defineStep } from './define.js';
import {
  authOf,
  authRepositories,
  credentialProblem,
  credentialText,
  packerPlaceCredentials,
  placeCredentials,
  removeCredentials,
  type CredentialField,
} from './repository-auth.js';
import { bundleCommand, fragmentFile, type BuildScriptContext } from './types.js';

const b64Lines = (b64: string): string => (b64.match(/.{1,76}/g) ?? []).join('\n');

/** Where a repository entry is in mpimg.json, for bundle-time errors. */
function repositoryWhere(v: PerDistro<Repository> | undefined, r: Repository): string {
  if (Array.isArray(v)) return `$.build.repositories[${v.indexOf(r)}]`;
  for (const [k, list] of Object.entries(v ?? {})) {
    const i = list?.indexOf(r) ?? -1;
    if (i >= 0) return `$.build.repositories.${k}[${i}]`;
  }
  return '$.build.repositories';
}

/** Key files shipped in the project, read once each (base64 here-documents of the script). */
function keyFiles(project: Project): { functions: string; index: Map<string, number> } {
  const m = project.manifest;
  const index = new Map<string, number>();
  const out: string[] = [];
  const all = Array.isArray(m.build?.repositories)
    ? m.build.repositories
    : Object.values(m.build?.repositories ?? {}).flat();
  for (const r of all) {
    const rel = r?.key?.file;
    if (!rel || index.has(rel)) continue;
    const abs = path.join(project.dir, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      throw new MpimgError(`the signing key ${rel} of repository "${r.name}" is missing`, {
        where: `${repositoryWhere(m.build?.repositories, r)}.key.file`,
        hint: `put the vendor's key at ${rel} (e.g. curl -fsSL <key URL> -o ${rel}) or give "url" and "fingerprint" instead`,
      });
    }
    if (!st.isFile())
      throw new MpimgError(`the signing key ${rel} of repository "${r.name}" is not a regular file`, {
        where: `${repositoryWhere(m.build?.repositories, r)}.key.file`,
        hint: 'point key.file at the key file itself (not a folder or a link)',
      });
    const n = index.size + 1;
    index.set(rel, n);
    out.push(
      `# ${rel}\nmpimg_keyfile_${n}() {\n  cat <<'MPIMG_B64'\n${b64Lines(fs.readFileSync(abs).toString('base64'))}\nMPIMG_B64\n}`,
    );
  }
  return { functions: out.join('\n\n'), index };
}

function repositoryLines(
  ctx: BuildScriptContext,
  keys: Map<string, number>,
  slug: string | undefined,
  family: Family,
): string[] {
  const m = ctx.manifest;
  const list = ctx.listFor(m.build?.repositories, slug, family);
  const seen = new Set<string>();
  return list.map((r) => {
    if (seen.has(r.name)) {
      throw new MpimgError(`two repositories named "${r.name}" for ${slug ?? `the ${family} family`}`, {
        where: repositoryWhere(m.build?.repositories, r),
        hint: 'give each repository its own name: it is the name of its file on the droplet',
      });
    }
    seen.add(r.name);
    const kind = r.ppa !== undefined ? 'ppa' : r.uris !== undefined ? 'apt' : 'dnf';
    const source = r.ppa ?? r.uris ?? r.baseurl ?? '';
    const keySource = r.key?.file ? 'file' : r.key?.url ? 'url' : 'none';
    const keyArg = r.key?.file ? `mpimg_keyfile_${keys.get(r.key.file)}` : (r.key?.url ?? '');
    const keyShown = r.key?.file ?? r.key?.url ?? '';
    return `mpimg_repo ${[r.name, kind, source, (r.suites ?? []).join(' '), (r.components ?? []).join(' '), keySource, keyArg, keyShown, (r.key?.fingerprint ?? '').toUpperCase(), r.signedMetadata ? '1' : '', r.auth ? '1' : ''].map(sq).join(' ')}`;
  });
}

/** Whether the target has a repository list an earlier build of this image wrote (its mark). */
async function ownRepositoryLists(c: Connection, m: Manifest): Promise<boolean> {
  const root = targetRoot() === '/' ? '' : targetRoot();
  const globs = `${shellQuote(`${root}/etc/apt/sources.list.d`)}/*.sources ${shellQuote(`${root}/etc/yum.repos.d`)}/*.repo`;
  const r = await c.run(
    `for f in ${globs}; do [ -f "$f" ] || continue; case $(head -n 1 "$f") in ${shellQuote(`# mpimg:${m.slug} repository `)}*) exit 0 ;; esac; done; exit 1`,
    { quiet: true, echo: false, check: false },
  );
  return r.exitCode === 0;
}

/** A credential field of $.build.repositories[].auth with its build secret filled in, checked. */
function credential(r: Repository, field: CredentialField): string {
  const written = r.auth![field];
  const ref = buildSecretRef(written);
  const v = ref === undefined ? written : buildSecretValues().get(ref);
  if (v === undefined)
    fail(
      `repository "${r.name}" needs the build secret ${ref} and it has no value`,
      `give it to mpimg run as --secret ${ref}=@FILE (or MPIMG_BUILD_SECRET_${ref})`,
    );
  const problem = credentialProblem(r, field, v);
  if (problem) fail(problem.message, problem.hint);
  return v;
}

/** The credentials of the repositories of `list` with "auth", all checked before anything is written. */
function repositoryCredentials(list: Repository[]): { r: Repository; user: string; password: string }[] {
  return authOf(list).map((r) => ({ r, user: credential(r, 'username'), password: credential(r, 'password') }));
}

const rootWord = (): string => shellQuote(targetRoot() === '/' ? '' : targetRoot());

/**
 * Puts the credentials of the repositories with "auth" on the droplet for the build (./repository-auth.ts
 * says where and how). The values go over stdin, never on a command line. removeRepositoryAuth takes
 * them away again.
 */
async function addRepositoryAuth(
  c: Connection,
  creds: { r: Repository; user: string; password: string }[],
): Promise<void> {
  for (const { r, user, password } of creds) {
    await c.sudo(placeCredentials(r, rootWord()), {
      input: credentialText(manifestOf(c).slug, r, user, password),
      echo: false,
    });
    c.log(`credentials of repository ${r.name} in place for the build`);
  }
}

/**
 * Takes the repositories with build credentials off the droplet, with their lists (removeCredentials
 * of ./repository-auth.ts). Runs after the build scripts and before the check.
 */
export async function removeRepositoryAuth(c: Connection): Promise<void> {
  const shell = removeCredentials(
    authRepositories(manifestOf(c)).map((r) => r.name),
    rootWord(),
  );
  if (shell === undefined) return;
  const r = await c.sudo(shell, { quiet: true, echo: false });
  for (const line of new Set(r.stdout.split('\n').filter(Boolean))) c.log(line);
}

export default defineStep({
  name: 'repositories',
  summary:
    'add the build.repositories of mpimg.json with their checked signing keys (before the packages), remove the ones it no longer lists',
  sections: ['$.build.repositories'],
  buildScript: {
    help: 'package repositories and their signing keys (before the packages)',
    shell: fragmentFile('repositories'),
    data: (ctx) => {
      const keys = keyFiles(ctx.project);
      return {
        keyFunctions: keys.functions,
        repositoriesCase: ctx.distroCase((slug, family) => repositoryLines(ctx, keys.index, slug, family)),
      };
    },
  },
  // Also when this distribution's list is empty, if an earlier build added repositories: the ones
  // mpimg.json no longer lists are removed then too.
  run: async (c) => {
    const m = manifestOf(c);
    const d = await distroOf(c, m);
    const list = forDistro(m.build?.repositories, d.slug, d.family);
    if (list.length === 0 && !(await ownRepositoryLists(c, m)))
      return c.log(`mpimg.json lists no build.repositories for ${d.slug}`);
    // apt reads its credentials when it refreshes the lists (in the step), dnf from the .repo file.
    // Every value is checked first: a refused one changes nothing.
    const creds = repositoryCredentials(list);
    if (d.family === 'apt') await addRepositoryAuth(c, creds);
    try {
      await runBuildScript(c, 'repositories');
    } catch (err) {
      await removeRepositoryAuth(c);
      throw err;
    }
    if (d.family === 'dnf') await addRepositoryAuth(c, creds);
  },
  // The credentials as in the task: apt's before the step, dnf's into the .repo the step wrote.
  packer: (p) => [
    ...(p.family === 'apt' ? packerPlaceCredentials(p) : []),
    {
      type: 'shell',
      ...(p.family === 'apt' ? { env: ['"DEBIAN_FRONTEND=noninteractive"'] } : {}),
      inline: [bundleCommand(p, 'build.sh', 'repositories')],
    },
    ...(p.family === 'dnf' ? packerPlaceCredentials(p) : []),
  ],
});
