/**
 * The ONE schema of mpimg.json. The generator, the bundler (tasks/) and the on-droplet runtime all
 * validate through `validateManifest`, so a rule lives here and nowhere else.
 * Kept dependency-free: it is bundled into the runtime, which must stay small.
 */

export interface FirstBootEntry {
  /** Run order (cloud-init runs per-instance scripts in alphanumeric order). 0..99 */
  order: number;
  /** Short name, used in file names: NN-<slug>-<name>. */
  name: string;
  /** Path inside the project, e.g. first-boot/10-setup.sh */
  file: string;
  /** Stop the step after this many minutes (default: $.firstBootTimeoutMinutes). */
  timeoutMinutes?: number;
}

export interface Manifest {
  $schema?: string;
  /** Display name, e.g. "Acme Wiki". */
  name: string;
  /** Lower-case id used in every installed name: /var/log/<slug>, 99-<slug>, ... */
  slug: string;
  /** Company folder under /opt: /opt/<vendor>/<slug>. */
  vendor: string;
  version: string;
  /** DigitalOcean base image slugs this image is built for; the first is the build base. */
  distributions: string[];
  /** Defaults to every NN-name file in first-boot/. */
  firstBoot?: FirstBootEntry[];
  /** A first-boot step still running after this many minutes is stopped and counted as failed (default 30). */
  firstBootTimeoutMinutes?: number;
  /** Defaults to first-login/first-login.sh when that file exists; null turns it off. */
  firstLogin?: { file: string } | null;
  /** MOTD text file; `{{ip}}`, `{{name}}` and `{{version}}` are filled in at login. */
  motd?: { file: string } | null;
  /**
   * Folder mirrored onto `/` (modes kept). Its files are seeded (laid down once; build scripts, first
   * boot and the customer may change them) except droplet paths matching `managed` globs.
   */
  files?: { dir: string; managed?: string[] };
  /** Other installed droplet paths (globs: `*`, `**`, `?`) that first boot or the customer change: seeded too. */
  seeded?: string[];
  /** Hold root SSH logins with a "please wait" until first boot finished (always released). */
  loginHold?: boolean;
  build?: {
    /** Packages installed with apt-get or dnf on the build droplet. */
    packages?: string[];
    /** Folder of numbered build scripts run in order on the build droplet. */
    scriptsDir?: string;
  };
  cleanup?: {
    script?: string;
    lockRootPassword?: boolean;
    /** Zero-fill free space before the snapshot: off unless asked for. */
    zeroFill?: boolean;
    /** Upper bound of the zero-fill file in MiB. */
    zeroFillMaxMiB?: number;
  };
  check?: { script?: string };
  droplet?: {
    region?: string;
    size?: string;
    /** Base image slug; defaults to distributions[0]. */
    image?: string;
    tags?: string[];
    /** SSH key ids or fingerprints; defaults to every key of the account. */
    sshKeys?: string[];
  };
  snapshot?: {
    /** Snapshot name; `{slug}`, `{version}` and `{timestamp}` are filled in. */
    name?: string;
  };
}

export interface Problem {
  /** JSON path such as `$.firstBoot[1].order`, or a project path such as `first-boot/10-x.sh`. */
  path: string;
  message: string;
  hint: string;
}

export const SLUG_RE = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;
export const VENDOR_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,39}$/;
/** DigitalOcean base image slug shape, e.g. ubuntu-24-04-x64, debian-12-x64, rockylinux-9-x64. */
export const DISTRO_SLUG_RE = /^[a-z][a-z0-9-]*-x64$/;
/** First-boot file names: NN-name[.ext], the number gives the order. */
export const FIRST_BOOT_FILE_RE = /^(\d{2})-([a-z0-9][a-z0-9_-]*)(\.[a-z]+)?$/;

