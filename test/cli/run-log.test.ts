// `mpimg run` writes what it printed to a log file as well (like PACKER_LOG_PATH) and says where; the
// API token is masked there and on the terminal, and what a task keeps quiet (a generated password)
// is no more in the log than on the screen. Against a real sshd on 127.0.0.1.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import runCommand from '../../tasks/commands/run.js';
import { masker, openRunLog, tapWrites, type RunLog } from '../../tasks/commands/run-log.js';
import { captureContext, runCommand as runCaught } from '../do/support.js';
import { ADMIN_PASSWORD_MARK, CREDENTIALS, testDroplet, verifyProject, type TestDroplet } from '../do/droplet-root.js';
import { keyArgs, sshArgs as sshdArgs, sshdPerFile } from '../helpers/sshd-run.js';
import { tempDir } from '../helpers/temp.js';
import { makeTaskProject } from '../tasks/fixture-project.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = `dop_v1_${randomBytes(32).toString('hex')}`;
const STAMP = /\d{8}-\d{6}/;

const MPIMGFILE = `import { task, apiToken } from 'generator-mpimg/tasks';
export const hello = task('hello', 'says hello here and there', async (c) => {
  console.log('here: hello from the task file');
  await c.run('echo there: hello from the host; echo "on stderr" >&2');
});
export const leak = task('leak', 'prints the API token three ways', async (c) => {
  const t = apiToken();
  console.log('console.log: ' + t);
  c.log('c.log: ' + t);
  await c.run('echo remote: ' + t);
});
export const boom = task('boom', 'fails', async (c) => {
  await c.run('echo about to fail; exit 3');
});
`;

const sshd = sshdPerFile();
let project: string;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  project = await makeTaskProject(MPIMGFILE);
}, 120_000);

afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

