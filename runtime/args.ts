/**
 * The runtime's command line: each command declares its options, and the arguments are checked
 * against them with messages in the tool's own words (never parseArgs'). Help texts come from the
 * same declarations. Node 18 APIs only (bundled into the runtime).
 */
import { parseArgs } from 'node:util';

/** Every option a command may take: its kind and, for a string, the word shown for its value. */
export const OPTIONS = {
  root: { type: 'string', arg: 'DIR' },
  json: { type: 'boolean' },
  'remove-self': { type: 'boolean' },
  only: { type: 'string', arg: 'seeded', values: ['seeded'] },
  force: { type: 'boolean' },
} as const;
export type OptionName = keyof typeof OPTIONS;
export type Values = { root?: string; only?: string; json?: boolean; 'remove-self'?: boolean; force?: boolean };

export interface CommandSpec {
  name: string;
  summary: string;
  /** The options it takes, each with its help line for this command. */
  options: Partial<Record<OptionName, string>>;
  /** Its arguments go unparsed to the script it runs (cleanup, check): they have their own --help. */
  passThrough?: boolean;
}

/** An argument the command cannot take: what was wrong and how to fix it. */
export class ArgsError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

const flag = (name: OptionName): string => {
  const o: { type: string; arg?: string } = OPTIONS[name];
  return o.type === 'string' ? `--${name} ${o.arg}` : `--${name}`;
};

/** The command's options, or 'help' when it was asked for its help (-h, --help). */
export function parseCommandArgs(cmd: CommandSpec, args: string[]): Values | 'help' {
  const known = Object.keys(cmd.options) as OptionName[];
  const see = `see \`node <bundle> ${cmd.name} --help\``;
  const takes = known.length ? `${cmd.name} takes ${known.map(flag).join(', ')} (${see})` : see;
  const options = Object.fromEntries(known.map((k) => [k, { type: OPTIONS[k].type }]));
  const { tokens } = parseArgs({
    args,
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, string | boolean> = {};
  for (const t of tokens) {
    if (t.kind === 'positional') throw new ArgsError(`${cmd.name} takes no argument "${t.value}"`, takes);
    if (t.kind !== 'option') continue;
    if (t.name === 'help') return 'help';
    if (!known.includes(t.name as OptionName))
      throw new ArgsError(`${cmd.name} does not take the option ${t.rawName}`, takes);
    const name = t.name as OptionName;
    if (OPTIONS[name].type === 'boolean') {
      if (t.inlineValue) throw new ArgsError(`${t.rawName} takes no value`, `write ${t.rawName} alone`);
      values[name] = true;
    } else {
      // `--root --json`: a forgotten value, not a folder named --json (--root=-x names one on purpose).
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))) {
        throw new ArgsError(
          `${t.rawName} needs a value`,
          `write ${flag(name)} (or ${t.rawName}=VALUE when it starts with "-")`,
        );
      }
      const allowed: readonly string[] | undefined = (OPTIONS[name] as { values?: readonly string[] }).values;
      if (allowed && !allowed.includes(t.value)) {
        throw new ArgsError(
          `${t.rawName} ${t.value} is not known here`,
          `${allowed.map((v) => `\`${cmd.name} ${t.rawName} ${v}\``).join(', ')}: ${cmd.options[name]}`,
        );
      }
      values[name] = t.value;
    }
  }
  return values as Values;
}

const row = (left: string, text: string) => `  ${left.padEnd(14)}  ${text}`;

/** The help of one command. */
export function commandHelp(cmd: CommandSpec): string {
  if (cmd.passThrough) {
    return `Usage: node <bundle> ${cmd.name} [its own options]\n\n${cmd.summary}\n(\`node <bundle> ${cmd.name} --help\` shows them)\n`;
  }
  const lines = (Object.entries(cmd.options) as Array<[OptionName, string]>).map(([k, help]) => row(flag(k), help));
  return [
    `Usage: node <bundle> ${cmd.name} [options]`,
    '',
    cmd.summary,
    '',
    'Options:',
    ...lines,
    row('-h, --help', 'this help'),
    '',
  ].join('\n');
}

/** The help of the runtime: every command, and every option with the commands that take it. */
export function usage(commands: readonly CommandSpec[]): string {
  const parsing = commands.filter((c) => !c.passThrough);
  const options: string[] = [];
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const users = parsing.filter((c) => c.options[name] !== undefined);
    const helps = [...new Set(users.map((c) => c.options[name]!))];
    if (helps.length === 1) {
      options.push(
        row(
          flag(name),
          users.length === parsing.length ? helps[0] : `${users.map((c) => c.name).join(', ')}: ${helps[0]}`,
        ),
      );
      continue;
    }
    helps.forEach((h, i) =>
      options.push(
        row(
          i === 0 ? flag(name) : '',
          `${users
            .filter((c) => c.options[name] === h)
            .map((c) => c.name)
            .join(', ')}: ${h}`,
        ),
      ),
    );
  }
  return [
    'Usage: node <bundle> <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(10)}  ${c.summary}`),
    '',
    'Options:',
    ...options,
    row('-h, --help', 'this help (`<command> --help`: the options of that command)'),
    row('-v, --version', 'print the version'),
    '',
  ].join('\n');
}