/** The distributions DigitalOcean offers today, with the package manager of each. */
export const DISTRIBUTIONS: ReadonlyArray<{ slug: string; label: string; family: 'apt' | 'dnf' }> = [
  { slug: 'ubuntu-24-04-x64', label: 'Ubuntu 24.04 LTS', family: 'apt' },
  { slug: 'ubuntu-22-04-x64', label: 'Ubuntu 22.04 LTS', family: 'apt' },
  { slug: 'ubuntu-20-04-x64', label: 'Ubuntu 20.04 LTS', family: 'apt' },
  { slug: 'debian-12-x64', label: 'Debian 12 (bookworm)', family: 'apt' },
  { slug: 'debian-11-x64', label: 'Debian 11 (bullseye)', family: 'apt' },
  { slug: 'debian-13-x64', label: 'Debian 13 (trixie)', family: 'apt' },
  { slug: 'rockylinux-9-x64', label: 'Rocky Linux 9', family: 'dnf' },
  { slug: 'rockylinux-8-x64', label: 'Rocky Linux 8', family: 'dnf' },
  { slug: 'almalinux-9-x64', label: 'AlmaLinux 9', family: 'dnf' },
  { slug: 'almalinux-8-x64', label: 'AlmaLinux 8', family: 'dnf' },
  { slug: 'centos-stream-9-x64', label: 'CentOS Stream 9', family: 'dnf' },
];

export const DEFAULTS = {
  region: 'nyc3',
  /** The smallest droplet size, as the Marketplace guide asks. */
  size: 's-1vcpu-512mb-10gb',
  firstBootDir: 'first-boot',
  firstLoginFile: 'first-login/first-login.sh',
  motdFile: 'motd.txt',
  filesDir: 'files',
  scriptsDir: 'scripts',
  cleanupScript: 'scripts/90-cleanup.sh',
  checkScript: 'scripts/99-img-check.sh',
  zeroFillMaxMiB: 4096,
  snapshotName: '{slug}-{version}-{timestamp}',
  firstBootTimeoutMinutes: 30,
} as const;

/** Vendor folder names that fail Marketplace review by themselves (/opt/digitalocean is the agent's). */
const RESERVED_VENDORS = new Set(['digitalocean', 'do-agent', 'droplet-agent']);

type Shape = { [key: string]: { type: 'string' | 'boolean' | 'number' | 'array' | 'object' | 'object|null'; required?: boolean } };

const TOP: Shape = {
  $schema: { type: 'string' },
  name: { type: 'string', required: true },
  slug: { type: 'string', required: true },
  vendor: { type: 'string', required: true },
  version: { type: 'string', required: true },
  distributions: { type: 'array', required: true },
  firstBoot: { type: 'array' },
  firstBootTimeoutMinutes: { type: 'number' },
  firstLogin: { type: 'object|null' },
  motd: { type: 'object|null' },
  files: { type: 'object' },
  seeded: { type: 'array' },
  loginHold: { type: 'boolean' },
  build: { type: 'object' },
  cleanup: { type: 'object' },
  check: { type: 'object' },
  droplet: { type: 'object' },
  snapshot: { type: 'object' },
};
const NESTED: Record<string, Shape> = {
  firstLogin: { file: { type: 'string', required: true } },
  motd: { file: { type: 'string', required: true } },
  files: { dir: { type: 'string', required: true }, managed: { type: 'array' } },
  build: { packages: { type: 'array' }, scriptsDir: { type: 'string' } },
  cleanup: {
    script: { type: 'string' },
    lockRootPassword: { type: 'boolean' },
    zeroFill: { type: 'boolean' },
    zeroFillMaxMiB: { type: 'number' },
  },
  check: { script: { type: 'string' } },
  droplet: {
    region: { type: 'string' },
    size: { type: 'string' },
    image: { type: 'string' },
    tags: { type: 'array' },
    sshKeys: { type: 'array' },
  },
  snapshot: { name: { type: 'string' } },
};
const FIRST_BOOT_ENTRY: Shape = {
  order: { type: 'number', required: true },
  name: { type: 'string', required: true },
  file: { type: 'string', required: true },
  timeoutMinutes: { type: 'number' },
};

