import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadProject } from '../bundle/project.js';
import { buildPlan } from '../bundle/plan-builder.js';
import { catalogWarnings } from '../bundle/build-script.js';
import { packerWarnings } from '../bundle/packer-version.js';
import { shellcheckWarnings } from '../bundle/script-check.js';
import { staleness } from '../bundle/staleness.js';
import { MpimgError, UsageError } from '../errors.js';
import { packageVersion } from '../paths.js';
import type { Command } from './types.js';

const command: Command = {
  name: 'validate',
  summary: 'check mpimg.json and the project folders, listing every problem',
  usage: `Usage: mpimg validate [DIR]

Checks mpimg.json against the schema and the project folders (first-boot/, first-login/, files/,
scripts/): every problem is listed with where it is and how to fix it. Every script is parsed by
the shell its #! line names (sh -n, bash -n); shellcheck's findings, when it is installed, are
listed as warnings. Generated files that no longer follow mpimg.json (dist/ from an older bundle,
an unedited project file from an older release) are listed as stale. Exit 1 when there are problems.
`,
  async run(argv, ctx) {
    let positionals: string[];
    try {
      ({ positionals } = parseArgs({ args: argv, options: {}, allowPositionals: true, strict: true }));
    } catch (e) {
      throw new UsageError((e as Error).message, 'see `mpimg validate --help`');
    }
    if (positionals.length > 1) throw new UsageError(`one DIR at most, got ${positionals.join(' ')}`, 'mpimg validate [DIR]');
    const dir = path.resolve(ctx.cwd, positionals[0] ?? '.');
    const project = loadProject(dir);
    const plan = buildPlan(project, packageVersion());
    for (const w of [...shellcheckWarnings(project.scripts, dir), ...catalogWarnings(project.manifest)]) ctx.stderr.write(`warning: ${w}\n`);
    for (const w of packerWarnings(project, ctx.env)) ctx.stderr.write(`warning: ${w}\n`);
    const st = staleness(project);
    for (const w of st.warnings) ctx.stderr.write(`warning: ${w}\n`);
    if (st.stale.length) {
      throw new MpimgError(`${st.stale.length} generated file(s) no longer follow mpimg.json:\n${st.stale.map((s) => `  ${s.path}: ${s.fix}`).join('\n')}`, {
        where: path.join(dir, 'mpimg.json'), hint: 'run what each line says (generated files are never edited by hand)',
      });
    }
    ctx.stdout.write(`${path.join(dir, 'mpimg.json')}: ok (${project.firstBoot.length} first-boot script(s), ${project.files.length} file(s), ${plan.ops.length} install operations)\n`);
    return 0;
  },
};
export default command;
