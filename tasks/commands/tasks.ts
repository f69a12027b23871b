import { isStandard } from '../ssh/task.js';
import { projectTasks } from '../standard/index.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg tasks [--project DIR] [--json]

Lists the tasks of the project's mpimgfile.mjs (the standard ones and its own) with their descriptions.
Run one with: mpimg run <task> --host <host>

Options:
${projectHelp()}
  --json            print [{"name","description","standard"}] as JSON
`;

const command: Command = {
  name: 'tasks',
  summary: "list the tasks of this project's mpimgfile.mjs",
  usage,
  async run(argv, ctx) {
    const { values } = parseOptions(
      argv,
      { ...PROJECT_OPTION, json: { type: 'boolean' } },
      { command: 'tasks', usage },
    );
    const { tasks } = await projectTasks(inProject(ctx, values.project).cwd);
    const list = [...tasks.values()].map((t) => ({
      name: t.taskName,
      description: t.description,
      standard: isStandard(t),
    }));
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    const width = Math.max(...list.map((t) => t.name.length));
    const rows = (std: boolean) =>
      list.filter((t) => t.standard === std).map((t) => `  ${t.name.padEnd(width)}  ${t.description}`);
    const own = rows(false);
    ctx.stdout.write(
      `Tasks (mpimg run <task> --host <host>):\n${rows(true).join('\n')}\n${own.length ? `This project's own tasks (mpimgfile.mjs):\n${own.join('\n')}\n` : ''}`,
    );
    return 0;
  },
};

export default command;
