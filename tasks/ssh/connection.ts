import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync, renameSync, chmodSync, mkdirSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { MpimgError } from '../errors.js';
import { childEnv } from '../secrets.js';
import { CommandError, CommandTimeoutError, HostKeyError, SshError } from './errors.js';
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
  /** The image project the tasks work for (mpimg.json, dist/, files/): default the current folder. */
  project?: string;
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
  /**
   * Stop the command after this many milliseconds: its whole process group on the host gets TERM,
   * then KILL after a short grace, and the call fails with CommandTimeoutError (with `check: false`:
   * resolves with `timedOut: true` and exit code 124).
   */
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
  /** True when `timeoutMs` stopped the command (exitCode is then 124). */
  timedOut: boolean;
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

/**
 * ssh settings (as `ssh -G` names them) that sshOptions may not change, with what to use instead.
 * They switch host-key checking off or around it (NoHostAuthenticationForLocalhost, KnownHostsCommand
 * supplying any key, VerifyHostKeyDNS trusting DNS in place of known_hosts), or belong to the one
 * shared connection. CheckHostIP, HostKeyAlias and UpdateHostKeys stay allowed: the key is still
 * checked against known_hosts with them.
 */
const HOST_KEY_HINT = 'use hostKeys ("accept-new" or "strict") and knownHostsFile (--strict-host-keys, --known-hosts) instead; host-key checking cannot be turned off';
const CONTROL_HINT = 'mpimg runs its own shared connection (ControlMaster/ControlPath); set its idle time with controlPersist';
const MANAGED_SSH_KEYS: Readonly<Record<string, string>> = {
  stricthostkeychecking: HOST_KEY_HINT,
  userknownhostsfile: HOST_KEY_HINT,
  globalknownhostsfile: HOST_KEY_HINT,
  knownhostscommand: HOST_KEY_HINT,
  nohostauthenticationforlocalhost: HOST_KEY_HINT,
  verifyhostkeydns: HOST_KEY_HINT,
  controlmaster: CONTROL_HINT,
  controlpath: CONTROL_HINT,
  controlpersist: CONTROL_HINT,
  batchmode: 'mpimg never waits for a password or a question: use a key (identityFile, --identity) or the ssh agent',
};

/** `ssh -G`: the settings ssh would use for host (no connection is made), by lower-case key. */
function sshConfigFor(args: string[], host: string): { ok: true; config: Map<string, string> } | { ok: false; message: string } {
  const r = spawnSync('ssh', ['-G', ...args, '--', host], { encoding: 'utf8', env: childEnv(), timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw sshMissing();
    throw r.error;
  }
  if (r.status !== 0) {
    const lines = r.stderr.trim().split('\n').filter((l) => l && !/^Pseudo-terminal will not be allocated/.test(l));
    return { ok: false, message: lines.at(-1) ?? `ssh -G exited with ${r.status ?? r.signal}` };
  }
  const config = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const key = line.slice(0, sp).toLowerCase();
    const value = line.slice(sp + 1);
    config.set(key, config.has(key) ? `${config.get(key)}\n${value}` : value);
  }
  return { ok: true, config };
}

/** The first managed setting whose value differs between two `ssh -G` outputs. */
function managedChange(before: Map<string, string>, after: Map<string, string>): { key: string; from?: string; to?: string } | undefined {
  for (const key of Object.keys(MANAGED_SSH_KEYS)) {
    if (before.get(key) !== after.get(key)) return { key, from: before.get(key), to: after.get(key) };
  }
  return undefined;
}

/**
 * Refuses sshOptions that change a managed setting. Asks ssh itself (`ssh -G`, same -F config, host,
 * port and user) what the options change, so every spelling (`Key=value`, `"Key" value`, any case)
 * is judged as ssh reads it, and so are options acting through the config (a Hostname that a `Match`
 * block reacts to). All options at once first (two ssh -G runs in the common case), then one by one
 * to name the culprit.
 */
