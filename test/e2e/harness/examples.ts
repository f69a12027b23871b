import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Manifest } from '../../../runtime/manifest.js';
import { firewallRules, type Firewall } from '../../../runtime/sections/firewall.js';
import { bootNewInstance, writeSeed } from './cloudinit.js';
import { Droplet, NAT_HOST_IP, type Image } from './droplet.js';
import { run, tail, type RunResult } from './exec.js';
import { SystemdBoot } from './nspawn.js';
import { hostEnv, runTask, type Project } from './project.js';
import { startDropletSshd, type KeyPair, type SshTarget } from './ssh.js';

/** The example image projects of the repository (examples/<name>), each built and booted by examples.test.ts. */
export const EXAMPLES = ['webapp', 'lamp', 'redis', 'lemp', 'django', 'static-https', 'compose'] as const;
export type ExampleName = (typeof EXAMPLES)[number];

export interface ExampleProject extends Project {
  manifest: Manifest;
  /** Output of `mpimg validate` in the copy. */
  validate: string;
}

/**
 * Modes as git keeps them: 0755 for executables, 0644 for other files (git stores nothing else), so
 * the copy is what a clone gives, whatever the working tree's modes.
 */
function gitModes(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    if (e.isDirectory()) chmodSync(p, 0o755);
    else if (e.isFile()) chmodSync(p, statSync(p).mode & 0o100 ? 0o755 : 0o644);
  }
  chmodSync(dir, 0o755);
}

/**
 * A copy of examples/<name> as a vendor has it after `git clone` + `npm install`: the project's files
 * (no node_modules/, no dist/, modes as git keeps them), generator-mpimg linked into node_modules (the package under
 * test,
 * MPIMG_E2E_PACKAGE overrides the repository), then `mpimg validate` and `mpimg bundle` with `vars`
 * given as `--var NAME=VALUE`. `edit` changes the copy before that (the example itself stays as committed).
 */
export async function exampleProject(opts: {
  name: ExampleName;
  repoRoot: string;
  dir: string;
  vars?: Record<string, string>;
  edit?: (dir: string, manifest: Manifest) => Manifest | void;
}): Promise<ExampleProject> {
  const src = join(opts.repoRoot, 'examples', opts.name);
  if (!existsSync(join(src, 'mpimg.json'))) throw new Error(`examples/${opts.name}/mpimg.json is missing`);
  cpSync(src, opts.dir, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (p) => {
      const top = relative(src, p).split(sep)[0];
      return top !== 'node_modules' && top !== 'dist';
    },
  });
  gitModes(opts.dir);
  linkPackage(opts.dir, opts.repoRoot);

  return finishProject(opts.dir, `examples/${opts.name}`, opts.vars, opts.edit);
}

/** Edits mpimg.json (when asked), then `mpimg validate` (must pass) and `mpimg bundle [--var ...]`. */
async function finishProject(
  dir: string,
  what: string,
  vars: Record<string, string> = {},
  edit?: (dir: string, manifest: Manifest) => Manifest | void,
): Promise<ExampleProject> {
  const manifestPath = join(dir, 'mpimg.json');
  let manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  if (edit) {
    manifest = edit(dir, manifest) ?? manifest;
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  const mpimg = join(dir, 'node_modules/.bin/mpimg');
  const validate = await run(mpimg, ['validate'], { cwd: dir, env: hostEnv(), timeoutMs: 120_000, allowFail: true });
  if (validate.code !== 0)
    throw new Error(
      `\`mpimg validate\` failed in ${what} (exit ${validate.code}):\n${validate.stdout}${validate.stderr}`,
    );
  const args = Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`]);
  const bundle = await run(mpimg, ['bundle', ...args], {
    cwd: dir,
    env: hostEnv(),
    timeoutMs: 120_000,
    allowFail: true,
  });
  if (bundle.code !== 0)
    throw new Error(`\`mpimg bundle\` failed in ${what} (exit ${bundle.code}):\n${bundle.stdout}${bundle.stderr}`);
  return {
    dir,
    slug: manifest.slug,
    manifest,
    cjs: join(dir, `dist/${manifest.slug}.cjs`),
    sh: join(dir, `dist/${manifest.slug}-install.sh`),
    validate: `${validate.stdout}${validate.stderr}`,
    log: `${bundle.stdout}${bundle.stderr}`,
  };
}

