/**
 * Credentials of private repositories ($.build.repositories[].auth) for the build only: the one rule
 * for what a value may hold, what file holds it where, and how it is put in place and taken away,
 * used by the SSH tasks (values over stdin) and the Packer template (values from sensitive variables,
 * checked by their validation blocks, sent in the file Packer sources).
 */
import type { Manifest } from '../../runtime/manifest.js';
import type { Repository } from '../../runtime/sections/build.js';
import { buildSecretRef } from '../../runtime/sections/build-secrets.js';
import { shellQuote } from '../ssh/quote.js';
import type { PackerContext, PackerProvisioner } from './types.js';

export type CredentialField = 'username' | 'password';

/**
 * What a credential value may not hold: substrings, since Packer's validation blocks can find
 * those (Packer 1.6 has no regex function) and the rule is then the same at `packer validate` as in
 * the SSH task.
 */
interface CredentialRule {
  applies: (r: Repository, field: CredentialField) => boolean;
  forbidden: readonly string[];
  problem: string;
  hint: string;
}

const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));

/** What JavaScript's \s matches, character by character (the test compares them). */
const BLANKS = [...'\t\n\v\f\r \u00a0\u1680', ...range(0x2000, 0x200a), ...'\u2028\u2029\u202f\u205f\u3000\ufeff'];

const CREDENTIAL_RULES: readonly CredentialRule[] = [
  {
    applies: () => true,
    forbidden: BLANKS,
    problem: 'holds a blank or a line break',
    hint: 'apt reads credentials as one word and dnf drops blanks at their ends: give the value without blanks',
  },
  {
    // HTTP basic auth (RFC 7617) sends "user:password": a server splits it at the first ':'.
    applies: (_r, field) => field === 'username',
    forbidden: [':'],
    problem: 'holds a ":"',
    hint: 'HTTP basic auth ends the user name at its first ":": give a user name without ":"',
  },
  {
    // dnf fills its variables ($basearch, ${releasever}, those of /etc/dnf/vars) into every value of
    // a .repo file, with no way to escape the "$": the server would get another password.
    applies: (r) => r.baseurl !== undefined,
    forbidden: ['{', '_', ...range(0x30, 0x39), ...range(0x41, 0x5a), ...range(0x61, 0x7a)].map((c) => `$${c}`),
    problem: 'holds a "$" followed by a name or "{", which dnf would replace by one of its variables',
    hint: 'dnf has no escape for "$" in a .repo file: give the repository a password without "$name" or "${"',
  },
];

/** What a credential field is, in messages: `the password of repository "x" (build secret Y)`. */
const fieldWhat = (r: Repository, field: CredentialField, ref: string | undefined): string =>
  `the ${field} of repository "${r.name}"${ref === undefined ? '' : ` (build secret ${ref})`}`;

/** The first problem of credential value `v` (message and hint), or undefined when it is fine. */
export function credentialProblem(
  r: Repository,
  field: CredentialField,
  v: string,
): { message: string; hint: string } | undefined {
  const rule = CREDENTIAL_RULES.find((x) => x.applies(r, field) && x.forbidden.some((f) => v.includes(f)));
  if (!rule) return undefined;
  return { message: `${fieldWhat(r, field, buildSecretRef(r.auth![field]))} ${rule.problem}`, hint: rule.hint };
}

/** The repositories of one distribution's list that carry credentials (a PPA never does). */
export const authOf = (list: readonly Repository[]): Repository[] =>
  list.filter((r) => r.auth !== undefined && r.ppa === undefined);

/** Every repository of mpimg.json with credentials, on any distribution (what removal looks for). */
export function authRepositories(m: Pick<Manifest, 'build'>): Repository[] {
  const v = m.build?.repositories;
  const all = Array.isArray(v) ? v : Object.values(v ?? {}).flat();
  return all.filter((r): r is Repository => !!r?.auth);
}

/**
 * The credentials of repository `r` as they go onto the droplet: apt's own file (auth.conf(5)), or
 * the lines appended to dnf's .repo. `user` and `password` are the values (or the Packer template's
 * stand-ins for them).
 */
export function credentialText(slug: string, r: Repository, user: string, password: string): string {
  if (r.uris !== undefined)
    return `# mpimg:${slug} build credentials, removed before the snapshot\nmachine ${r.uris.replace(/\/+$/, '')} login ${user} password ${password}\n`;
  return `username=${user}\npassword=${password}\n`;
}

/**
 * The shell that puts the credentials of `r` (read from stdin) in place under `root` (a shell word:
 * '' for the machine itself): apt's as /etc/apt/auth.conf.d/<name>.conf written 0600 and moved in
 * whole, dnf's appended to the repository's .repo once it is 0600 (it was written 0644, readable by
 * every user). dnf's list must be there already: the repositories step wrote it.
 */
export function placeCredentials(r: Repository, root: string): string {
  if (r.uris !== undefined) {
    const dir = `${root}${shellQuote('/etc/apt/auth.conf.d')}`;
    return `umask 077 && mkdir -p ${dir} && t=$(mktemp ${dir}/.mpimg.XXXXXXXX) && cat >"$t" && chmod 0600 "$t" && mv -f "$t" ${dir}/${shellQuote(`${r.name}.conf`)}`;
  }
  const file = `${root}${shellQuote(`/etc/yum.repos.d/${r.name}.repo`)}`;
  return `[ -f ${file} ] && chmod 0600 ${file} && cat >>${file}`;
}

/** What the removal prints for each repository it took away (the SSH task logs these lines). */
export const removedLine = (name: string): string =>
  `credentials of repository ${name} removed, with its list (a build-only repository: its packages stay)`;