function checkSshOptions(options: readonly string[], ctx: { host: string; port: number; user: string; sshConfigFile?: string }): void {
  if (options.length === 0) return;
  for (const o of options) {
    if (typeof o !== 'string' || o.trim() === '' || /[\0\r\n]/.test(o)) {
      throw new MpimgError(`bad ssh option ${JSON.stringify(o)}`, { where: 'sshOptions', hint: 'one Key=Value per entry, on one line (e.g. ProxyJump=bastion.example.com)' });
    }
  }
  const base = [...(ctx.sshConfigFile ? ['-F', ctx.sshConfigFile] : []), '-p', String(ctx.port), '-l', ctx.user];
  const withOpts = (list: readonly string[]) => sshConfigFor([...base, ...list.flatMap((o) => ['-o', o])], ctx.host);
  const baseline = sshConfigFor(base, ctx.host);
  if (!baseline.ok) {
    throw new MpimgError(`ssh cannot read its configuration: ${baseline.message}`, {
      where: ctx.sshConfigFile ?? '~/.ssh/config',
      hint: `fix the ssh client configuration (\`ssh -G ${ctx.host}\` shows the problem)`,
    });
  }
  const all = withOpts(options);
  const change = all.ok ? managedChange(baseline.config, all.config) : undefined;
  if (all.ok && !change) return;
  for (const o of options) {
    const one = withOpts([o]);
    if (!one.ok) {
      throw new MpimgError(`ssh rejects the option "${o}": ${one.message}`, {
        where: 'sshOptions',
        hint: 'write each option as Key=Value (e.g. ProxyJump=bastion.example.com); `man ssh_config` lists the keys',
      });
    }
    const c = managedChange(baseline.config, one.config);
    if (c) throw managedError(`ssh option "${o}"`, c);
  }
  if (!all.ok) {
    throw new MpimgError(`ssh rejects the options ${options.map((o) => `"${o}"`).join(', ')} together: ${all.message}`, { where: 'sshOptions', hint: 'check them with `ssh -G -o ... <host>`' });
  }
  throw managedError(`ssh options ${options.map((o) => `"${o}"`).join(', ')} together`, change!);
}

function managedError(what: string, c: { key: string; from?: string; to?: string }): MpimgError {
  const show = (v: string | undefined) => (v === undefined ? 'unset' : JSON.stringify(v.replace(/\n/g, ' ')));
  return new MpimgError(`${what} changes ${c.key} (${show(c.from)} -> ${show(c.to)}), which is managed by mpimg`, { where: 'sshOptions', hint: MANAGED_SSH_KEYS[c.key] });
}

function sshMissing(): MpimgError {
  return new MpimgError('the ssh command was not found', { hint: 'install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)' });
}

/**
 * A path as one ssh_config value: quoted (ssh splits values on spaces: UserKnownHostsFile takes a
 * list) and with `%` doubled (ssh expands %h, %d, ... in these paths). `"` cannot be quoted there and
 * `${` would be read as an environment variable: refused.
 */
function configPath(path: string, where: string): string {
  if (/["\r\n\0]|\$\{/.test(path)) {
    throw new MpimgError(`ssh cannot use the path ${JSON.stringify(path)}: it holds a double quote, a line break or "\${"`, { where, hint: 'move the file to a path without those characters' });
  }
  return `"${path.replace(/%/g, '%%')}"`;
}

/** An IP address or a host name / ssh_config alias; never an option, never user@host. */
const HOST_RE = /^[A-Za-z0-9_][A-Za-z0-9._:%-]*$/;
/** A login name as ssh passes it: no leading "-", no spaces or shell syntax. */
const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.@-]*\$?$/;

/** How long a stopped command's process group gets between TERM and KILL (25 x 0.2 s). */
const KILL_GRACE_STEPS = 25;

/**
 * sh that stops process group `pgid`: TERM, then KILL when members still run after the grace.
 * Exit 0 when the group is gone. Exported for the shellcheck test.
 */
