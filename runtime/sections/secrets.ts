/**
 * $.secrets: named secrets made once per droplet at first boot (a database password, Django's
 * SECRET_KEY), saved in the root-only credentials file and handed to first-boot scripts as
 * environment variables; and $.files.templates: files of files/ filled in per droplet at first boot
 * with the droplet's IP, its hostname, variables and secrets. The bundle never holds a secret's value:
 * only its name, length and alphabet.
 */
import { UNQUOTABLE_SECRET_CHARS } from '../policy.js';
import type { Check } from '../schema.js';
import { dropletPath, int, obj, push, str, strings } from './common.js';
import { reservedVariable, VARIABLE_NAME_RE } from './variables.js';

export interface Secret {
  /** The variable first-boot scripts get, the key in the credentials file, {{secret.NAME}} in templates. */
  name: string;
  /** Characters; default 32. */
  length?: number;
  /** alnum (default), hex, base64url, or the characters to draw from. */
  alphabet?: string;
}

export const NAMED_ALPHABETS: Readonly<Record<string, string>> = {
  alnum: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  hex: '0123456789abcdef',
  base64url: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
};
export const DEFAULT_SECRET_LENGTH = 32;

/** The characters a secret is drawn from (a named alphabet, or the explicit set as written). */
export const alphabetChars = (s: Pick<Secret, 'alphabet'>): string =>
  NAMED_ALPHABETS[s.alphabet ?? 'alnum'] ?? [...new Set(s.alphabet ?? '')].join('');

/** Why an explicit alphabet is refused, or null. */
export function unsafeAlphabet(a: string): string | null {
  for (const c of a) {
    const code = c.codePointAt(0)!;
    if (code < 0x21 || code > 0x7e)
      return `holds ${code === 0x20 ? 'a space' : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`}: printable ASCII only`;
    if (UNQUOTABLE_SECRET_CHARS.includes(c))
      return `holds ${JSON.stringify(c)}, which breaks the quoting of shell and config files a secret is written into`;
  }
  if (new Set(a).size < 10) return `has ${new Set(a).size} different characters: use at least 10`;
  return null;
}

export const SECRET_NAME_HINT =
  'capital letters, digits and "_", starting with a letter (e.g. DB_PASSWORD); it becomes a shell variable';

const SECRET = obj(
  {
    name: str({
      description: 'The environment variable of first-boot scripts, its key in the credentials file, {{secret.NAME}}.',
      pattern: VARIABLE_NAME_RE.source,
      'x-message': 'bad secret name {value}',
      'x-hint': SECRET_NAME_HINT,
    }),
    length: int({
      minimum: 12,
      maximum: 256,
      description: `How many characters (default ${DEFAULT_SECRET_LENGTH}).`,
      'x-message': 'secret length {value} is not a whole number from 12 to 256',
      'x-hint': 'e.g. 32 (fewer than 12 characters is guessable)',
    }),
    alphabet: str({
      description:
        'alnum (default: A-Z a-z 0-9), hex, base64url (A-Z a-z 0-9 - _), or the characters to draw from written out (at least 10 different printable ASCII characters; no quotes, backslash, "$" or space).',
      minLength: 1,
      'x-check': 'secretAlphabet',
    }),
  },
  { required: ['name'] },
);

export const SECRETS_SCHEMA = strings(SECRET, {
  description:
    'Secrets made once per droplet at first boot (kept when first boot runs again; a new droplet gets new ones), saved in the credentials file, given to first-boot scripts as environment variables and to $.files.templates as {{secret.NAME}}. Never in a log, on a command line or in the image.',
  'x-check': 'secrets',
});

export const TEMPLATES_SCHEMA = strings(
  dropletPath('A file of files/ by its droplet path, e.g. /etc/nginx/sites-available/app.'),
  {
    description:
      'Files of files/ filled in per droplet at first boot, before the first-boot steps: {{ip}} (public IPv4), {{hostname}}, {{VARIABLE}} ($.variables) and {{secret.NAME}} ($.secrets). Any other {{...}} (Jinja, Go, Mustache) stays as it is. A template that holds a {{secret.NAME}} is not in the image at its path: the build keeps it unfilled in the runtime home\'s templates/ folder (root\'s alone) and first boot writes it into place, filled in, through a temporary file renamed over it, with the owner, group and mode of $.files.owners (root, and its mode in files/, when none: give a file that holds a secret a mode such as "0640" there, as git keeps no mode but 0644 and 0755); mark the units that read it "afterFirstBoot": true ($.services) so a droplet booted from the image does not start them before. Any other template is laid down unfilled at its path (the build\'s service checks read it as it is: quote a placeholder where the syntax needs it, e.g. nginx\'s server_name "{{ip}}") and filled in keeping its owner and mode. First boot run again keeps the secrets, fills in again a file it filled in and keeps one changed since.',
    'x-check': 'templates',
  },
);

/**
 * A placeholder in a template: `{{KEY}}` with KEY of letters, digits, "_" and ".", no spaces. The
 * renderer on the droplet (templates/droplet/prepare.sh.ejs) scans the same way.
 */
export const TEMPLATE_PLACEHOLDER_RE = /\{\{([A-Za-z0-9_.]+)\}\}/g;

/** The placeholders of mpimg's own form: an unknown one is an error (a foreign {{name}} is not of it). */
export const reservedPlaceholder = (key: string): boolean =>
  key === 'ip' || key === 'hostname' || /^[A-Z][A-Z0-9_]*$/.test(key) || key.startsWith('secret.');

export const SECRET_CHECKS: Record<string, Check> = {
  secretAlphabet(v, at, out) {
    if (typeof v !== 'string' || v in NAMED_ALPHABETS) return;
    const why = unsafeAlphabet(v);
    if (why)
      push(
        out,
        at,
        `alphabet ${JSON.stringify(v)} ${why}`,
        `use "alnum", "hex" or "base64url", or write the characters out, e.g. "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"`,
      );
  },
  secrets(v, at, out, root) {
    if (!Array.isArray(v)) return;
    const vars = root.variables && typeof root.variables === 'object' ? Object.keys(root.variables) : [];
    const seen = new Map<string, number>();
    v.forEach((e, i) => {
      const name = (e as { name?: unknown })?.name;
      if (typeof name !== 'string' || !VARIABLE_NAME_RE.test(name)) return;
      if (reservedVariable(name))
        push(
          out,
          `${at}[${i}].name`,
          `secret name "${name}" is reserved`,
          `PATH, LC_*, MPIMG_* and the like mean something in the environment of first-boot scripts: rename it`,
        );
      else if (vars.includes(name))
        push(
          out,
          `${at}[${i}].name`,
          `"${name}" is also a variable of $.variables`,
          'give the secret its own name: both reach first-boot scripts as environment variables',
        );
      if (seen.has(name))
        push(
          out,
          `${at}[${i}].name`,
          `duplicate secret "${name}" (also ${at}[${seen.get(name)}])`,
          'give each secret its own name',
        );
      else seen.set(name, i);
    });
  },
  templates(v, at, out) {
    if (!Array.isArray(v)) return;
    const seen = new Map<string, number>();
    v.forEach((p, i) => {
      if (typeof p !== 'string') return;
      if (seen.has(p))
        push(out, `${at}[${i}]`, `${p} is listed twice (also ${at}[${seen.get(p)}])`, 'list each template once');
      else seen.set(p, i);
    });
  },
};

/** The octal escapes of `chars` for tr: no character of the set can mean a range, a class or an escape. */
export const trSet = (chars: string): string =>
  [...chars].map((c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`).join('');
