import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { MpimgError, UsageError } from '../../core/errors.js';
import { packageVersion } from '../../core/paths.js';
import { Connection } from '../ssh/connection.js';
import { formatTimings, formatDuration } from '../ssh/output.js';
import type { Task } from '../ssh/task.js';
import { projectTasks } from '../standard/index.js';
import { waitForSsh, CLOUD_INIT_TIMEOUT_ENV } from '../ssh/wait.js';
import { stashTokens, tokenValues } from '../secrets.js';
import { loadBuildSecrets, parseSecretOptions, secretNeedles, TASKS_USING_SECRETS } from '../build-secrets.js';
import { readManifest } from '../../core/manifest-file.js';
import { inProject, intOption, parseOptions, projectHelp, PROJECT_OPTION, SSH_TARGET_OPTIONS } from './options.js';
import { LOG_PATH_ENV, masker, openRunLog, tapWrites, type RunLog } from './run-log.js';
import type { Command, CommandContext } from './types.js';

const usage = `Usage: mpimg run <task> --host <host> [options]

Runs a task of the project's mpimgfile.mjs on a host over SSH (the system OpenSSH client, one shared
connection). List the tasks with: mpimg tasks

Everything the task prints also goes to a log file, named at the start and at the end: by default a
new dist/logs/<task>-<time>.log in the project (0600); a known token value is masked there and on
the terminal.

Options:
  --host <host>          droplet IP or host name (required)
  --user <user>          remote user (default root)
  --port <port>          SSH port (default 22)
  --identity <file>      private key file (the agent and ~/.ssh/config work too)
  --strict-host-keys     only connect to hosts already in known_hosts (default: accept a new host's key, refuse a changed one)
  --known-hosts <file>   known_hosts file to use instead of ~/.ssh/known_hosts
  --ssh-config <file>    ssh client config to use instead of ~/.ssh/config
  --wait-attempts <n>    how many times to try to reach SSH, 2 s apart (default 30)
  --cloud-init-timeout <seconds>
                         how long wait-boot waits for cloud-init's first boot (default 600, or
                         $MPIMG_CLOUD_INIT_TIMEOUT); 0 skips the wait
  --log <file>           append the log to this file instead (also: $${LOG_PATH_ENV}=<file>)
  --no-log               write no log file
  --secret NAME=@FILE    the value of build secret NAME of mpimg.json ($.build.secrets) is the file's
                         content (one trailing newline dropped); --secret NAME=env:VAR takes it from
                         the environment variable VAR, and MPIMG_BUILD_SECRET_NAME=<value> in the
                         environment works too. NAME=<value> itself is refused: \`ps\` and the shell's
                         history would keep it. Repeat for each secret; one without a value stops
                         build, testbuild, repositories, scripts and check before they connect.
                         Values are masked (***) in the output and the log.
${projectHelp(25)}

The DigitalOcean token variables (DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, ...) are taken out
of the environment while the task runs, so no process it starts inherits them; a task that needs the
token calls apiToken() from generator-mpimg/tasks.
`;

const command: Command = {
  name: 'run',
  summary: 'run a task on a droplet over SSH: mpimg run <task> --host <host>',
  usage,
  async run(argv, ctx) {
    const { values, positionals } = parseOptions(
      argv,
      {
        ...PROJECT_OPTION,
        ...SSH_TARGET_OPTIONS,
        log: { type: 'string' },
        'no-log': { type: 'boolean' },
        secret: { type: 'string', multiple: true },
      },
      { command: 'run', usage, positionals: true },
    );
    if (positionals.length !== 1)
      throw new UsageError(
        positionals.length ? `one task at a time, got: ${positionals.join(' ')}` : 'which task? none given',
        'mpimg run <task> --host <host>; `mpimg tasks` lists them',
      );
    if (!values.host) throw new UsageError('--host is missing', 'mpimg run <task> --host <droplet-ip>');
    const port = intOption(values.port, 'port', 22, 1, 65535);
    const attempts = intOption(values['wait-attempts'], 'wait-attempts', 30, 1, 1000);
    const cloudInitTimeout =
      values['cloud-init-timeout'] === undefined
        ? undefined
        : intOption(values['cloud-init-timeout'], 'cloud-init-timeout', 600, 0, 7 * 86400);
    if (values.log !== undefined && values['no-log'])
      throw new UsageError('give --log <file> or --no-log, not both', 'mpimg run build --host <host> --log build.log');
    const fromEnv = ctx.env[LOG_PATH_ENV];
    const log: LogChoice = {
      off: values['no-log'] === true,
      given:
        values.log !== undefined
          ? { value: values.log, from: '--log' }
          : fromEnv
            ? { value: fromEnv, from: LOG_PATH_ENV }
            : undefined,
      cwd: ctx.cwd,
      argv,
    };
    if (log.given?.value === '')
      throw new UsageError('--log is empty', 'give a file name, e.g. --log build.log (or --no-log)');
    const project = inProject(ctx, values.project);
    // Before anything connects: a declared build secret without a value stops the run here.
    // A task folder without mpimg.json (a bare mpimgfile) declares no build secrets.
    const hasManifest = typeof project.cwd === 'string' && existsSync(path.join(project.cwd, 'mpimg.json'));
    const restoreSecrets = loadBuildSecrets(
      hasManifest ? readManifest(project.cwd) : {},
      parseSecretOptions(values.secret ?? [], ctx.env, ctx.cwd),
      ctx.env,
      TASKS_USING_SECRETS.has(positionals[0]),
    );

    // From here on, while the task file loads and runs, the token is out of process.env: the vendor's
    // code (and everything it spawns with the default environment) cannot pass it on by accident.
    const restoreTokens = stashTokens();
    // The flag reaches waitCloudInit (maybe another copy of this library) through its env variable.
    const savedTimeout = process.env[CLOUD_INIT_TIMEOUT_ENV];
    if (cloudInitTimeout !== undefined) process.env[CLOUD_INIT_TIMEOUT_ENV] = String(cloudInitTimeout);
    try {
      return await runTask(positionals[0], { ...values, host: values.host }, { port, attempts, log }, project);
    } finally {
      if (savedTimeout === undefined) delete process.env[CLOUD_INIT_TIMEOUT_ENV];
      else process.env[CLOUD_INIT_TIMEOUT_ENV] = savedTimeout;
      restoreTokens();
      restoreSecrets();
    }
  },
};

