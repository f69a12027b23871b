import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { sandboxRun } from './sandbox.js';

/** Debian releases the e2e suite boots, with the cloud-init each ships (for messages). */
export const SUITES = { bookworm: 'Debian 12, cloud-init 22.4', trixie: 'Debian 13, cloud-init 25.1' } as const;
export type Suite = keyof typeof SUITES;

/**
 * What goes into every root filesystem. python3-cffi-backend must be listed or cloud-init stays
 * unconfigured after debootstrap; iproute2 and procps are on every real droplet and keep cloud-init
 * from logging "ip: not found" warnings that turn a boot "degraded" on cloud-init 25.1.
 */
export const INCLUDE = [
  'cloud-init', 'openssh-server', 'systemd-sysv', 'sudo', 'ufw', 'curl', 'locales', 'python3-cffi-backend',
  'iproute2', 'procps',
] as const;

export const MIRROR = process.env.MPIMG_E2E_MIRROR ?? 'http://deb.debian.org/debian';

/** Cache folder, outside the repository. MPIMG_E2E_CACHE overrides it. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MPIMG_E2E_CACHE || '/var/cache/mpimg-e2e';
}

/** The recipe is part of the file name: changing the package list builds a new cache instead of reusing a stale one. */
export function tarballPath(suite: Suite, dir = cacheDir()): string {
  const recipe = JSON.stringify({ v: 1, suite, include: INCLUDE, variant: 'minbase', locale: 'en_US.UTF-8' });
  const hash = createHash('sha256').update(recipe).digest('hex').slice(0, 10);
  return join(dir, `${suite}-${hash}.tar.zst`);
}

/**
 * Produces `dest` through `produce(tmpPath)` in the same folder and renames it into place only when
 * produce succeeded, so an interrupted or failed build never leaves a file that looks like a cache.
 */
export async function produceAtomically(dest: string, produce: (tmpPath: string) => Promise<void>): Promise<void> {
  const dir = join(dest, '..');
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, '.partial-'));
  try {
    const tmp = join(work, 'out');
    await produce(tmp);
    if (!existsSync(tmp)) throw new Error(`producing ${dest} wrote nothing`);
    renameSync(tmp, dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const TAR_XATTRS = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

async function debootstrap(suite: Suite, root: string, log: (line: string) => void): Promise<void> {
  log(`debootstrap ${suite} (${SUITES[suite]}) from ${MIRROR} ...`);
  // Own mount/pid/uts namespaces: the mounts debootstrap makes in the target die with it, even when interrupted.
  await run('unshare', [
    '--mount', '--uts', '--ipc', '--pid', '--fork', '--kill-child', '--propagation', 'private',
    'setpriv', '--bounding-set', '-net_admin,-sys_module,-sys_time,-sys_boot', '--',
    'debootstrap', '--variant=minbase', `--include=${INCLUDE.join(',')}`, suite, root, MIRROR,
  ], { timeoutMs: 15 * 60_000 });
  // cloud-init's locale module fails unless the locale it sets exists.
  const genPath = join(root, 'etc/locale.gen');
  const gen = readFileSync(genPath, 'utf8');
  writeFileSync(genPath, gen.replace(/^#\s*en_US\.UTF-8 UTF-8$/m, 'en_US.UTF-8 UTF-8'));
  const runDir = mkdtempSync(join(root, '..', 'run-'));
  try {
    await sandboxRun({ root, runDir, hostname: 'mpimg-rootfs', network: 'private' }, 'locale-gen && apt-get clean && rm -rf /var/lib/apt/lists/*', {
      timeoutMs: 5 * 60_000,
    });
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
  // A droplet gets its own name from cloud-init, not this machine's.
  writeFileSync(join(root, 'etc/hostname'), 'localhost\n');
}

/** Returns the cached tarball for `suite`, building it first when missing. */
export async function ensureRootfsTarball(suite: Suite, log: (line: string) => void = () => {}): Promise<{ path: string; built: boolean; ms: number }> {
  const dest = tarballPath(suite);
  if (existsSync(dest)) return { path: dest, built: false, ms: 0 };
  const t0 = Date.now();
  await produceAtomically(dest, async (tmp) => {
    const root = join(tmp, '..', 'root');
    mkdirSync(root);
    try {
      await debootstrap(suite, root, log);
      log(`packing ${dest} ...`);
      await run('tar', [...TAR_XATTRS, '--use-compress-program=zstd -T0 -6', '-C', root, '-cf', tmp, '.'], { timeoutMs: 10 * 60_000 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  return { path: dest, built: true, ms: Date.now() - t0 };
}

/** Extracts a cached root filesystem into `dir` (created; must not exist yet). */
export async function extractRootfs(tarball: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: false });
  await run('tar', [...TAR_XATTRS, '--use-compress-program=zstd -d -T0', '-C', dir, '-xpf', tarball], { timeoutMs: 10 * 60_000 });
}
