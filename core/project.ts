/**
 * What the answers become: the mpimg.json manifest, the project's package.json and the values
 * templates see. Pure functions, so the answers→manifest mapping is tested without a generator.
 */
import { familyOf } from '../runtime/distro.js';
import { DEFAULTS, distroInfo, forDistro, type Manifest } from '../runtime/manifest.js';
import type { Answers } from './options.js';
import { formatJson } from './json-edit.js';

/** First version of every new image project. */
export const INITIAL_VERSION = '1.0.0';

/** The firewall package of each family: the firewall step sets it up, it does not install it. */
export const FIREWALL_PACKAGES = { apt: ['ufw'], dnf: ['firewalld'] } as const;
const FIREWALL_PACKAGE_NAMES = new Set<string>([...FIREWALL_PACKAGES.apt, ...FIREWALL_PACKAGES.dnf]);

/** SSH, let in with ufw's rate limit (per source) on every image: customers must be able to log in. */
export const SSH_RULE = '22/tcp';

/** What generated manifests name as their schema: the package's, so editors complete and check it offline. */
export const MANIFEST_SCHEMA_REF = './node_modules/generator-mpimg/mpimg.schema.json';

export function manifestFromAnswers(a: Answers): Manifest {
  // The common sections are all there (empty where the answers say nothing), so a newcomer sees
  // what a manifest can hold; docs/manifest.md (linked from the README) describes every field.
  return {
    $schema: MANIFEST_SCHEMA_REF,
    name: a.name,
    slug: a.slug,
    vendor: a.vendor,
    version: INITIAL_VERSION,
    distributions: [a.distro],
    variables: {},
    build: {
      repositories: [],
      packages: { all: [...a.packages], apt: [...FIREWALL_PACKAGES.apt], dnf: [...FIREWALL_PACKAGES.dnf] },
      scriptsDir: DEFAULTS.scriptsDir,
    },
    users: [],
    directories: [],
    files: { dir: DEFAULTS.filesDir },
    services: [],
    // Review rejects images without an active firewall: every new project has one.
    firewall: { limit: [SSH_RULE], allow: [...a.ports] },
    firstLogin: a.firstLogin ? { file: DEFAULTS.firstLoginFile } : null,
    motd: { file: DEFAULTS.motdFile },
    loginHold: a.loginHold,
    // No cleanup.script / check.script: the package's own scripts run unless the project customises them.
    cleanup: { zeroFill: false },
    droplet: { region: a.region, size: a.size },
    snapshot: { name: DEFAULTS.snapshotName },
  };
}

/**
 * The answers an existing mpimg.json already gives (it is the source of truth once it exists; the
 * copy in .yo-rc.json only fills what the manifest does not say).
 */
export function answersFromManifest(m: Manifest): Partial<Answers> {
  const out: Partial<Answers> = {
    name: m.name,
    slug: m.slug,
    vendor: m.vendor,
    distro: m.distributions[0],
    loginHold: Boolean(m.loginHold),
  };
  // The scaffold's shape ({all, apt, dnf}) answers with its `all`; another one with what the first
  // distribution installs, less the firewall package the scaffold adds itself.
  const p = m.build?.packages;
  if (p)
    out.packages = Array.isArray(p)
      ? [...p]
      : p.all && Object.keys(p).every((k) => ['all', 'apt', 'dnf'].includes(k))
        ? [...p.all]
        : forDistro(p, m.distributions[0], familyOf(m.distributions[0])).filter((x) => !FIREWALL_PACKAGE_NAMES.has(x));
  if (m.firewall) out.ports = [...(m.firewall.allow ?? [])];
  if (m.firstLogin !== undefined) out.firstLogin = Boolean(m.firstLogin);
  if (m.droplet?.region) out.region = m.droplet.region;
  if (m.droplet?.size) out.size = m.droplet.size;
  return out;
}

/**
 * Applies the answers given on THIS run (options, prompts) to the vendor's mpimg.json, leaving every
 * other key as the vendor has it. Returns the new manifest object (the input is not changed).
 */
