/**
 * mpimg.json for the generator, the bundler (tasks/) and the on-droplet runtime: they all validate
 * through `validateManifest`, against the ONE rule source in manifest-schema.ts (also published as
 * mpimg.schema.json). Kept dependency-free: it is bundled into the runtime, which must stay small.
 */

import { MANIFEST_CHECKS, MANIFEST_SCHEMA } from './manifest-schema.js';
import type { Agreed, Mismatches } from './schema-agreement.js';
import { validate, type Problem, type TypeOf } from './schema.js';
import type { Directory, User } from './sections/accounts.js';
import type { BuildSection } from './sections/build.js';
import type { Certbot } from './sections/certbot.js';
import type { ImageCheck } from './sections/check.js';
import type { Cleanup } from './sections/cleanup.js';
import type { Credentials } from './sections/credentials.js';
import type { Droplet } from './sections/droplet.js';
import type { Docker } from './sections/docker.js';
import type { FilesKeys } from './sections/files.js';
import type { Fail2ban } from './sections/fail2ban.js';
import type { Caddy } from './sections/caddy.js';
import type { Firewall } from './sections/firewall.js';
import type { FirstBootKeys } from './sections/first-boot.js';
import type { Identity } from './sections/identity.js';
import type { Listing } from './sections/listing.js';
import type { LoginKeys } from './sections/login.js';
import type { RegenerateEntry } from './sections/regenerate.js';
import type { SecurityUpdates } from './sections/security-updates.js';
import type { Secret } from './sections/secrets.js';
import type { Service } from './sections/services.js';
import type { Snapshot } from './sections/snapshot.js';
import type { Variable } from './sections/variables.js';
import type { VerifySection } from './sections/verify.js';
import type { PerDistro } from './sections/common.js';

export type { Problem } from './schema.js';
export type { FirstBootEntry } from './sections/first-boot.js';
export {
  SLUG_RE,
  VENDOR_RE,
  NAME_RE,
  DISTRO_SLUG_RE,
  unsafeRelativePath,
  forDistro,
  type PerDistro,
} from './sections/common.js';

/** mpimg.json: each part's type is in its section module (sections/), next to its rules. */
export interface Manifest extends Identity, FirstBootKeys, LoginKeys, FilesKeys {
  variables?: Record<string, Variable>;
  secrets?: Secret[];
  regenerate?: RegenerateEntry[];
  users?: User[];
  directories?: Directory[];
  services?: PerDistro<string | Service>;
  firewall?: Firewall;
  fail2ban?: Fail2ban;
  caddy?: Caddy;
  certbot?: Certbot;
  docker?: Docker;
  securityUpdates?: SecurityUpdates;
  credentials?: Credentials;
  build?: BuildSection;
  cleanup?: Cleanup;
  check?: ImageCheck;
  droplet?: Droplet;
  snapshot?: Snapshot;
  verify?: VerifySection;
  listing?: Listing;
}

/**
 * Manifest and the schema agree: every key on both sides, equally optional, of the same types, all
 * the way down. Otherwise `tsc` (npm run typecheck, npm run build) fails here, naming the path.
 */
export type ManifestAgreesWithSchema = Agreed<Mismatches<Manifest, TypeOf<typeof MANIFEST_SCHEMA>>>;

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
    if (m)
      out.push({
        path: at,
        message: `holds a control or line-separator character (${describeChar(m[0])})`,
        hint: 'use one line of printable text: no newlines, tabs or U+2028/U+2029',
      });
  } else if (Array.isArray(v)) v.forEach((x, i) => controlProblems(x, `${at}[${i}]`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) controlProblems(x, `${at}.${k}`, out);
}

/** Validates the shape and the rules that need no file system. Every problem is listed at once. */
export function validateManifest(input: unknown): { manifest?: Manifest; problems: Problem[] } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return {
      problems: [
        { path: '$', message: 'manifest must be a JSON object', hint: 'start from the file `mpimg new` writes' },
      ],
    };
  }
  const problems: Problem[] = [];
  controlProblems(input, '$', problems);
  validate(MANIFEST_SCHEMA, input, '$', problems, MANIFEST_CHECKS, input as Record<string, unknown>);
  return problems.length ? { problems } : { manifest: input as Manifest, problems };
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
