import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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
  'cloud-init',
  'openssh-server',
  'systemd-sysv',
  'sudo',
  'ufw',
  'curl',
  'locales',
  'python3-cffi-backend',
  'iproute2',
  'procps',
] as const;

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  enabled: boolean;
}

/** The entries of apt's one-line format (sources.list, *.list): `deb [options] URI SUITE [COMPONENT...]`. */
export function parseOneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const words = raw.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length < 3 || !/^deb(-src)?$/.test(words[0])) continue;
    let i = 1;
    if (words[i].startsWith('[')) {
      while (i < words.length && !words[i].endsWith(']')) i++;
      i++;
    }
    const [uri, suite, ...components] = words.slice(i);
    if (uri && suite) out.push({ types: [words[0]], uris: [uri], suites: [suite], components, enabled: true });
  }
  return out;
}

/** The entries of apt's deb822 format (*.sources): paragraphs of `Field: value` lines. */
export function parseDeb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const para of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of para.split('\n')) {
      if (/^\s*#/.test(line) || line.trim() === '') continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      last = m[1].toLowerCase();
      fields.set(last, m[2].trim());
    }
    const list = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    if (!fields.has('uris')) continue;
    out.push({
      types: list('types'),
      uris: list('uris'),
      suites: list('suites'),
      components: list('components'),
      enabled: !/^(no|false|0)$/i.test(fields.get('enabled') ?? 'yes'),
    });
  }
  return out;
}

/**
 * The Debian mirror among apt sources: the first enabled `deb` entry over http(s) for a release
 * itself (a plain codename such as bookworm, not -updates, -security or -backports) with main.
 */
export function debianMirrorOf(sources: AptSource[]): string | undefined {
  for (const s of sources) {
    if (!s.enabled || !s.types.includes('deb') || !s.components.includes('main')) continue;
    if (!s.suites.some((x) => /^[a-z]+$/.test(x))) continue;
    const uri = s.uris.find((u) => /^https?:\/\/[^\s]+$/.test(u));
    if (uri) return uri.replace(/\/+$/, '');
  }
  return undefined;
}

/** apt's own order: sources.list, then sources.list.d/*.list and *.sources by name (other files are ignored). */
function aptSourceFiles(etcApt: string): string[] {
  const files: string[] = [];
  if (existsSync(join(etcApt, 'sources.list'))) files.push(join(etcApt, 'sources.list'));
  const d = join(etcApt, 'sources.list.d');
  if (existsSync(d)) {
    for (const f of readdirSync(d).sort()) if (/\.(list|sources)$/.test(f)) files.push(join(d, f));
  }
  return files;
}

/**
 * The Debian mirror the bed builds from: MPIMG_E2E_MIRROR, else the one this machine's own apt uses
 * (so a machine behind its own mirror or proxy never needs the public one written into the code).
 */
export function resolveMirror(opts: { env?: NodeJS.ProcessEnv; etcApt?: string; osRelease?: string } = {}): {
  mirror: string;
  from: string;
} {
  const env = opts.env ?? process.env;
  if (env.MPIMG_E2E_MIRROR) return { mirror: env.MPIMG_E2E_MIRROR.replace(/\/+$/, ''), from: 'MPIMG_E2E_MIRROR' };
  const etcApt = opts.etcApt ?? '/etc/apt';
  let osRelease = opts.osRelease;
  if (osRelease === undefined) {
    try {
      osRelease = readFileSync('/etc/os-release', 'utf8');
    } catch {
      osRelease = '';
    }
  }
  const files = aptSourceFiles(etcApt);
  if (/^ID="?debian"?$/m.test(osRelease)) {
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const mirror = debianMirrorOf(f.endsWith('.sources') ? parseDeb822Sources(text) : parseOneLineSources(text));
      if (mirror) return { mirror, from: f };
    }
  }
  const looked = files.length ? files.join(', ') : `${etcApt}/sources.list and ${etcApt}/sources.list.d/*.sources`;
  throw new Error(
    `no Debian mirror for the e2e root filesystems: ${/^ID="?debian"?$/m.test(osRelease) ? `none of ${looked} names one (an enabled "deb" entry over http(s) for a release with "main")` : 'this machine is not Debian, so its apt sources name none'}.\n    fix: set MPIMG_E2E_MIRROR to a Debian mirror, e.g. MPIMG_E2E_MIRROR=http://<your mirror>/debian`,
  );
}

