import { MpimgError } from '../../core/errors.js';
import type { Connection } from './connection.js';
import { shellQuote } from './quote.js';

/** A task failure the user can act on: printed as what / where / fix, without a stack trace. */
export class TaskError extends MpimgError {
  constructor(message: string, opts: { where?: string; hint?: string } = {}) {
    super(message, opts);
    this.name = 'TaskError';
  }
}

/** Stops the running task with a clear message (what went wrong and how to fix it). */
export function fail(message: string, hint?: string, where?: string): never {
  throw new TaskError(message, { hint, where });
}

/**
 * Runs `fn` with a fresh private folder on the host (mktemp -d, 0700) and removes it afterwards,
 * also when `fn` fails: copies of scripts and bundles never stay on the image. `exec`: files in it
 * are executed directly, so not /run, which Debian's and Ubuntu's initramfs mount noexec.
 */
export async function withRemoteTempDir<T>(
  c: Connection,
  fn: (dir: string) => Promise<T>,
  prefix = 'mpimg',
  opts: { exec?: boolean } = {},
): Promise<T> {
  if (!/^[A-Za-z0-9._-]+$/.test(prefix)) throw new TypeError(`bad temp dir prefix ${JSON.stringify(prefix)}`);
  // /run (a tmpfs, never part of a snapshot) when writable: the image check counts files left in /tmp.
  // Folders of executables go to /var/tmp (on disk; the cleanup empties it before the snapshot).
  const base = opts.exec
    ? 'b=\${TMPDIR:-/tmp}; if [ -d /var/tmp ] && [ -w /var/tmp ]; then b=/var/tmp; fi'
    : 'b=\${TMPDIR:-/tmp}; if [ -d /run ] && [ -w /run ]; then b=/run; fi';
  const dir = (await c.run(`${base}; mktemp -d "$b/${prefix}.XXXXXXXX"`, { quiet: true, echo: false })).stdout.trim();
  if (!dir.startsWith('/'))
    fail(`mktemp on ${c.target} returned "${dir}"`, 'check that /tmp exists and is writable on the host');
  try {
    return await fn(dir);
  } finally {
    await c.run(`rm -rf -- ${shellQuote(dir)}`, { quiet: true, echo: false, check: false });
  }
}

export type PackageManager = 'apt' | 'dnf' | 'yum';

/** The host's package manager, found at run time (apt-get, then dnf, then yum). */
export async function packageManager(c: Connection): Promise<PackageManager> {
  const r = await c.run(
    'if command -v apt-get >/dev/null 2>&1; then echo apt; elif command -v dnf >/dev/null 2>&1; then echo dnf; elif command -v yum >/dev/null 2>&1; then echo yum; fi',
    { quiet: true, echo: false },
  );
  const pm = r.stdout.trim();
  if (pm !== 'apt' && pm !== 'dnf' && pm !== 'yum')
    fail(
      `no supported package manager on ${c.target}`,
      'build on a supported distribution (Ubuntu, Debian, Rocky, AlmaLinux, CentOS Stream)',
    );
  return pm;
}

// Waits for (never fights) the dpkg lock held by unattended-upgrades, keeps changed config files.
const APT =
  'apt-get -y -q -o DPkg::Lock::Timeout=900 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** Refreshes the package lists and upgrades every package, non-interactively. */
export async function upgradePackages(c: Connection): Promise<void> {
  const pm = await packageManager(c);
  if (pm === 'apt') await c.sudo(`${APT} update && ${APT} dist-upgrade`);
  else await c.sudo(`${pm} -y upgrade --refresh`);
}

/** Installs packages with the host's package manager. Names are shell-quoted. */
export async function installPackages(c: Connection, packages: readonly string[]): Promise<void> {
  if (packages.length === 0) return;
  const list = packages.map(shellQuote).join(' ');
  const pm = await packageManager(c);
  if (pm === 'apt') await c.sudo(`${APT} install ${list}`);
  else await c.sudo(`${pm} -y install ${list}`);
}

/** Major version of `node` on the host's PATH, or 0 when there is none. */
export async function remoteNodeMajor(c: Connection): Promise<number> {
  const r = await c.run('command -v node >/dev/null 2>&1 && node -p "process.versions.node" || true', {
    quiet: true,
    echo: false,
    check: false,
  });
  const m = /^(\d+)\./.exec(r.stdout.trim());
  return m ? Number(m[1]) : 0;
}
