/**
 * Values of $.build.secrets for one build. A value comes from `--secret NAME=@file` (the file's
 * content, one trailing newline dropped), `--secret NAME=env:VAR`, or MPIMG_BUILD_SECRET_NAME in the
 * environment; never from the command line itself (it would be in `ps` and the shell's history).
 * Every output line of the tasks goes through redact(), so a value a build script prints is masked.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { BuildSecret } from '../runtime/sections/build-secrets.js';
import type { Manifest } from '../runtime/manifest.js';

export const BUILD_SECRET_ENV_PREFIX = 'MPIMG_BUILD_SECRET_';
/** What a masked value is shown as. */
export const REDACTED = '***';
/** Shorter values are refused: masking them would hide ordinary words of the output. */
export const MIN_SECRET_LENGTH = 4;
/** The lines of a value of several lines at least this long are masked and searched for on their own. */
export const MIN_LINE_LENGTH = 16;

/*
 * Under a global symbol, like the token stash (tasks/secrets.ts): the CLI and the project's
 * mpimgfile may load different copies of this library, and the tasks must see what the CLI set.
 */
const KEY = Symbol.for('generator-mpimg.build-secrets');
const holder = globalThis as unknown as Record<symbol, Map<string, string> | undefined>;
const store = (): Map<string, string> => holder[KEY] ?? (holder[KEY] = new Map<string, string>());

const HOW =
  'give it as --secret NAME=@FILE (the file holds the value) or --secret NAME=env:VAR, or set MPIMG_BUILD_SECRET_NAME in the environment';

/** The declared build secrets of a manifest. */
export const declaredBuildSecrets = (m: Pick<Manifest, 'build'>): BuildSecret[] => m.build?.secrets ?? [];

/** The lines of a value of several lines that are searched for and masked (a key's armour lines are no secret). */
const secretLines = (v: string): string[] =>
  v
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length >= MIN_LINE_LENGTH && !/^-----/.test(l));

function checkedValue(name: string, value: string, from: string): string {
  if (value.trim().length < MIN_SECRET_LENGTH)
    throw new UsageError(
      `the build secret ${name} (${from}) is shorter than ${MIN_SECRET_LENGTH} characters`,
      'give the real value: short values cannot be masked in the logs without hiding ordinary words',
    );
  if (value.includes('\0'))
    throw new UsageError(`the build secret ${name} (${from}) holds a NUL byte`, 'give a text value');
  // A value of several lines is searched for in the image and masked in the output line by line:
  // one without a long line could be neither (an empty search would flag every file of the image).
  if (value.includes('\n') && secretLines(value).length === 0)
    throw new UsageError(
      `the build secret ${name} (${from}) has several lines and none of ${MIN_LINE_LENGTH} characters or more`,
      `a value of several lines is masked and searched for by its long lines: give one line, or one secret for each part (e.g. a user name and a password)`,
    );
  return value;
}

/**
 * Parses the --secret options: NAME=@FILE or NAME=env:VAR. NAME=value is refused, naming how to
 * give it instead (the message never repeats the value).
 */
export function parseSecretOptions(
  options: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const opt of options) {
    const eq = opt.indexOf('=');
    const name = eq < 0 ? opt : opt.slice(0, eq);
    if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(name))
      throw new UsageError(
        `--secret needs NAME=@FILE or NAME=env:VAR, got a bad name before "="`,
        'e.g. --secret LICENSE_KEY=@license.txt (names: capital letters, digits and "_")',
      );
    if (eq < 0) throw new UsageError(`--secret ${name}: where is its value?`, HOW.replace(/NAME/g, name));
    if (out.has(name)) throw new UsageError(`--secret ${name} is given twice`, 'give each build secret once');
    const spec = opt.slice(eq + 1);
    if (spec.startsWith('@')) {
      const file = resolve(cwd, spec.slice(1));
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(
          `--secret ${name}: cannot read ${spec.slice(1)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
          'give a file that exists and that you can read',
        );
      }
      out.set(name, checkedValue(name, text.replace(/\r?\n$/, ''), `from ${spec.slice(1)}`));
    } else if (spec.startsWith('env:')) {
      const v = env[spec.slice(4)];
      if (!v)
        throw new UsageError(
          `--secret ${name}: the environment variable ${spec.slice(4)} is not set`,
          `export ${spec.slice(4)} before running, or use --secret ${name}=@FILE`,
        );
      out.set(name, checkedValue(name, v, `from $${spec.slice(4)}`));
    } else {
      throw new UsageError(
        `--secret ${name}=<value> is refused: a value on the command line is seen by every user in \`ps\` and stays in the shell's history`,
        HOW.replace(/NAME/g, name),
      );
    }
  }
  return out;
}