/**
 * Characters no string of the manifest may hold: they reach shell scripts, comments in JavaScript
 * and YAML, sshd and systemd files, where a line break (U+2028/U+2029 count in JavaScript) ends a
 * comment or a here-document early.
 */
export const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function describeChar(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Every string in the manifest, with its JSON path. */
function controlProblems(v: unknown, at: string, out: Problem[]): void {
  if (typeof v === 'string') {
    const m = CONTROL_RE.exec(v);
    if (m) out.push({ path: at, message: `holds a control or line-separator character (${describeChar(m[0])})`, hint: 'use one line of printable text: no newlines, tabs or U+2028/U+2029' });
  } else if (Array.isArray(v)) v.forEach((x, i) => controlProblems(x, `${at}[${i}]`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) controlProblems(x, `${at}.${k}`, out);
}

/** A whole number of minutes from 1 to 1440, or a problem. */
function minutesProblem(v: unknown, at: string, out: Problem[]): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1440) {
    out.push({ path: at, message: `${JSON.stringify(v)} is not a whole number of minutes from 1 to 1440`, hint: 'e.g. 30' });
  }
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Edit distance, to suggest the key the user probably meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function closest(key: string, known: string[]): string | undefined {
  const k = key.toLowerCase();
  let best: string | undefined;
  let bestD = 3;
  for (const c of known) {
    const d = distance(k, c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function checkShape(obj: Record<string, unknown>, shape: Shape, at: string, out: Problem[]): void {
  for (const key of Object.keys(obj)) {
    if (!(key in shape)) {
      const near = closest(key, Object.keys(shape));
      out.push({
        path: `${at}.${key}`,
        message: `unknown key "${key}"`,
        hint: near ? `did you mean "${near}"? Remove or rename it` : `remove it; known keys: ${Object.keys(shape).join(', ')}`,
      });
    }
  }
  for (const [key, spec] of Object.entries(shape)) {
    const v = obj[key];
    if (v === undefined) {
      if (spec.required) out.push({ path: `${at}.${key}`, message: `missing required key "${key}"`, hint: `add "${key}" (${spec.type})` });
      continue;
    }
    const t = typeOf(v);
    const ok = spec.type === 'object|null' ? t === 'object' || t === 'null' : t === spec.type;
    if (!ok) out.push({ path: `${at}.${key}`, message: `must be ${spec.type.replace('|', ' or ')}, got ${t}`, hint: `change "${key}" to a ${spec.type.replace('|', ' or ')}` });
  }
}

/**
 * A path inside the project: relative, no `..`, no backslashes. Returns a problem message or null.
 * This is what keeps a manifest from reading (or, for files/, writing) outside the project.
 */
export function unsafeRelativePath(p: string): string | null {
  if (p.length === 0) return 'is empty';
  if (p.startsWith('/')) return 'is absolute';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.includes('\0')) return 'contains a NUL byte';
  if (p.split('/').some((seg) => seg === '..')) return 'contains ".."';
  return null;
}

/** Validates the shape and the rules that need no file system. Every problem is listed at once. */
export function validateManifest(input: unknown): { manifest?: Manifest; problems: Problem[] } {
  const problems: Problem[] = [];
  if (typeOf(input) !== 'object') {
    return { problems: [{ path: '$', message: 'manifest must be a JSON object', hint: 'start from the file `mpimg new` writes' }] };
  }
  const m = input as Record<string, unknown>;
  checkShape(m, TOP, '$', problems);
  for (const [key, shape] of Object.entries(NESTED)) {
    if (typeOf(m[key]) === 'object') checkShape(m[key] as Record<string, unknown>, shape, `$.${key}`, problems);
  }

  if (typeof m.slug === 'string' && !SLUG_RE.test(m.slug)) {
    problems.push({ path: '$.slug', message: `bad slug "${m.slug}"`, hint: '2-40 characters: lower-case letters, digits and "-", starting with a letter, not ending with "-"' });
  }
  controlProblems(m, '$', problems);
  if (typeof m.name === 'string' && m.name.trim() === '') {
    problems.push({ path: '$.name', message: 'name must be one non-empty line', hint: 'use the product name as customers see it' });
  }
  minutesProblem(m.firstBootTimeoutMinutes, '$.firstBootTimeoutMinutes', problems);
  if (typeof m.vendor === 'string') {
    if (!VENDOR_RE.test(m.vendor)) {
      problems.push({ path: '$.vendor', message: `bad vendor folder name "${m.vendor}"`, hint: 'lower-case letters, digits, ".", "_" and "-" only (it becomes /opt/<vendor>)' });
    } else if (RESERVED_VENDORS.has(m.vendor)) {
      problems.push({ path: '$.vendor', message: `vendor "${m.vendor}" is reserved`, hint: '/opt/digitalocean alone fails the Marketplace check: use your company name' });
    }
  }
  if (typeof m.version === 'string' && !/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$/.test(m.version)) {
    problems.push({ path: '$.version', message: `bad version "${m.version}"`, hint: 'use something like 1.0.0 (letters, digits, ".", "+", "_", "-")' });
  }
  if (Array.isArray(m.distributions)) {
    if (m.distributions.length === 0) problems.push({ path: '$.distributions', message: 'no distribution listed', hint: `add one of: ${DISTRIBUTIONS.map((d) => d.slug).join(', ')}` });
    m.distributions.forEach((d, i) => {
      if (typeof d !== 'string' || !DISTRO_SLUG_RE.test(d)) {
        problems.push({ path: `$.distributions[${i}]`, message: `bad distribution ${JSON.stringify(d)}`, hint: `use a DigitalOcean image slug such as ${DISTRIBUTIONS[0].slug}` });
      }
    });
  }

  if (Array.isArray(m.firstBoot)) {
    const seenOrder = new Map<number, number>();
    const seenName = new Map<string, number>();
    m.firstBoot.forEach((e, i) => {
      const at = `$.firstBoot[${i}]`;
      if (typeOf(e) !== 'object') {
        problems.push({ path: at, message: 'must be an object {order, name, file}', hint: 'or remove "firstBoot" to use every NN-name file in first-boot/' });
        return;
      }
      const entry = e as Record<string, unknown>;
      checkShape(entry, FIRST_BOOT_ENTRY, at, problems);
      if (typeof entry.order === 'number') {
        if (!Number.isInteger(entry.order) || entry.order < 0 || entry.order > 99) {
          problems.push({ path: `${at}.order`, message: `order ${entry.order} is not a whole number from 0 to 99`, hint: 'use two digits, e.g. 10, 20, 30' });
        } else if (seenOrder.has(entry.order)) {
          problems.push({ path: `${at}.order`, message: `duplicate order ${entry.order} (also $.firstBoot[${seenOrder.get(entry.order)}])`, hint: 'give each first-boot script its own number' });
        } else seenOrder.set(entry.order, i);
      }
      if (typeof entry.name === 'string') {
        if (!NAME_RE.test(entry.name)) problems.push({ path: `${at}.name`, message: `bad name "${entry.name}"`, hint: 'lower-case letters, digits, "_" and "-"' });
        else if (seenName.has(entry.name)) problems.push({ path: `${at}.name`, message: `duplicate name "${entry.name}"`, hint: 'give each first-boot script its own name' });
        else seenName.set(entry.name, i);
      }
      if (typeof entry.file === 'string') pathProblem(entry.file, `${at}.file`, problems);
      minutesProblem(entry.timeoutMinutes, `${at}.timeoutMinutes`, problems);
    });
  }
  const pathKeys: Array<[string, string]> = [
    ['firstLogin', 'file'], ['motd', 'file'], ['files', 'dir'], ['build', 'scriptsDir'], ['cleanup', 'script'], ['check', 'script'],
  ];
  for (const [k, f] of pathKeys) {
    const o = m[k];
    if (typeOf(o) === 'object' && typeof (o as Record<string, unknown>)[f] === 'string') {
      pathProblem((o as Record<string, string>)[f], `$.${k}.${f}`, problems);
    }
  }
  const globs: Array<[unknown, string]> = [[m.seeded, '$.seeded'], [typeOf(m.files) === 'object' ? (m.files as Record<string, unknown>).managed : undefined, '$.files.managed']];
  for (const [list, at] of globs) {
    if (!Array.isArray(list)) continue;
    list.forEach((g, i) => {
      if (typeof g !== 'string' || !g.startsWith('/') || g.includes('\\')) {
        problems.push({ path: `${at}[${i}]`, message: `bad path glob ${JSON.stringify(g)}`, hint: 'a droplet path starting with "/", with * (one level), ** (any depth) or ?, e.g. "/etc/nginx/**"' });
      }
    });
  }
  const build = m.build as Record<string, unknown> | undefined;
  if (typeOf(build) === 'object' && Array.isArray(build!.packages)) {
    (build!.packages as unknown[]).forEach((p, i) => {
      if (typeof p !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9.+_:=~-]*$/.test(p)) {
        problems.push({ path: `$.build.packages[${i}]`, message: `bad package name ${JSON.stringify(p)}`, hint: 'one package per entry, e.g. "nginx" or "nginx=1.24.*"' });
      }
    });
  }
  const cleanup = m.cleanup as Record<string, unknown> | undefined;
  if (typeOf(cleanup) === 'object' && cleanup!.zeroFillMaxMiB !== undefined) {
    const n = cleanup!.zeroFillMaxMiB;
    if (typeof n === 'number' && (!Number.isInteger(n) || n < 1 || n > 1024 * 1024)) {
      problems.push({ path: '$.cleanup.zeroFillMaxMiB', message: `zeroFillMaxMiB ${n} is out of range`, hint: 'a whole number of MiB from 1 to 1048576' });
    }
  }
  const droplet = m.droplet as Record<string, unknown> | undefined;
  if (typeOf(droplet) === 'object') {
    for (const k of ['tags', 'sshKeys'] as const) {
      const arr = droplet![k];
      if (Array.isArray(arr)) arr.forEach((t, i) => {
        if (typeof t !== 'string' || t === '') problems.push({ path: `$.droplet.${k}[${i}]`, message: 'must be a non-empty string', hint: 'remove it or give a value' });
      });
    }
    if (typeof droplet!.image === 'string' && !DISTRO_SLUG_RE.test(droplet!.image) && !/^\d+$/.test(droplet!.image)) {
      problems.push({ path: '$.droplet.image', message: `bad image "${droplet!.image}"`, hint: 'a base image slug such as ubuntu-24-04-x64, or an image id' });
    }
  }
  return problems.length ? { problems } : { manifest: input as Manifest, problems };
}

function pathProblem(p: string, at: string, out: Problem[]): void {
  const why = unsafeRelativePath(p);
  if (why) out.push({ path: at, message: `unsafe path "${p}": ${why}`, hint: 'use a path relative to the project folder, without ".."' });
}

export function formatProblems(problems: Problem[], file = 'mpimg.json'): string {
  const lines = [`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`];
  for (const p of problems) lines.push(`  ${p.path}: ${p.message}\n    fix: ${p.hint}`);
  return lines.join('\n');
}

export function distroInfo(slug: string): (typeof DISTRIBUTIONS)[number] | undefined {
  return DISTRIBUTIONS.find((d) => d.slug === slug);
}

/** Snapshot name from the manifest template; timestamp as YYYYMMDD-HHMMSS (UTC). */
export function snapshotName(m: Manifest, now: Date = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return (m.snapshot?.name ?? DEFAULTS.snapshotName)
    .replaceAll('{slug}', m.slug)
    .replaceAll('{version}', m.version)
    .replaceAll('{timestamp}', ts);
}