let mirrorCache: { mirror: string; from: string } | undefined;
/** The mirror of this run (resolved once). */
export function mirror(): { mirror: string; from: string } {
  mirrorCache ??= resolveMirror();
  return mirrorCache;
}

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
  const m = mirror();
  log(`debootstrap ${suite} (${SUITES[suite]}) from ${m.mirror} (${m.from}) ...`);
  // Own mount/pid/uts namespaces: the mounts debootstrap makes in the target die with it, even when interrupted.
  await run(
    'unshare',
    [
      '--mount',
      '--uts',
      '--ipc',
      '--pid',
      '--fork',
      '--kill-child',
      '--propagation',
      'private',
      'setpriv',
      '--bounding-set',
      '-net_admin,-sys_module,-sys_time,-sys_boot',
      '--',
      'debootstrap',
      '--variant=minbase',
      `--include=${INCLUDE.join(',')}`,
      suite,
      root,
      m.mirror,
      // It prints a line per package: on a busy machine it takes long, but never long in silence.
    ],
    { idleTimeoutMs: 10 * 60_000, timeoutMs: 90 * 60_000 },
  );
  // cloud-init's locale module fails unless the locale it sets exists.
  const genPath = join(root, 'etc/locale.gen');
  const gen = readFileSync(genPath, 'utf8');
  writeFileSync(genPath, gen.replace(/^#\s*en_US\.UTF-8 UTF-8$/m, 'en_US.UTF-8 UTF-8'));
  const runDir = mkdtempSync(join(root, '..', 'run-'));
  try {
    await sandboxRun(
      { root, runDir, hostname: 'mpimg-rootfs', network: 'private' },
      'locale-gen && apt-get clean && rm -rf /var/lib/apt/lists/*',
      {
        timeoutMs: 5 * 60_000,
      },
    );
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
  // A droplet gets its own name from cloud-init, not this machine's.
  writeFileSync(join(root, 'etc/hostname'), 'localhost\n');
}

/** Returns the cached tarball for `suite`, building it first when missing. */
export async function ensureRootfsTarball(
  suite: Suite,
  log: (line: string) => void = () => {},
): Promise<{ path: string; built: boolean; ms: number }> {
  const dest = tarballPath(suite);
  if (existsSync(dest)) return { path: dest, built: false, ms: 0 };
  const t0 = Date.now();
  await produceAtomically(dest, async (tmp) => {
    const root = join(tmp, '..', 'root');
    mkdirSync(root);
    try {
      await debootstrap(suite, root, log);
      log(`packing ${dest} ...`);
      await run('tar', [...TAR_XATTRS, '--use-compress-program=zstd -T0 -6', '-C', root, '-cf', tmp, '.'], {
        timeoutMs: 30 * 60_000,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  return { path: dest, built: true, ms: Date.now() - t0 };
}

/** apt's sources.list of a root filesystem with every `deb` line's URI set to `uri`. */
export function pointSourcesAt(text: string, uri: string): string {
  return text.replace(/^(deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm, (_m, head: string) => `${head}${uri}`);
}

/**
 * Extracts a cached root filesystem into `dir` (created; must not exist yet), its apt pointed at this
 * run's mirror. The mirror is not part of the cache's recipe: the same release from another mirror is
 * the same file system, so a changed mirror needs no new cache, and a cache never keeps an old mirror.
 */
export async function extractRootfs(tarball: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: false });
  await run('tar', [...TAR_XATTRS, '--use-compress-program=zstd -d -T0', '-C', dir, '-xpf', tarball], {
    timeoutMs: 30 * 60_000,
  });
  const sources = join(dir, 'etc/apt/sources.list');
  if (existsSync(sources)) writeFileSync(sources, pointSourcesAt(readFileSync(sources, 'utf8'), mirror().mirror));
}
