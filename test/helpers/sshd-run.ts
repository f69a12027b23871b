/**
 * `mpimg run` against the real sshd of a test file (helpers/sshd.ts): one server for the whole file,
 * the flags that point the CLI at it (its own key, known_hosts and client config, never ~/.ssh), and
 * a run in this process against a staged root of the test (MPIMG_TARGET_ROOT, package manager skipped).
 */
import { afterAll, beforeAll } from 'vitest';
import runCommand from '../../tasks/commands/run.js';
import type { CommandContext } from '../../tasks/commands/types.js';
import { Capture } from '../tasks/helpers.js';
import { startSshd, type Sshd, type SshdOptions } from './sshd.js';
import { standIn } from './stand-in.js';

/**
 * Starts a server before the file's tests and stops it after them. The object it returns stands for
 * that server from the first test (or a later beforeAll) on; used earlier, it says so.
 */
export function sshdPerFile(opts: SshdOptions = {}): Sshd {
  let server: Sshd | undefined;
  beforeAll(async () => {
    server = await startSshd(opts);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return standIn('the test sshd', () => server);
}

/** The flags that make the client use this server's key, known_hosts and config (never ~/.ssh). */
export const keyArgs = (s: Sshd): string[] => [
  '--identity',
  s.identityFile,
  '--known-hosts',
  s.knownHostsFile,
  '--ssh-config',
  s.clientConfigFile,
];

/** `mpimg run`'s connection flags for this server, as root, with a few connection attempts. */
export const sshArgs = (s: Sshd, waitAttempts = 3): string[] => [
  '--host',
  s.host,
  '--port',
  String(s.port),
  '--user',
  s.user,
  ...keyArgs(s),
  '--wait-attempts',
  String(waitAttempts),
];

export interface TaskRun {
  code: number;
  out: string;
  err: string;
  /** process.env as the command left it, before it is put back. */
  envAfter: NodeJS.ProcessEnv;
}

/**
 * `mpimg run <task>` in this process, in the project `cwd`, with `env` added to process.env for the
 * run (the CLI passes process.env to the project's tasks) and process.env put back afterwards.
 */
export async function runTask(
  sshd: Sshd,
  task: string,
  opts: { cwd: string; env?: Record<string, string>; args?: string[]; waitAttempts?: number },
): Promise<TaskRun> {
  const ctx: CommandContext & { stdout: Capture; stderr: Capture } = {
    cwd: opts.cwd,
    env: process.env,
    stdout: new Capture(),
    stderr: new Capture(),
    isTTY: false,
    signal: new AbortController().signal,
  };
  const saved = { ...process.env };
  Object.assign(process.env, opts.env);
  try {
    const code = await runCommand.run([task, ...sshArgs(sshd, opts.waitAttempts), ...(opts.args ?? [])], ctx);
    return { code, out: ctx.stdout.text, err: ctx.stderr.text, envAfter: { ...process.env } };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** runTask against a staged root: MPIMG_TARGET_ROOT (the scripts' --root) and no package manager. */
export const runTaskInRoot = (
  sshd: Sshd,
  task: string,
  root: string,
  opts: { cwd: string; env?: Record<string, string>; args?: string[] },
): Promise<TaskRun> =>
  runTask(sshd, task, { ...opts, env: { MPIMG_TARGET_ROOT: root, MPIMG_SKIP_PACKAGES: '1', ...opts.env } });