function linkPackage(dir: string, repoRoot: string): void {
  const pkg = process.env.MPIMG_E2E_PACKAGE || repoRoot;
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync(pkg, join(dir, 'node_modules/generator-mpimg'));
  symlinkSync('../generator-mpimg/bin/mpimg.js', join(dir, 'node_modules/.bin/mpimg'));
}

/** The repository of `repositoryProject`, as test/helpers/apt-repo.ts serves it. */
export interface RepositoryUnderTest {
  url: string;
  suite: string;
  component: string;
  keyUrl: string;
  fingerprint: string;
  package: string;
}

export const REPOSITORY_NAME = 'acme-tools';

/** A URL of this machine's 127.0.0.1 as a build droplet (network 'nat') reaches it. */
export function viaNat(url: string): string {
  return url.replace(/^(\w+:\/\/)127\.0\.0\.1([:/])/, `$1${NAT_HOST_IP}$2`);
}

/**
 * A small project of its own for build.repositories: `mpimg new --yes` on Debian 12, then in
 * mpimg.json one apt repository (its key fetched from `repo.keyUrl` and pinned to `fingerprint`)
 * and its package; validated and bundled.
 */
export async function repositoryProject(opts: {
  repoRoot: string;
  dir: string;
  repo: RepositoryUnderTest;
  fingerprint: string;
}): Promise<ExampleProject> {
  await run(
    'node',
    [
      join(opts.repoRoot, 'bin/mpimg.js'),
      'new',
      opts.dir,
      '--yes',
      '--name',
      'Acme Tools',
      '--slug',
      'acme-tools',
      '--vendor',
      'acme',
      '--distro',
      'debian-12-x64',
    ],
    { env: hostEnv(), timeoutMs: 120_000, input: '' },
  );
  linkPackage(opts.dir, opts.repoRoot);
  return finishProject(opts.dir, 'the repository project', {}, (_dir, m) => ({
    ...m,
    build: {
      ...m.build,
      repositories: [
        {
          name: REPOSITORY_NAME,
          uris: viaNat(opts.repo.url),
          suites: [opts.repo.suite],
          components: [opts.repo.component],
          key: { url: viaNat(opts.repo.keyUrl), fingerprint: opts.fingerprint },
        },
      ],
      packages: [opts.repo.package],
    },
  }));
}

/**
 * `mpimg run build` of `project` on a new build droplet (a DigitalOcean-like first boot, its own sshd),
 * without failing on a failed build: the droplet stays for the caller to look at and destroy.
 */
export async function buildOn(opts: {
  work: string;
  base: Image;
  project: Project;
  keys: KeyPair;
  name: string;
}): Promise<{ droplet: Droplet; result: RunResult; output: string }> {
  const d = await Droplet.create(opts.work, opts.base, `build-${opts.name}`, 'nat');
  try {
    const boot = await bootNewInstance(d, {
      instanceId: `i-build-${opts.name}-${Date.now()}`,
      publicKey: opts.keys.publicKey,
    });
    if (boot.stages.some((st) => st.code !== 0))
      throw new Error(`build droplet did not boot: ${JSON.stringify(boot.stages)}\n${tail(boot.result.stdout)}`);
    const sshd = await startDropletSshd(d);
    const result = await runTask(opts.project, 'build', {
      port: sshd.port,
      key: opts.keys.privateKey,
      knownHosts: join(d.dir, 'known_hosts'),
    });
    return { droplet: d, result, output: `${result.stdout}${result.stderr}` };
  } catch (e) {
    await d.destroy();
    throw e;
  }
}

