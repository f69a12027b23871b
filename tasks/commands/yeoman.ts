/**
 * Runs one of this package's generators through yeoman-environment, the way `mpimg new`, `mpimg add`
 * and `mpimg upgrade` need it: as root (yo drops privileges), and with no terminal never waiting on a
 * prompt (a question then fails naming the option to pass instead).
 */
import { Console } from 'node:console';
import { fileURLToPath } from 'node:url';
import { createEnv } from 'yeoman-environment';
import { MpimgError } from '../errors.js';
import type { CommandContext } from './types.js';

/** The compiled generators next to this module: lib/tasks/commands → lib/generators/<name>. */
export const generatorFile = (name: string): string => fileURLToPath(new URL(`../../generators/${name}/index.js`, import.meta.url));

export async function runGenerator<G>(name: string, dir: string, ctx: CommandContext, opts: { args?: string[]; options?: Record<string, unknown> } = {}): Promise<G> {
  const interactive = Boolean(process.stdin.isTTY) && ctx.isTTY;
  const env = createEnv({
    cwd: dir,
    skipInstall: true,
    // Our ProjectWriter decides what to write (edited files are kept, never prompted about): Yeoman's
    // own conflicter must then write what it is given instead of asking on a terminal.
    force: true,
    stdout: ctx.stdout as NodeJS.WriteStream,
    stderr: ctx.stderr as NodeJS.WriteStream,
    console: new Console(ctx.stderr, ctx.stderr),
  });
  if (!interactive) {
    // Safety net: nothing may wait on a terminal that is not there.
    env.adapter.prompt = (async (questions: unknown) => {
      const names = (Array.isArray(questions) ? questions : [questions]).map((q) => (q as { name?: string }).name).join(', ');
      throw new MpimgError(`a question came up with no terminal to ask on (${names})`, {
        hint: 'pass the answer as an option (see --help) or use --yes',
      });
    }) as typeof env.adapter.prompt;
  }
  const namespace = `mpimg:${name}`;
  env.register(generatorFile(name), { namespace });
  const generator = await env.create(namespace, {
    generatorArgs: opts.args ?? [],
    generatorOptions: { localConfigOnly: true, skipInstall: true, 'non-interactive': !interactive, ...opts.options } as Record<string, unknown>,
  });
  await env.runGenerator(generator as never);
  return generator as unknown as G;
}
