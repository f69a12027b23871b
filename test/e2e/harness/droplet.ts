import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunOptions, RunResult } from './exec.js';
import { mountOverlay, mountsUnder, mountTmpfs, unmountTree } from './mounts.js';
import { enterRun, enterSpawn, startMachine, type Network, type SandboxSpec } from './sandbox.js';

/** What a nat droplet (slirp4netns) has: its own address, and this machine's loopback as seen from it. */
export const NAT_GUEST_IP = '10.0.2.100';
export const NAT_HOST_IP = '10.0.2.2';

/** A read-only image: overlay lower layers, top-most first. */
export interface Image {
  readonly name: string;
  readonly lowers: string[];
}

export type ExecOptions = Omit<RunOptions, 'env' | 'cwd'>;

/** A process running inside the droplet, with its output collected. */
export interface DropletProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/**
 * One "droplet": a fresh writable layer (tmpfs upper) over an image, plus a /run tmpfs per boot.
 * Everything it runs goes through the sandbox (namespaces + chroot). `destroy()` kills its
 * processes and unmounts everything; `freeze()` turns its state into an image for new droplets.
 */
export class Droplet {
  readonly root: string;
  private readonly layer: string;
  private readonly runDir: string;
  private readonly procs = new Set<ChildProcess>();
  private machine: ChildProcess | null = null;
  private machinePid = 0;
  private slirp: ChildProcess | null = null;
  private destroyed = false;

  private constructor(
    readonly dir: string,
    readonly image: Image,
    readonly network: Network,
  ) {
    this.root = join(dir, 'root');
    this.layer = join(dir, 'layer');
    this.runDir = join(dir, 'run');
  }

  /**
   * Creates a droplet from `image` under `workDir`. Its network is private (nothing outside
   * reachable) unless `network: 'nat'` (build droplets, which need the Debian mirror: a network of
   * their own whose traffic slirp4netns carries through this machine's sockets; this machine's
   * 127.0.0.1 is NAT_HOST_IP from inside).
   */
  static async create(workDir: string, image: Image, name = 'droplet', network: Network = 'private'): Promise<Droplet> {
    mkdirSync(workDir, { recursive: true });
    const d = new Droplet(mkdtempSync(join(workDir, `${name}-`)), image, network);
    try {
      for (const p of [d.root, d.layer, d.runDir]) mkdirSync(p);
      await mountTmpfs(d.layer, 'mode=0755,size=6g');
      mkdirSync(join(d.layer, 'upper'));
      mkdirSync(join(d.layer, 'work'));
      await mountOverlay(image.lowers, join(d.layer, 'upper'), join(d.layer, 'work'), d.root);
      await d.boot();
      return d;
    } catch (e) {
      await d.destroy();
      throw e;
    }
  }

  /** Host path of a file inside the droplet (for reading and preparing files; never run from here). */
  path(p: string): string {
    return join(this.root, p);
  }

  read(p: string): string {
    return readFileSync(this.path(p), 'utf8');
  }

