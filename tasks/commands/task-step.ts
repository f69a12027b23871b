/**
 * The default step on a fresh droplet: the `mpimg run <task>` command of this CLI, in this process.
 * It lives with the commands (it runs one); the API library under tasks/do/ only knows the step's shape.
 */
import { withTokensStashed, childEnv } from '../do/child-env.js';
import { AbortedError } from '../do/errors.js';
import type { BuildStep } from '../do/step.js';
import { MpimgError } from '../../core/errors.js';
import type { Command } from './types.js';

export interface RunTaskBuildStepOptions {
  task?: string;
  user?: string;
  sshPort?: number;
  /** More `mpimg run` flags, e.g. --identity, --known-hosts (tests point them at a throwaway sshd). */
  extraArgs?: string[];
  /** Loads the `mpimg run` command (default: tasks/commands/run.ts of this package). */
  load?: () => Promise<{ default: Command }>;
}

/**
 * `mpimg run build --host <ip> --user root [--known-hosts <the run's file>]` in this process, in the
 * project folder, with the token variables out of process.env and ctx.env meanwhile (the vendor's task
 * file runs in this process). `mpimg run` itself waits for SSH, accepts the new droplet's host key once
 * and reports the task's failure; a non-zero exit becomes an error. A `--known-hosts` in extraArgs
 * comes later and wins.
 */
export function runTaskBuildStep(opts: RunTaskBuildStepOptions = {}): BuildStep {
  return async (ctx) => {
    const task = opts.task ?? 'build';
    const cmd = (await (opts.load ?? (() => import('./run.js')))()).default;
    const argv = [task, '--host', ctx.ip, '--user', opts.user ?? 'root'];
    if (opts.sshPort !== undefined && opts.sshPort !== 22) argv.push('--port', String(opts.sshPort));
    if (ctx.knownHostsFile) argv.push('--known-hosts', ctx.knownHostsFile);
    argv.push(...(opts.extraArgs ?? []));
    const code = await withTokensStashed(() =>
      cmd.run(argv, {
        cwd: ctx.cwd,
        env: childEnv(ctx.env),
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        isTTY: false,
        signal: ctx.signal ?? new AbortController().signal,
      }),
    );
    if (ctx.signal?.aborted) throw new AbortedError();
    if (code !== 0) {
      throw new MpimgError(`the ${task} task failed on ${ctx.ip} (exit code ${code})`, {
        where: `mpimg run ${task} --host ${ctx.ip}`,
        hint:
          task === 'verify'
            ? 'read the [FAIL] lines above; `mpimg verify --keep` keeps the droplet to look at'
            : 'read the output above; run `mpimg image --keep` to keep the droplet for debugging',
      });
    }
  };
}
