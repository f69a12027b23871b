import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync, renameSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { MpimgError } from '../errors.js';
import { childEnv } from '../secrets.js';
import { CommandError, HostKeyError, SshError } from './errors.js';
import { LineStream, TailBuffer, type TaskTiming } from './output.js';
import { envWords, shellQuote } from './quote.js';

/** `accept-new`: record the key of a host seen for the first time, refuse a changed one. `strict`: known hosts only. */
export type HostKeyPolicy = 'accept-new' | 'strict';

export interface ConnectionOptions {
  host: string;
  /** Remote user; `root` on a fresh droplet. */
  user?: string;
  port?: number;
  /** Private key file (ssh -i). The agent and ~/.ssh/config keys are used as well. */
  identityFile?: string;
  /** Default `accept-new`. There is no "off". */
  hostKeys?: HostKeyPolicy;
  /** known_hosts file to read and (accept-new) write; default: ssh's own (~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** ssh client config (ssh -F); default: ~/.ssh/config and /etc/ssh/ssh_config, as plain ssh does. */
  sshConfigFile?: string;
  /** Seconds ssh waits for the TCP connection. Default 10. */
  connectTimeout?: number;
  /** Added to the clean environment of every command. */
  env?: Record<string, string>;
  /** Where remote stdout / stderr and progress lines go (default process.stdout / process.stderr). null hides them. */
  stdout?: Writable | null;
  stderr?: Writable | null;
  /** Extra `-o Key=Value` ssh options (ProxyJump=..., ...). Options that switch host-key checking off are refused. */
  sshOptions?: string[];
  /** Idle seconds the shared connection stays open after the last command. Default 600. */
  controlPersist?: number;
  /** Aborts running commands (e.g. Ctrl-C in the CLI). */
  signal?: AbortSignal;
}

export interface RunOptions {
  /**
   * Added to the clean environment for this command only. Values travel on the ssh command line
   * (visible in process lists on both ends): pass secrets through `input` instead.
   */
  env?: Record<string, string>;
  /** Remote working directory for this command. */
  cwd?: string;
  /** Bytes for the command's stdin. */
  input?: string | Buffer | Readable;
  /** Throw CommandError on a non-zero exit (default true). Set false to inspect `exitCode` yourself. */
  check?: boolean;
  /** Do not stream output (it is still captured and used in failure reports). */
  quiet?: boolean;
  /** Print `$ <command>` before running it (default true unless quiet). Turn off for commands holding secrets. */
  echo?: boolean;
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  /** Hint printed with the failure report. */
  hint?: string;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  ok: boolean;
  durationMs: number;
}

export interface TransferOptions {
  /** File mode, e.g. 0o755. Default: the source file's mode. */
  mode?: number;
  /** Run the remote side through sudo (for a non-root user). */
  sudo?: boolean;
}

/** The clean environment every remote command starts from (plus HOME/USER/LOGNAME of the remote user). */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  DEBIAN_FRONTEND: 'noninteractive',
  // Ubuntu's needrestart would otherwise stop apt-get with a dialog.
  NEEDRESTART_MODE: 'a',
  APT_LISTCHANGES_FRONTEND: 'none',
  SYSTEMD_PAGER: '',
  PAGER: 'cat',
};

/** ssh -o settings that would turn host-key checking off or hide the known_hosts file. */
const FORBIDDEN_OPTIONS = /^(stricthostkeychecking|userknownhostsfile|globalknownhostsfile|controlmaster|controlpath|controlpersist|batchmode)\b/i;

