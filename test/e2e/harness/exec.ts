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
  /** Resolve with a non-zero exit instead of throwing. */
  allowFail?: boolean;
}

/** Keeps the last part of long output so error messages stay readable. */
export function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split('\n');
  return all.length <= lines ? all.join('\n') : `[... ${all.length - lines} lines cut ...]\n${all.slice(-lines).join('\n')}`;
}

export class CommandError extends Error {
  constructor(readonly what: string, readonly result: RunResult) {
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
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
    }
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot start ${file}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (timedOut ? `\n[killed after ${opts.timeoutMs} ms]` : ''),
      };
      const what = `${file} ${args.join(' ')}`.slice(0, 300);
      if ((code !== 0 || timedOut) && !opts.allowFail) reject(new CommandError(what, result));
      else resolve(result);
    });
    child.stdin!.on('error', () => { /* the program may exit before reading its input */ });
    child.stdin!.end(opts.input ?? '');
  });
}
