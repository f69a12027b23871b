import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { isStandard } from '../ssh/task.js';
import { projectTasks } from '../standard/index.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg tasks [--json]

Lists the tasks defined in ./mpimgfile.mjs with their descriptions.
Run one with: mpimg run <task> --host <host>

Options:
  --json   print [{"name","description"}] as JSON
`;

const command: Command = {
  name: 'tasks',
  summary: "list the tasks of this project's mpimgfile.mjs",
  usage,
  async run(argv, ctx) {
    let values: { json?: boolean };
    try {
      ({ values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: false, strict: true }));
    } catch (err) {
      throw new UsageError((err as Error).message, 'run `mpimg tasks --help`');
    }
    const { tasks } = await projectTasks(ctx.cwd);
    const list = [...tasks.values()].map((t) => ({ name: t.taskName, description: t.description, standard: isStandard(t) }));
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    const width = Math.max(...list.map((t) => t.name.length));
    const rows = (std: boolean) => list.filter((t) => t.standard === std).map((t) => `  ${t.name.padEnd(width)}  ${t.description}`);
    const own = rows(false);
    ctx.stdout.write(`Tasks (mpimg run <task> --host <host>):\n${rows(true).join('\n')}\n${own.length ? `This project's own tasks (mpimgfile.mjs):\n${own.join('\n')}\n` : ''}`);
    return 0;
  },
};

export default command;
