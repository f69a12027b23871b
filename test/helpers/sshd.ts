/**
 * A real OpenSSH server for tests: /usr/sbin/sshd on 127.0.0.1, a free high port, a fresh host key,
 * a fresh client key in its own authorized_keys, its own config, pid file and log, all in a temp dir.
 * Tests run as root, so the server logs in as root on this machine: callers must keep every remote
 * path inside a temp dir (or pass `chrootDir` to confine the session to a root filesystem they made).
 *
 * Usage:
 *   const sshd = await startSshd();            // or: const s = await createSshd(); ...; await s.start();
 *   ... connect to sshd.host:sshd.port as sshd.user with sshd.identityFile, sshd.knownHostsFile ...
 *   sshd.acceptedConnections();                 // how many sessions the server accepted (from its log)
 *   await sshd.stop();                           // stops the server and removes the temp dir
 *                                                 // (halt() stops but keeps the files, to start() again)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  mkdtempSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
  existsSync,
  rmSync,
  chmodSync,
} from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SshdOptions {
  /** Port to listen on; a free one is picked when absent (use `freePort()` to reserve one up front). */
  port?: number;
  /** Confine sessions to this directory (sshd ChrootDirectory): root-owned, not group/world writable. */
  chrootDir?: string;
  /** Extra sshd_config lines appended as they are. */
  extraConfig?: string;
  /** Reuse a client key pair from an earlier server (private key path; `.pub` next to it). */
  identityFile?: string;
  /**
   * Let the remote login shell read this machine's ~/.bashrc (default false). Bash reads ~/.bashrc for
   * `ssh host cmd` unless SHLVL says it is nested; the server sets SHLVL=1 so tests and benchmarks do
   * not depend on (or pay for) whatever the test machine's root .bashrc does, as on a fresh droplet.
   */
  loginRc?: boolean;
}

export interface Sshd {
  host: string;
  port: number;
  user: string;
  /** Private key the server accepts (0600, temp). */
  identityFile: string;
  /** Empty known_hosts file in the temp dir: pass it to the client so the real ~/.ssh is never touched. */
  knownHostsFile: string;
  /** An empty ssh client config (use as `ssh -F`): keeps the client off ~/.ssh/config and off creating ~/.ssh. */
  clientConfigFile: string;
  /** The server's public host key line (`ssh-ed25519 AAAA...`). */
  hostPublicKey: string;
  logFile: string;
  dir: string;
  /** Starts the server (resolves once it listens). Safe to call again after halt(). */
  start(): Promise<void>;
  /** Stops the server and its sessions and removes its temp dir (keys, config, log). Final. */
  stop(): Promise<void>;
  /** Stops the server and its sessions but keeps its files: start() works again. */
  halt(): Promise<void>;
  /** Number of accepted (authenticated) connections so far, counted from the server log. */
  acceptedConnections(): number;
  log(): string;
}

export const SSHD_BIN = '/usr/sbin/sshd';
const SETPRIV = '/usr/bin/setpriv';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves true once something accepts TCP connections on host:port and sends an SSH banner. */
function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('data', (d) => done(d.toString('latin1').startsWith('SSH-')));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prepares keys and config without starting the server. */
export async function createSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD_BIN)) throw new Error(`${SSHD_BIN} not found: install openssh-server`);
  // sshd refuses to start without its privilege-separation directory; the package's service creates it.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });

  const dir = mkdtempSync(join(tmpdir(), 'mpimg-sshd-'));
  chmodSync(dir, 0o755);
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mpimg-test-host', '-f', hostKey]);
  let identityFile = opts.identityFile ?? '';
  if (!identityFile) {
    identityFile = join(dir, 'client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mpimg-test-client', '-f', identityFile]);
  }
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${identityFile}.pub`), { mode: 0o600 });
  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, '', { mode: 0o600 });
  const clientConfigFile = join(dir, 'ssh_config');
  writeFileSync(clientConfigFile, '# empty on purpose: tests must not read ~/.ssh/config\n', { mode: 0o600 });
  const logFile = join(dir, 'sshd.log');
  const pidFile = join(dir, 'sshd.pid');
  const port = opts.port ?? (await freePort());
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${pidFile}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'AuthenticationMethods publickey',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    'LogLevel VERBOSE',
    'MaxSessions 50',
    'MaxStartups 50',
    'Subsystem sftp internal-sftp',
    ...(opts.loginRc ? [] : ['SetEnv SHLVL=1']),
    ...(opts.chrootDir ? [`ChrootDirectory ${opts.chrootDir}`] : []),
    ...(opts.extraConfig ? [opts.extraConfig] : []),
    '',
  ].join('\n');
  const configFile = join(dir, 'sshd_config');
  writeFileSync(configFile, config, { mode: 0o600 });
  const hostPublicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  // A test process that ends without calling stop() still ends its server and removes its files.
  const onExit = () => {
    if (child?.pid) {
      for (const pid of childPids(child.pid)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      try {
        child.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  process.once('exit', onExit);
  const self: Sshd = {
    host: '127.0.0.1',
    port,
    user: 'root',
    identityFile,
    knownHostsFile,
    clientConfigFile,
    hostPublicKey,
    logFile,
    dir,
    async start() {
      if (child) return;
      // -D: stay in the foreground (we own the process); -E: log to the file.
      // setpriv --pdeathsig: the server dies with the test process even when that is killed.
      const args = ['-D', '-f', configFile, '-E', logFile];
      const proc = existsSync(SETPRIV)
        ? spawn(SETPRIV, ['--pdeathsig', 'SIGTERM', '--', SSHD_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
        : spawn(SSHD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      let stderr = '';
      proc.stderr!.on('data', (d) => {
        stderr += String(d);
      });
      exited = new Promise((r) => proc.once('exit', () => r()));
      let dead = false;
      proc.once('exit', () => {
        dead = true;
      });
      for (let i = 0; i < 200; i++) {
        if (dead) break;
        if (await probe('127.0.0.1', port)) return;
        await sleep(25);
      }
      child = undefined;
      proc.kill('SIGTERM');
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      throw new Error(`sshd did not start on 127.0.0.1:${port}\n${stderr}\n${log}`);
    },
    async halt() {
      if (child) {
        // Sessions are forked children of the listener and would outlive it: end them first.
        for (const pid of childPids(child.pid!)) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            /* already gone */
          }
        }
        child.kill('SIGTERM');
        await exited;
        child = undefined;
      }
    },
    async stop() {
      await self.halt();
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
    acceptedConnections() {
      return (self.log().match(/^.*Accepted publickey for /gm) ?? []).length;
    },
    log() {
      return existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    },
  };
  return self;
}

/** Creates and starts a server. Call `stop()` when done. */
export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const s = await createSshd(opts);
  await s.start();
  return s;
}

/** Alias for other suites: `import { start } from '../helpers/sshd.js'`. */
export const start = startSshd;

/** Pids whose parent is `ppid` (read from /proc, Linux only). */
function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      /* process ended meanwhile */
    }
  }
  return out;
}
