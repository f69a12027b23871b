import * as fs from 'node:fs';
import * as path from 'node:path';
import { readManifest } from '../../core/manifest-file.js';
import { loadProject } from '../bundle/project.js';
import { catalogWarnings } from '../bundle/build-script.js';
import { BUILD_SCRIPT_COMMANDS } from '../steps/index.js';
import { shellcheckWarnings } from '../bundle/script-check.js';
import { writeBundle } from '../bundle/write-bundle.js';
import { variableOverrides } from '../bundle/variables.js';
import { MpimgError } from '../../core/errors.js';
import { shellcheckNotice, toNotice, writeWarnings } from './notices.js';
import { parseOptions, projectHelp, PROJECT_OPTION, projectDir } from './options.js';
import type { Command } from './types.js';

/** An --out that exists must be a folder (a file there would be replaced by nothing we can write). */
function outDir(cwd: string, given: string | undefined): string | undefined {
  if (given === undefined) return undefined;
  const dir = path.resolve(cwd, given);
  if (given === '' || (fs.existsSync(dir) && !fs.statSync(dir).isDirectory())) {
    throw new MpimgError(given === '' ? '--out is empty' : `--out ${JSON.stringify(given)} is a file, not a folder`, {
      where: dir,
      hint: 'give a folder (it is made if missing), e.g. --out build/images',
      exitCode: 2,
    });
  }
  return dir;
}

const command: Command = {
  name: 'bundle',
  summary: 'build dist/<slug>.cjs and dist/<slug>-install.sh from this image project',
  usage: `Usage: mpimg bundle [--project DIR] [--out DIR] [--var NAME=VALUE]...

Validates mpimg.json and the project folders, then writes:
  dist/<slug>.cjs         the runtime with this project's payload (run with node 18+)
  dist/<slug>-install.sh  the same plan as a POSIX-sh installer (droplets without Node)
  dist/<slug>-build.sh    the catalog build steps (${BUILD_SCRIPT_COMMANDS.join(', ')})
  dist/<slug>.pkr.hcl     the Packer template of the same build (generated: never edit it)

Options:
${projectHelp()}
  --out DIR         output folder (default: <project>/dist); the Packer template written there
                    finds the project from where it is
  --var NAME=VALUE  give a variable of mpimg.json ("variables") this value for this bundle
                    (repeatable; MPIMG_VAR_<NAME>=VALUE in the environment does the same, --var wins)
`,
  async run(argv, ctx) {
    const { values } = parseOptions(
      argv,
      { ...PROJECT_OPTION, out: { type: 'string' }, var: { type: 'string', multiple: true } },
      { command: 'bundle', usage: command.usage },
    );
    const dir = projectDir(ctx, values.project);
    const out = outDir(ctx.cwd, values.out);
    const overrides = variableOverrides(readManifest(dir), values.var ?? [], ctx.env);
    const project = loadProject(dir, { overrides });
    writeWarnings(ctx.stderr, [
      ...shellcheckWarnings(project.scripts, dir).map(shellcheckNotice),
      ...catalogWarnings(project.manifest).map(toNotice),
    ]);
    const r = writeBundle(project, out);
    const rel = (p: string) => path.relative(ctx.cwd, p) || p;
    ctx.stdout.write(
      `wrote ${rel(r.cjs)} (${r.runtimeBytes + r.payloadBytes} bytes: runtime ${r.runtimeBytes}, payload ${r.payloadBytes})\n`,
    );
    ctx.stdout.write(`wrote ${rel(r.sh)}\n`);
    ctx.stdout.write(`wrote ${rel(r.build)} (the build steps of mpimg.json)\n`);
    // Names only: a value is the vendor's to show (it may be a licence key).
    const given = Object.keys(overrides).sort();
    if (given.length)
      ctx.stdout.write(`variables given for this bundle (instead of mpimg.json's defaults): ${given.join(', ')}\n`);
    ctx.stdout.write(`wrote ${rel(r.packer)} (the Packer template, from mpimg.json)\n`);
    return 0;
  },
};
export default command;
