import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MpimgError } from '../../core/errors.js';
import { childEnv } from './child-env.js';
import { realClock, type Clock } from './clock.js';
import { AbortedError } from './errors.js';
import type { BuildStep } from './step.js';

/** The package's bin/mpimg.js, found from this module whether it runs from tasks/ (tests) or lib/tasks/. */
export function findMpimgBin(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'bin', 'mpimg.js');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new MpimgError('cannot find bin/mpimg.js of generator-mpimg', {
    where: from,
    hint: 'reinstall generator-mpimg',
  });
}

/** Waits until something accepts TCP connections on host:port (sshd comes up a little after `active`). */
export async function waitForTcp(
  host: string,
  port: number,
  opts: { timeoutMs: number; pollMs: number; clock?: Clock; signal?: AbortSignal },
): Promise<void> {
  const clock = opts.clock ?? realClock;
  const start = clock.now();
  for (;;) {
    if (opts.signal?.aborted) throw new AbortedError();
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port, timeout: Math.min(5000, Math.max(100, opts.timeoutMs)) });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (clock.now() - start >= opts.timeoutMs) {
      throw new MpimgError(`nothing answers on ${host}:${port} after ${Math.round(opts.timeoutMs / 1000)} s`, {
        where: `build droplet ${host}`,
        hint: "check that SSH is reachable from here (firewalls, the image's sshd)",
      });
    }
    await clock.sleep(opts.pollMs, opts.signal);
  }
}

export interface SpawnBuildStepOptions {
  /** Defaults to the package's bin/mpimg.js. */
  bin?: string;
  /** Defaults to process.execPath (the running node). */
  node?: string;
  task?: string;
  user?: string;
  sshPort?: number;
  sshWait?: { timeoutMs: number; pollMs: number };
  clock?: Clock;
}

/**
 * A build step in a child process: wait for SSH, then `node bin/mpimg.js run build --host <ip>
 * --user root [--known-hosts <the run's file>]` in the project folder, without the API tokens in the
 * child's environment.
 */
export function spawnBuildStep(opts: SpawnBuildStepOptions = {}): BuildStep {
  return async (ctx) => {
    const port = opts.sshPort ?? 22;
    await waitForTcp(ctx.ip, port, {
      ...(opts.sshWait ?? { timeoutMs: 5 * 60_000, pollMs: 5000 }),
      clock: opts.clock,
      signal: ctx.signal,
    });
    const args = [
      opts.bin ?? findMpimgBin(),
      'run',
      opts.task ?? 'build',
      '--host',
      ctx.ip,
      '--user',
      opts.user ?? 'root',
    ];
    if (port !== 22) args.push('--port', String(port));
    if (ctx.knownHostsFile) args.push('--known-hosts', ctx.knownHostsFile);
    const env = childEnv(ctx.env);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(opts.node ?? process.execPath, args, {
        cwd: ctx.cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (b: Buffer) => ctx.stdout.write(b));
      child.stderr.on('data', (b: Buffer) => ctx.stderr.write(b));
      const onAbort = () => child.kill('SIGTERM');
      ctx.signal?.addEventListener('abort', onAbort, { once: true });
      child.once('error', (err) => {
        ctx.signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
      child.once('close', (c, sig) => {
        ctx.signal?.removeEventListener('abort', onAbort);
        resolve(c ?? (sig ? 128 : 1));
      });
    });
    if (ctx.signal?.aborted) throw new AbortedError();
    if (code !== 0) {
      throw new MpimgError(`the build task failed on ${ctx.ip} (exit code ${code})`, {
        where: `mpimg run ${opts.task ?? 'build'} --host ${ctx.ip}`,
        hint: 'read the output above; run `mpimg image --keep` to keep the droplet for debugging',
      });
    }
  };
}
