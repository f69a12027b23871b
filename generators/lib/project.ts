/**
 * What the answers become: the mpimg.json manifest, the project's package.json and the values
 * templates see. Pure functions, so the answers→manifest mapping is tested without a generator.
 */
import { DEFAULTS, distroInfo, type Manifest } from '../../runtime/manifest.js';
import type { Answers } from './options.js';

/** First version of every new image project. */
export const INITIAL_VERSION = '1.0.0';

export function manifestFromAnswers(a: Answers): Manifest {
  return {
    name: a.name,
    slug: a.slug,
    vendor: a.vendor,
    version: INITIAL_VERSION,
    distributions: [a.distro],
    firstLogin: a.firstLogin ? { file: DEFAULTS.firstLoginFile } : null,
    motd: { file: DEFAULTS.motdFile },
    files: { dir: DEFAULTS.filesDir },
    loginHold: a.loginHold,
    build: { packages: [...a.packages], scriptsDir: DEFAULTS.scriptsDir },
    cleanup: { script: DEFAULTS.cleanupScript, zeroFill: false },
    check: { script: DEFAULTS.checkScript },
    droplet: { region: a.region, size: a.size },
    snapshot: { name: DEFAULTS.snapshotName },
  };
}

/** Quotes a value for POSIX sh: 'it'\''s'. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The npm scripts wrap the same `mpimg` commands as the Makefile. */
export function packageJsonFor(a: Answers, generatorVersion: string): Record<string, unknown> {
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
    devDependencies: { 'generator-mpimg': `^${generatorVersion}` },
  };
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

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
