/**
 * $.build.debconf: answers to the questions Debian packages ask when they install (postfix's mailer
 * type, a database's questions), preseeded with debconf-set-selections before build.packages.
 * apt distributions only: the dnf family has no such mechanism (its packages ask nothing).
 */
import type { Check } from '../schema.js';
import { DNF_SLUG_RE, obj, oneOf, push, str, strings } from './common.js';

/** The types debconf-set-selections knows ("seen" sets the question's seen flag instead of a value). */
export const DEBCONF_TYPES = [
  'select',
  'multiselect',
  'string',
  'boolean',
  'password',
  'note',
  'text',
  'title',
  'seen',
] as const;
export type DebconfType = (typeof DEBCONF_TYPES)[number];

export interface DebconfEntry {
  /** The package that owns the question, e.g. "postfix". */
  package: string;
  /** The question, e.g. "postfix/main_mailer_type". */
  question: string;
  type: DebconfType;
  /** The answer; {{VARIABLE}}s of $.variables are filled in at bundle time. */
  value: string;
}

const PLACEHOLDER_G = /\{\{([A-Z][A-Z0-9_]{0,63})\}\}/g;

/**
 * An answer as debconf-set-selections reads it: one line (a newline would start a second selection,
 * a CR is dropped), no other control character or U+2028/U+2029, and no trailing backslash (it joins
 * the next line to this one).
 */
export const DEBCONF_VALUE_RE = /^[^\u0000-\u001f\u007f\u2028\u2029]{0,4000}$/u;
const valueProblem = (v: string): string | null =>
  !DEBCONF_VALUE_RE.test(v)
    ? 'a line break, another control character or U+2028/U+2029 (or over 4000 characters)'
    : v.endsWith('\\')
      ? 'a trailing backslash (debconf-set-selections joins the next line to it)'
      : null;

const BOOLEAN_TYPES: readonly string[] = ['boolean', 'seen'];

const ENTRY = obj(
  {
    package: str({
      description: 'The package that owns the question, e.g. "postfix".',
      pattern: '^[a-z0-9][a-z0-9+.-]+$',
      'x-message': 'bad package name {value}',
      'x-hint': 'a Debian package name, e.g. "postfix" (lower-case letters, digits, + . -)',
    }),
    question: str({
      description: 'The question, as `debconf-show PACKAGE` names it, e.g. "postfix/main_mailer_type".',
      pattern: '^[A-Za-z0-9][A-Za-z0-9+.:_-]*(/[A-Za-z0-9+.:_-]+)+$',
      'x-message': 'bad debconf question {value}',
      'x-hint': 'owner/name, e.g. "postfix/main_mailer_type" (no blanks or shell characters)',
    }),
    type: oneOf(DEBCONF_TYPES, {
      description:
        'The question\'s type as debconf-set-selections takes it: select, multiselect, string, boolean, password, note, text, title; or "seen" to set its seen flag ("true"/"false").',
      'x-hint': `one of ${DEBCONF_TYPES.join(', ')}`,
    }),
    value: str({
      description:
        'The answer, one line (a multiselect: "a, b"); {{VARIABLE}}s of $.variables are filled in at bundle time. boolean and seen take "true" or "false". A password is always "" (none): one written here or given at bundle time would be in the image and the same on every droplet; a password of its own per droplet is $.secrets, set at first boot.',
    }),
  },
  { required: ['package', 'question', 'type', 'value'], 'x-check': 'debconfEntry' },
);

export const DEBCONF_SCHEMA = strings(ENTRY, {
  description:
    'Answers to the questions Debian packages ask when they install (postfix\'s mailer type, a database package\'s questions), set with debconf-set-selections right before build.packages, on the apt distributions of "distributions" only (the dnf family has no equivalent: its packages ask nothing), e.g. [{"package": "postfix", "question": "postfix/main_mailer_type", "type": "select", "value": "Internet Site"}]. `debconf-get-selections` (debconf-utils) on a machine with the package shows its questions.',
  'x-check': 'debconfList',
});

/**
 * The line debconf-set-selections gets for `e`: its value's {{VARIABLE}}s filled in from `vars`.
 * Throws, naming the question, when a variable is unknown or its value cannot be one line of it.
 */
export function debconfLine(e: DebconfEntry, vars: Record<string, string>): string {
  const value = e.value.replace(PLACEHOLDER_G, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`build.debconf ${e.question}: {{${name}}} is not a variable of $.variables`);
    return v;
  });
  const why = valueProblem(value);
  if (why) throw new Error(`build.debconf ${e.question}: its value (with the variables filled in) has ${why}`);
  if (BOOLEAN_TYPES.includes(e.type) && value !== 'true' && value !== 'false')
    throw new Error(`build.debconf ${e.question}: a ${e.type} value is "true" or "false", not "${value}"`);
  return `${e.package} ${e.question} ${e.type} ${value}`;
}

export const DEBCONF_CHECKS: Record<string, Check> = {
  debconfList(v, at, out, root) {
    if (!Array.isArray(v) || v.length === 0) return;
    const distributions = Array.isArray(root.distributions) ? root.distributions : [];
    const slugs = distributions.filter((d): d is string => typeof d === 'string');
    if (slugs.length && slugs.every((s) => DNF_SLUG_RE.test(s)))
      push(
        out,
        at,
        `build.debconf preseeds debconf, which only apt distributions have, and every distribution here is of the dnf family (${slugs.join(', ')})`,
        'remove "debconf" from "build" (dnf packages ask no questions), or add a Debian or Ubuntu distribution',
      );
  },
  debconfEntry(v, at, out, root) {
    const e = v as Partial<DebconfEntry>;
    if (typeof e.value !== 'string' || typeof e.type !== 'string') return;
    const vAt = `${at}.value`;
    const why = valueProblem(e.value);
    if (why)
      return push(
        out,
        vAt,
        `the debconf value has ${why}`,
        'one line without a trailing backslash: debconf-set-selections reads one selection per line',
      );
    const vars = (root.variables ?? {}) as Record<string, unknown>;
    const names = [...e.value.matchAll(PLACEHOLDER_G)].map((m) => m[1]);
    for (const name of names)
      if (!(name in vars))
        push(
          out,
          vAt,
          `{{${name}}} in the debconf value is not a variable of $.variables`,
          `add "${name}" to "variables" in mpimg.json, or write the value itself`,
        );
    if (BOOLEAN_TYPES.includes(e.type) && names.length === 0 && e.value !== 'true' && e.value !== 'false')
      push(out, vAt, `a ${e.type} value is "true" or "false", not "${e.value}"`, 'write "true" or "false"');
    // A password given at build time is every droplet's: it stays in the image (debconf's
    // passwords.dat, the helper library's variables), the bundle and the build record.
    if (e.type === 'password' && e.value !== '')
      push(
        out,
        vAt,
        names.length
          ? `a password from a variable ({{${names.join('}}, {{')}}}) would be in the image (the helper library's variables, debconf's passwords.dat), the bundle and the build record, the same on every droplet`
          : "a password is written into mpimg.json here: it would be in the project's history and in every image built from it",
        'write "" (no password: e.g. MariaDB then lets root in by its unix socket; dbconfig-common makes a random one); a password each droplet needs of its own is made at first boot ($.secrets) and set by a first-boot script',
      );
  },
};
