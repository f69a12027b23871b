/**
 * What a Connection is given and how it is checked before any connection is tried: host, user, port,
 * host-key policy, paths that become ssh_config values, and extra ssh options (refused when they change
 * a setting mpimg manages). Also the ssh argument list every call of a Connection uses.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { MpimgError } from '../../core/errors.js';
import { childEnv } from '../secrets.js';

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
const HOST_KEY_HINT =
  'use hostKeys ("accept-new" or "strict") and knownHostsFile (--strict-host-keys, --known-hosts) instead; host-key checking cannot be turned off';
const CONTROL_HINT =
  'mpimg runs its own shared connection (ControlMaster/ControlPath); set its idle time with controlPersist';
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

export function sshMissing(): MpimgError {
  return new MpimgError('the ssh command was not found', {
    hint: 'install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)',
  });
}

/** `ssh -G`: the settings ssh would use for host (no connection is made), by lower-case key. */
function sshConfigFor(
  args: string[],
  host: string,
): { ok: true; config: Map<string, string> } | { ok: false; message: string } {
  const r = spawnSync('ssh', ['-G', ...args, '--', host], {
    encoding: 'utf8',
    env: childEnv(),
    timeout: 15_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw sshMissing();
    throw r.error;
  }
  if (r.status !== 0) {
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l && !/^Pseudo-terminal will not be allocated/.test(l));
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
function managedChange(
  before: Map<string, string>,
  after: Map<string, string>,
): { key: string; from?: string; to?: string } | undefined {
  for (const key of Object.keys(MANAGED_SSH_KEYS)) {
    if (before.get(key) !== after.get(key)) return { key, from: before.get(key), to: after.get(key) };
  }
  return undefined;
}

function managedError(what: string, c: { key: string; from?: string; to?: string }): MpimgError {
  const show = (v: string | undefined) => (v === undefined ? 'unset' : JSON.stringify(v.replace(/\n/g, ' ')));
  return new MpimgError(`${what} changes ${c.key} (${show(c.from)} -> ${show(c.to)}), which is managed by mpimg`, {
    where: 'sshOptions',
    hint: MANAGED_SSH_KEYS[c.key],
  });
}

/**
 * Refuses sshOptions that change a managed setting. Asks ssh itself (`ssh -G`, same -F config, host,
 * port and user) what the options change, so every spelling (`Key=value`, `"Key" value`, any case)
 * is judged as ssh reads it, and so are options acting through the config (a Hostname that a `Match`
 * block reacts to). All options at once first (two ssh -G runs in the common case), then one by one
 * to name the culprit.
 */
function checkSshOptions(
  options: readonly string[],
  ctx: { host: string; port: number; user: string; sshConfigFile?: string },
): void {
  if (options.length === 0) return;
  for (const o of options) {
    if (typeof o !== 'string' || o.trim() === '' || /[\0\r\n]/.test(o)) {
      throw new MpimgError(`bad ssh option ${JSON.stringify(o)}`, {
        where: 'sshOptions',
        hint: 'one Key=Value per entry, on one line (e.g. ProxyJump=bastion.example.com)',
      });
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
    throw new MpimgError(
      `ssh rejects the options ${options.map((o) => `"${o}"`).join(', ')} together: ${all.message}`,
      { where: 'sshOptions', hint: 'check them with `ssh -G -o ... <host>`' },
    );
  }
  throw managedError(`ssh options ${options.map((o) => `"${o}"`).join(', ')} together`, change!);
}

/**
 * A path as one ssh_config value: quoted (ssh splits values on spaces: UserKnownHostsFile takes a
 * list) and with `%` doubled (ssh expands %h, %d, ... in these paths). `"` cannot be quoted there and
 * `${` would be read as an environment variable: refused.
 */
function configPath(path: string, where: string): string {
  if (/["\r\n\0]|\$\{/.test(path)) {
    throw new MpimgError(
      `ssh cannot use the path ${JSON.stringify(path)}: it holds a double quote, a line break or "\${"`,
      { where, hint: 'move the file to a path without those characters' },
    );
  }
  return `"${path.replace(/%/g, '%%')}"`;
}

/** An IP address or a host name / ssh_config alias; never an option, never user@host. */
const HOST_RE = /^[A-Za-z0-9_][A-Za-z0-9._:%-]*$/;
/** A login name as ssh passes it: no leading "-", no spaces or shell syntax. */
const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.@-]*\$?$/;

/** The options a Connection acts on, with their defaults filled in. */
export interface CheckedOptions {
  host: string;
  user: string;
  port: number;
  hostKeys: HostKeyPolicy;
}

/** Checks the options before any connection is tried; every problem is a clear MpimgError. */
export function checkConnectionOptions(opts: ConnectionOptions): CheckedOptions {
  if (typeof opts.host !== 'string' || !HOST_RE.test(opts.host)) {
    const at = typeof opts.host === 'string' && opts.host.includes('@');
    throw new MpimgError(`bad host ${JSON.stringify(opts.host)}`, {
      where: '--host',
      hint: at
        ? 'give the user separately: --host 203.0.113.10 --user deploy'
        : 'give an IP address or host name, e.g. --host 203.0.113.10',
    });
  }
  const user = opts.user ?? 'root';
  if (typeof user !== 'string' || !USER_RE.test(user)) {
    throw new MpimgError(`bad user ${JSON.stringify(user)}`, {
      where: '--user',
      hint: 'a login name such as root or deploy (letters, digits, ".", "_", "-")',
    });
  }
  const hostKeys = opts.hostKeys ?? 'accept-new';
  if (hostKeys !== 'accept-new' && hostKeys !== 'strict') {
    throw new MpimgError(`unknown host-key policy ${JSON.stringify(hostKeys)}`, {
      where: 'hostKeys',
      hint: 'use "accept-new" (default: remember a new host, refuse a changed key) or "strict" (known hosts only); checking cannot be turned off',
    });
  }
  const port = opts.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MpimgError(`bad port ${JSON.stringify(opts.port)}`, {
      where: '--port',
      hint: 'a whole number from 1 to 65535',
    });
  }
  // Checked here, once, so a bad path fails before any connection is tried.
  if (opts.knownHostsFile) configPath(resolve(opts.knownHostsFile), '--known-hosts');
  if (opts.identityFile) configPath(resolve(opts.identityFile), '--identity');
  checkSshOptions(opts.sshOptions ?? [], { host: opts.host, port, user, sshConfigFile: opts.sshConfigFile });
  return { host: opts.host, user, port, hostKeys };
}

/** The ssh arguments before the remote command, for the shared connection whose socket is in `controlDir`. */
export function sshArgv(o: ConnectionOptions, c: CheckedOptions, controlDir: string, extra: string[] = []): string[] {
  const args: string[] = [];
  if (o.sshConfigFile) args.push('-F', o.sshConfigFile);
  args.push(
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    `StrictHostKeyChecking=${c.hostKeys === 'strict' ? 'yes' : 'accept-new'}`,
    '-o',
    'ControlMaster=auto',
    '-o',
    `ControlPath=${configPath(join(controlDir, 'cm'), 'ControlPath')}`,
    '-o',
    `ControlPersist=${o.controlPersist ?? 600}`,
    '-o',
    `ConnectTimeout=${o.connectTimeout ?? 10}`,
    '-o',
    'ServerAliveInterval=15',
    '-o',
    'ServerAliveCountMax=4',
  );
  if (o.knownHostsFile) args.push('-o', `UserKnownHostsFile=${configPath(resolve(o.knownHostsFile), '--known-hosts')}`);
  // As an option, not -i: ssh expands %-tokens in identity paths, and -i checks the unexpanded one.
  if (o.identityFile) args.push('-o', `IdentityFile=${configPath(resolve(o.identityFile), '--identity')}`);
  for (const opt of o.sshOptions ?? []) args.push('-o', opt);
  args.push('-p', String(c.port), '-l', c.user, ...extra, '--', c.host);
  return args;
}
