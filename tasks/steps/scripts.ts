/** scripts: the project's build scripts (scripts/NN-*), in order, with mpimg.json's values in their environment. */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DEFAULTS } from '../../runtime/manifest.js';
import { scriptsDirEntry } from '../bundle/scripts-dir.js';
import type { Connection } from '../ssh/connection.js';
import { withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { bundledVariables } from '../standard/build-script-run.js';
import { manifestOf, refuseOutside, targetRoot } from '../standard/project.js';
import { buildSecretValues, declaredBuildSecrets } from '../build-secrets.js';
import { fail } from '../ssh/helpers.js';
import { removeRepositoryAuth } from './repositories.js';
import { packerRemoveCredentials } from './repository-auth.js';
import { defineStep } from './define.js';
import type { PackerContext, PackerProvisioner } from './types.js';

/** scripts/NN-*: the build steps, in order, by the bundle's own rule (tasks/bundle/scripts-dir.ts). */
export function buildScripts(c: Connection): string[] {
  const m = manifestOf(c);
  const rel = m.build?.scriptsDir ?? DEFAULTS.scriptsDir;
  const dir = join(c.project, rel);
  if (!existsSync(dir)) return [];
  refuseOutside(c.project, rel);
  const names = readdirSync(dir)
    .filter((f) => scriptsDirEntry(m, f) === 'step')
    .sort();
  for (const f of names) refuseOutside(c.project, `${rel}/${f}`);
  return names.map((f) => join(dir, f));
}

/**
 * The list `mpimg bundle` made by the rule the task follows too (the cleanup and check are not build
 * steps), each uploaded under its own name, run with mpimg.json's values and variables in the
 * environment. Names reach the shell only as single-quoted words; the folder's name none at all.
 */
function packer(p: PackerContext): PackerProvisioner[] {
  // Repository credentials serve the packages and the build scripts, then leave the droplet (as in the task).
  if (p.buildScripts.length === 0) return packerRemoveCredentials(p);
  return [
    { type: 'shell', inline: ['"mkdir -m 0700 ${local.work}/scripts"'] },
    ...p.buildScripts.map((s): PackerProvisioner => ({
      type: 'file',
      source: `"\${local.project}/${p.hclInner(s.rel)}"`,
      destination: `"\${local.work}/scripts/${p.hclInner(s.name)}"`,
    })),
    {
      type: 'shell',
      // A build secret's value is a sensitive Packer variable (masked in Packer's output), sent in
      // the file Packer sources (use_env_var_file), not on the remote command line.
      env: [...p.env.map(p.hcl), ...p.buildSecrets.map((n) => `"${n}=\${var.build_secret_${n}}"`)],
      ...(p.buildSecrets.length ? { envFile: true } : {}),
      // Run from a copy in /var/tmp: the work folder is in /run, which the initramfs mounts noexec.
      inline: [
        p.hcl(`d=$(mktemp -d /var/tmp/${p.slug}-scripts.XXXXXXXX) && trap 'cd / && rm -rf "$d"' EXIT`),
        '"cp -p ${local.work}/scripts/* \\"$d\\"/ && cd \\"$d\\""',
        p.hcl(
          `for f in ${p.buildScripts.map((s) => p.sq(s.name)).join(' ')}; do echo "--- $f"; chmod 0755 "./$f"; "./$f"; done`,
        ),
      ],
    },
    ...packerRemoveCredentials(p),
  ];
}

/**
 * The build secrets a script gets, as stdin lines "NAME BASE64" ended by an empty line: never on a
 * command line (`ps`) nor in a file. Throws when a declared one has no value.
 */
export function secretsInput(c: Connection): string {
  const values = buildSecretValues();
  const lines = declaredBuildSecrets(manifestOf(c)).map((s) => {
    const v = values.get(s.name);
    if (v === undefined)
      fail(
        `the build secret ${s.name} of mpimg.json has no value`,
        `give it to mpimg run as --secret ${s.name}=@FILE or --secret ${s.name}=env:VAR (or MPIMG_BUILD_SECRET_${s.name})`,
      );
    return `${s.name} ${Buffer.from(v, 'utf8').toString('base64')}\n`;
  });
  return `${lines.join('')}\n`;
}

/*
 * Reads the secrets from stdin into the environment with shell builtins (read, printf, export:
 * no process has a value in its arguments; base64 reads it from a pipe), then runs the script with
 * stdin from /dev/null. The "x" keeps a value's own trailing newlines.
 */
const runWithSecrets = (script: string): string =>
  // One line: an error shows it as the command that failed, the script's name in it.
  [
    'while IFS= read -r mpimg_l && [ -n "$mpimg_l" ]; do',
    ' mpimg_v=$(printf \'%s\\n\' "${mpimg_l#* }" | base64 -d && echo x) || exit 1;',
    ' export "${mpimg_l%% *}=${mpimg_v%x}";',
    'done; unset mpimg_l mpimg_v;',
    `exec ${shellQuote(script)} </dev/null`,
  ].join(' ');

export default defineStep({
  name: 'scripts',
  summary: 'run the build scripts scripts/NN-* in order',
  sections: ['$.build.scriptsDir', '$.variables', '$.build.secrets'],
  run: async (c) => {
    const list = buildScripts(c);
    // Repository credentials serve the packages and the build scripts, then leave the droplet.
    if (list.length === 0) {
      await removeRepositoryAuth(c);
      return c.log('no build scripts in scripts/');
    }
    const m = manifestOf(c);
    const input = secretsInput(c);
    // mpimg.json's values reach the scripts as environment, so no script has to repeat them; its
    // variables under their own names, with the values of the bundle (as the droplet side has them).
    const env = {
      ...bundledVariables(c, m),
      MPIMG_ROOT: targetRoot(),
      MPIMG_NAME: m.name,
      MPIMG_SLUG: m.slug,
      MPIMG_VERSION: m.version,
      MPIMG_DISTRO: m.droplet?.image ?? m.distributions[0],
    };
    try {
      await withRemoteTempDir(
        c,
        async (tmp) => {
          for (const file of list) {
            const remote = `${tmp}/${basename(file)}`;
            await c.put(file, remote, { mode: 0o755 });
            c.log(`--- ${basename(file)}`);
            await c.sudo(runWithSecrets(remote), {
              env,
              input,
              echo: false,
              hint: `fix scripts/${basename(file)} and run the task again`,
            });
          }
        },
        `${m.slug}-build`,
        { exec: true },
      );
    } finally {
      await removeRepositoryAuth(c);
    }
  },
  packer,
});
