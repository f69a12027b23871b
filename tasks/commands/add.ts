/**
 * `mpimg add <piece>`: what the sub-generators (`yo mpimg:first-boot` ...) do, through the same
 * generator code, without yo: as root and without a terminal.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import type { Command } from './types.js';
import { runGenerator } from './yeoman.js';

interface Piece {
  generator: string;
  args: string;
  summary: string;
  /** Extra string options the sub-generator takes. */
  strings?: string[];
}

const PIECES: Record<string, Piece> = {
  'first-boot': { generator: 'first-boot', args: '<name>', summary: 'first-boot/NN-<name>.sh, run once at the first boot of every droplet' },
  'first-login': { generator: 'first-login', args: '', summary: 'first-login/first-login.sh, run at the first interactive root login until it succeeds' },
  motd: { generator: 'motd', args: '[--motd <greeting>]', summary: 'motd.txt, the login message', strings: ['motd'] },
};

const usage = `Usage: mpimg add <piece> [options]

Adds one piece to the image project in the current folder (the same as \`yo mpimg:<piece>\`):
${Object.entries(PIECES).map(([n, p]) => `  ${`${n} ${p.args}`.padEnd(28)} ${p.summary}`).join('\n')}

Options:
  -f, --force   overwrite a file that differs (default: keep it and report)
`;

const command: Command = {
  name: 'add',
  summary: 'add a first-boot step, the first-login script or the MOTD to this project',
  usage,
  async run(argv, ctx) {
    const [what, ...rest] = argv;
    const piece = what === undefined ? undefined : PIECES[what];
    if (!piece) {
      throw new UsageError(what === undefined ? 'what to add? none given' : `unknown piece "${what}"`, `one of: ${Object.keys(PIECES).join(', ')} (see \`mpimg add --help\`)`);
    }
    const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { force: { type: 'boolean', short: 'f' } };
    for (const s of piece.strings ?? []) options[s] = { type: 'string' };
    let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
    try {
      parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true }) as typeof parsed;
    } catch (e) {
      throw new UsageError((e as Error).message, 'see `mpimg add --help`');
    }
    const wantsName = piece.args.startsWith('<');
    if (wantsName && parsed.positionals.length !== 1) throw new UsageError(`mpimg add ${what} needs one ${piece.args}`, `e.g. \`mpimg add ${what} database\``);
    if (!wantsName && parsed.positionals.length > 0) throw new UsageError(`mpimg add ${what} takes no argument, got ${parsed.positionals.join(' ')}`, 'see `mpimg add --help`');
    const genOptions: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(parsed.values)) if (v !== undefined) genOptions[k] = v;
    await runGenerator(piece.generator, ctx.cwd, ctx, { args: parsed.positionals, options: genOptions });
    return 0;
  },
};

export default command;