interface RunValues {
  host: string;
  user?: string;
  identity?: string;
  'strict-host-keys'?: boolean;
  'known-hosts'?: string;
  'ssh-config'?: string;
}

interface LogChoice {
  off: boolean;
  given?: { value: string; from: string };
  /** Where mpimg was started: a relative --log is from there. */
  cwd: string;
  argv: string[];
}

/** A path as the user would type it from where mpimg was started. */
function shown(cwd: string, file: string): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/**
 * Runs `fn` with everything written to ctx's streams masked (token values) and copied to the log
 * of this run, which is named before and after.
 */
async function withRunLog(
  name: string,
  choice: LogChoice,
  ctx: CommandContext,
  fn: () => Promise<number>,
): Promise<number> {
  // build secrets whatever their length: the tasks' own output masks them all (redact), so must the rest
  const mask = masker(tokenValues(ctx.env, process.env), secretNeedles());
  let log: RunLog | undefined;
  if (!choice.off) {
    const opened = openRunLog({ project: ctx.cwd, task: name, given: choice.given, cwd: choice.cwd, now: new Date() });
    if ('failed' in opened)
      ctx.stderr.write(
        `warning: ${opened.failed}: this run has no log file\n  fix: give one with --log <file> (or --no-log)\n`,
      );
    else log = opened;
  }
  const onText = (text: string) => {
    const stopped = log?.write(text);
    if (stopped) ctx.stderr.write(`warning: ${stopped}; the run goes on\n`);
  };
  const untap = [...new Set([ctx.stdout, ctx.stderr])].map((s) => tapWrites(s, { mask, onText }));
  const started = new Date();
  let code = 1;
  try {
    if (log) {
      onText(
        mask(
          `# mpimg run ${choice.argv.join(' ')} (generator-mpimg ${packageVersion()})\n# project: ${ctx.cwd}\n# started: ${started.toISOString()}\n`,
        ),
      );
      ctx.stderr.write(`log: ${shown(choice.cwd, log.file)}\n`);
    }
    code = await fn();
    return code;
  } finally {
    if (log) ctx.stderr.write(`log: ${shown(choice.cwd, log.file)}\n`);
    for (const u of untap) u();
    log?.close(`# finished: ${new Date().toISOString()}, exit code ${code}\n`);
  }
}

/** Loads the task file and runs one task over a fresh Connection; prints timings and the outcome. */
async function runTask(
  name: string,
  values: RunValues,
  o: { port: number; attempts: number; log: LogChoice },
  ctx: CommandContext,
): Promise<number> {
  const { tasks } = await projectTasks(ctx.cwd);
  const t = tasks.get(name);
  if (!t)
    throw new UsageError(
      `no task "${name}" in mpimgfile.mjs or the standard tasks`,
      `one of: ${[...tasks.keys()].join(', ')}`,
    );
  return withRunLog(name, o.log, ctx, () => runOne(name, t, tasks, values, o, ctx));
}

async function runOne(
  name: string,
  t: Task,
  tasks: Map<string, Task>,
  values: RunValues,
  o: { port: number; attempts: number },
  ctx: CommandContext,
): Promise<number> {
  const { port, attempts } = o;

  const c = new Connection({
    host: values.host,
    user: values.user ?? 'root',
    port,
    identityFile: values.identity,
    hostKeys: values['strict-host-keys'] ? 'strict' : 'accept-new',
    knownHostsFile: values['known-hosts'],
    sshConfigFile: values['ssh-config'],
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    signal: ctx.signal,
    project: ctx.cwd,
  });
  // Pipelines (build, testbuild) run their steps by name from this set: the vendor's replace the standard ones.
  c.tasks = tasks;
  const start = performance.now();
  try {
    await waitForSsh(c, { attempts, signal: ctx.signal });
    await t(c);
    ctx.stderr.write(formatTimings(c.timings));
    ctx.stderr.write(`task "${name}" finished on ${c.target} in ${formatDuration(performance.now() - start)}\n`);
    return 0;
  } catch (err) {
    ctx.stderr.write(formatTimings(c.timings));
    // The task file may use its own copy of this library, so duck-type the error instead of instanceof.
    const e = err as { format?: () => string; exitCode?: number; message?: string };
    if (err instanceof MpimgError || typeof e?.format === 'function') {
      ctx.stderr.write(`${e.format!()}\n`);
      return typeof e.exitCode === 'number' && e.exitCode > 0 ? e.exitCode : 1;
    }
    if (ctx.signal.aborted) {
      ctx.stderr.write(`task "${name}" interrupted\n`);
      return 130;
    }
    ctx.stderr.write(`error: task "${name}" failed: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  } finally {
    c.close();
  }
}

export default command;
