import { packageVersion } from './paths.js';
import { MpimgError } from './errors.js';
import type { Command, CommandContext } from './commands/types.js';

/** Every command lives in its own module under tasks/commands/, loaded only when used. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ default: Command }> }> = {
  new: { summary: 'scaffold a new image project (works as root and without a TTY)', load: () => import('./commands/new.js') },
  import: { summary: 'turn a Packer image project (DigitalOcean layouts) into a new image project', load: () => import('./commands/import.js') },
  add: { summary: 'add a first-boot step, the first-login script or the MOTD to this project', load: () => import('./commands/add.js') },
  bundle: { summary: 'build dist/<slug>.cjs and dist/<slug>-install.sh from this image project', load: () => import('./commands/bundle.js') },
  upgrade: { summary: 'refresh the generated files you never edited to the installed generator-mpimg', load: () => import('./commands/upgrade.js') },
  validate: { summary: 'check mpimg.json and the project folders, listing every problem', load: () => import('./commands/validate.js') },
  tasks: { summary: 'list the tasks of this project\'s mpimgfile.mjs', load: () => import('./commands/tasks.js') },
  run: { summary: 'run a task on a droplet over SSH: mpimg run <task> --host <host>', load: () => import('./commands/run.js') },
  snapshot: { summary: 'power off a droplet, snapshot it and print the line to submit', load: () => import('./commands/snapshot.js') },
  image: { summary: 'create a build droplet, build, snapshot and destroy it (--verify, --release, --all)', load: () => import('./commands/image.js') },
  verify: { summary: 'create a droplet from a snapshot, check it after first boot, destroy it', load: () => import('./commands/verify.js') },
  release: { summary: 'point the Marketplace listing at a snapshot (Vendor API)', load: () => import('./commands/release.js') },
};

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: mpimg <command> [options]',
    '',
    'Build DigitalOcean Marketplace 1-click images from a scaffolded, tested project.',
    '',
    'Commands:',
    ...rows,
    '',
    'Options:',
    '  -h, --help     show help (also: mpimg <command> --help)',
    '  -v, --version  print the version',
    '',
  ].join('\n');
}

export function defaultContext(): CommandContext {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stdout.isTTY),
    signal: ac.signal,
  };
}

export async function main(argv: string[], ctx: CommandContext = defaultContext()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    ctx.stdout.write(helpText());
    return first === undefined ? 2 : 0;
  }
  if (first === '-v' || first === '--version') {
    ctx.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const entry = COMMANDS[first];
  if (!entry) {
    ctx.stderr.write(`error: unknown command "${first}"\n  fix: run \`mpimg --help\` to see the commands\n`);
    return 2;
  }
  const cmd = (await entry.load()).default;
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.stdout.write(cmd.usage.endsWith('\n') ? cmd.usage : `${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest, ctx);
  } catch (err) {
    if (err instanceof MpimgError) {
      ctx.stderr.write(`${err.format()}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