afterAll(async () => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

const sshArgs = () => [...sshdArgs(sshd, 3), '--cloud-init-timeout', '0'];

/** `mpimg run` in this process; env is the command's environment (process.env is left alone). */
async function run(args: string[], env: NodeJS.ProcessEnv = {}, cwd = project) {
  const cap = captureContext({ cwd, env: { PATH: process.env.PATH, ...env } });
  const code = await runCaught(runCommand, [...args, ...sshArgs()], cap.ctx);
  return { code, out: cap.out(), err: cap.err() };
}

const logsIn = (dir: string): string[] =>
  fs.existsSync(path.join(dir, 'dist/logs')) ? fs.readdirSync(path.join(dir, 'dist/logs')).sort() : [];

describe('mpimg run writes a log file and says where', () => {
  it('the real command: every line printed (console.log of the task file too), in a new 0600 file of dist/logs, named first and last; the token masked everywhere', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), 'run', 'leak', ...sshArgs()], {
      cwd: project,
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: process.env.PATH, HOME: tempDir('mpimg-home-'), DIGITALOCEAN_ACCESS_TOKEN: TOKEN },
    });
    expect(r.status, r.stderr).toBe(0);
    const [name] = logsIn(project).filter((n) => n.startsWith('leak-'));
    expect(name).toMatch(new RegExp(`^leak-${STAMP.source}\\.log$`));
    cleanups.push(() => fs.rmSync(path.join(project, 'dist/logs', name)));
    const file = path.join(project, 'dist/logs', name);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`log: dist/logs/${name}`);
    expect(lines.at(-1)).toBe(`log: dist/logs/${name}`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(project, 'dist/logs')).mode & 0o777).toBe(0o700);

    const log = fs.readFileSync(file, 'utf8');
    expect(log).toMatch(
      new RegExp(
        `^# mpimg run leak --host 127\\.0\\.0\\.1 .* \\(generator-mpimg [^)]+\\)\\n# project: ${project.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n# started: \\d{4}-`,
      ),
    );
    expect(log).toMatch(/# finished: \d{4}-.*, exit code 0\n$/);
    // what went to the terminal is in the log, in order, both streams
    for (const l of [...r.stdout.split('\n'), ...r.stderr.split('\n')].filter(Boolean)) expect(log, l).toContain(l);
    expect(log).toContain('console.log: [redacted]');
    expect(log).toContain('c.log: [redacted]');
    expect(log).toMatch(/\[leak\] remote: \[redacted\]/);
    expect(log).toMatch(/timings:\n {2}leak/);
    expect(log).toContain('task "leak" finished on');
    for (const text of [log, r.stdout, r.stderr]) expect(text).not.toContain(TOKEN);
    expect(r.stdout).toContain('console.log: [redacted]');
  });

  it('a failing task: its error and exit code end the log', async () => {
    const r = await run(['boom']);
    expect(r.code).toBe(1);
    const [name] = logsIn(project).filter((n) => n.startsWith('boom-'));
    cleanups.push(() => fs.rmSync(path.join(project, 'dist/logs', name)));
    const log = fs.readFileSync(path.join(project, 'dist/logs', name), 'utf8');
    expect(log).toContain('[boom] about to fail');
    expect(log).toMatch(/error: .*exit code 3/);
    expect(log).toMatch(/# finished: .*, exit code 1\n$/);
    expect(r.err.trimEnd().split('\n').at(-1)).toBe(`log: dist/logs/${name}`);
  });

  it('--log FILE and $MPIMG_LOG_PATH append to the file given (--log wins); --no-log writes none', async () => {
    const dir = tempDir('mpimg-logs-');
    const given = path.join(dir, 'build.log');
    const before = logsIn(project);
    expect((await run(['hello', '--log', given])).code).toBe(0);
    const env = path.join(dir, 'env.log');
    const second = await run(['hello', '--log', given], { MPIMG_LOG_PATH: env });
    expect(second.code).toBe(0);
    expect(second.err).toContain(`log: ${given}\n`);
    const log = fs.readFileSync(given, 'utf8');
    expect(log.match(/^# mpimg run hello /gm)).toHaveLength(2);
    expect(log.match(/^there: hello from the host$|\[hello\] there: hello from the host$/gm)?.length).toBe(2);
    expect(log).toContain('on stderr');
    expect(fs.statSync(given).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(env)).toBe(false);
    expect((await run(['hello'], { MPIMG_LOG_PATH: env })).code).toBe(0);
    expect(fs.readFileSync(env, 'utf8')).toContain('# mpimg run hello');

    const off = await run(['hello', '--no-log']);
    expect(off.code).toBe(0);
    expect(off.err).not.toContain('log:');
    expect(logsIn(project)).toEqual(before);
  });

  it('a --log that cannot be written stops before connecting (exit 2); a full disk or no dist/logs only costs the log', async () => {
    const dir = tempDir('mpimg-logs-');
    const accepted = sshd.acceptedConnections();
    for (const [args, msg] of [
      [['--log', dir], /^error: --log ".*" is a folder\n/],
      [['--log', path.join(dir, 'no/such/dir/x.log')], /^error: --log: cannot write ".*x\.log" \(ENOENT\)\n/],
      [['--log', 'x.log', '--no-log'], /^error: give --log <file> or --no-log, not both\n/],
      [['--log='], /^error: --log is empty\n/],
    ] as const) {
      const r = await run(['hello', ...args]);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(msg);
    }
    expect(sshd.acceptedConnections()).toBe(accepted);

    const full = await run(['hello', '--log', '/dev/full']);
    expect(full.code, full.err).toBe(0);
    expect(full.err).toContain('warning: the log /dev/full stopped: ENOSPC; the run goes on\n');
    expect(full.err).toContain('task "hello" finished');

    const blocked = await makeTaskProject(MPIMGFILE);
    cleanups.push(() => fs.rmSync(blocked, { recursive: true, force: true }));
    fs.mkdirSync(path.join(blocked, 'dist'));
    fs.writeFileSync(path.join(blocked, 'dist/logs'), 'a file where the folder goes\n');
    const r = await run(['hello'], {}, blocked);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /^warning: cannot write a log in .*dist\/logs \((EEXIST|ENOTDIR)\): this run has no log file\n {2}fix: give one with --log <file> \(or --no-log\)\n/,
    );
    expect(fs.readFileSync(path.join(blocked, 'dist/logs'), 'utf8')).toBe('a file where the folder goes\n');
  });
});

