/**
 * `mpimg add <piece>`: what the sub-generators (`yo mpimg:first-boot` ...) do, through the same
 * code (core/pieces.ts), without yo: as root and without a terminal. Every piece takes
 * --yes and --force, and the exit code says whether the piece is there as asked.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULTS } from '../../runtime/manifest.js';
import { packageScript } from '../bundle/droplet-scripts.js';
import { readManifest } from '../../core/manifest-file.js';
import { recordCustomised } from '../bundle/customised.js';
import { MpimgError, UsageError } from '../../core/errors.js';
import { packageVersion } from '../../core/paths.js';
import { addFirstBoot, addFirstLogin, addMotd, type PieceOptions, type PieceResult } from '../../core/pieces.js';
import { terminalPrompter } from './ask.js';
import { parseOptions, projectDir, projectHelp, PROJECT_OPTION, type OptionSpec } from './options.js';
import type { Command, CommandContext } from './types.js';

interface Piece {
  args: string;
  summary: string;
  /** Extra string options the piece takes. */
  strings?: string[];
  add: (
    ctx: CommandContext,
    positionals: string[],
    values: Record<string, string | boolean | undefined>,
    opts: PieceOptions,
  ) => Promise<PieceResult>;
}

const PIECES: Record<string, Piece> = {
  'first-boot': {
    args: '<name>',
    summary: 'first-boot/NN-<name>.sh, run once at the first boot of every droplet (NN-<name> picks the number)',
    add: async (ctx, [name], _v, opts) => addFirstBoot(ctx.cwd, name, opts),
  },
  'first-login': {
    args: '',
    summary: 'first-login/first-login.sh, run at the first interactive root login until it succeeds',
    add: async (ctx, _p, _v, opts) => addFirstLogin(ctx.cwd, opts),
  },
  motd: {
    args: '[--motd <greeting>]',
    summary: 'motd.txt, the login message (--yes keeps the current greeting)',
    strings: ['motd'],
    add: async (ctx, _p, v, opts) => addMotd(ctx.cwd, v.motd as string | undefined, opts, terminalPrompter(ctx)),
  },
};

/** Copies of the package's own scripts, for a project that must change them (the copy then wins). */
const SCRIPTS: Record<string, { which: 'cleanup' | 'check'; rel: string; summary: string }> = {
  'cleanup-script': {
    which: 'cleanup',
    rel: DEFAULTS.cleanupScript,
    summary: `${DEFAULTS.cleanupScript}: your copy of the cleanup (it then runs instead of the package's)`,
  },
  'check-script': {
    which: 'check',
    rel: DEFAULTS.checkScript,
    summary: `${DEFAULTS.checkScript}: your copy of the image check (it then runs instead of the package's)`,
  },
};

const usage = `Usage: mpimg add <piece> [options]

Adds one piece to the image project in the current folder (the same as \`yo mpimg:<piece>\`):
${Object.entries(PIECES)
  .map(([n, p]) => `  ${`${n} ${p.args}`.padEnd(28)} ${p.summary}`)
  .join('\n')}
${Object.entries(SCRIPTS)
  .map(([n, p]) => `  ${`${n} [--show]`.padEnd(28)} ${p.summary}`)
  .join('\n')}

Options:
  -y, --yes     ask nothing: take the current or default values (motd: the current greeting)
  -f, --force   replace a file you edited (default: keep it, change nothing, exit 1)
  --show        cleanup-script, check-script: print the package's script instead (e.g. | diff -u FILE -)
${projectHelp(16)}

Exit 0 when the piece is in the project as asked (added, or already so), 1 when it was not written
(a copy you edited is kept: nothing changed).
`;

function addScript(
  what: string,
  argv: string[],
  cwd: string,
  out: NodeJS.WritableStream | { write(s: string): unknown },
): number {
  const spec = SCRIPTS[what];
  const { values } = parseOptions(
    argv,
    {
      ...PROJECT_OPTION,
      force: { type: 'boolean', short: 'f' },
      yes: { type: 'boolean', short: 'y' },
      show: { type: 'boolean' },
    },
    { command: `add ${what}`, usage },
  );
  cwd = projectDir({ cwd }, values.project);
  const source = readFileSync(packageScript(spec.which));
  if (values.show) {
    out.write(source.toString('utf8'));
    return 0;
  }
  readManifest(cwd); // only inside an image project
  const dest = join(cwd, spec.rel);
  if (existsSync(dest) && !values.force) {
    throw new MpimgError(`${spec.rel} exists already`, {
      where: dest,
      hint: `it is your copy and runs instead of the package's; \`mpimg add ${what} --force\` replaces it with the package's current one`,
    });
  }
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.mpimg-tmp`;
  writeFileSync(tmp, source, { mode: 0o755 });
  chmodSync(tmp, 0o755);
  renameSync(tmp, dest);
  recordCustomised(cwd, spec.rel, source, packageVersion());
  out.write(
    `Added ${spec.rel} (generator-mpimg ${packageVersion()}'s ${spec.which}): it now runs instead of the package's. \`mpimg validate\` tells when the package's changes after this.\n`,
  );
  return 0;
}

const command: Command = {
  name: 'add',
  summary: 'add a first-boot step, the first-login script, the MOTD, or a copy of the cleanup or check',
  usage,
  async run(argv, ctx) {
    const [what, ...rest] = argv;
    if (what !== undefined && SCRIPTS[what]) return addScript(what, rest, ctx.cwd, ctx.stdout);
    const piece = what === undefined ? undefined : PIECES[what];
    if (!piece) {
      throw new UsageError(
        what === undefined ? 'what to add? none given' : `unknown piece "${what}"`,
        `one of: ${[...Object.keys(PIECES), ...Object.keys(SCRIPTS)].join(', ')} (see \`mpimg add --help\`)`,
      );
    }
    const options: Record<string, OptionSpec> = {
      ...PROJECT_OPTION,
      force: { type: 'boolean', short: 'f' },
      yes: { type: 'boolean', short: 'y' },
    };
    for (const s of piece.strings ?? []) options[s] = { type: 'string' };
    const parsed = parseOptions(rest, options, { command: `add ${what}`, usage, positionals: true }) as {
      values: Record<string, string | boolean | undefined>;
      positionals: string[];
    };
    const { project, ...given } = parsed.values;
    const wantsName = piece.args.startsWith('<');
    if (wantsName && parsed.positionals.length !== 1)
      throw new UsageError(`mpimg add ${what} needs one ${piece.args}`, `e.g. \`mpimg add ${what} database\``);
    if (!wantsName && parsed.positionals.length > 0)
      throw new UsageError(
        `mpimg add ${what} takes no argument, got ${parsed.positionals.join(' ')}`,
        'see `mpimg add --help`',
      );
    const dir = projectDir(ctx, project as string | undefined);
    const opts: PieceOptions = {
      force: given.force === true,
      yes: given.yes === true,
      nonInteractive: !terminalPrompter(ctx),
    };
    const result = await piece.add({ ...ctx, cwd: dir }, parsed.positionals, given, opts);
    (result.failed ? ctx.stderr : ctx.stdout).write(`${result.message}\n`);
    return result.failed ? 1 : 0;
  },
};

export default command;
