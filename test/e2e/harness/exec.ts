import { spawn, type SpawnOptions } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  /**
   * Killed when it prints nothing for this long: a bound that a busy machine only stretches (a slow
   * debootstrap still prints a line per package), while a hung program is stopped.
   */
  idleTimeoutMs?: number;
  /** Resolve with a non-zero exit instead of throwing. */
  allowFail?: boolean;
}

/** Keeps the last part of long output so error messages stay readable. */
export function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split('\n');
  return all.length <= lines
    ? all.join('\n')
    : `[... ${all.length - lines} lines cut ...]\n${all.slice(-lines).join('\n')}`;
}

export class CommandError extends Error {
  constructor(
    readonly what: string,
    readonly result: RunResult,
  ) {
    super(
      `${what} failed (exit ${result.code ?? result.signal})\n--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`,
    );
  }
}

/** Runs a program without a shell and collects its output; throws CommandError on failure unless allowFail. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = spawn(file, args, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let idle: NodeJS.Timeout | undefined;
    let killed: string | undefined;
    const kill = (why: string) => {
      killed = why;
      child.kill('SIGKILL');
    };
    const quiet = () => {
      if (!opts.idleTimeoutMs) return;
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => kill(`killed after ${opts.idleTimeoutMs} ms without output`), opts.idleTimeoutMs);
    };
    quiet();
    child.stdout!.on('data', (b: Buffer) => {
      out.push(b);
      quiet();
    });
    child.stderr!.on('data', (b: Buffer) => {
      err.push(b);
      quiet();
    });
    if (opts.timeoutMs) timer = setTimeout(() => kill(`killed after ${opts.timeoutMs} ms`), opts.timeoutMs);
    const stopTimers = () => {
      if (timer) clearTimeout(timer);
      if (idle) clearTimeout(idle);
    };
    child.on('error', (e) => {
      stopTimers();
      reject(new Error(`cannot start ${file}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      stopTimers();
      const timedOut = killed !== undefined;
      const result: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (killed ? `\n[${killed}]` : ''),
      };
      const what = `${file} ${args.join(' ')}`.slice(0, 300);
      if ((code !== 0 || timedOut) && !opts.allowFail) reject(new CommandError(what, result));
      else resolve(result);
    });
    child.stdin!.on('error', () => {
      /* the program may exit before reading its input */
    });
    child.stdin!.end(opts.input ?? '');
  });
}
