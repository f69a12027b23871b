import * as path from 'node:path';
import { loadProject } from '../bundle/project.js';
import { buildPlan } from '../bundle/plan-builder.js';
import { packageVersion } from '../paths.js';
import type { Command } from './types.js';

const command: Command = {
  name: 'validate',
  summary: 'check mpimg.json and the project folders, listing every problem',
  usage: `Usage: mpimg validate [DIR]

Checks mpimg.json against the schema and the project folders (first-boot/, first-login/, files/,
scripts/): every problem is listed with where it is and how to fix it. Exit 1 when there are problems.
`,
  async run(argv, ctx) {
    const dir = path.resolve(ctx.cwd, argv[0] ?? '.');
    const project = loadProject(dir);
    const plan = buildPlan(project, packageVersion());
    ctx.stdout.write(`${path.join(dir, 'mpimg.json')}: ok (${project.firstBoot.length} first-boot script(s), ${project.files.length} file(s), ${plan.ops.length} install operations)\n`);
    return 0;
  },
};
export default command;
