/**
 * `mpimg new <dir> [options]`: the `yo mpimg` generator (core/app-project.ts) without Yeoman,
 * so it works where `yo` does not: as root (yo drops privileges) and with no terminal, where it
 * never waits on a prompt (missing answers come from --yes defaults or fail naming the option).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppProject } from '../../core/app-project.js';
import { ANSWER_SPECS, optionsHelp } from '../../core/options.js';
import { nextSteps } from '../../core/next-steps.js';
import { generationReport } from '../../core/write.js';
import { UsageError } from '../../core/errors.js';
import { linkThisPackage } from '../../core/package-link.js';
import { terminalPrompter } from './ask.js';
import { parseOptions } from './options.js';
import type { Command, CommandContext } from './types.js';

const usage = `Usage: mpimg new <dir> [options]

Creates an image project in <dir> (made if missing) with the same generator as \`yo mpimg\`.
Every question is also an option; with no terminal, give the answers as options or use --yes.
Run it again in an existing project to add what is missing: files you changed are kept and
reported (--force overwrites them).

Options:
${optionsHelp()}
  --link            link node_modules/generator-mpimg to this copy of generator-mpimg, so
                    \`make bundle\` works at once (for development; \`npm install\` replaces it)
  --package <spec>  where the project gets generator-mpimg: a .tgz made by \`npm pack\` or the
                    folder of a built clone (copied into vendor/, so the lock file CI installs
                    from holds no path of this machine), or an npm spec (version, URL, git URL).
                    Default: a copy of this generator-mpimg in vendor/ (it is not on the npm
                    registry yet)
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
  const parsed = parseOptions(argv, options, { command: 'new', usage, positionals: true, allowNegative: true }) as {
    values: ParsedValues;
    positionals: string[];
  };
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      parsed.positionals.length === 0 ? 'missing <dir>' : `one <dir> expected, got ${parsed.positionals.join(' ')}`,
      'e.g. `mpimg new acme-wiki --name "Acme Wiki" --yes`',
    );
  }
  return { dir: parsed.positionals[0], values: parsed.values };
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
  const prompt = terminalPrompter(ctx);
  const options: Record<string, unknown> = {
    yes: values.yes === true,
    force: values.force === true,
    nonInteractive: !prompt,
    cwd: ctx.cwd,
  };
  if (values.package !== undefined) options.package = values.package;
  for (const s of ANSWER_SPECS) if (values[s.option] !== undefined) options[s.option] = values[s.option];
  const app = await new AppProject(dir, options).run(prompt);
  if (values.link === true) linkThisPackage(dir);
  for (const w of app.warnings) ctx.stderr.write(`warning: ${w}\n`);
  const report = generationReport(app.writer, app.retired);
  if (report) ctx.stdout.write(`${report}\n`);
  ctx.stdout.write(nextSteps(dir, app.answers, ctx.cwd, values.link === true));
  return 0;
}

export default command;
