/**
 * The options of every command, read one way. Node's parseArgs splits the words; the mistakes (an
 * unknown option, a value missing or not wanted, an argument where none is taken) are worded here in
 * the tool's terms, with a did-you-mean and the command's usage line, so Node's own wording
 * ("Unknown option '--x'. To specify a positional argument ...") never reaches a user.
 *
 * The project folder is one of these options: `--project DIR` means the same in every command.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { closest } from '../../runtime/schema.js';
import { MpimgError, UsageError } from '../../core/errors.js';
import type { CommandContext } from './types.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

type ValueOf<S extends OptionSpec> = S['type'] extends 'string'
  ? S['multiple'] extends true
    ? string[]
    : string
  : S['multiple'] extends true
    ? boolean[]
    : boolean;

export type OptionValues<O extends Record<string, OptionSpec>> = { [K in keyof O]?: ValueOf<O[K]> };

export interface ParseRules {
  /** The command's name as typed after `mpimg` (e.g. "validate", "add motd"). */
  command: string;
  /** The command's usage text: its `Usage:` line goes into every message. */
  usage: string;
  /** Words that are not options are allowed (the command checks how many). Default false. */
  positionals?: boolean;
  /** `--no-<name>` turns a boolean option off. Default false. */
  allowNegative?: boolean;
}

/** The `Usage:` paragraph of a usage text, on one line, without the word "Usage:". */
export function synopsis(usage: string): string {
  const para = usage.trim().split(/\n\s*\n/)[0] ?? '';
  return para
    .replace(/^Usage:\s*/i, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/** A usage error about the command line, with the command's usage line and where to read more. */
export function usageError(message: string, rules: Pick<ParseRules, 'command' | 'usage'>, first?: string): UsageError {
  const more = `\`mpimg ${rules.command.split(' ')[0]} --help\` explains every option`;
  return new UsageError(message, `${first ? `${first}; ` : ''}usage: ${synopsis(rules.usage)} (${more})`);
}

/** What the usage text shows after `--name` ("<host>", "DIR", "NAME=VALUE"), else VALUE. */
function placeholder(usage: string, name: string): string {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`--${esc}[ =](<[^>\n]+>|[A-Z][A-Z_=]*)`).exec(usage)?.[1] ?? 'VALUE';
}

/** A value that starts with "-" given as the next word: parseArgs' strict mode calls this ambiguous. */
const optionLike = (v: string): boolean => v.length > 1 && v.startsWith('-');

/**
 * Parses `argv` against `options`; every mistake is a UsageError (exit 2) in the tool's words.
 * A repeated option that takes one value keeps the last one (a Makefile's extra options can override).
 */
export function parseOptions<const O extends Record<string, OptionSpec>>(
  argv: string[],
  options: O,
  rules: ParseRules,
): { values: OptionValues<O>; positionals: string[] } {
  const { tokens } = parseArgs({
    args: argv,
    options,
    strict: false,
    allowPositionals: true,
    allowNegative: rules.allowNegative === true,
    tokens: true,
  });
  const longNames = Object.keys(options).map((n) => `--${n}`);
  for (const t of tokens) {
    if (t.kind === 'positional') {
      if (!rules.positionals) throw usageError(`mpimg ${rules.command} takes no arguments, got "${t.value}"`, rules);
      continue;
    }
    if (t.kind !== 'option') continue;
    const own = (name: string): OptionSpec | undefined => (Object.hasOwn(options, name) ? options[name] : undefined);
    const spec = own(t.name);
    // `--no-x`: with allowNegative parseArgs names it "x"; a value after it, or no allowNegative, keeps "no-x".
    const isNo = t.rawName.startsWith('--no-');
    const negated = isNo && t.rawName !== `--${t.name}`;
    if (!spec || (negated && spec.type !== 'boolean')) {
      const switched = isNo ? own(t.rawName.slice(5)) : undefined;
      if (switched?.type === 'boolean') {
        if (rules.allowNegative)
          throw usageError(
            `${t.rawName} takes no value, got ${t.rawName}=${t.value}`,
            rules,
            `give ${t.rawName} alone`,
          );
        throw usageError(
          `unknown option ${t.rawName}`,
          rules,
          `--${t.rawName.slice(5)} is off unless given: leave it out`,
        );
      }
      const near = t.rawName.startsWith('--') ? closest(t.rawName, longNames) : undefined;
      throw usageError(`unknown option ${t.rawName}${near ? ` (did you mean ${near}?)` : ''}`, rules);
    }
    if (spec.type === 'boolean') {
      if (t.value !== undefined)
        throw usageError(`${t.rawName} takes no value, got ${t.rawName}=${t.value}`, rules, `give ${t.rawName} alone`);
      continue;
    }
    if (t.value === undefined)
      throw usageError(`${t.rawName} needs a value`, rules, `e.g. ${t.rawName} ${placeholder(rules.usage, t.name)}`);
    if (!t.inlineValue && optionLike(t.value)) {
      throw usageError(
        `${t.rawName} needs a value, got the option ${t.value}`,
        rules,
        `give the value after ${t.rawName}; a value that starts with "-" goes as ${t.rawName}=${t.value}`,
      );
    }
  }
  try {
    const r = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: true,
      allowNegative: rules.allowNegative === true,
    });
    return { values: r.values as OptionValues<O>, positionals: r.positionals };
  } catch {
    // Every case strict mode refuses is worded above; this is the guard for one Node adds later.
    throw usageError(`cannot read the options ${argv.map((a) => JSON.stringify(a)).join(' ')}`, rules);
  }
}