export function killGroupScript(pgid: number): string {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new TypeError(`bad process group ${pgid}`);
  return [
    `pg=${pgid}`,
    // A member still running (not a zombie: an orphan waits for init to reap it, and is dead already).
    'alive() {',
    '  for f in /proc/[0-9]*/stat; do',
    '    { read -r l < "$f"; } 2>/dev/null || continue',
    // The name (field 2) may hold spaces: read on after its closing parenthesis.
    '    r=${l##*) }',
    '    set -f',
    '    # shellcheck disable=SC2086',
    '    set -- $r',
    '    set +f',
    '    [ "${3:-}" = "$pg" ] && [ "$1" != Z ] && return 0',
    '  done',
    '  return 1',
    '}',
    'kill -0 -"$pg" 2>/dev/null || exit 0',
    'kill -TERM -"$pg" 2>/dev/null || exit 1',
    'i=0',
    `while [ "$i" -lt ${KILL_GRACE_STEPS} ]; do`,
    '  alive || exit 0',
    '  sleep 0.2 2>/dev/null || sleep 1',
    '  i=$((i + 1))',
    'done',
    'kill -KILL -"$pg" 2>/dev/null || ! alive',
  ].join('\n');
}

/** killGroupScript as root: through `sudo -n` when the user is not root and may use it. */
export function killGroupCommand(pgid: number): string {
  const q = shellQuote(killGroupScript(pgid));
  return `if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then exec sudo -n /bin/sh -c ${q}; else exec /bin/sh -c ${q}; fi`;
}

/** The error a call rejects with when the connection's AbortSignal fires (as spawn's own would). */
function abortError(signal: AbortSignal | undefined): Error {
  const e = new Error('The operation was aborted', { cause: signal?.reason }) as Error & { code: string };
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  return e;
}

/**
 * First line of a command's script: reports the shell's process group on stderr (a side channel the
 * Connection reads and removes), so a timeout or an abort can kill the whole group on the host.
 * Builtins only; skipped where there is no /proc.
 */
export function pgidLine(marker: string): string {
  return `if [ -r /proc/$$/stat ]; then read -r _ _ _ _ mpimg_pgid _ < /proc/$$/stat && printf 'mpimg-pgid:${marker}:%s\\n' "$mpimg_pgid" >&2; unset mpimg_pgid; fi`;
}

interface ExecOptions {
  input?: string | Buffer | Readable;
  quiet?: boolean;
  timeoutMs?: number;
  keepStdout?: boolean;
  /** Nonce of the process-group line the remote script prints first (see pgidLine). */
  marker?: string;
  /** Not stopped by the connection's AbortSignal (the kill that follows an abort). */
  ignoreSignal?: boolean;
}

interface Exec {
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
  private controlDir?: string;
  private closed = false;

  constructor(opts: ConnectionOptions) {
    if (typeof opts.host !== 'string' || !HOST_RE.test(opts.host)) {
      const at = typeof opts.host === 'string' && opts.host.includes('@');
      throw new MpimgError(`bad host ${JSON.stringify(opts.host)}`, {
        where: '--host',
        hint: at ? 'give the user separately: --host 203.0.113.10 --user deploy' : 'give an IP address or host name, e.g. --host 203.0.113.10',
      });
    }
    const user = opts.user ?? 'root';
    if (typeof user !== 'string' || !USER_RE.test(user)) {
      throw new MpimgError(`bad user ${JSON.stringify(user)}`, { where: '--user', hint: 'a login name such as root or deploy (letters, digits, ".", "_", "-")' });
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
    // Checked here, once, so a bad path fails before any connection is tried.
    if (opts.knownHostsFile) configPath(resolve(opts.knownHostsFile), '--known-hosts');
    if (opts.identityFile) configPath(resolve(opts.identityFile), '--identity');
    checkSshOptions(opts.sshOptions ?? [], { host: opts.host, port, user, sshConfigFile: opts.sshConfigFile });
    this.opts = opts;
    this.project = resolve(opts.project ?? process.cwd());
    this.host = opts.host;
    this.user = user;
    this.port = port;
    this.hostKeys = policy;
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
      const t = tmpdir();
      const base = t.length > 40 || !/^[A-Za-z0-9/._-]+$/.test(t) ? '/tmp' : t;
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
      '-o', `ControlPath=${configPath(join(this.controlDir, 'cm'), 'ControlPath')}`,
      '-o', `ControlPersist=${o.controlPersist ?? 600}`,
      '-o', `ConnectTimeout=${o.connectTimeout ?? 10}`,
      '-o', 'ServerAliveInterval=15',
      '-o', 'ServerAliveCountMax=4',
    );
    if (o.knownHostsFile) args.push('-o', `UserKnownHostsFile=${configPath(resolve(o.knownHostsFile), '--known-hosts')}`);
    // As an option, not -i: ssh expands %-tokens in identity paths, and -i checks the unexpanded one.
    if (o.identityFile) args.push('-o', `IdentityFile=${configPath(resolve(o.identityFile), '--identity')}`);
    for (const opt of o.sshOptions ?? []) args.push('-o', opt);
    args.push('-p', String(this.port), '-l', this.user, ...extra, '--', this.host);
    return args;
  }

