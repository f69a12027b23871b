import { MpimgError } from '../../core/errors.js';
import { formatDuration } from './output.js';

/** A remote command exited non-zero: says which command, its exit code and the last lines it printed. */
export class CommandError extends MpimgError {
  readonly command: string;
  /** The remote command's exit status (`exitCode` is the CLI's, always 1). */
  readonly remoteExitCode: number;
  readonly lastLines: string[];
  readonly task?: string;
  constructor(opts: {
    command: string;
    exitCode: number;
    lastLines: string[];
    host: string;
    task?: string;
    hint?: string;
  }) {
    super(`remote command failed with exit code ${opts.exitCode}${opts.task ? ` in task "${opts.task}"` : ''}`, {
      where: opts.host,
      hint: opts.hint ?? 'read the output above, fix the command or the host, then run the task again',
    });
    this.name = 'CommandError';
    this.command = opts.command;
    this.remoteExitCode = opts.exitCode;
    this.lastLines = opts.lastLines;
    this.task = opts.task;
  }
  override format(): string {
    const lines = [`error: ${this.message}`, `  command: ${this.command}`, `  exit code: ${this.remoteExitCode}`];
    if (this.where) lines.push(`  where: ${this.where}`);
    if (this.lastLines.length) {
      lines.push(`  last ${this.lastLines.length} line${this.lastLines.length === 1 ? '' : 's'} of output:`);
      for (const l of this.lastLines) lines.push(`    | ${l}`);
    }
    if (this.hint) lines.push(`  fix: ${this.hint}`);
    return lines.join('\n');
  }
}

/** The host's key is unknown (strict mode) or changed: never retried, never bypassed. */
export class HostKeyError extends MpimgError {
  constructor(message: string, where: string, hint: string) {
    super(message, { where, hint });
    this.name = 'HostKeyError';
  }
}

/** SSH itself failed (connection refused, timeout, authentication). */
export class SshError extends MpimgError {
  readonly lastLines: string[];
  constructor(message: string, where: string, lastLines: string[], hint: string) {
    super(message, { where, hint });
    this.name = 'SshError';
    this.lastLines = lastLines;
  }
  override format(): string {
    const base = super.format().split('\n');
    const fix = base.findIndex((l) => l.startsWith('  fix:'));
    const extra = this.lastLines.length ? ['  ssh said:', ...this.lastLines.map((l) => `    | ${l}`)] : [];
    if (fix < 0) return [...base, ...extra].join('\n');
    return [...base.slice(0, fix), ...extra, ...base.slice(fix)].join('\n');
  }
}

/**
 * A remote command ran longer than its `timeoutMs`. `remoteStopped` tells whether its remote process
 * group was killed (false when the host could not be reached again or the group was never reported).
 */
export class CommandTimeoutError extends CommandError {
  readonly timeoutMs: number;
  readonly remoteStopped: boolean;
  constructor(opts: {
    command: string;
    timeoutMs: number;
    remoteStopped: boolean;
    lastLines: string[];
    host: string;
    task?: string;
    hint?: string;
  }) {
    super({
      command: opts.command,
      // 124: what timeout(1) reports for a command it had to stop.
      exitCode: 124,
      lastLines: opts.lastLines,
      host: opts.host,
      task: opts.task,
      hint:
        opts.hint ??
        (opts.remoteStopped
          ? 'the command was stopped on the host; find out why it hangs (its last output is above) or give it a larger timeoutMs'
          : 'the command could NOT be stopped on the host and may still be running there: log in and check (ps -ef); then find out why it hangs or give it a larger timeoutMs'),
    });
    this.name = 'CommandTimeoutError';
    this.timeoutMs = opts.timeoutMs;
    this.remoteStopped = opts.remoteStopped;
    this.message = `remote command timed out after ${formatDuration(opts.timeoutMs)}${opts.task ? ` in task "${opts.task}"` : ''}${opts.remoteStopped ? ' and was stopped' : ''}`;
  }
  override format(): string {
    return super
      .format()
      .replace(
        /^ {2}exit code: .*$/m,
        `  timeout: ${formatDuration(this.timeoutMs)} (timeoutMs), ${this.remoteStopped ? 'its processes on the host were killed' : 'its processes on the host may still run'}`,
      );
  }
}
