/**
 * `mpimg new <dir> [options]`: runs the `yo mpimg` app generator through yeoman-environment, so it
 * works where `yo` does not: as root (yo drops privileges) and with no terminal, where it never
 * waits on a prompt (missing answers come from --yes defaults or fail naming the option).
 */
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ANSWER_SPECS, optionsHelp, type Answers } from '../../generators/lib/options.js';
import { nextSteps } from '../../generators/lib/next-steps.js';
import { generationReport } from '../../generators/lib/write.js';
import { UsageError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { Command, CommandContext } from './types.js';
import { runGenerator } from './yeoman.js';

const usage = `Usage: mpimg new <dir> [options]

Creates an image project in <dir> (made if missing) with the same generator as \`yo mpimg\`.
Every question is also an option; with no terminal, give the answers as options or use --yes.
Run it again in an existing project to add what is missing: files you changed are kept and
reported (--force overwrites them).

Options:
${optionsHelp()}
  --link            link node_modules/generator-mpimg to this copy of generator-mpimg
                    (instead of \`npm install\`; for development and offline use)
  --package <spec>  where npm gets generator-mpimg for the project: a version range, a tarball
                    path or URL, or a git URL (default: this release from the registry)
`;


type ParsedValues = Record<string, string | boolean | undefined>;

function parse(argv: string[]): { dir: string; values: ParsedValues } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    yes: { type: 'boolean', short: 'y' },
    force: { type: 'boolean', short: 'f' },
    link: { type: 'boolean' },
    package: { type: 'string' },
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

export interface AppGeneratorLike {
  answers?: Answers;
  writer?: Parameters<typeof generationReport>[0];
  retired?: Parameters<typeof generationReport>[1];
}

/**
 * --link: node_modules/generator-mpimg → this package, plus its bin, so `make bundle` works in the
 * new project without a registry (development, CI, the README's main job).
 */
export function linkThisPackage(dir: string): void {
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
    // A run that fails leaves no folder it made behind, parents of a/b/c included (mkdirSync returns
    // the topmost one it created); an existing folder is never removed.
    const made = mkdirSync(dir, { recursive: true });
    try {
      return await generate(dir, values, ctx);
    } catch (e) {
      if (made) rmSync(made, { recursive: true, force: true });
      throw e;
    }
  },
};

async function generate(dir: string, values: ParsedValues, ctx: CommandContext): Promise<number> {
  const options: Record<string, unknown> = { 'skip-next-steps': true, yes: values.yes === true, force: values.force === true };
  if (values.package !== undefined) options.package = values.package;
  for (const s of ANSWER_SPECS) if (values[s.option] !== undefined) options[s.option] = values[s.option];
  const generator = await runGenerator<AppGeneratorLike>('app', dir, ctx, { options });
  if (values.link === true) linkThisPackage(dir);
  const report = generator.writer ? generationReport(generator.writer, generator.retired) : '';
  if (report) ctx.stdout.write(`${report}\n`);
  if (generator.answers) ctx.stdout.write(nextSteps(dir, generator.answers, ctx.cwd, values.link === true));
  return 0;
}

export default command;