/** `--project DIR`: the image project a command works on, the same in every command. */
export const PROJECT_OPTION = { project: { type: 'string' } } as const;

/** The options that reach a droplet over SSH, the same in every command that does (run, outdated). */
export const SSH_TARGET_OPTIONS = {
  host: { type: 'string' },
  user: { type: 'string' },
  port: { type: 'string' },
  identity: { type: 'string' },
  'strict-host-keys': { type: 'boolean' },
  'known-hosts': { type: 'string' },
  'ssh-config': { type: 'string' },
  'wait-attempts': { type: 'string' },
  'cloud-init-timeout': { type: 'string' },
} as const;

/** A whole-number option within [min, max], `def` when not given; a usage error otherwise. */
export function intOption(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`, `e.g. --${name} ${def}`);
  return n;
}

/** The line of `--project` in a command's Options list, its text starting at column `at`. */
export function projectHelp(at = 20): string {
  return `  ${'--project DIR'.padEnd(at - 2)}the image project to work on (default: the current folder)`;
}

/**
 * The project folder: `given` (from --project, or the positional DIR where a command takes one,
 * named by `label`) resolved against the folder mpimg was started in, else that folder. A given
 * folder must exist, be a folder (a link to one is fine) and hold mpimg.json; each miss says which.
 */
export function projectDir(ctx: Pick<CommandContext, 'cwd'>, given: string | undefined, label = '--project'): string {
  if (given === undefined) return ctx.cwd;
  const shown = `${label} ${JSON.stringify(given)}`;
  if (given === '')
    throw new UsageError(`${label} is empty`, `give the folder that holds mpimg.json, e.g. ${label} images/web`);
  const dir = path.resolve(ctx.cwd, given);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    const dangling = (() => {
      try {
        return fs.lstatSync(dir).isSymbolicLink();
      } catch {
        return false;
      }
    })();
    throw new MpimgError(
      `${shown}: ${dangling ? `a link to ${JSON.stringify(fs.readlinkSync(dir))}, which does not exist` : 'no such folder'}`,
      {
        where: dir,
        hint: 'give the folder that holds mpimg.json (create a project with `mpimg new <dir>`)',
        exitCode: 2,
      },
    );
  }
  if (!st.isDirectory()) {
    throw new MpimgError(`${shown} is a file, not a folder`, {
      where: dir,
      hint: `give the folder that holds mpimg.json${path.basename(dir) === 'mpimg.json' ? ` (${JSON.stringify(path.dirname(given) || '.')})` : ''}`,
      exitCode: 2,
    });
  }
  if (!fs.existsSync(path.join(dir, 'mpimg.json'))) {
    throw new MpimgError(`${shown} is not an image project: it has no mpimg.json`, {
      where: dir,
      hint: 'give the folder that holds mpimg.json (create a project with `mpimg new <dir>`)',
      exitCode: 2,
    });
  }
  return dir;
}

/** The context of a command run inside the project `given` by --project (the same one without it). */
export function inProject<C extends CommandContext>(ctx: C, given: string | undefined): C {
  return given === undefined ? ctx : { ...ctx, cwd: projectDir(ctx, given) };
}
