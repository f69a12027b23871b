import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../helpers/sshd.js';
import { run, type RunResult } from './exec.js';
import { Interactive } from './interactive.js';
import { NAT_GUEST_IP, type Droplet, type DropletProcess } from './droplet.js';

export interface KeyPair {
  privateKey: string;
  publicKeyFile: string;
  publicKey: string;
}

export async function makeKeyPair(dir: string, name = 'id_e2e'): Promise<KeyPair> {
  const privateKey = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `mpimg-e2e-${name}`, '-f', privateKey]);
  return {
    privateKey,
    publicKeyFile: `${privateKey}.pub`,
    publicKey: readFileSync(`${privateKey}.pub`, 'utf8').trim(),
  };
}

export interface DropletSshd {
  port: number;
  /** The droplet's network namespace, or undefined when it shares this machine's network. */
  netns?: string;
  proc: DropletProcess;
  /** sshd's own log (-e). */
  log(): string;
}

/**
 * Starts the droplet's own /usr/sbin/sshd inside the sandbox on 127.0.0.1. The host's ssh client
 * reaches it directly (shared network) or from inside the droplet's network namespace (nsenter -n,
 * only the network: the client, its keys and files stay the host's). It stops at the next boot().
 */
export async function startDropletSshd(d: Droplet, timeoutMs = 30_000): Promise<DropletSshd> {
  // A nat droplet's sshd listens on its own address; slirp4netns forwards this machine's
  // 127.0.0.1:port to it, so the host's ssh and `mpimg run` connect as to any droplet.
  const listen = d.network === 'nat' ? NAT_GUEST_IP : '127.0.0.1';
  const listening = new RegExp(`Server listening on ${listen.replace(/\./g, '\\.')} port`);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const proc = d.spawn(
      `mkdir -p /run/sshd && chmod 0755 /run/sshd && /usr/sbin/sshd -D -e -p ${port} -o ListenAddress=${listen}`,
    );
    const deadline = Date.now() + timeoutMs;
    let done = false;
    void proc.exited.then(() => {
      done = true;
    });
    while (!done && Date.now() < deadline && !listening.test(proc.output())) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (listening.test(proc.output())) {
      if (d.network === 'nat') {
        try {
          await d.forward(port);
        } catch (e) {
          proc.child.kill('SIGKILL'); // this sshd is no use without its forward
          if (attempt < 3 && /in use|refused/i.test(String(e))) continue;
          throw e;
        }
      }
      return { port, proc, log: () => proc.output(), netns: d.network === 'private' ? d.netns() : undefined };
    }
    if (/Address already in use/.test(proc.output()) && attempt < 3) continue;
    throw new Error(`the droplet's sshd did not start on ${listen}:${port}:\n${proc.output()}`);
  }
}

/** Host ssh client options: no host config, throw-away known_hosts, only our key. */
export function sshOptions(port: number, key: string): string[] {
  return [
    '-F',
    '/dev/null',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'ConnectTimeout=15',
    '-o',
    'ServerAliveInterval=10',
    '-i',
    key,
    '-p',
    String(port),
  ];
}

/** Where the host's client connects: a port, in the droplet's network namespace when it has one. */
export type SshTarget = Pick<DropletSshd, 'port' | 'netns'>;

/** A host client command line, run inside the droplet's network namespace when it has its own. */
function client(t: SshTarget, tool: string, args: string[]): [string, string[]] {
  return t.netns ? ['nsenter', [`--net=${t.netns}`, '--', tool, ...args]] : [tool, args];
}

/** `ssh root@droplet cmd` (no tty), as a script or scp-style tool would. */
export function sshCommand(t: SshTarget, key: string, command: string, timeoutMs = 120_000): Promise<RunResult> {
  const [file, args] = client(t, 'ssh', [...sshOptions(t.port, key), 'root@127.0.0.1', command]);
  return run(file, args, { allowFail: true, timeoutMs, env: hostClientEnv() });
}

export function scpTo(t: SshTarget, key: string, local: string, remote: string): Promise<RunResult> {
  const opts = sshOptions(t.port, key).map((o) => (o === '-p' ? '-P' : o));
  const [file, args] = client(t, 'scp', ['-q', ...opts, local, `root@127.0.0.1:${remote}`]);
  return run(file, args, { allowFail: true, timeoutMs: 60_000, env: hostClientEnv() });
}

/** An interactive login like a person's: `ssh -tt root@droplet`. */
export function sshLogin(t: SshTarget, key: string, label = 'ssh -tt'): Interactive {
  const [file, args] = client(t, 'ssh', ['-tt', ...sshOptions(t.port, key), 'root@127.0.0.1']);
  const child = spawn(file, args, { env: hostClientEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  return new Interactive(child, label);
}

/**
 * A console login inside the droplet: a real pty through `script`, PAM's `login` (which runs pam_motd).
 * `exec` makes login the session leader, as under getty: trixie's login stops on SIGTTOU otherwise.
 */
export function consoleLogin(d: Droplet): Interactive {
  const p = d.spawn("script -qec 'exec login -f root' /dev/null");
  return new Interactive(p.child, 'console login');
}

/** The host ssh client gets a plain environment: no agent, a known TERM and locale. */
function hostClientEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    TERM: 'xterm',
    LANG: 'C.UTF-8',
  };
}

/**
 * An ssh client config that reaches the droplet's sshd (127.0.0.1 inside the droplet's network
 * namespace) from this machine's network, whatever address mpimg was given for the droplet (a
 * private droplet's address, 198.51.100.10, is only reachable inside it).
 */
export function proxySshConfig(dir: string, sshd: DropletSshd): string {
  if (!sshd.netns || !/^\/proc\/\d+\/ns\/net$/.test(sshd.netns))
    throw new Error(`the droplet has no network namespace of its own: ${sshd.netns}`);
  const relay = join(dir, 'relay.cjs');
  // stdin/stdout <-> 127.0.0.1:PORT, run inside the droplet's network (no nc/socat needed on this machine)
  writeFileSync(
    relay,
    "const s = require('net').connect(Number(process.argv[2]), '127.0.0.1');\ns.on('error', (e) => { process.stderr.write(`relay: ${e.message}\\n`); process.exit(1); });\nprocess.stdin.pipe(s); s.pipe(process.stdout);\ns.on('close', () => process.exit(0));\n",
  );
  const file = join(dir, 'ssh_config');
  writeFileSync(file, `Host *\n  ProxyCommand nsenter --net=${sshd.netns} -- ${process.execPath} ${relay} %p\n`, {
    mode: 0o600,
  });
  return file;
}
