/**
 * `mpimg upgrade`: the project's generated files follow the installed generator-mpimg. Files the
 * vendor never edited are refreshed, files no longer generated are removed, edited ones are kept and
 * listed with the command that compares them (`--show FILE` prints what this release would write).
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readManifest } from '../../core/manifest-file.js';
import { PROJECT_FILES } from '../../core/files.js';
import { answersFromManifest, templateContext } from '../../core/project.js';
import { knownAnswers, withDefaults } from '../../core/resolve.js';
import { generationReport, renderTemplate } from '../../core/write.js';
import { MpimgError, UsageError } from '../../core/errors.js';
import { packageVersion } from '../../core/paths.js';
import { AppProject } from '../../core/app-project.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import type { Command } from './types.js';
import { generatorConfig } from '../../core/yo-rc.js';

const usage = `Usage: mpimg upgrade [--force [FILE...]] [--show FILE]

Brings this image project's generated files to the installed generator-mpimg: every file you never
edited is refreshed, files a project no longer has are removed (the package or \`make bundle\` provide
them now), and every file you edited is kept and listed with the command that compares it.
mpimg.json and package.json stay yours.

Options:
  --show FILE   print what this release would write at FILE (e.g. | diff -u FILE -)
  -f, --force   also overwrite the files you edited (your edits there are lost); with FILEs,
                only those (e.g. \`mpimg upgrade --force Makefile\` after reviewing it)
${projectHelp(16)}
`;

function show(dir: string, rel: string): string {
  const stored = generatorConfig(dir);
  const answers = withDefaults(
    { ...knownAnswers({}, stored), ...answersFromManifest(readManifest(dir)) },
    basename(dir),
  );
  const ctx = templateContext(answers);
  const file = PROJECT_FILES.find((f) => f.dest(ctx) === rel);
  if (!file)
    throw new UsageError(
      `${rel} is not a file the generator writes`,
      `one of: ${PROJECT_FILES.map((f) => f.dest(ctx)).join(', ')}`,
    );
  return renderTemplate(file, ctx).toString('utf8');
}

/** FILE as the project path the generator writes (./Makefile → Makefile), or a usage error naming the ones it does. */
function generatedPath(dir: string, file: string): string {
  const rel = file.replace(/^(\.\/)+/, '');
  const stored = generatorConfig(dir);
  const ctx = templateContext(
    withDefaults({ ...knownAnswers({}, stored), ...answersFromManifest(readManifest(dir)) }, basename(dir)),
  );
  const known = PROJECT_FILES.map((f) => f.dest(ctx));
  if (!known.includes(rel))
    throw new UsageError(`${file} is not a file the generator writes`, `one of: ${known.join(', ')}`);
  return rel;
}

const command: Command = {
  name: 'upgrade',
  summary: 'refresh the generated files you never edited to the installed generator-mpimg',
  usage,
  async run(argv, ctx) {
    const { values, positionals: files } = parseOptions(
      argv,
      { ...PROJECT_OPTION, force: { type: 'boolean', short: 'f' }, show: { type: 'string' } },
      { command: 'upgrade', usage, positionals: true },
    );
    if (files.length && !values.force)
      throw new UsageError(
        `FILE arguments go with --force: ${files.join(' ')}`,
        'e.g. `mpimg upgrade --force Makefile` (see `mpimg upgrade --help`)',
      );
    ctx = inProject(ctx, values.project);
    if (!existsSync(join(ctx.cwd, 'mpimg.json'))) {
      throw new MpimgError('no mpimg.json in this folder', {
        where: ctx.cwd,
        hint: 'run `mpimg upgrade` inside an image project',
      });
    }
    if (values.show !== undefined) {
      ctx.stdout.write(show(ctx.cwd, values.show));
      return 0;
    }
    const force = files.length ? new Set(files.map((f) => generatedPath(ctx.cwd, f))) : values.force === true;
    const gen = await new AppProject(ctx.cwd, { yes: true, force, nonInteractive: true }).run();
    const report = generationReport(gen.writer, gen.retired);
    ctx.stdout.write(
      report
        ? `${report}\n`
        : `Nothing to upgrade: every generated file is as generator-mpimg ${packageVersion()} writes it (or yours).\n`,
    );
    return 0;
  },
};

export default command;