/**
 * The shell that takes the repositories named off the machine under `root` (a shell word): the
 * credentials (apt's file overwritten first where shred exists) and the repository's list itself,
 * since without its credentials every `apt-get update` or dnf run of the image (the cleanup's, a
 * customer's) would fail on it. The packages it installed stay. Prints removedLine for each one
 * that was there. Undefined when there is nothing to remove.
 */
export function removeCredentials(names: readonly string[], root: string): string | undefined {
  const unique = [...new Set(names)];
  if (unique.length === 0) return undefined;
  return unique
    .map((n) => {
      const files = [
        `/etc/apt/auth.conf.d/${n}.conf`,
        `/etc/apt/sources.list.d/${n}.sources`,
        `/etc/yum.repos.d/${n}.repo`,
      ].map((f) => `${root}${shellQuote(f)}`);
      return [
        `if ${files.map((f) => `[ -f ${f} ]`).join(' || ')}; then`,
        `  for f in ${files.join(' ')}; do [ ! -f "$f" ] || shred -u "$f" 2>/dev/null || rm -f "$f"; done`,
        `  echo ${shellQuote(removedLine(n))}`,
        'fi',
      ].join('\n');
    })
    .join('\n');
}

/*
 * The Packer template's side. The values are sensitive variables build_secret_<NAME> (masked in what
 * Packer prints); each repository's credential text reaches the droplet as an environment variable
 * of the file Packer sources (use_env_var_file), never on a command line, and goes into place
 * through a pipe from printf (a shell builtin: no process has it in its arguments).
 */

/** The machine's root as the Packer steps' shell sees it: MPIMG_ROOT (the template sets "/"). */
const PACKER_ROOT = '"${MPIMG_ROOT%/}"';

/** HCL string text of credentialText for `r`, a build secret's value as its sensitive variable. */
function hclCredentialText(p: PackerContext, r: Repository): string {
  const fill = new Map<string, string>();
  const stand = (field: CredentialField): string => {
    const ref = buildSecretRef(r.auth![field]);
    if (ref === undefined) return r.auth![field];
    fill.set(`\0${field}\0`, `\${var.build_secret_${ref}}`);
    return `\0${field}\0`;
  };
  const text = credentialText(p.slug, r, stand('username'), stand('password'));
  return text
    .split(/(\0(?:username|password)\0)/)
    .map((x) => fill.get(x) ?? p.hclInner(x))
    .join('');
}

/**
 * The provisioner that puts the credentials of this image's repositories in place (none without
 * any): for apt before its repositories step (apt-get update reads them), for dnf after it (they go
 * into the .repo it writes). The scripts step's packerRemoveCredentials takes them away again.
 */
export function packerPlaceCredentials(p: PackerContext): PackerProvisioner[] {
  const auth = authOf(p.repositories);
  if (auth.length === 0) return [];
  const v = (i: number): string => `MPIMG_REPO_AUTH_${i + 1}`;
  return [
    {
      type: 'shell',
      env: ['"MPIMG_ROOT=/"', ...auth.map((r, i) => `"${v(i)}=${hclCredentialText(p, r)}"`)],
      envFile: true,
      inline: auth.map((r, i) =>
        p.hcl(
          `a=$${v(i)}; unset ${v(i)}; printf '%s' "$a" | { ${placeCredentials(r, PACKER_ROOT)}; } || { echo ${shellQuote(`repository ${r.name}: its credentials could not be put in place`)} >&2; exit 1; }; echo ${shellQuote(`credentials of repository ${r.name} in place for the build`)}`,
        ),
      ),
    },
  ];
}

/** The provisioner that takes the repositories with credentials off the droplet (after the build scripts). */
export function packerRemoveCredentials(p: PackerContext): PackerProvisioner[] {
  const shell = removeCredentials(
    authOf(p.repositories).map((r) => r.name),
    PACKER_ROOT,
  );
  return shell === undefined ? [] : [{ type: 'shell', env: ['"MPIMG_ROOT=/"'], inline: [p.hcl(shell)] }];
}

/** An HCL string literal of `s` in printable ASCII: other characters as \\uNNNN (HCL has no \\v or \\f). */
const hclEscaped = (p: PackerContext, s: string): string =>
  `"${s
    .split(/([^ -~])/)
    .map((c, i) => (i % 2 === 0 ? p.hclInner(c) : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
    .join('')}"`;

/**
 * The validation blocks of the sensitive variable of each build secret this image's repositories
 * use as a credential: `packer validate` (and `packer build`, before any droplet) refuses a value by
 * the same rules as the SSH task. Conditions and messages as HCL text, by secret name.
 */
export function packerSecretChecks(p: PackerContext): Map<string, { condition: string; message: string }[]> {
  const out = new Map<string, { condition: string; message: string }[]>();
  for (const r of authOf(p.repositories))
    for (const field of ['username', 'password'] as const) {
      const ref = buildSecretRef(r.auth![field]);
      if (ref === undefined) continue;
      for (const rule of CREDENTIAL_RULES.filter((x) => x.applies(r, field))) {
        const what = fieldWhat(r, field, ref);
        const list = out.get(ref) ?? [];
        list.push({
          condition: `length([for s in [${rule.forbidden.map((f) => hclEscaped(p, f)).join(', ')}] : s if length(split(s, var.build_secret_${ref})) > 1]) == 0`,
          message: p.hcl(`${what[0].toUpperCase()}${what.slice(1)} ${rule.problem}: ${rule.hint}.`),
        });
        out.set(ref, list);
      }
    }
  return out;
}