export function mergeAnswers(manifest: Record<string, unknown>, given: Partial<Answers>): Record<string, unknown> {
  const m = structuredClone(manifest) as Record<string, any>;
  if (given.name !== undefined) m.name = given.name;
  if (given.slug !== undefined) m.slug = given.slug;
  if (given.vendor !== undefined) m.vendor = given.vendor;
  if (given.distro !== undefined) {
    const rest = (Array.isArray(m.distributions) ? m.distributions : []).filter((d: unknown) => d !== given.distro);
    m.distributions = [given.distro, ...rest];
  }
  if (given.packages !== undefined) {
    const have = m.build?.packages;
    const packages =
      have && typeof have === 'object' && !Array.isArray(have)
        ? { ...have, all: [...given.packages] }
        : [...given.packages];
    m.build = { ...(m.build ?? {}), packages };
  }
  if (given.ports !== undefined) m.firewall = { limit: [SSH_RULE], ...(m.firewall ?? {}), allow: [...given.ports] };
  if (given.firstLogin !== undefined) {
    m.firstLogin = given.firstLogin ? { file: m.firstLogin?.file ?? DEFAULTS.firstLoginFile } : null;
  }
  if (given.loginHold !== undefined) m.loginHold = given.loginHold;
  if (given.region !== undefined) m.droplet = { ...(m.droplet ?? {}), region: given.region };
  if (given.size !== undefined) m.droplet = { ...(m.droplet ?? {}), size: given.size };
  return m;
}

/** Quotes a value for POSIX sh: 'it'\''s'. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The npm scripts wrap the same `mpimg` commands as the Makefile. */
/**
 * `spec`: where npm gets generator-mpimg for this project (`--package`): a version range, a tarball
 * path or URL, a git URL. Default: this release's version range from the registry.
 */
export function packageJsonFor(a: Answers, generatorVersion: string, spec?: string): Record<string, unknown> {
  return {
    name: `${a.slug}-image`,
    version: INITIAL_VERSION,
    private: true,
    description: `${a.name}: DigitalOcean Marketplace 1-click image`,
    type: 'module',
    scripts: {
      bundle: 'mpimg bundle',
      validate: 'mpimg validate',
      tasks: 'mpimg tasks',
      build: 'mpimg run build',
      check: 'mpimg run check',
      snapshot: 'mpimg snapshot',
      image: 'mpimg image',
    },
    devDependencies: { 'generator-mpimg': spec ?? `^${generatorVersion}` },
  };
}

/** An existing package.json keeps everything; what the project needs from us is added if missing. */
export function mergePackageJson(
  pkg: Record<string, unknown>,
  a: Answers,
  generatorVersion: string,
  spec?: string,
): Record<string, unknown> {
  const want = packageJsonFor(a, generatorVersion, spec) as {
    scripts: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const out = structuredClone(pkg) as Record<string, any>;
  out.scripts = { ...want.scripts, ...(out.scripts ?? {}) };
  const deps = { ...(out.dependencies ?? {}), ...(out.devDependencies ?? {}) };
  // an explicit --package on this run replaces the vendor's spec; otherwise theirs stays
  if (!deps['generator-mpimg'] || spec !== undefined)
    out.devDependencies = { ...(out.devDependencies ?? {}), ...want.devDependencies };
  return out;
}

/** A --package value npm can take, on one line: refused otherwise (it goes into package.json). */
export function packageSpecProblem(spec: string): string | undefined {
  if (spec.trim() === '' || /[\s\u0000-\u001f\u007f]/.test(spec))
    return 'give one npm package spec: a version range, a tarball path or URL, or a git URL, without spaces';
  return undefined;
}

export type TemplateContext = Answers & {
  version: string;
  /** Base image slug for the build droplet (= distro). */
  image: string;
  distroFamily: 'apt' | 'dnf';
  distroLabel: string;
  /** Where the image's own files live on the droplet. */
  optDir: string;
  credentialsFile: string;
  shq: (v: string) => string;
};

export function templateContext(a: Answers): TemplateContext {
  const d = distroInfo(a.distro);
  return {
    ...a,
    version: INITIAL_VERSION,
    image: a.distro,
    distroFamily: d?.family ?? 'apt',
    distroLabel: d?.label ?? a.distro,
    optDir: `/opt/${a.vendor}/${a.slug}`,
    credentialsFile: `/root/.${a.slug}-credentials`,
    shq,
  };
}

/** mpimg.json and package.json as written new: see formatJson. */
export function toJson(value: unknown): string {
  return `${formatJson(value, '')}\n`;
}
