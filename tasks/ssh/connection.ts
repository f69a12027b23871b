/**
 * A host reached over ssh: the Connection that tasks use (run, sudo, exists, put, get, putDir).
 * Options and their checks live in options.ts, one ssh process in exec.ts, the remote process group in
 * process-group.ts, the transfers' shell in transfer.ts.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { MpimgError } from '../../core/errors.js';
import { childEnv } from '../secrets.js';
import { redact } from '../build-secrets.js';
import { CommandError, CommandTimeoutError, HostKeyError, SshError } from './errors.js';
import type { TaskTiming } from './output.js';
import { envWords, shellQuote } from './quote.js';
import {
  BASE_ENV,
  checkConnectionOptions,
  sshArgv,
  type CheckedOptions,
  type ConnectionOptions,
  type HostKeyPolicy,
  type RunOptions,
  type RunResult,
  type TransferOptions,
} from './options.js';
import { execSsh, type Exec, type ExecOptions } from './exec.js';
import { killGroupCommand, pgidLine } from './process-group.js';
import {
  fileMode,
  getScript,
  NO_KEEP_SYMLINK,
  putDirScript,
  putScript,
  remotePath,
  splitGot,
  tarFolder,
  writeLocalAtomically,
} from './transfer.js';

export { BASE_ENV } from './options.js';
export type { ConnectionOptions, HostKeyPolicy, RunOptions, RunResult, TransferOptions } from './options.js';

/**
 * A host reached with the system OpenSSH client. Every call runs `ssh`, multiplexed over ONE
 * connection (ControlMaster in a private temp dir), so a whole build is one TCP connection and
 * ~/.ssh/config, the agent and ProxyJump work as with plain ssh.
 */
export class Connection {
  readonly host: string;
  readonly user: string;
  readonly port: number;
  readonly hostKeys: HostKeyPolicy;
  /** Name of the running task: prefixes every output line. Set by task(). */
  prefix = '';
  /** The image project folder (mpimg.json, dist/, files/, scripts/). */
  readonly project: string;
  /**
   * The tasks of this run by name (the project's task file over the standard set), so a pipeline's
   * step named "scripts" runs the vendor's own `scripts` task when there is one. Set by `mpimg run`.
   */
  tasks?: Map<string, (c: Connection) => Promise<void>>;
  /** Depth of nested tasks (for the timing table). */
  depth = 0;
  /** One entry per task run on this connection, in starting order (parents before their steps). */
  readonly timings: TaskTiming[] = [];
  readonly stdout: Writable | null;
  readonly stderr: Writable | null;
  private readonly opts: ConnectionOptions;
  private readonly settings: CheckedOptions;
  private controlDir?: string;
  private closed = false;

  constructor(opts: ConnectionOptions) {
    this.settings = checkConnectionOptions(opts);
    this.opts = opts;
    this.project = resolve(opts.project ?? process.cwd());
    this.host = this.settings.host;
    this.user = this.settings.user;
    this.port = this.settings.port;
    this.hostKeys = this.settings.hostKeys;
    this.stdout = opts.stdout === undefined ? process.stdout : opts.stdout;
    this.stderr = opts.stderr === undefined ? process.stderr : opts.stderr;
  }

  /** The AbortSignal given in the options (helpers that wait use it too). */
  get signal(): AbortSignal | undefined {
    return this.opts.signal;
  }

  /** `user@host:port`, for messages. */
  get target(): string {
    return `${this.user}@${this.host}${this.port === 22 ? '' : `:${this.port}`}`;
  }

  /** Writes one progress line with the task prefix (to stderr, so stdout stays the remote's). */
  log(message: string): void {
    this.stderr?.write(`${this.linePrefix()}${redact(message)}\n`);
  }

  private linePrefix(): string {
    return this.prefix ? `[${this.prefix}] ` : '';
  }