/**
 * Sets the build secrets of this run: --secret values, else MPIMG_BUILD_SECRET_<NAME> of `env`
 * (taken out of it, so no child process inherits it), else what an outer command (`mpimg image`
 * running `mpimg run build`) set. Every declared secret needs a value and every given one must be
 * declared (unless `required` is false: a task that uses none): the build stops here, before anything
 * runs on a droplet. Returns the function that puts
 * back what was set before.
 */
export function loadBuildSecrets(
  m: Pick<Manifest, 'build'>,
  given: Map<string, string>,
  env: NodeJS.ProcessEnv,
  required = true,
): () => void {
  const declared = declaredBuildSecrets(m);
  const names = new Set(declared.map((s) => s.name));
  for (const name of given.keys())
    if (!names.has(name))
      throw new UsageError(
        `--secret ${name}: mpimg.json declares no build secret ${name}`,
        `declare it in "build": {"secrets": [{"name": "${name}"}]}, or leave the option out`,
      );
  const before = new Map(store());
  const values = new Map<string, string>();
  const missing: BuildSecret[] = [];
  for (const s of declared) {
    const envName = `${BUILD_SECRET_ENV_PREFIX}${s.name}`;
    const fromEnv = env[envName] ? checkedValue(s.name, env[envName], `from $${envName}`) : undefined;
    const v = given.get(s.name) ?? fromEnv ?? before.get(s.name);
    if (v === undefined) missing.push(s);
    else values.set(s.name, v);
  }
  for (const k of Object.keys(env)) if (k.startsWith(BUILD_SECRET_ENV_PREFIX)) delete env[k];
  if (missing.length && required)
    throw new UsageError(
      `the build secret${missing.length > 1 ? 's' : ''} ${missing.map((s) => s.name + (s.description ? ` (${s.description})` : '')).join(', ')} of mpimg.json ($.build.secrets) ${missing.length > 1 ? 'have' : 'has'} no value: nothing was run`,
      `${HOW.replace(/NAME/g, missing[0].name)}; with make: make build HOST=<ip> SSH_OPTS="--secret ${missing[0].name}=@${missing[0].name.toLowerCase()}.txt"`,
    );
  setBuildSecrets(values);
  return () => setBuildSecrets(before);
}

/** The standard tasks that use the values: `mpimg run` of these needs every one of them. */
export const TASKS_USING_SECRETS: ReadonlySet<string> = new Set([
  'build',
  'testbuild',
  'repositories',
  'scripts',
  'check',
  'check-report',
]);

/** Replaces the values of this process's build secrets (tests, and loadBuildSecrets). */
export function setBuildSecrets(values: Map<string, string> | Record<string, string>): void {
  const s = store();
  s.clear();
  for (const [k, v] of values instanceof Map ? values : Object.entries(values)) s.set(k, v);
}

/** The values of the build secrets of this run, by name. */
export function buildSecretValues(): ReadonlyMap<string, string> {
  return store();
}

/**
 * What is searched for and masked: each value, and each line of a value of several lines long
 * enough not to be an ordinary word (a key's armour lines are no secret).
 */
export function secretNeedles(values: Iterable<string> = store().values()): string[] {
  const out = new Set<string>();
  for (const v of values) {
    out.add(v);
    if (v.includes('\n')) for (const line of secretLines(v)) out.add(line);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/** `text` with every build secret value (and long line of one) replaced by ***. */
export function redact(text: string): string {
  if (store().size === 0) return text;
  let t = text;
  for (const n of secretNeedles()) if (t.includes(n)) t = t.split(n).join(REDACTED);
  return t;
}
