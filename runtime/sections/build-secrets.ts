/**
 * $.build.secrets: values given only when the image is built (a licence key, a private repository's
 * token), never written in mpimg.json, the bundle, dist/ or the image. mpimg.json only names them;
 * `mpimg run --secret NAME=@file` (or MPIMG_BUILD_SECRET_NAME in the environment) gives the value.
 * They reach build scripts as environment variables and repositories as credentials
 * ($.build.repositories[].auth); the image check fails when a value is found in the image.
 */
import type { Check } from '../schema.js';
import { obj, push, str, strings } from './common.js';
import { reservedVariable, VARIABLE_NAME_RE } from './variables.js';

export interface BuildSecret {
  /** The environment variable build scripts get; MPIMG_BUILD_SECRET_<name> supplies it. */
  name: string;
  description?: string;
}

export interface RepositoryAuth {
  /** A user name as written, or {{build.secret.NAME}}. */
  username: string;
  /** Always {{build.secret.NAME}}: a password is never written in mpimg.json. */
  password: string;
}

/** `{{build.secret.NAME}}`: a value of $.build.secrets in a repository's credentials. */
export const BUILD_SECRET_REF_RE = /^\{\{build\.secret\.([A-Z][A-Z0-9_]{0,63})\}\}$/;

/** The secret a credential field names, or undefined when it is written as it is. */
export const buildSecretRef = (v: string): string | undefined => BUILD_SECRET_REF_RE.exec(v)?.[1];

const BUILD_SECRET = obj(
  {
    name: str({
      description:
        'The environment variable build scripts get it as; `--secret NAME=@file` or MPIMG_BUILD_SECRET_NAME gives its value.',
      pattern: VARIABLE_NAME_RE.source,
      'x-message': 'bad build secret name {value}',
      'x-hint': 'capital letters, digits and "_", starting with a letter (e.g. LICENSE_KEY)',
    }),
    description: str({ description: 'What it is and where to get it (shown when its value is missing).' }),
  },
  { required: ['name'] },
);

export const BUILD_SECRETS_SCHEMA = strings(BUILD_SECRET, {
  description:
    'Secrets given only at build time (a licence key, a private repository\'s credentials): named here, their values passed to `mpimg run` with `--secret NAME=@file` (the file\'s content) or `--secret NAME=env:VAR`, or as MPIMG_BUILD_SECRET_NAME in the environment; never on the command line itself. Build scripts get them as environment variables, repositories as "auth"; they never reach the bundle, dist/, the Packer template (sensitive variables, from PKR_VAR_ in the environment), a log (masked) or the image (the image check fails when a value is found in it). A build stops before it starts when one has no value.',
  'x-check': 'buildSecrets',
});

const CREDENTIAL = (what: string) =>
  str({
    description: what,
    pattern: '^[^\\s"\'\\\\`$:]{1,256}$|^\\{\\{build\\.secret\\.[A-Z][A-Z0-9_]{0,63}\\}\\}$',
    'x-message': 'bad repository credential {value}',
    'x-hint':
      'a name without blanks, quotes, ":" (HTTP basic auth ends the name there), "\\", "`" or "$", or {{build.secret.NAME}} of $.build.secrets',
  });

export const REPOSITORY_AUTH_SCHEMA = obj(
  {
    username: CREDENTIAL('The user name: as written, or {{build.secret.NAME}}.'),
    password: CREDENTIAL('{{build.secret.NAME}}: a password is never written in mpimg.json.'),
  },
  {
    required: ['username', 'password'],
    description:
      'Credentials of a private repository, from $.build.secrets: apt gets them in /etc/apt/auth.conf.d/<name>.conf (0600), dnf as username/password of the repository (0600; a value with "$name" or "${" is refused: dnf would put one of its variables there), only while the build runs: after the build scripts the credentials and the repository\'s list are removed (a build-only repository: its packages stay, and no apt-get update or dnf run of the image fails on a repository it has no credentials for). The same in the Packer template, from its sensitive variables: `packer validate` refuses a value the SSH build refuses. A PPA takes no "auth".',
    'x-check': 'repositoryAuth',
  },
);

export const BUILD_SECRET_CHECKS: Record<string, Check> = {
  buildSecrets(v, at, out, root) {
    if (!Array.isArray(v)) return;
    const seen = new Set<string>();
    const vars = root.variables && typeof root.variables === 'object' ? Object.keys(root.variables) : [];
    const secrets = Array.isArray(root.secrets) ? root.secrets.map((s) => (s as { name?: unknown })?.name) : [];
    v.forEach((s: unknown, i) => {
      const name = (s as BuildSecret | null)?.name;
      if (typeof name !== 'string' || !VARIABLE_NAME_RE.test(name)) return;
      const here = `${at}[${i}].name`;
      if (reservedVariable(name))
        push(
          out,
          here,
          `build secret name "${name}" is reserved`,
          'build secrets reach build scripts as environment variables: PATH, HOME, HOSTNAME, LC_*, SSH_*, MPIMG_* and the like mean something there already; rename it (e.g. LICENSE_KEY)',
        );
      if (seen.has(name)) push(out, here, `two build secrets named "${name}"`, 'give each build secret its own name');
      seen.add(name);
      if (vars.includes(name) || secrets.includes(name))
        push(
          out,
          here,
          `"${name}" is also a name of ${vars.includes(name) ? '$.variables' : '$.secrets'}`,
          'give the build secret its own name: both reach scripts as environment variables',
        );
    });
  },
  repositoryAuth(v, at, out, root) {
    const a = v as Partial<RepositoryAuth> | null;
    if (!a || typeof a !== 'object') return;
    const declared = new Set(
      Array.isArray((root.build as { secrets?: unknown } | undefined)?.secrets)
        ? ((root.build as { secrets: BuildSecret[] }).secrets ?? []).map((s) => s?.name)
        : [],
    );
    for (const key of ['username', 'password'] as const) {
      const f = a[key];
      if (typeof f !== 'string') continue;
      const ref = buildSecretRef(f);
      if (key === 'password' && ref === undefined)
        push(
          out,
          `${at}.password`,
          'a repository password is written in mpimg.json',
          'declare it in "build": {"secrets": [{"name": "REPO_TOKEN"}]} and write "password": "{{build.secret.REPO_TOKEN}}"; give its value at build time with --secret REPO_TOKEN=@file',
        );
      if (ref !== undefined && !declared.has(ref))
        push(
          out,
          `${at}.${key}`,
          `{{build.secret.${ref}}} is not a secret of $.build.secrets`,
          `add {"name": "${ref}"} to "secrets" in "build" of mpimg.json`,
        );
    }
  },
};