/**
 * A droplet made from `image`, booted with systemd as PID 1 (systemd-nspawn) and real cloud-init:
 * a new instance (NoCloud seed with the key), the public address given, then a bounded wait until
 * cloud-init has finished the first boot. `exec` runs inside; `ssh` reaches the droplet's own sshd
 * (port 22, started by systemd) from inside its network namespace. `close` powers it off and
 * destroys it, also after a failure.
 */
/** How long a first boot may take before start() gives up (lamp on a busy 2-core machine: minutes). */
const FIRST_BOOT_BOUND_MS = 8 * 60_000;

export interface SystemdDropletOptions {
  work: string;
  image: Image;
  name: string;
  slug: string;
  instanceId: string;
  keys: KeyPair;
  address: string;
  /** Writes what the boot needs into the droplet's layer before it boots (fixtures such as a managed database). */
  prepare?: (d: Droplet) => void;
  /**
   * The systemd units of the test's own fixtures (written by `prepare`). When one fails, the boot
   * fails at once with its status and journal, instead of cloud-init waiting out what needed it.
   */
  fixtures?: string[];
  /** Docker Engine must run inside (SystemdBoot's `containers`). */
  containers?: boolean;
}

/** A fixture unit's name: a systemd unit name, nothing a shell would read otherwise. */
const UNIT_RE = /^[A-Za-z0-9][A-Za-z0-9@._-]*\.(service|socket|mount|timer)$/;

export class SystemdDroplet {
  private constructor(
    readonly d: Droplet,
    readonly boot: SystemdBoot,
  ) {}

  static async start(opts: SystemdDropletOptions): Promise<SystemdDroplet> {
    const fixtures = opts.fixtures ?? [];
    for (const u of fixtures) if (!UNIT_RE.test(u)) throw new Error(`not a unit name: ${JSON.stringify(u)}`);
    const d = await Droplet.create(opts.work, opts.image, opts.name);
    let boot: SystemdBoot | undefined;
    try {
      writeSeed(d, { instanceId: opts.instanceId, publicKey: opts.keys.publicKey });
      SystemdBoot.giveAddress(d, opts.address);
      opts.prepare?.(d);
      boot = SystemdBoot.start(d, { containers: opts.containers });
      const s = new SystemdDroplet(d, boot);
      await s.waitFirstBoot(opts.name, fixtures);
      const st = await s.exec('cloud-init status --long; cat /proc/1/comm');
      if (!/status: done[\s\S]*\nsystemd\n$/.test(st.stdout) || /^\s*errors: \[[^\]]/m.test(st.stdout)) {
        // What a vendor would look at: the first-boot logs and the units that failed.
        const why = await s.exec(
          `for f in /var/log/mpimg/${opts.slug}/*.log; do echo "--- $f"; tail -n 40 "$f"; done; systemctl --failed --no-pager`,
        );
        throw new Error(
          `${opts.name}: the first boot did not finish cleanly (cloud-init):\n${st.stdout}${st.stderr}\n${why.stdout}${why.stderr}\n--- console ---\n${tail(boot.console(), 30)}`,
        );
      }
      return s;
    } catch (e) {
      if (boot) await boot.poweroff().catch(() => undefined);
      await d.destroy();
      throw e;
    }
  }

