/**
 * `mpimg new <dir> [options]`: runs the `yo mpimg` app generator through yeoman-environment, so it
 * works where `yo` does not: as root (yo drops privileges) and with no terminal, where it never
 * waits on a prompt (missing answers come from --yes defaults or fail naming the option).
 */
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { Console } from 'node:console';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEnv } from 'yeoman-environment';
import { ANSWER_SPECS, optionsHelp, type Answers } from '../../generators/lib/options.js';
import { nextSteps } from '../../generators/lib/next-steps.js';
import { conflictReport } from '../../generators/lib/write.js';
import { MpimgError, UsageError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg new <dir> [options]

Creates an image project in <dir> (made if missing) with the same generator as \`yo mpimg\`.
Every question is also an option; with no terminal, give the answers as options or use --yes.
Run it again in an existing project to add what is missing: files you changed are kept and
reported (--force overwrites them).

Options:
${optionsHelp()}
  --link            link node_modules/generator-mpimg to this copy of generator-mpimg
                    (instead of \`npm install\`; for development and offline use)
`;

/** The compiled generator next to this module: lib/tasks/commands → lib/generators/app. */
const APP_GENERATOR = fileURLToPath(new URL('../../generators/app/index.js', import.meta.url));

type ParsedValues = Record<string, string | boolean | undefined>;

function parse(argv: string[]): { dir: string; values: ParsedValues } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    yes: { type: 'boolean', short: 'y' },
    force: { type: 'boolean', short: 'f' },
    link: { type: 'boolean' },
  };
  for (const s of ANSWER_SPECS) options[s.option] = { type: s.kind === 'boolean' ? 'boolean' : 'string' };
  let parsed: { values: ParsedValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, allowNegative: true }) as typeof parsed;
  } catch (err) {
    throw new UsageError((err as Error).message, 'run `mpimg new --help` for the options');
  }
  if (parsed.positionals.length !== 1) {
    throw new UsageError(parsed.positionals.length === 0 ? 'missing <dir>' : `one <dir> expected, got ${parsed.positionals.join(' ')}`, 'e.g. `mpimg new acme-wiki --name "Acme Wiki" --yes`');
  }
  return { dir: parsed.positionals[0], values: parsed.values };
}

interface AppGeneratorLike {
  answers?: Answers;
  writer?: { conflicts: string[] };
}

/**
 * --link: node_modules/generator-mpimg → this package, plus its bin, so `make bundle` works in the
 * new project without a registry (development, CI, the README's main job).
 */
function linkThisPackage(dir: string): void {
  const nm = join(dir, 'node_modules');
  mkdirSync(join(nm, '.bin'), { recursive: true });
  const pkg = join(nm, 'generator-mpimg');
  rmSync(pkg, { recursive: true, force: true });
  symlinkSync(packageRoot(), pkg, 'dir');
  const bin = join(nm, '.bin', 'mpimg');
  rmSync(bin, { force: true });
  symlinkSync('../generator-mpimg/bin/mpimg.js', bin);
}

const command: Command = {
  name: 'new',
  summary: 'scaffold a new image project (works as root and without a TTY)',
  usage,
  async run(argv, ctx) {
    const { dir: dirArg, values } = parse(argv);
    const dir = resolve(ctx.cwd, dirArg);
    mkdirSync(dir, { recursive: true });
    const interactive = Boolean(process.stdin.isTTY) && ctx.isTTY;

    const generatorOptions: Record<string, unknown> = {
      localConfigOnly: true,
      skipInstall: true,
      'skip-next-steps': true,
      yes: values.yes === true,
      force: values.force === true,
      'non-interactive': !interactive,
    };
    for (const s of ANSWER_SPECS) if (values[s.option] !== undefined) generatorOptions[s.option] = values[s.option];

    const env = createEnv({
      cwd: dir,
      skipInstall: true,
      stdout: ctx.stdout as NodeJS.WriteStream,
      stderr: ctx.stderr as NodeJS.WriteStream,
      console: new Console(ctx.stderr, ctx.stderr),
    });
    if (!interactive) {
      // Safety net: nothing may wait on a terminal that is not there.
      env.adapter.prompt = (async (questions: unknown) => {
        const names = (Array.isArray(questions) ? questions : [questions]).map((q) => (q as { name?: string }).name).join(', ');
        throw new MpimgError(`a question came up with no terminal to ask on (${names})`, {
          hint: 'pass the answer as an option (see `mpimg new --help`) or use --yes',
        });
      }) as typeof env.adapter.prompt;
    }
    env.register(APP_GENERATOR, { namespace: 'mpimg:app' });
    const generator = (await env.create('mpimg:app', { generatorArgs: [], generatorOptions })) as unknown as AppGeneratorLike;
    await env.runGenerator(generator as never);

    if (values.link === true) linkThisPackage(dir);
    const report = conflictReport(generator.writer?.conflicts ?? []);
    if (report) ctx.stdout.write(`${report}\n`);
    if (generator.answers) ctx.stdout.write(nextSteps(dir, generator.answers, ctx.cwd, values.link === true));
    return 0;
  },
};

export default command;