describe('the log file itself', () => {
  it('two runs in the same second get two files; a link put where the log goes is never followed', () => {
    const dir = tempDir('mpimg-logs-');
    const now = new Date('2030-01-02T03:04:05Z');
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'untouched\n');
    fs.mkdirSync(path.join(dir, 'dist/logs'), { recursive: true });
    fs.symlinkSync(target, path.join(dir, 'dist/logs/build-20300102-030405.log'));
    const open = () => openRunLog({ project: dir, task: 'build', cwd: dir, now }) as RunLog;
    const a = open();
    const b = open();
    expect([a.file, b.file].map((f) => path.basename(f))).toEqual([
      'build-20300102-030405-2.log',
      'build-20300102-030405-3.log',
    ]);
    a.write('a\n');
    a.close('end\n');
    b.close('end\n');
    expect(fs.readFileSync(a.file, 'utf8')).toBe('a\nend\n');
    expect(fs.readFileSync(target, 'utf8')).toBe('untouched\n');
    // a task name with ":" still makes a plain file name
    const c = openRunLog({ project: dir, task: 'db:migrate', cwd: dir, now }) as RunLog;
    c.close('');
    expect(path.basename(c.file)).toBe('db-migrate-20300102-030405.log');
  });

  it('taps on one stream stack and come off in any order; bytes pass unchanged unless masked', () => {
    const s = new PassThrough();
    const original = s.write;
    const seen: string[] = [];
    const one = tapWrites(s, { mask: masker(['secret-value-1']), onText: (t) => seen.push(`1:${t}`) });
    const two = tapWrites(s, { mask: (t) => t, onText: (t) => seen.push(`2:${t}`) });
    s.write('a secret-value-1 b\n');
    s.write(Buffer.from('plain\n'));
    one();
    s.write('secret-value-1\n');
    two();
    expect(s.write).toBe(original);
    expect(seen).toEqual(['1:a [redacted] b\n', '2:a [redacted] b\n', '1:plain\n', '2:plain\n', '2:secret-value-1\n']);
    expect(String(s.read())).toBe('a [redacted] b\nplain\nsecret-value-1\n');
    // short values are never masked (they would hide ordinary words); a longer one wins over one inside it
    expect(masker(['abc', 'token-1234', 'token-12345678'])('abc token-12345678 token-1234')).toBe(
      'abc [redacted] [redacted]',
    );
    // Regression: a build secret of 4 to 7 characters (accepted by --secret) was left unmasked in what
    // did not come through a task's output lines (an error's message, the log's header).
    expect(masker(['abc'], ['lic-42', 'k3y!'])('abc lic-42 k3y! lic-4')).toBe('abc [redacted] [redacted] lic-4');
  });
});

describe('a generated password on a droplet made from the image', () => {
  let d: TestDroplet | undefined;
  let proj: string | undefined;
  afterAll(async () => {
    await d?.stop();
    if (proj) fs.rmSync(proj, { recursive: true, force: true });
  });

  it('the verify task and a task that reads it quietly leave it out of the log, as out of the terminal', async () => {
    proj = verifyProject();
    // A task file without imports: a task reads the credentials file, as a vendor's smoke test might.
    fs.writeFileSync(
      path.join(proj, 'mpimgfile.mjs'),
      [
        "const mark = Symbol.for('generator-mpimg.task');",
        'const t = (name, description, fn) => Object.assign(fn, { taskName: name, description, [mark]: true });',
        `export const creds = t('creds', 'reads the generated credentials quietly', async (c) => {`,
        `  const r = await c.sudo('cat ${CREDENTIALS}', { quiet: true, echo: false });`,
        "  c.log('the credentials file holds ' + r.stdout.trim().split('\\n').length + ' line(s), ' + r.stdout.length + ' bytes');",
        '});',
        '',
      ].join('\n'),
    );
    d = await testDroplet(proj);
    expect(d.exec(`cat ${CREDENTIALS}`).stdout).toContain(ADMIN_PASSWORD_MARK);
    const log = path.join(tempDir('mpimg-logs-'), 'droplet.log');
    for (const task of ['verify', 'creds']) {
      const cap = captureContext({
        cwd: proj,
        env: { PATH: process.env.PATH, HOME: proj, DIGITALOCEAN_ACCESS_TOKEN: TOKEN },
      });
      const code = await runCaught(
        runCommand,
        [
          task,
          ...['--host', d.sshd.host, '--port', String(d.sshd.port), ...keyArgs(d.sshd)],
          ...['--wait-attempts', '3', '--cloud-init-timeout', '5', '--log', log],
        ],
        cap.ctx,
      );
      expect(code, cap.err()).toBe(0);
      for (const text of [cap.out(), cap.err()]) {
        expect(text).not.toContain(ADMIN_PASSWORD_MARK);
        expect(text).not.toContain(TOKEN);
      }
    }
    const text = fs.readFileSync(log, 'utf8');
    expect(text).toContain('[PASS] credentials:');
    expect(text).toMatch(/the credentials file holds 1 line\(s\), \d{2,} bytes/);
    expect(text).not.toContain(ADMIN_PASSWORD_MARK);
    expect(text).not.toContain(TOKEN);
  });
});
