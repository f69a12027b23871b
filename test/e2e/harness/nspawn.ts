import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunResult } from './exec.js';
import type { Droplet } from './droplet.js';

export interface BootOptions {
  /**
   * Docker Engine runs inside, as on a droplet (a full VM): the unified cgroup hierarchy a droplet's
   * systemd mounts (this machine's hybrid one gives the container read-only v1 controllers, where runc
   * cannot make a container's cgroup), and the calls runc makes that systemd-nspawn filters by default
   * (the session keyring of each container, the BPF device filter of its cgroup, with CAP_BPF).
   */
  containers?: boolean;
  /**
   * The network namespace of this process (a nat build droplet's PID 1) instead of a new one: the
   * boot reaches the Debian mirror through its slirp4netns.
   */
  netnsOf?: number;
}

const CONTAINER_POWERS = ['--system-call-filter=add_key keyctl request_key bpf', '--capability=CAP_BPF'];

/**
 * A real boot with systemd as PID 1 (systemd-nspawn, private network, not registered with machined):
 * cloud-init runs from its systemd units exactly as on a droplet. Powered off with `systemctl poweroff`
 * entered through nsenter.
 */
export class SystemdBoot {
  private out = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly d: Droplet,
  ) {
    child.stdout!.on('data', (b: Buffer) => {
      this.out += b.toString('utf8');
    });
    child.stderr!.on('data', (b: Buffer) => {
      this.out += b.toString('utf8');
    });
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  }

  /**
   * The private network has only loopback; a droplet has a public address. This unit (written into the
   * droplet's layer) gives the container an IPv4 address on a veth pair inside its own network namespace,
   * before cloud-init starts; nothing of it reaches the host.
   */
  static giveAddress(d: Droplet, cidr: string): void {
    d.write(
      'etc/systemd/system/mpimg-e2e-address.service',
      `[Unit]
Description=e2e test bed: the droplet's public address (inside the private network namespace)
DefaultDependencies=no
Before=cloud-init-local.service network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip link add eth0 type veth peer name eth0-peer && ip link set eth0-peer up && ip addr add ${cidr} dev eth0 && ip link set eth0 up'

[Install]
WantedBy=sysinit.target
`,
    );
    const wants = d.path('etc/systemd/system/sysinit.target.wants');
    mkdirSync(wants, { recursive: true });
    symlinkSync('/etc/systemd/system/mpimg-e2e-address.service', join(wants, 'mpimg-e2e-address.service'));
  }

  static start(d: Droplet, opts: BootOptions = {}): SystemdBoot {
    const nspawn = [
      '--quiet',
      '-b',
      '-D',
      d.root,
      '--register=no',
      '--keep-unit',
      // the droplet's own namespace either way (/proc/sys/net writable); a joined one needs CAP_NET_ADMIN named
      ...(opts.netnsOf
        ? [`--network-namespace-path=/proc/${opts.netnsOf}/ns/net`, '--capability=CAP_NET_ADMIN']
        : ['--private-network']),
      '--console=pipe',
      `--machine=mpimg-e2e-${process.pid}`,
      ...(opts.containers ? CONTAINER_POWERS : []),
    ];
    const child = spawn('systemd-nspawn', nspawn, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        LANG: 'C.UTF-8',
        ...(opts.containers ? { SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' } : {}),
      },
    });
    return new SystemdBoot(child, d);
  }

  /** Console output so far (systemd's boot messages). */
  console(): string {
    return this.out;
  }

  /** Host pid of the container's PID 1 (systemd), once it exists. */
  async leaderPid(timeoutMs = 30_000): Promise<number> {
    const hostPidNs = readlinkSync('/proc/self/ns/pid');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`systemd-nspawn ended (exit ${this.child.exitCode}):\n${this.out}`);
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        try {
          const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          if (ppid !== this.child.pid) continue;
          if (readlinkSync(`/proc/${name}/ns/pid`) === hostPidNs) continue;
          return Number(name);
        } catch {
          /* process went away */
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no systemd inside systemd-nspawn after ${timeoutMs} ms:\n${this.out}`);
  }

  /** Runs a command inside the booted container (its namespaces and root). */
  async exec(script: string, timeoutMs = 120_000): Promise<RunResult> {
    const pid = await this.leaderPid();
    return run(
      'nsenter',
      ['-t', String(pid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--', '/bin/sh', '-c', script],
      {
        allowFail: true,
        timeoutMs,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root' },
      },
    );
  }

  /** `systemctl poweroff` inside, then waits for systemd-nspawn to end (killed after the timeout). */
  async poweroff(timeoutMs = 90_000): Promise<number | null> {
    if (this.child.exitCode === null) {
      await this.exec('systemctl poweroff', 30_000).catch(() => undefined);
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
