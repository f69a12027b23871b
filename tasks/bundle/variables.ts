/**
 * $.variables at bundle time: the defaults of mpimg.json, overridden for one build by
 * `mpimg bundle --var NAME=VALUE` (wins) and MPIMG_VAR_<NAME> in the environment. The values are
 * resolved once, here, and embedded in everything the bundle writes (payload, build script, Packer
 * template), so every part of a build sees the same ones.
 */
import { CONTROL_RE, type Manifest } from '../../runtime/manifest.js';
import { resolveVariables, VARIABLE_MAX_LENGTH, VARIABLE_NAME_RE } from '../../runtime/sections/variables.js';
import { UsageError } from '../../core/errors.js';

const known = (m: Manifest): string => {
  const names = Object.keys(m.variables ?? {});
  return names.length
    ? `the variables of mpimg.json are: ${names.join(', ')}`
    : 'mpimg.json has no "variables" (add one there first, e.g. "variables": {"APP_VERSION": "1.0.0"})';
};

function checkValue(name: string, value: string, where: string): void {
  if (value.length > VARIABLE_MAX_LENGTH)
    throw new UsageError(
      `${where}: the value of ${name} is ${value.length} characters long, more than ${VARIABLE_MAX_LENGTH}`,
      'programs get it in their environment, where Linux refuses a long one: keep long text in a file of files/',
    );
  const c = CONTROL_RE.exec(value);
  if (c)
    throw new UsageError(
      `${where}: the value of ${name} holds a control or line-separator character (U+${c[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`,
      'give one line of printable text',
    );
}

/**
 * The overrides of this build: MPIMG_VAR_<NAME> of `env`, then each `--var NAME=VALUE` (the later
 * wins). An unknown name or a bad value is refused, naming where it came from.
 */
export function variableOverrides(
  m: Manifest,
  vars: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Record<string, string> {
  const defined = m.variables ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('MPIMG_VAR_') || v === undefined) continue;
    const name = k.slice('MPIMG_VAR_'.length);
    if (!(name in defined))
      throw new UsageError(
        `environment variable ${k}: mpimg.json has no variable "${name}"`,
        `unset ${k} or add "${name}" to "variables" in mpimg.json; ${known(m)}`,
      );
    checkValue(name, v, `environment variable ${k}`);
    out[name] = v;
  }
  for (const spec of vars) {
    const at = spec.indexOf('=');
    const name = at < 0 ? spec : spec.slice(0, at);
    if (at < 0 || !VARIABLE_NAME_RE.test(name))
      throw new UsageError(
        `--var ${JSON.stringify(spec)}: not NAME=VALUE`,
        'e.g. --var APP_VERSION=2.5.0 (names: capital letters, digits and "_", starting with a letter)',
      );
    if (!(name in defined)) throw new UsageError(`--var ${name}: mpimg.json has no variable "${name}"`, known(m));
    const value = spec.slice(at + 1);
    checkValue(name, value, `--var ${name}`);
    out[name] = value;
  }
  return out;
}

/** Every variable's value for this build; overrides of names mpimg.json does not have are refused. */
export function buildVariables(m: Manifest, overrides: Record<string, string> = {}): Record<string, string> {
  for (const n of Object.keys(overrides)) {
    if (!(n in (m.variables ?? {}))) throw new UsageError(`variable "${n}": mpimg.json has no such variable`, known(m));
  }
  return resolveVariables(m.variables, overrides);
}

/**
 * The lines of dist/<slug>-build.sh that record the variables it was bundled with (read back by tasks and validate).
 */
export const VARIABLES_LINE = '# mpimg-variables: ';
export const OVERRIDES_LINE = '# mpimg-overrides: ';

function recorded(text: string, prefix: string): Record<string, string> | undefined {
  const line = text.split('\n', 40).find((l) => l.startsWith(prefix));
  if (!line) return undefined;
  try {
    const v = JSON.parse(line.slice(prefix.length)) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'))
      return v as Record<string, string>;
  } catch {
    /* not ours: treated as absent */
  }
  return undefined;
}

/** The resolved variables a build script was bundled with, or undefined when it records none. */
export const recordedVariables = (buildScript: string): Record<string, string> | undefined =>
  recorded(buildScript, VARIABLES_LINE);
/** The --var / MPIMG_VAR_ overrides a build script was bundled with ({} when none). */
export const recordedOverrides = (buildScript: string): Record<string, string> =>
  recorded(buildScript, OVERRIDES_LINE) ?? {};
