/** $.variables: named values (APP_VERSION, ...) with defaults, overridable per build. */
import type { Check } from '../schema.js';
import { anyOf, obj, push, record, str } from './common.js';

export const VARIABLE_NAME_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * The longest value: each one reaches build and first-boot programs as an environment variable, and
 * Linux refuses to start a program given one over 128 KiB (E2BIG): one this long would have failed
 * the prepare step of every droplet (its awk, its uname). 8192 characters are 24 KiB at most in UTF-8.
 */
export const VARIABLE_MAX_LENGTH = 8192;

export type Variable = string | { default: string; description?: string };

export const VARIABLES_SCHEMA = record(
  anyOf([
    str({ description: 'The default value.', maxLength: VARIABLE_MAX_LENGTH }),
    obj(
      {
        default: str({ description: 'The default value.', maxLength: VARIABLE_MAX_LENGTH }),
        description: str({ description: 'What it is for.' }),
      },
      { required: ['default'] },
    ),
  ]),
  {
    description:
      'Named values with defaults, e.g. {"APP_VERSION": "2.4.1"}. Override one per build with `mpimg bundle --var APP_VERSION=2.5.0` (or MPIMG_VAR_APP_VERSION=2.5.0 in the environment). They reach build scripts as environment, first-boot and first-login scripts through the helper library, the MOTD as {{APP_VERSION}}, and the Packer template.',
    propertyNames: { pattern: VARIABLE_NAME_RE.source },
    'x-hint': 'names of capital letters, digits and "_", starting with a letter (e.g. APP_VERSION); values are strings',
    'x-check': 'variableNames',
  },
);

/**
 * Names that already mean something in the environment build and first-boot scripts run in: the
 * shell's, sshd's and the tools' own (bash keeps an inherited HOSTNAME and shows it where the host
 * name is printed), and IP and HOSTNAME, what the templates' {{ip}} and {{hostname}} stand for.
 * One rule for variables, secrets and the names `mpimg import` chooses.
 */
const RESERVED = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'PWD',
  'OLDPWD',
  'IFS',
  'PS1',
  'PS2',
  'PS4',
  'ENV',
  'TERM',
  'LANG',
  'LANGUAGE',
  'TMPDIR',
  'TZ',
  'DEBIAN_FRONTEND',
  'SUDO_USER',
  'SUDO_UID',
  'SUDO_GID',
  'SUDO_COMMAND',
  'MAIL',
  'OPTIND',
  'OPTARG',
  'PPID',
  'LINENO',
  'GNUPGHOME',
  'IP',
  'HOSTNAME',
  'HOSTTYPE',
  'OSTYPE',
  'MACHTYPE',
  'UID',
  'EUID',
  'GROUPS',
  'RANDOM',
  'SECONDS',
  'SHLVL',
  'SHELLOPTS',
  'CDPATH',
  'HISTFILE',
  'MAILPATH',
  'PROMPT_COMMAND',
  'REPLY',
  'COLUMNS',
  'LINES',
  'EDITOR',
  'VISUAL',
  'PAGER',
  'DISPLAY',
]);
const RESERVED_PREFIX = /^(LC_|MPIMG_|LD_|BASH|SSH_|XDG_|SYSTEMD_|DEBCONF_|DPKG_)/;
export const reservedVariable = (n: string): boolean => RESERVED.has(n) || RESERVED_PREFIX.test(n);

export const VARIABLE_CHECKS: Record<string, Check> = {
  variableNames(v, at, out) {
    if (typeof v !== 'object' || v === null) return;
    for (const name of Object.keys(v)) {
      if (reservedVariable(name))
        push(
          out,
          `${at}.${name}`,
          `variable name "${name}" is reserved`,
          'variables reach build scripts as environment variables: PATH, HOME, HOSTNAME, LC_*, SSH_*, MPIMG_* and the like mean something there already; rename it (e.g. APP_VERSION)',
        );
    }
  },
};

/** The value of every variable: defaults, then the overrides given for this build. */
export function resolveVariables(
  vars: Record<string, Variable> | undefined,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars ?? {})) out[k] = typeof v === 'string' ? v : v.default;
  for (const [k, v] of Object.entries(overrides)) out[k] = v;
  return out;
}