  /**
   * The remote command line: a clean env and ONE `sh -c` for the whole command. `marker`: the script
   * first reports its process group (see pgidLine), which run() uses to stop it on a timeout.
   */
  wrap(command: string, opts: { env?: Record<string, string>; cwd?: string; sudo?: boolean; marker?: string } = {}): string {
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
    const ids = useSudo ? ['HOME=/root', 'USER=root', 'LOGNAME=root'] : ['HOME="$HOME"', 'USER="$USER"', 'LOGNAME="$LOGNAME"'];
    const head = useSudo ? 'exec sudo -n -- env -i' : 'exec env -i';
    return [head, ...ids, ...env, '/bin/sh', '-c', shellQuote(script)].join(' ');
  }

  /**
   * Runs one ssh process; never throws for a non-zero exit. On a timeout (or the connection's abort
   * signal) the remote process group named by the marker line is killed through a second ssh
   * session before the local ssh is stopped: ending the local ssh alone leaves the command running
   * on the host (without a terminal, sshd sends it no signal when the client goes away).
   */
  private exec(remote: string, opts: ExecOptions): Promise<Exec> {
    const start = performance.now();
    const tail = new TailBuffer(20);
    const prefix = () => this.linePrefix();
    const out = new LineStream(opts.quiet ? null : this.stdout, prefix, tail);
    const err = new LineStream(opts.quiet ? null : this.stderr, prefix, tail);
    const signal = opts.ignoreSignal ? undefined : this.opts.signal;
    return new Promise((resolvePromise, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const child = spawn('ssh', this.sshArgs([]).concat(remote), {
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        // No API token (or other stashed secret) reaches ssh, its ProxyCommand or the host.
        env: childEnv(),
      });
      const chunks: Buffer[] = [];
      let stderr = '';
      const decoder = new StringDecoder('utf8');
      const markerRe = opts.marker ? new RegExp(`^mpimg-pgid:${opts.marker}:(\\d+)\r?$`) : undefined;
      // stderr is held back line by line until the marker line is seen (it comes before any output of
      // the command; what precedes it is ssh's or the login shell's), then passed through unchanged.
      let held: string | undefined = markerRe ? '' : undefined;
      let pgid: number | undefined;
      const emitErr = (text: string) => {
        if (text === '') return;
        stderr += text;
        err.write(text);
      };
      const onErrText = (text: string) => {
        if (held === undefined) return emitErr(text);
        let buf = held + text;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const m = markerRe!.exec(buf.slice(0, nl));
          if (m) {
            pgid = Number(m[1]);
            held = undefined;
            return emitErr(buf.slice(nl + 1));
          }
          emitErr(buf.slice(0, nl + 1));
          buf = buf.slice(nl + 1);
        }
        held = buf;
      };
      child.stdout!.on('data', (d: Buffer) => {
        chunks.push(d);
        if (!opts.keepStdout) out.write(d);
      });
      child.stderr!.on('data', (d: Buffer) => onErrText(decoder.write(d)));

      let exited = false;
      let settled = false;
      let stopped: 'timeout' | 'abort' | undefined;
      let remoteStopped = false;
      let stopping: Promise<void> | undefined;
      const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
      const closed = new Promise<void>((r) => child.once('close', () => r()));
      let gone = false;
      const processGone = new Promise<void>((r) => child.once('exit', () => { gone = true; r(); }));
      const stop = (why: 'timeout' | 'abort') => {
        if (stopped || exited) return;
        stopped = why;
        stopping = (async () => {
          if (pgid !== undefined) {
            remoteStopped = await this.killRemoteGroup(pgid).catch(() => false);
            // The session ends by itself once its processes are gone: give ssh a moment to see that.
            await Promise.race([closed, pause(2000)]);
          }
          if (exited) return;
          child.kill('SIGTERM');
          await Promise.race([processGone, pause(1000)]);
          if (!gone) child.kill('SIGKILL');
          // A multiplexed ssh hands its stdio to the master connection, which keeps the pipes open
          // while the remote command lives: after the client is gone, stop waiting for them.
          await Promise.race([closed, pause(500)]);
          if (!exited) for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
        })();
      };
      const timer = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;
      const onAbort = () => stop('abort');
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      child.once('error', (e) => {
        exited = true;
        cleanup();
        if (settled) return;
        settled = true;
        reject((e as NodeJS.ErrnoException).code === 'ENOENT' ? sshMissing() : e);
      });
      child.once('close', (code, sig) => {
        exited = true;
        cleanup();
        out.flush();
        const rest = (held ?? '') + decoder.end();
        held = undefined;
        emitErr(rest);
        err.flush();
        const finish = () => {
          if (settled) return;
          settled = true;
          if (stopped === 'abort') return reject(abortError(this.opts.signal));
          resolvePromise({
            exitCode: code ?? (sig ? 128 + (osConstants.signals[sig] ?? 15) : 255),
            stdout: Buffer.concat(chunks),
            stderr,
            tail: tail.get(),
            durationMs: performance.now() - start,
            timedOut: stopped === 'timeout',
            remoteStopped,
          });
        };
        if (stopping) stopping.then(finish, finish);
        else finish();
      });
      if (opts.input !== undefined && child.stdin) {
        child.stdin.on('error', () => { /* the remote side may exit before reading everything */ });
        if (typeof opts.input === 'string' || Buffer.isBuffer(opts.input)) child.stdin.end(opts.input);
        else opts.input.pipe(child.stdin);
      }
    });
  }

  /**
   * Stops a remote process group: TERM, then KILL if it is still there after the grace. Through a
   * new session on the shared connection; as root via `sudo -n` when the user is not root (the group
   * may be a sudo command's). True when the group is gone.
   */
  private async killRemoteGroup(pgid: number): Promise<boolean> {
    // Never 0 or 1: `kill -TERM -1` would signal every process the user may signal.
    if (!Number.isSafeInteger(pgid) || pgid <= 1) return false;
    const e = await this.exec(this.wrap(killGroupCommand(pgid)), { quiet: true, timeoutMs: 30_000, ignoreSignal: true });
    return e.exitCode === 0 && !e.timedOut;
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

  private checked(command: string, e: Exec, opts: { check?: boolean; hint?: string; timeoutMs?: number }): RunResult {
    if (e.timedOut) {
      if (opts.check !== false) {
        throw new CommandTimeoutError({
          command, timeoutMs: opts.timeoutMs ?? 0, remoteStopped: e.remoteStopped, lastLines: e.tail, host: this.target, task: this.prefix || undefined,
        });
      }
      return { command, exitCode: 124, stdout: e.stdout.toString('utf8'), stderr: e.stderr, ok: false, durationMs: e.durationMs, timedOut: true };
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
    const marker = randomBytes(8).toString('hex');
    const e = await this.exec(this.wrap(command, { env: opts.env, cwd: opts.cwd, sudo, marker }), {
      input: opts.input, quiet: opts.quiet, timeoutMs: opts.timeoutMs, marker,
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

  /** Copies a local file to `remote` atomically (temp file + rename), creating parent folders, with the given or the local mode. */
  async put(local: string, remote: string, opts: TransferOptions = {}): Promise<void> {
    const st = statSync(local);
    if (!st.isFile()) throw new MpimgError(`not a file: ${local}`, { where: 'put', hint: 'use putDir() for folders' });
    remotePath(remote, 'put');
    if (remote.endsWith('/')) {
      throw new MpimgError(`put needs a file path on the host, got the folder ${JSON.stringify(remote)}`, { where: 'put', hint: `name the file, e.g. ${remote}${basename(local)}` });
    }
    const mode = fileMode(opts.mode ?? st.mode, 'put');
    this.log(`put ${local} -> ${remote} (${mode})`);
    const e = await this.exec(this.wrap(putScript(remote, mode, st.size), { sudo: opts.sudo }), { input: createReadStream(local), quiet: true });
    this.checked(`put ${local} ${remote}`, e, {});
  }

  /** Copies a remote file to `local` (atomically), keeping its mode (a link's target's) unless `mode` is given. */
  async get(remote: string, local: string, opts: TransferOptions = {}): Promise<void> {
    remotePath(remote, 'get');
    const wanted = opts.mode === undefined ? undefined : fileMode(opts.mode, 'get');
    this.log(`get ${remote} -> ${local}`);
    const e = await this.exec(this.wrap(getScript(remote), { sudo: opts.sudo }), { quiet: true, keepStdout: true });
    this.checked(`get ${remote} ${local}`, e, {});
    const nl = e.stdout.indexOf(0x0a);
    const reported = e.stdout.subarray(0, Math.max(nl, 0)).toString('latin1');
    if (nl < 0 || !/^[0-7]{1,4}$/.test(reported)) {
      throw new MpimgError(`could not read the mode of ${remote} on ${this.target} (stat said ${JSON.stringify(reported.slice(0, 40))})`, { where: 'get', hint: 'the host needs GNU or busybox stat; pass { mode } to get() to skip it' });
    }
    const mode = wanted ?? reported;
    mkdirSync(dirname(resolve(local)), { recursive: true });
    const tmp = `${local}.mpimg-tmp.${process.pid}`;
    try {
      writeFileSync(tmp, e.stdout.subarray(nl + 1), { mode: 0o600 });
      chmodSync(tmp, parseInt(mode, 8));
      renameSync(tmp, local);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Mirrors a local folder into `remoteDir` (e.g. files/ onto /): every file, link and folder with its
   * mode, owned by the remote user. Folders that already exist on the host keep their own mode and
   * owner, so mirroring onto / never loosens /, /etc or /tmp. Needs tar on both ends.
   * `exclude`: file-name patterns left out (e.g. ['.gitkeep']).
   */
  async putDir(localDir: string, remoteDir: string, opts: { sudo?: boolean; exclude?: string[] } = {}): Promise<void> {
    if (!statSync(localDir).isDirectory()) throw new MpimgError(`not a folder: ${localDir}`, { where: 'putDir', hint: 'give a folder such as files/' });
    remotePath(remoteDir, 'putDir');
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
    const e = await this.exec(this.wrap(putDirScript(remoteDir), { sudo: opts.sudo }), { input: tar.stdout!, quiet: true });
    const tarCode = await tarDone;
    if (e.exitCode === 3 && e.stderr.includes(NO_KEEP_SYMLINK)) {
      throw new MpimgError(`the tar on ${this.target} cannot keep links to folders (--keep-directory-symlink)`, {
        where: 'putDir',
        hint: 'install GNU tar 1.27 or newer on the host (every supported distribution has it): without it, copying files/lib/... would replace the /lib -> usr/lib link',
      });
    }
    // A local tar that only lost its reader (the remote side failed first) is not the cause: report the remote.
    if (tarCode !== 0 && (e.exitCode === 0 || !/Broken pipe|Cannot write/i.test(tarErr))) {
      throw new MpimgError(`local tar failed for ${localDir}: ${tarErr.trim()}`, { where: localDir, hint: 'check that every file in the folder is readable' });
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

const NO_KEEP_SYMLINK = 'mpimg: the tar on this host has no --keep-directory-symlink (GNU tar 1.27+ is needed)';

/**
 * sh that writes stdin to `remote` atomically with `mode` (4 octal digits), only when exactly `size`
 * bytes arrived: a transfer cut short (lost connection, abort) ends as an EOF here, and must not
 * replace the file with its first part. Exported for the shellcheck test.
 */
export function putScript(remote: string, mode: string, size: number): string {
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`bad size ${size}`);
  const r = shellQuote(remote);
  // The parent is computed here: $(dirname ...) would drop a trailing newline of the folder's name.
  return [
    'set -e',
    // mv onto a folder (or a link to one) would move the file INTO it under its temp name.
    `if [ -d ${r} ]; then printf 'mpimg: %s is a folder on the host\\n' ${r} >&2; exit 1; fi`,
    `mkdir -p -- ${shellQuote(posix.dirname(remote))}`,
    `t=${r}.mpimg-tmp.$$`,
    // Also on the signals a lost session brings: a killed shell skips its EXIT trap.
    `trap 'rm -f -- "$t"' EXIT`,
    "trap 'exit 1' HUP INT TERM PIPE",
    '(umask 077 && cat > "$t")',
    'n=$(wc -c < "$t")',
    `if [ "$((n))" -ne ${size} ]; then printf 'mpimg: %s: %s of ${size} bytes arrived, file left as it was\\n' ${r} "$((n))" >&2; exit 1; fi`,
    `chmod ${mode} -- "$t"`,
    `mv -f -- "$t" ${r}`,
    'trap - EXIT HUP INT TERM PIPE',
  ].join('\n');
}

/** sh that prints the mode of `remote` (of a link's target: stat -L), a newline, then its bytes. */
export function getScript(remote: string): string {
  const r = shellQuote(remote);
  // -L: the mode of what cat reads (a link's own mode is always 0777).
  return `m=$(stat -L -c %a -- ${r}) && printf '%s\\n' "$m" && exec cat -- ${r}`;
}

/** sh that unpacks a tar stream from stdin into `remoteDir`. Exported for the shellcheck test. */
export function putDirScript(remoteDir: string): string {
  const r = shellQuote(remoteDir);
  // --no-overwrite-dir: existing folders keep their mode and owner. --keep-directory-symlink (GNU tar
  // 1.27+): an existing link to a folder stays a link, so files/lib/... lands in usr/lib on a usr-merged
  // host instead of replacing /lib -> usr/lib with a real folder. Without it the copy is refused.
  return [
    'set -e',
    `mkdir -p -- ${r}`,
    `if ! tar --keep-directory-symlink --version >/dev/null 2>&1; then echo ${shellQuote(NO_KEEP_SYMLINK)} >&2; exit 3; fi`,
    `exec tar -C ${r} -x -p -f - --no-same-owner --no-overwrite-dir --keep-directory-symlink`,
  ].join('\n');
}

/** A remote path must be a non-empty string without NUL (argv cannot carry one). */
function remotePath(p: string, where: string): void {
  if (typeof p !== 'string' || p === '' || p.includes('\0')) {
    throw new MpimgError(`bad remote path ${JSON.stringify(p)}`, { where, hint: 'give a path on the host, e.g. /etc/app/app.conf' });
  }
}

/** The permission bits of `m` as the 4 octal digits chmod takes (file-type bits dropped); refuses NaN and negatives. */
function fileMode(m: number, where: string): string {
  if (!Number.isInteger(m) || m < 0) {
    throw new MpimgError(`bad file mode ${JSON.stringify(m)}`, { where, hint: 'give a permission mode such as 0o644 or 0o755' });
  }
  return (m & 0o7777).toString(8).padStart(4, '0');
}
