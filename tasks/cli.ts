import { packageVersion } from '../core/paths.js';
import { closest } from '../runtime/schema.js';
import { MpimgError, UsageError } from '../core/errors.js';
import type { Command, CommandContext } from './commands/types.js';

/** Every command lives in its own module under tasks/commands/, loaded only when used. */
const COMMANDS: Record<string, { summary: string; hidden?: boolean; load: () => Promise<{ default: Command }> }> = {
  new: {
    summary: 'scaffold a new image project (works as root and without a TTY)',
    load: () => import('./commands/new.js'),
  },
  import: {
    summary: 'turn a Packer image project (DigitalOcean layouts) into a new image project',
    load: () => import('./commands/import.js'),
  },
  add: {
    summary: 'add a first-boot step, the first-login script or the MOTD to this project',
    load: () => import('./commands/add.js'),
  },
  bundle: {
    summary: 'build dist/<slug>.cjs and dist/<slug>-install.sh from this image project',
    load: () => import('./commands/bundle.js'),
  },
  upgrade: {
    summary: 'refresh the generated files you never edited to the installed generator-mpimg',
    load: () => import('./commands/upgrade.js'),
  },
  validate: {
    summary: 'check mpimg.json and the project folders, listing every problem',
    load: () => import('./commands/validate.js'),
  },
  tasks: { summary: "list the tasks of this project's mpimgfile.mjs", load: () => import('./commands/tasks.js') },
  run: {
    summary: 'run a task on a droplet over SSH: mpimg run <task> --host <host>',
    load: () => import('./commands/run.js'),
  },
  snapshot: {
    summary: 'power off a droplet, snapshot it and print the line to submit',
    load: () => import('./commands/snapshot.js'),
  },
  image: {
    summary: 'create a build droplet, build, snapshot and destroy it (--verify, --release, --all)',
    load: () => import('./commands/image.js'),
  },
  verify: {
    summary: 'create a droplet from a snapshot, check it after first boot, destroy it',
    load: () => import('./commands/verify.js'),
  },
  outdated: {
    summary: 'count pending updates on a droplet or a snapshot and name the security ones (exit 0/3/4)',
    load: () => import('./commands/outdated.js'),
  },
  release: {
    summary: 'point the Marketplace listing at a snapshot (Vendor API)',
    load: () => import('./commands/release.js'),
  },
  images: {
    summary: 'list the build records of this project (images/), newest first',
    load: () => import('./commands/images.js'),
  },
  // Run by the Packer template (dist/<slug>.pkr.hcl), not by hand: left out of the help.
  record: {
    summary: "write the build record of a Packer build (run by the bundle's Packer template)",
    hidden: true,
    load: () => import('./commands/record.js'),
  },
};

function helpText(): string {
  const shown = Object.entries(COMMANDS).filter(([, c]) => !c.hidden);
  const width = Math.max(...shown.map(([n]) => n.length));
  const rows = shown.map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: mpimg <command> [options]',
    '',
    'Build DigitalOcean Marketplace 1-click images from a scaffolded, tested project.',
    '',
    'Commands:',
    ...rows,
    '',
    'Options:',
    '  -h, --help     show help (also: mpimg help <command>, mpimg <command> --help)',
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

/** The command nearest to a mistyped one: a small edit away, or the only one it begins. */
function suggestCommand(word: string): string | undefined {
  const names = Object.keys(COMMANDS);
  return (
    closest(word, names) ??
    (() => {
      const starts = word.length >= 2 ? names.filter((n) => n.startsWith(word.toLowerCase())) : [];
      return starts.length === 1 ? starts[0] : undefined;
    })()
  );
}

function unknownCommand(word: string): UsageError {
  if (word.startsWith('-')) {
    return new UsageError(
      `unknown option ${word} before a command`,
      `options go after the command, e.g. \`mpimg bundle ${word.startsWith('--project') ? '--project DIR' : word}\`; \`mpimg --help\` lists the commands`,
    );
  }
  const near = suggestCommand(word);
  return new UsageError(
    `unknown command ${JSON.stringify(word)}`,
    `${near ? `did you mean \`mpimg ${near}\`? ` : ''}run \`mpimg --help\` to see the commands`,
  );
}

async function loadCommand(name: string): Promise<Command> {
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) throw unknownCommand(name);
  return (await entry.load()).default;
}

const withNewline = (s: string): string => (s.endsWith('\n') ? s : `${s}\n`);

export async function main(argv: string[], ctx: CommandContext = defaultContext()): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined || first === '-h' || first === '--help' || (first === 'help' && rest.length === 0)) {
      ctx.stdout.write(helpText());
      return first === undefined ? 2 : 0;
    }
    if (first === '-v' || first === '--version') {
      ctx.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    // `mpimg help <command>`: that command's help, as `mpimg <command> --help` shows it.
    if (first === 'help') {
      if (rest.length > 1)
        throw new UsageError(`mpimg help takes one command, got ${rest.join(' ')}`, 'e.g. `mpimg help bundle`');
      ctx.stdout.write(withNewline((await loadCommand(rest[0])).usage));
      return 0;
    }
    const cmd = await loadCommand(first);
    // --help anywhere before `--` (after it, words are the command's arguments).
    const end = rest.indexOf('--');
    if ((end < 0 ? rest : rest.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
      ctx.stdout.write(withNewline(cmd.usage));
      return 0;
    }
    return await cmd.run(rest, ctx);
  } catch (err) {
    if (err instanceof MpimgError) {
      ctx.stderr.write(`${err.format()}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