interface Exec {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
  tail: string[];
  durationMs: number;
}

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
  /** Depth of nested tasks (for the timing table). */
  depth = 0;
  /** One entry per task run on this connection, in starting order (parents before their steps). */
  readonly timings: TaskTiming[] = [];
  readonly stdout: Writable | null;
  readonly stderr: Writable | null;
  private readonly opts: ConnectionOptions;
  private controlDir?: string;
  private closed = false;

  constructor(opts: ConnectionOptions) {
    if (!opts.host || /\s/.test(opts.host) || opts.host.startsWith('-')) {
      throw new MpimgError(`bad host ${JSON.stringify(opts.host)}`, { where: '--host', hint: 'give an IP address or host name, e.g. --host 203.0.113.10' });
    }
    const policy = opts.hostKeys ?? 'accept-new';
    if (policy !== 'accept-new' && policy !== 'strict') {
      throw new MpimgError(`unknown host-key policy ${JSON.stringify(policy)}`, {
        where: 'hostKeys',
        hint: 'use "accept-new" (default: remember a new host, refuse a changed key) or "strict" (known hosts only); checking cannot be turned off',
      });
    }
    const port = opts.port ?? 22;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new MpimgError(`bad port ${JSON.stringify(opts.port)}`, { where: '--port', hint: 'a whole number from 1 to 65535' });
    }
    for (const o of opts.sshOptions ?? []) {
      if (FORBIDDEN_OPTIONS.test(o.trim())) {
        throw new MpimgError(`ssh option "${o}" is managed by mpimg`, {
          where: 'sshOptions',
          hint: 'use hostKeys / knownHostsFile instead; host-key checking cannot be turned off',
        });
      }
    }
    this.opts = opts;
    this.host = opts.host;
    this.user = opts.user ?? 'root';
    this.port = port;
    this.hostKeys = policy;
    this.stdout = opts.stdout === undefined ? process.stdout : opts.stdout;
    this.stderr = opts.stderr === undefined ? process.stderr : opts.stderr;
  }

  /** `user@host:port`, for messages. */
  get target(): string {
    return `${this.user}@${this.host}${this.port === 22 ? '' : `:${this.port}`}`;
  }

  /** Writes one progress line with the task prefix (to stderr, so stdout stays the remote's). */
  log(message: string): void {
    this.stderr?.write(`${this.linePrefix()}${message}\n`);
  }

  private linePrefix(): string {
    return this.prefix ? `[${this.prefix}] ` : '';
  }

  /** The ssh arguments before the remote command. */
  sshArgs(extra: string[] = []): string[] {
    if (this.closed) throw new MpimgError('connection already closed', { where: this.target, hint: 'create a new Connection' });
    if (!this.controlDir) {
      // Short path on purpose: unix socket paths are limited to ~104 bytes (macOS's TMPDIR is long).
      const base = tmpdir().length > 40 ? '/tmp' : tmpdir();
      this.controlDir = mkdtempSync(join(base, 'mpimg-ssh-'));
      chmodSync(this.controlDir, 0o700);
      // Close the shared connection even when the caller forgets to (or the process ends early).
      process.once('exit', this.onExit);
    }
    const o = this.opts;
    const args: string[] = [];
    if (o.sshConfigFile) args.push('-F', o.sshConfigFile);
    args.push(
      '-T',
      '-o', 'BatchMode=yes',
      '-o', `StrictHostKeyChecking=${this.hostKeys === 'strict' ? 'yes' : 'accept-new'}`,
      '-o', 'ControlMaster=auto',
      '-o', `ControlPath=${join(this.controlDir, 'cm')}`,
      '-o', `ControlPersist=${o.controlPersist ?? 600}`,
      '-o', `ConnectTimeout=${o.connectTimeout ?? 10}`,
      '-o', 'ServerAliveInterval=15',
      '-o', 'ServerAliveCountMax=4',
    );
    if (o.knownHostsFile) args.push('-o', `UserKnownHostsFile=${resolve(o.knownHostsFile)}`);
    if (o.identityFile) args.push('-i', resolve(o.identityFile));
    for (const opt of o.sshOptions ?? []) args.push('-o', opt);
    args.push('-p', String(this.port), '-l', this.user, ...extra, '--', this.host);
    return args;
  }

  /** The remote command line: a clean env and ONE `sh -c` for the whole command. */
  wrap(command: string, opts: { env?: Record<string, string>; cwd?: string; sudo?: boolean } = {}): string {
    const env = envWords({ ...BASE_ENV, ...this.opts.env, ...opts.env });
    const script = opts.cwd ? `cd ${shellQuote(opts.cwd)} || exit 1\n${command}` : command;
    const useSudo = opts.sudo && this.user !== 'root';
    // HOME/USER/LOGNAME come from the remote login (or are root's under sudo); all else is explicit.
    const ids = useSudo ? ['HOME=/root', 'USER=root', 'LOGNAME=root'] : ['HOME="$HOME"', 'USER="$USER"', 'LOGNAME="$LOGNAME"'];
    const head = useSudo ? 'exec sudo -n -- env -i' : 'exec env -i';
    return [head, ...ids, ...env, '/bin/sh', '-c', shellQuote(script)].join(' ');
  }

  /** Runs one ssh process; never throws for a non-zero exit. */
  private exec(remote: string, opts: { input?: string | Buffer | Readable; quiet?: boolean; timeoutMs?: number; keepStdout?: boolean }): Promise<Exec> {
    const start = performance.now();
    const tail = new TailBuffer(20);
    const prefix = () => this.linePrefix();
    const out = new LineStream(opts.quiet ? null : this.stdout, prefix, tail);
    const err = new LineStream(opts.quiet ? null : this.stderr, prefix, tail);
    return new Promise((resolvePromise, reject) => {
      const child = spawn('ssh', this.sshArgs([]).concat(remote), {
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        signal: this.opts.signal,
        // No API token (or other stashed secret) reaches ssh, its ProxyCommand or the host.
        env: childEnv(),
      });
      const chunks: Buffer[] = [];
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => {
        chunks.push(d);
        if (!opts.keepStdout) out.write(d);
      });
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString('utf8');
        err.write(d);
      });
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs);
      child.once('error', (e) => {
        if (timer) clearTimeout(timer);
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new MpimgError('the ssh command was not found', { hint: 'install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)' }));
        } else reject(e);
      });
      child.once('close', (code, sig) => {
        if (timer) clearTimeout(timer);
        out.flush();
        err.flush();
        resolvePromise({
          exitCode: code ?? (sig ? 128 + (sig === 'SIGKILL' ? 9 : 15) : 255),
          stdout: Buffer.concat(chunks),
          stderr,
          tail: tail.get(),
          durationMs: performance.now() - start,
        });
      });
      if (opts.input !== undefined && child.stdin) {
        child.stdin.on('error', () => { /* the remote side may exit before reading everything */ });
        if (typeof opts.input === 'string' || Buffer.isBuffer(opts.input)) child.stdin.end(opts.input);
        else opts.input.pipe(child.stdin);
      }
    });
  }

  /** Turns ssh's own failures (exit 255 + its messages) into clear errors. */
  private sshFailure(e: Exec): MpimgError | undefined {
    if (e.exitCode !== 255) return undefined;
    const s = e.stderr;
    const kh = this.opts.knownHostsFile ?? '~/.ssh/known_hosts';
    const hostSpec = this.port === 22 ? this.host : `[${this.host}]:${this.port}`;
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(s)) {
      return new HostKeyError(`the host key of ${hostSpec} CHANGED since it was recorded`, kh,
        `if the droplet was rebuilt or the IP reused, remove the old key with: ssh-keygen -R '${hostSpec}' -f ${kh}; otherwise do not connect (possible man-in-the-middle)`);
    }
    if (/Host key verification failed|No [A-Z0-9-]+ host key is known/.test(s)) {
      return new HostKeyError(`the host key of ${hostSpec} is not known and strict host-key checking is on`, kh,
        `verify the key's fingerprint (DigitalOcean console), add it to ${kh}, or run without --strict-host-keys to accept a new host's key`);
    }
    if (/^ssh: |Permission denied|Connection (refused|timed out|closed)|Could not resolve|kex_exchange_identification|Connection reset|No route to host/m.test(s)) {
      return new SshError(`ssh could not connect to ${this.target}`, this.target, s.trim().split('\n').slice(-5),
        'check the host address and port, that the droplet is up, and that your key (--identity) is authorized for this user');
    }
    return undefined;
  }

  private checked(command: string, e: Exec, opts: { check?: boolean; hint?: string }): RunResult {
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
    };
    if (e.exitCode !== 0 && opts.check !== false) {
      throw new CommandError({ command, exitCode: e.exitCode, lastLines: e.tail, host: this.target, task: this.prefix || undefined, hint: opts.hint });
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
    const e = await this.exec(this.wrap(command, { env: opts.env, cwd: opts.cwd, sudo }), opts);
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

  /** Copies a local file to `remote` atomically (temp file + rename), creating parent folders, with the given or the local mode. */
  async put(local: string, remote: string, opts: TransferOptions = {}): Promise<void> {
    const st = statSync(local);
    if (!st.isFile()) throw new MpimgError(`not a file: ${local}`, { where: 'put', hint: 'use putDir() for folders' });
    const mode = ((opts.mode ?? st.mode) & 0o7777).toString(8).padStart(4, '0');
    const r = shellQuote(remote);
    const script = [
      `mkdir -p -- "$(dirname -- ${r})"`,
      `t=${r}.mpimg-tmp.$$`,
      `trap 'rm -f -- "$t"' EXIT`,
      `(umask 077 && cat > "$t")`,
      `chmod ${mode} "$t"`,
      `mv -f -- "$t" ${r}`,
      'trap - EXIT',
    ].join(' && ');
    this.log(`put ${local} -> ${remote} (${mode})`);
    const e = await this.exec(this.wrap(script, { sudo: opts.sudo }), { input: createReadStream(local), quiet: true });
    this.checked(`put ${local} ${remote}`, e, {});
  }

  /** Copies a remote file to `local` (atomically), keeping its mode unless `mode` is given. */
  async get(remote: string, local: string, opts: TransferOptions = {}): Promise<void> {
    const r = shellQuote(remote);
    this.log(`get ${remote} -> ${local}`);
    const e = await this.exec(this.wrap(`m=$(stat -c %a -- ${r}) && printf '%s\\n' "$m" && exec cat -- ${r}`, { sudo: opts.sudo }), { quiet: true, keepStdout: true });
    this.checked(`get ${remote} ${local}`, e, {});
    const nl = e.stdout.indexOf(0x0a);
    const mode = opts.mode ?? parseInt(e.stdout.subarray(0, nl).toString('latin1'), 8);
    mkdirSync(dirname(resolve(local)), { recursive: true });
    const tmp = `${local}.mpimg-tmp.${process.pid}`;
    writeFileSync(tmp, e.stdout.subarray(nl + 1), { mode: 0o600 });
    chmodSync(tmp, mode & 0o7777);
    renameSync(tmp, local);
  }

  /**
   * Mirrors a local folder into `remoteDir` (e.g. files/ onto /): every file, link and folder with its
   * mode, owned by the remote user. Folders that already exist on the host keep their own mode and
   * owner, so mirroring onto / never loosens /, /etc or /tmp. Needs tar on both ends.
   * `exclude`: file-name patterns left out (e.g. ['.gitkeep']).
   */
  async putDir(localDir: string, remoteDir: string, opts: { sudo?: boolean; exclude?: string[] } = {}): Promise<void> {
    if (!statSync(localDir).isDirectory()) throw new MpimgError(`not a folder: ${localDir}`, { where: 'putDir', hint: 'give a folder such as files/' });
    const r = shellQuote(remoteDir);
    this.log(`putDir ${localDir}/ -> ${remoteDir}`);
    // --exclude takes a name pattern in GNU tar and bsdtar alike (e.g. '.gitkeep' anywhere in the tree).
    const excludes = (opts.exclude ?? []).map((p) => `--exclude=${p}`);
    const tar = spawn('tar', [...excludes, '-C', localDir, '-cf', '-', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // macOS tar would add ._ resource-fork files otherwise.
      env: { ...childEnv(), COPYFILE_DISABLE: '1' },
    });
    let tarErr = '';
    tar.stderr!.on('data', (d) => { tarErr += String(d); });
    const tarDone = new Promise<number>((res, rej) => {
      tar.once('error', rej);
      tar.once('close', (c) => res(c ?? 1));
    });
    const script = `mkdir -p -- ${r} && exec tar -C ${r} -x -p -f - --no-same-owner --no-overwrite-dir`;
    const e = await this.exec(this.wrap(script, { sudo: opts.sudo }), { input: tar.stdout!, quiet: true });
    const tarCode = await tarDone;
    if (tarCode !== 0) throw new MpimgError(`local tar failed for ${localDir}: ${tarErr.trim()}`, { where: localDir, hint: 'check that every file in the folder is readable' });
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
