/**
 * One ssh process of a Connection: spawned, its output streamed and captured, and stopped on a
 * timeout or an abort. Never rejects for a non-zero exit: the Connection judges the result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { childEnv } from '../secrets.js';
import { sshMissing } from './options.js';
import { LineStream, TailBuffer } from './output.js';
import { PgidFilter } from './process-group.js';

export interface ExecOptions {
  input?: string | Buffer | Readable;
  quiet?: boolean;
  timeoutMs?: number;
  keepStdout?: boolean;
  /** Nonce of the process-group line the remote script prints first (see pgidLine). */
  marker?: string;
  /** Not stopped by the connection's AbortSignal (the kill that follows an abort). */
  ignoreSignal?: boolean;
}

export interface Exec {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
  tail: string[];
  durationMs: number;
  /** Set when a timeout stopped the command. */
  timedOut: boolean;
  /** The remote process group was killed (or was already gone) after a timeout. */
  remoteStopped: boolean;
}

/** Where an ssh process's output goes and how its remote side is stopped. */
export interface ExecContext {
  /** ssh's whole argument list (the remote command last); asked for only when the call goes ahead. */
  argv: () => string[];
  stdout: Writable | null;
  stderr: Writable | null;
  /** The prefix of every streamed line (the running task's name). */
  prefix: () => string;
  /** The connection's AbortSignal. */
  signal?: AbortSignal;
  /** Stops the remote process group (TERM, then KILL); true when it is gone. */
  killGroup: (pgid: number) => Promise<boolean>;
}

/** The error a call rejects with when the connection's AbortSignal fires (as spawn's own would). */
export function abortError(signal: AbortSignal | undefined): Error {
  const e = new Error('The operation was aborted', { cause: signal?.reason }) as Error & { code: string };
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  return e;
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Resolves when `child` emits `event` (registered now, so an early event is not missed). */
const once = (child: ChildProcess, event: 'exit' | 'close') => new Promise<void>((r) => child.once(event, () => r()));

/**
 * On a timeout (or the connection's abort signal) the remote process group named by the marker line is
 * killed through a second ssh session before the local ssh is stopped: without a terminal, sshd sends
 * the command no signal when the client goes away.
 */
export function execSsh(ctx: ExecContext, opts: ExecOptions): Promise<Exec> {
  const signal = opts.ignoreSignal ? undefined : ctx.signal;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn('ssh', ctx.argv(), {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // No API token (or other stashed secret) reaches ssh, its ProxyCommand or the host.
      env: childEnv(),
    });
    const output = captureOutput(child, ctx, opts);
    const closed = once(child, 'close');
    const exited = once(child, 'exit');
    let done = false;
    let settled = false;
    let stopped: 'timeout' | 'abort' | undefined;
    let remoteStopped = false;
    let stopping: Promise<void> | undefined;
    const stop = (why: 'timeout' | 'abort') => {
      if (stopped || done) return;
      stopped = why;
      stopping = (async () => {
        const pgid = output.pgid();
        if (pgid !== undefined) {
          remoteStopped = await ctx.killGroup(pgid).catch(() => false);
          // The session ends by itself once its processes are gone: give ssh a moment to see that.
          await Promise.race([closed, pause(2000)]);
        }
        if (!done) await stopLocal(child, closed, exited);
      })();
    };
    const timer = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;
    const onAbort = () => stop('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      done = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (e) => {
      cleanup();
      if (settled) return;
      settled = true;
      reject((e as NodeJS.ErrnoException).code === 'ENOENT' ? sshMissing() : e);
    });
    child.once('close', (code, sig) => {
      cleanup();
      const { stdout, stderr, tail } = output.finish();
      const finish = () => {
        if (settled) return;
        settled = true;
        if (stopped === 'abort') return reject(abortError(ctx.signal));
        resolvePromise({
          exitCode: code ?? (sig ? 128 + (osConstants.signals[sig] ?? 15) : 255),
          stdout,
          stderr,
          tail,
          durationMs: performance.now() - start,
          timedOut: stopped === 'timeout',
          remoteStopped,
        });
      };
      if (stopping) stopping.then(finish, finish);
      else finish();
    });
    feedInput(child, opts.input);
  });
}

/** TERM, then KILL, the local ssh; then stop waiting for pipes a multiplexed ssh left to its master. */
async function stopLocal(child: ChildProcess, closed: Promise<void>, exited: Promise<void>): Promise<void> {
  let gone = false;
  child.kill('SIGTERM');
  await Promise.race([
    exited.then(() => {
      gone = true;
    }),
    pause(1000),
  ]);
  if (!gone) child.kill('SIGKILL');
  // A multiplexed ssh hands its stdio to the master connection, which keeps the pipes open
  // while the remote command lives: after the client is gone, stop waiting for them.
  let isClosed = false;
  await Promise.race([
    closed.then(() => {
      isClosed = true;
    }),
    pause(500),
  ]);
  if (!isClosed) for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
}

/** Streams stdout and stderr (prefixed lines) and captures them; stderr loses the process-group line. */
function captureOutput(child: ChildProcess, ctx: ExecContext, opts: ExecOptions) {
  const tail = new TailBuffer(20);
  const out = new LineStream(opts.quiet ? null : ctx.stdout, ctx.prefix, tail);
  const err = new LineStream(opts.quiet ? null : ctx.stderr, ctx.prefix, tail);
  const chunks: Buffer[] = [];
  let stderr = '';
  const decoder = new StringDecoder('utf8');
  const filter = new PgidFilter(opts.marker, (text) => {
    stderr += text;
    err.write(text);
  });
  child.stdout!.on('data', (d: Buffer) => {
    chunks.push(d);
    if (!opts.keepStdout) out.write(d);
  });
  child.stderr!.on('data', (d: Buffer) => filter.write(decoder.write(d)));
  return {
    pgid: () => filter.pgid,
    finish: () => {
      out.flush();
      filter.end(decoder.end());
      err.flush();
      return { stdout: Buffer.concat(chunks), stderr, tail: tail.get() };
    },
  };
}

function feedInput(child: ChildProcess, input: ExecOptions['input']): void {
  if (input === undefined || !child.stdin) return;
  child.stdin.on('error', () => {
    /* the remote side may exit before reading everything */
  });
  if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input);
  else input.pipe(child.stdin);
}