  /**
   * Until cloud-init has finished the first boot (done, or error: start() reports it), polling; a
   * failed fixture unit ends the wait at once, with what systemd says of it.
   */
  private async waitFirstBoot(name: string, fixtures: string[]): Promise<void> {
    const deadline = Date.now() + FIRST_BOOT_BOUND_MS;
    const units = fixtures.join(' ');
    for (;;) {
      const probe = [
        fixtures.length
          ? `for u in ${units}; do if systemctl is-failed --quiet "$u"; then echo "failed $u"; fi; done`
          : ':',
        'cloud-init status 2>/dev/null | sed -n "s/^status: /cloud-init /p"',
      ].join('\n');
      const r = await this.exec(probe, 60_000);
      const failed = [...r.stdout.matchAll(/^failed (\S+)$/gm)].map((m) => m[1]);
      if (failed.length) {
        const why = await this.exec(
          failed
            .map(
              (u) =>
                `echo "--- ${u}"; systemctl status --no-pager --lines=0 ${u}; journalctl -b --no-pager -n 40 -u ${u}`,
            )
            .join('\n'),
        );
        throw new Error(
          `${name}: the test's fixture ${failed.join(', ')} failed during the first boot (so what depends on it could not work):\n${why.stdout}${why.stderr}`,
        );
      }
      if (/^cloud-init (done|error|disabled)/m.test(r.stdout)) return;
      if (Date.now() >= deadline) {
        throw new Error(
          `${name}: the first boot did not finish within ${FIRST_BOOT_BOUND_MS / 60_000} min (${r.stdout.trim() || 'cloud-init said nothing'})\n--- console ---\n${tail(this.boot.console(), 30)}`,
        );
      }
      await new Promise((res) => setTimeout(res, 2000));
    }
  }

  exec(script: string, timeoutMs = 120_000): Promise<RunResult> {
    return this.boot.exec(script, timeoutMs);
  }

  /** Runs `script` inside and fails with its output unless it exits 0. */
  async sh(script: string, timeoutMs = 120_000): Promise<string> {
    const r = await this.exec(script, timeoutMs);
    if (r.code !== 0)
      throw new Error(
        `in the droplet (exit ${r.code}):\n${script}\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`,
      );
    return r.stdout;
  }

  async ssh(): Promise<SshTarget> {
    return { port: 22, netns: `/proc/${await this.boot.leaderPid()}/ns/net` };
  }

  async close(): Promise<number | null> {
    try {
      return await this.boot.poweroff();
    } finally {
      await this.d.destroy();
    }
  }
}

/**
 * The rules `ufw status` lists (To, Action, From; blanks squeezed), in its order, e.g.
 * "22/tcp LIMIT Anywhere". Throws unless ufw is active.
 */
export function ufwRules(status: string): string[] {
  if (!/^Status: active$/m.test(status)) throw new Error(`ufw is not active:\n${status}`);
  const lines = status.split('\n');
  const start = lines.findIndex((l) => /^--\s+------\s+----/.test(l));
  if (start < 0) return [];
  return lines
    .slice(start + 1)
    .map((l) => l.trim().replace(/\s{2,}/g, ' '))
    .filter(Boolean);
}

/** What `ufw status` lists for mpimg.json's firewall: each rule for IPv4, then each for IPv6. */
export function expectedUfwRules(f: Firewall, ipv6 = true): string[] {
  const rules = firewallRules(f).map((r) => ({
    to: r.proto === 'any' ? r.ports : `${r.ports}/${r.proto}`,
    action: r.action === 'limit' ? 'LIMIT' : 'ALLOW',
  }));
  const v4 = rules.map((r) => `${r.to} ${r.action} Anywhere`);
  const v6 = rules.map((r) => `${r.to} (v6) ${r.action} Anywhere (v6)`);
  return ipv6 ? [...v4, ...v6] : v4;
}

/** Shell that prints each value of a credentials file (`. FILE` reads it back, as the lead's format promises). */
export function credentialValues(file: string, keys: string[]): string {
  return `set -eu; . ${file}; ${keys.map((k) => `printf '%s=%s\\n' ${k} "$${k}"`).join('; ')}`;
}

/** Parses KEY=VALUE lines as printed by credentialValues. */
export function parseValues(out: string): Record<string, string> {
  const o: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) o[m[1]] = m[2];
  }
  return o;
}

/**
 * Shell that prints the log files (and journal) of the droplet holding `secret`: /var/log (also the
 * binary journal and rotated files), the volatile journal under /run/log, and journalctl's view.
 */
export function logsHolding(secret: string): string {
  const q = `'${secret.replace(/'/g, `'\\''`)}'`;
  return `grep -rlaF -- ${q} /var/log /run/log 2>/dev/null || true
journalctl -b --no-pager -o cat 2>/dev/null | grep -qF -- ${q} && echo journalctl || true`;
}
