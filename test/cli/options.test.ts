// The command line itself: help per command, did-you-mean for commands and options, and every
// mistake in the options worded by the tool (never by Node's parseArgs), with the command's usage.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { parseOptions, synopsis } from '../../tasks/commands/options.js';
import { captureContext } from '../do/support.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = (args: string[], cwd = root) =>
  spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: tempDir('mpimg-home-') },
  });

/** main() in this process with its own stdout and stderr. */
async function cli(args: string[], cwd = root) {
  const cap = captureContext({ cwd, env: { PATH: process.env.PATH } });
  const code = await main(args, cap.ctx);
  return { code, out: cap.out(), err: cap.err() };
}

/** parseArgs' own sentences: none may reach a user. */
const NODE_WORDING =
  /Unknown option '|To specify a positional|argument is ambiguous|Unexpected argument '|does not take positional|argument missing|does not take an argument|ERR_PARSE_ARGS/;

const COMMANDS = [
  'new',
  'add',
  'import',
  'bundle',
  'upgrade',
  'validate',
  'tasks',
  'run',
  'snapshot',
  'image',
  'verify',
  'release',
  'images',
  'outdated',
];

describe('mpimg help <command>', () => {
  it('lists every command, and `mpimg help X` prints what `mpimg X --help` prints, on stdout, exit 0', async () => {
    const all = await cli(['--help']);
    expect(all.code).toBe(0);
    const listed = [...all.out.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...COMMANDS].sort());
    expect(all.out).toContain('mpimg help <command>');
    for (const c of COMMANDS) {
      const help = await cli(['help', c]);
      const flag = await cli([c, '--help']);
      expect(help.code, c).toBe(0);
      expect(help.err, c).toBe('');
      expect(help.out, c).toMatch(new RegExp(`^Usage: mpimg ${c}\\b`));
      expect(help.out, c).toBe(flag.out);
    }
    expect((await cli(['help'])).out).toBe(all.out);
  });

  it('an unknown command gets a did-you-mean; `help` of one too; exit 2 and nothing on stdout', async () => {
    const typo = bin(['bundel']);
    expect(typo.status).toBe(2);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toBe(
      'error: unknown command "bundel"\n  fix: did you mean `mpimg bundle`? run `mpimg --help` to see the commands\n',
    );
    expect((await cli(['valdiate'])).err).toContain('did you mean `mpimg validate`?');
    expect((await cli(['upgr'])).err).toContain('did you mean `mpimg upgrade`?');
    const far = await cli(['frobnicate']);
    expect(far.code).toBe(2);
    expect(far.err).toBe('error: unknown command "frobnicate"\n  fix: run `mpimg --help` to see the commands\n');
    const help = await cli(['help', 'snapshto']);
    expect(help.code).toBe(2);
    expect(help.out).toBe('');
    expect(help.err).toContain('did you mean `mpimg snapshot`?');
    expect((await cli(['help', 'bundle', 'run'])).code).toBe(2);
    // a name of Object.prototype is no command either
    expect((await cli(['constructor'])).err).toContain('unknown command "constructor"');
  });

  it('an option before the command says where options go', async () => {
    const r = await cli(['--project', 'web', 'bundle']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'error: unknown option --project before a command\n  fix: options go after the command, e.g. `mpimg bundle --project DIR`; `mpimg --help` lists the commands\n',
    );
  });

  it('--help after `--` is an argument, not a request for help', async () => {
    const r = await cli(['validate', '--', '--help'], makeProject());
    expect(r.out).not.toContain('Usage:');
    expect(r.code).toBe(2);
    expect(r.err).toContain('DIR "--help": no such folder');
  });
});

describe("option mistakes, in the tool's words with the command's usage (exit 2, stderr only)", () => {
  it('every command: an unknown option, with a did-you-mean where one is near', async () => {
    const dir = makeProject();
    for (const c of COMMANDS) {
      const argv =
        c === 'new'
          ? ['new', 'x', '--frob']
          : c === 'add'
            ? ['add', 'motd', '--frob']
            : c === 'run'
              ? ['run', 'build', '--frob']
              : [c, '--frob'];
      const r = await cli(argv, dir);
      const usage = synopsis((await cli([c, '--help'])).out);
      expect(r.code, `${c}: ${r.err}`).toBe(2);
      expect(r.out, c).toBe('');
      expect(r.err, c).toBe(
        `error: unknown option --frob\n  fix: usage: ${usage} (\`mpimg ${c} --help\` explains every option)\n`,
      );
      expect(r.err, c).not.toMatch(NODE_WORDING);
    }
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
    expect((await cli(['validate', '--jsno'], dir)).err).toMatch(
      /^error: unknown option --jsno \(did you mean --json\?\)\n/,
    );
    expect((await cli(['bundle', '--ot', 'x'], dir)).err).toMatch(
      /^error: unknown option --ot \(did you mean --out\?\)\n/,
    );
    expect((await cli(['run', 'build', '--hots', 'h'], dir)).err).toMatch(
      /^error: unknown option --hots \(did you mean --host\?\)\n/,
    );
    expect((await cli(['tasks', '-x'], dir)).err).toMatch(/^error: unknown option -x\n/);
  });

  it('a missing value, a value given to a switch, a value that looks like an option, an argument where none is taken', async () => {
    const dir = makeProject();
    const cases: Array<[string[], string]> = [
      [
        ['run', 'build', '--host'],
        'error: --host needs a value\n  fix: e.g. --host <host>; usage: mpimg run <task> --host <host> [options]',
      ],
      [['bundle', '--out'], 'error: --out needs a value\n  fix: e.g. --out DIR; usage: mpimg bundle'],
      [
        ['validate', '--json=yes'],
        'error: --json takes no value, got --json=yes\n  fix: give --json alone; usage: mpimg validate',
      ],
      [
        ['new', 'x', '--no-yes=1'],
        'error: --no-yes takes no value, got --no-yes=1\n  fix: give --no-yes alone; usage: mpimg new <dir> [options]',
      ],
      [
        ['run', 'build', '--host', '--port', '22'],
        'error: --host needs a value, got the option --port\n  fix: give the value after --host; a value that starts with "-" goes as --host=--port; usage: mpimg run',
      ],
      [
        ['snapshot', 'droplet-1'],
        'error: mpimg snapshot takes no arguments, got "droplet-1"\n  fix: usage: mpimg snapshot --droplet',
      ],
      [
        ['tasks', '--no-json'],
        'error: unknown option --no-json\n  fix: --json is off unless given: leave it out; usage: mpimg tasks',
      ],
    ];
    for (const [argv, start] of cases) {
      const r = await cli(argv, dir);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out, argv.join(' ')).toBe('');
      expect(r.err.startsWith(start), `${argv.join(' ')}:\n${r.err}`).toBe(true);
      expect(r.err).not.toMatch(NODE_WORDING);
    }
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
  });

  it('parseOptions: values and positionals as typed; the last of a repeated option wins; --name=-x takes a dash', () => {
    const rules = { command: 'demo', usage: 'Usage: mpimg demo [--out DIR]\n', positionals: true };
    const r = parseOptions(
      ['a', '--out', 'x', '--out=-y', '--var', '1', '--var=2', '-f', '--', '--out'],
      { out: { type: 'string' }, var: { type: 'string', multiple: true }, force: { type: 'boolean', short: 'f' } },
      rules,
    );
    expect(r.values).toEqual({ out: '-y', var: ['1', '2'], force: true });
    expect(r.positionals).toEqual(['a', '--out']);
    expect(() => parseOptions(['--out'], { out: { type: 'string' } }, rules)).toThrow('--out needs a value');
  });
});