  write(p: string, content: string, mode = 0o644): void {
    const full = this.path(p);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, content, { mode });
  }

  /**
   * Starts a new boot: everything running dies with the old namespaces, /run is a new empty tmpfs
   * (as after a power cycle) and a new machine (PID 1 = the droplet's sh) starts.
   */
  async boot(): Promise<void> {
    await this.killAll();
    await unmountTree(this.runDir);
    // noexec as on a droplet: Debian's and Ubuntu's initramfs mount /run so, and it stays so.
    await mountTmpfs(this.runDir, 'mode=0755,nosuid,nodev,noexec,size=256m');
    mkdirSync(join(this.runDir, 'lock'), { mode: 0o1777 });
    const m = startMachine(this.spec());
    this.machine = m;
    let err = '';
    m.stderr!.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    m.stdout!.resume();
    // PID 1 is ready once unshare's child has exec'd into the chroot (its root is the droplet's).
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (m.exitCode !== null || m.signalCode !== null)
        throw new Error(`the droplet's namespaces did not start:\n${err}`);
      const pid = this.childOf(m.pid!);
      if (pid) {
        try {
          if (readlinkSync(`/proc/${pid}/root`) === this.root) {
            this.machinePid = pid;
            if (this.network === 'nat') await this.startSlirp(pid);
            return;
          }
        } catch {
          /* still starting */
        }
      }
      if (Date.now() > deadline) throw new Error(`the droplet's PID 1 did not start within 15 s:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private apiSocket(): string {
    return join(this.runDir, '..', 'slirp.sock');
  }

  /**
   * slirp4netns: a tap0 in the droplet's network namespace (10.0.2.100, gateway 10.0.2.2) whose
   * packets become ordinary sockets of this machine, so apt reaches the mirror while nothing inside
   * can add a link, a route or a netfilter rule here. It ends with the boot (killAll).
   */
  private async startSlirp(pid: number): Promise<void> {
    rmSync(this.apiSocket(), { force: true });
    const child = spawn(
      'slirp4netns',
      ['--configure', '--mtu=65520', '--ready-fd=3', '--api-socket', this.apiSocket(), String(pid), 'tap0'],
      {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      },
    );
    this.slirp = child;
    let err = '';
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    child.stdout!.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`slirp4netns was not ready within 15 s:\n${err}`)), 15_000);
      (child.stdio[3] as NodeJS.ReadableStream).once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`slirp4netns did not start (apt-get install slirp4netns): ${e.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`slirp4netns ended (exit ${code}):\n${err}`));
      });
    });
  }

  /** Makes this machine's 127.0.0.1:`port` lead to NAT_GUEST_IP:`port` inside a nat droplet. */
  async forward(port: number): Promise<void> {
    if (this.network !== 'nat' || !this.slirp) throw new Error('forward() is for a booted nat droplet');
    const request = {
      execute: 'add_hostfwd',
      arguments: { proto: 'tcp', host_addr: '127.0.0.1', host_port: port, guest_addr: NAT_GUEST_IP, guest_port: port },
    };
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(this.apiSocket());
      let out = '';
      sock.on('data', (b) => {
        out += b.toString('utf8');
      });
      sock.on('end', () => resolve(out));
      sock.on('error', reject);
      sock.end(JSON.stringify(request));
    });
    if (!/"return"/.test(answer) || /"error"/.test(answer))
      throw new Error(`slirp4netns refused to forward port ${port}: ${answer}`);
  }

  private childOf(pid: number): number | undefined {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
        if (kids) return Number(kids.split(' ')[0]);
      }
    } catch {
      /* gone */
    }
    return undefined;
  }

  /** The network namespace of the current boot, for host tools (ssh, scp) that must reach the droplet. */
  netns(): string {
    return `/proc/${this.pid1()}/ns/net`;
  }

  private spec(): SandboxSpec {
    let hostname = 'localhost';
    try {
      hostname = readFileSync(this.path('etc/hostname'), 'utf8').trim().split('\n')[0] || 'localhost';
    } catch {
      /* no /etc/hostname yet */
    }
    if (!/^[A-Za-z0-9.-]{1,63}$/.test(hostname)) hostname = 'localhost';
    return { root: this.root, runDir: this.runDir, hostname, network: this.network };
  }

  /** This machine's pid of the droplet's PID 1 (its namespaces: e.g. a boot that shares its network). */
  get pid(): number {
    return this.pid1();
  }

  private pid1(): number {
    if (this.destroyed) throw new Error('droplet already destroyed');
    if (!this.machinePid) throw new Error('droplet is not booted');
    return this.machinePid;
  }

  /** Runs a shell script (the droplet's /bin/sh) inside the droplet's current boot and waits for it. */
  exec(script: string, opts: ExecOptions = {}): Promise<RunResult> {
    return enterRun(this.pid1(), this.network, script, { timeoutMs: 10 * 60_000, ...opts });
  }

  /** Starts a long-running script inside the droplet; it ends at the next boot() or destroy(). */
  spawn(script: string): DropletProcess {
    const child = enterSpawn(this.pid1(), this.network, script);
    this.procs.add(child);
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    child.stderr!.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => {
      child.on('close', (code) => {
        this.procs.delete(child);
        resolve(code);
      });
      child.on('error', () => {
        this.procs.delete(child);
        resolve(null);
      });
    });
    return { child, output: () => out, exited };
  }

  private async killAll(): Promise<void> {
    const all = [...this.procs, ...(this.machine ? [this.machine] : []), ...(this.slirp ? [this.slirp] : [])];
    this.machine = null;
    this.slirp = null;
    this.machinePid = 0;
    const waits = all.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('close', () => resolve());
          // SIGKILL to unshare: --kill-child takes down the namespace's PID 1 and with it every process inside.
          c.kill('SIGKILL');
        }),
    );
    await Promise.all(waits);
    this.procs.clear();
  }

  /**
   * Stops the droplet and keeps its disk as a new image (its upper layer stacked on its lowers).
   * The droplet cannot be used afterwards; call `release()` on the image's owner when done.
   */
  async freeze(name: string): Promise<FrozenImage> {
    await this.killAll();
    await unmountTree(this.runDir);
    await unmountTree(this.root);
    this.destroyed = true;
    const layer = this.layer;
    const dir = this.dir;
    return {
      name,
      lowers: [join(layer, 'upper'), ...this.image.lowers],
      async release() {
        await unmountTree(dir);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  /** Kills everything and unmounts everything of this droplet; safe to call twice or after a failure. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.killAll();
    await unmountTree(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Mount points left by this droplet (the tests assert none after destroy). */
  leftovers(): string[] {
    return mountsUnder(this.dir);
  }
}

export interface FrozenImage extends Image {
  release(): Promise<void>;
}

/** Runs `fn` with a fresh droplet and always destroys it, also when `fn` throws. */
export async function withDroplet<T>(
  workDir: string,
  image: Image,
  fn: (d: Droplet) => Promise<T>,
  name = 'droplet',
): Promise<T> {
  const d = await Droplet.create(workDir, image, name);
  try {
    return await fn(d);
  } finally {
    await d.destroy();
  }
}