  /** The ssh arguments before the remote command. */
  sshArgs(extra: string[] = []): string[] {
    if (this.closed)
      throw new MpimgError('connection already closed', { where: this.target, hint: 'create a new Connection' });
    if (!this.controlDir) {
      // Short path on purpose: unix socket paths are limited to ~104 bytes (macOS's TMPDIR is long).
      const t = tmpdir();
      const base = t.length > 40 || !/^[A-Za-z0-9/._-]+$/.test(t) ? '/tmp' : t;
      this.controlDir = mkdtempSync(join(base, 'mpimg-ssh-'));
      chmodSync(this.controlDir, 0o700);
      // Close the shared connection even when the caller forgets to (or the process ends early).
      process.once('exit', this.onExit);
    }
    return sshArgv(this.opts, this.settings, this.controlDir, extra);
  }

  /**
   * The remote command line: a clean env and ONE `sh -c` for the whole command. `marker`: the script
   * first reports its process group (see pgidLine), which run() uses to stop it on a timeout.
   */
  wrap(
    command: string,
    opts: { env?: Record<string, string>; cwd?: string; sudo?: boolean; marker?: string } = {},
  ): string {
    const env = envWords({ ...BASE_ENV, ...this.opts.env, ...opts.env });
    const lines: string[] = [];
    if (opts.marker !== undefined) {
      if (!/^[0-9a-f]{8,64}$/.test(opts.marker)) throw new TypeError(`bad marker ${JSON.stringify(opts.marker)}`);
      lines.push(pgidLine(opts.marker));
    }
    // ./ keeps a relative folder named "-x" (an option) or "-" (the previous folder) a folder.
    if (opts.cwd) lines.push(`cd ${shellQuote(opts.cwd.startsWith('-') ? `./${opts.cwd}` : opts.cwd)} || exit 1`);
    lines.push(command);
    const script = lines.join('\n');
    const useSudo = opts.sudo && this.user !== 'root';
    // HOME/USER/LOGNAME come from the remote login (or are root's under sudo); all else is explicit.
    const ids = useSudo
      ? ['HOME=/root', 'USER=root', 'LOGNAME=root']
      : ['HOME="$HOME"', 'USER="$USER"', 'LOGNAME="$LOGNAME"'];
    const head = useSudo ? 'exec sudo -n -- env -i' : 'exec env -i';
    return [head, ...ids, ...env, '/bin/sh', '-c', shellQuote(script)].join(' ');
  }

  /** Runs one ssh process (see execSsh); never throws for a non-zero exit. */
  private exec(remote: string, opts: ExecOptions): Promise<Exec> {
    return execSsh(
      {
        argv: () => this.sshArgs([]).concat(remote),
        stdout: this.stdout,
        stderr: this.stderr,
        prefix: () => this.linePrefix(),
        signal: this.opts.signal,
        killGroup: (pgid) => this.killRemoteGroup(pgid),
      },
      opts,
    );
  }

  /**
   * Stops a remote process group: TERM, then KILL if it is still there after the grace. Through a
   * new session on the shared connection; as root via `sudo -n` when the user is not root (the group
   * may be a sudo command's). True when the group is gone.
   */
  private async killRemoteGroup(pgid: number): Promise<boolean> {
    // Never 0 or 1: `kill -TERM -1` would signal every process the user may signal.
    if (!Number.isSafeInteger(pgid) || pgid <= 1) return false;
    const e = await this.exec(this.wrap(killGroupCommand(pgid)), {
      quiet: true,
      timeoutMs: 30_000,
      ignoreSignal: true,
    });
    return e.exitCode === 0 && !e.timedOut;
  }

  /** Turns ssh's own failures (exit 255 + its messages) into clear errors. */
  private sshFailure(e: Exec): MpimgError | undefined {
    if (e.exitCode !== 255) return undefined;
    const s = e.stderr;
    const kh = this.opts.knownHostsFile ?? '~/.ssh/known_hosts';
    const hostSpec = this.port === 22 ? this.host : `[${this.host}]:${this.port}`;
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(s)) {
      return new HostKeyError(
        `the host key of ${hostSpec} CHANGED since it was recorded`,
        kh,
        `if the droplet was rebuilt or the IP reused, remove the old key with: ssh-keygen -R '${hostSpec}' -f ${kh}; otherwise do not connect (possible man-in-the-middle)`,
      );
    }
    if (/Host key verification failed|No [A-Z0-9-]+ host key is known/.test(s)) {
      return new HostKeyError(
        `the host key of ${hostSpec} is not known and strict host-key checking is on`,
        kh,
        `verify the key's fingerprint (DigitalOcean console), add it to ${kh}, or run without --strict-host-keys to accept a new host's key`,
      );
    }
    if (
      /^ssh: |Permission denied|Connection (refused|timed out|closed)|Could not resolve|kex_exchange_identification|Connection reset|No route to host/m.test(
        s,
      )
    ) {
      return new SshError(
        `ssh could not connect to ${this.target}`,
        this.target,
        s.trim().split('\n').slice(-5),
        'check the host address and port, that the droplet is up, and that your key (--identity) is authorized for this user',
      );
    }
    return undefined;
  }

  private checked(command: string, e: Exec, opts: { check?: boolean; hint?: string; timeoutMs?: number }): RunResult {
    if (e.timedOut) {
      if (opts.check !== false) {
        throw new CommandTimeoutError({
          command,
          timeoutMs: opts.timeoutMs ?? 0,
          remoteStopped: e.remoteStopped,
          lastLines: e.tail,
          host: this.target,
          task: this.prefix || undefined,
        });
      }
      return {
        command,
        exitCode: 124,
        stdout: e.stdout.toString('utf8'),
        stderr: e.stderr,
        ok: false,
        durationMs: e.durationMs,
        timedOut: true,
      };
    }
    const ssh = this.sshFailure(e);
    if (ssh instanceof HostKeyError) throw ssh;
    if (ssh && opts.check !== false) throw ssh;
    const result: RunResult = {
      command,
      exitCode: e.exitCode,
      stdout: e.stdout.toString('utf8'),
      stderr: e.stderr,
      ok: e.exitCode === 0,
      durationMs: e.durationMs,
      timedOut: false,
    };
    if (e.exitCode !== 0 && opts.check !== false) {
      throw new CommandError({
        command,
        exitCode: e.exitCode,
        lastLines: e.tail,
        host: this.target,
        task: this.prefix || undefined,
        hint: opts.hint,
      });
    }
    return result;
  }

  /** Runs `command` with /bin/sh on the host in a clean environment (one shell per call). */
  async run(command: string, opts: RunOptions = {}): Promise<RunResult> {
    return this.runAs(command, opts, false);
  }

  /** Like run(), as root: through `sudo -n` when the user is not root, directly when it is. */
  async sudo(command: string, opts: RunOptions = {}): Promise<RunResult> {
    return this.runAs(command, opts, true);
  }

  private async runAs(command: string, opts: RunOptions, sudo: boolean): Promise<RunResult> {
    if (opts.echo ?? !opts.quiet) this.log(`$ ${sudo && this.user !== 'root' ? 'sudo ' : ''}${command}`);
    const marker = randomBytes(8).toString('hex');
    const e = await this.exec(this.wrap(command, { env: opts.env, cwd: opts.cwd, sudo, marker }), {
      input: opts.input,
      quiet: opts.quiet,
      timeoutMs: opts.timeoutMs,
      marker,
    });
    return this.checked(command, e, opts);
  }

  /** True when `path` exists on the host (any type, including a dangling symlink). */
  async exists(path: string, opts: { sudo?: boolean } = {}): Promise<boolean> {
    const q = shellQuote(path);
    const e = await this.exec(this.wrap(`test -e ${q} || test -L ${q}`, { sudo: opts.sudo }), { quiet: true });
    const ssh = this.sshFailure(e);
    if (ssh) throw ssh;
    return e.exitCode === 0;
  }

  /**
   * Copies a local file to `remote` atomically (temp file + rename), creating parent folders, with the given or the
   * local mode.
   */
  async put(local: string, remote: string, opts: TransferOptions = {}): Promise<void> {
    const st = statSync(local);
    if (!st.isFile()) throw new MpimgError(`not a file: ${local}`, { where: 'put', hint: 'use putDir() for folders' });
    remotePath(remote, 'put');
    if (remote.endsWith('/')) {
      throw new MpimgError(`put needs a file path on the host, got the folder ${JSON.stringify(remote)}`, {
        where: 'put',
        hint: `name the file, e.g. ${remote}${basename(local)}`,
      });
    }
    const mode = fileMode(opts.mode ?? st.mode, 'put');
    this.log(`put ${local} -> ${remote} (${mode})`);
    const e = await this.exec(this.wrap(putScript(remote, mode, st.size), { sudo: opts.sudo }), {
      input: createReadStream(local),
      quiet: true,
    });
    this.checked(`put ${local} ${remote}`, e, {});
  }

  /** Copies a remote file to `local` (atomically), keeping its mode (a link's target's) unless `mode` is given. */
  async get(remote: string, local: string, opts: TransferOptions = {}): Promise<void> {
    remotePath(remote, 'get');
    const wanted = opts.mode === undefined ? undefined : fileMode(opts.mode, 'get');
    this.log(`get ${remote} -> ${local}`);
    const e = await this.exec(this.wrap(getScript(remote), { sudo: opts.sudo }), { quiet: true, keepStdout: true });
    this.checked(`get ${remote} ${local}`, e, {});
    const got = splitGot(e.stdout);
    if (got.mode === undefined) {
      throw new MpimgError(
        `could not read the mode of ${remote} on ${this.target} (stat said ${JSON.stringify(got.reported.slice(0, 40))})`,
        { where: 'get', hint: 'the host needs GNU or busybox stat; pass { mode } to get() to skip it' },
      );
    }
    writeLocalAtomically(local, got.data, wanted ?? got.mode);
  }

  /**
   * Mirrors a local folder into `remoteDir` (e.g. files/ onto /): every file, link and folder with its
   * mode, owned by the remote user. Folders that already exist on the host keep their own mode and
   * owner, so mirroring onto / never loosens /, /etc or /tmp. Needs tar on both ends.
   * `exclude`: file-name patterns left out (e.g. ['.gitkeep']).
   */
  async putDir(localDir: string, remoteDir: string, opts: { sudo?: boolean; exclude?: string[] } = {}): Promise<void> {
    if (!statSync(localDir).isDirectory())
      throw new MpimgError(`not a folder: ${localDir}`, { where: 'putDir', hint: 'give a folder such as files/' });
    remotePath(remoteDir, 'putDir');
    this.log(`putDir ${localDir}/ -> ${remoteDir}`);
    const tar = tarFolder(localDir, opts.exclude ?? []);
    const e = await this.exec(this.wrap(putDirScript(remoteDir), { sudo: opts.sudo }), {
      input: tar.stream,
      quiet: true,
    });
    const tarCode = await tar.done;
    if (e.exitCode === 3 && e.stderr.includes(NO_KEEP_SYMLINK)) {
      throw new MpimgError(`the tar on ${this.target} cannot keep links to folders (--keep-directory-symlink)`, {
        where: 'putDir',
        hint: 'install GNU tar 1.27 or newer on the host (every supported distribution has it): without it, copying files/lib/... would replace the /lib -> usr/lib link',
      });
    }
    // A local tar that only lost its reader (the remote side failed first) is not the cause: report the remote.
    if (tarCode !== 0 && (e.exitCode === 0 || !/Broken pipe|Cannot write/i.test(tar.stderr()))) {
      throw new MpimgError(`local tar failed for ${localDir}: ${tar.stderr().trim()}`, {
        where: localDir,
        hint: 'check that every file in the folder is readable',
      });
    }
    this.checked(`putDir ${localDir} ${remoteDir}`, e, {});
  }

  /** Closes the shared connection and removes its private control folder. Safe to call twice. */
  private readonly onExit = () => this.close();

  close(): void {
    if (this.closed) return;
    process.removeListener('exit', this.onExit);
    if (this.controlDir) {
      spawnSync('ssh', this.sshArgs(['-O', 'exit']), { stdio: 'ignore', timeout: 10_000, env: childEnv() });
      rmSync(this.controlDir, { recursive: true, force: true });
    }
    this.closed = true;
  }
}
