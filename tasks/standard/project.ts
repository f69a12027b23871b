/**
 * What the standard tasks know of the image project they build: read from the project folder when a
 * task runs (never at load time), so an edit of mpimg.json counts without touching any task file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { distroFromOsRelease, familyOf, type Distro } from '../../runtime/distro.js';
import type { Manifest } from '../../runtime/manifest.js';
import { shellQuote } from '../ssh/quote.js';
import { readManifest } from '../../core/manifest-file.js';
import { outsideMessage, outsideProject } from '../bundle/project-paths.js';
import { fail } from '../ssh/helpers.js';
import type { Connection } from '../ssh/connection.js';

/** Staging and tests: `MPIMG_TARGET_ROOT=/some/dir` builds that folder instead of `/`. */
export const targetRoot = (): string => process.env.MPIMG_TARGET_ROOT || '/';
/** `MPIMG_SKIP_PACKAGES=1`: no package manager (upgrade and install), e.g. for a staged root. */
export const skipPackages = (): boolean => process.env.MPIMG_SKIP_PACKAGES === '1';
/** ['--root', DIR] when a staged root is the target; nothing on a real droplet. */
export const rootArgs = (): string[] => (targetRoot() === '/' ? [] : ['--root', targetRoot()]);

/** The project's mpimg.json, validated by the one schema. */
export function manifestOf(c: Pick<Connection, 'project'>): Manifest {
  return readManifest(c.project);
}

/** dist/<slug>.cjs and its sh twin, as `mpimg bundle` wrote them. */
export function bundleOf(c: Connection, m: Manifest = manifestOf(c)): { cjs: string; sh: string } {
  const cjs = join(c.project, 'dist', `${m.slug}.cjs`);
  const sh = join(c.project, 'dist', `${m.slug}-install.sh`);
  if (!existsSync(cjs) || !existsSync(sh))
    fail(`the bundle is missing (dist/${m.slug}.cjs, dist/${m.slug}-install.sh)`, 'run `make bundle` first', c.project);
  return { cjs, sh };
}

/**
 * The distribution being built: from the target's os-release (the droplet, or a staged root), else
 * the manifest's build base. Packages, repositories and services may differ per distribution.
 */
export async function distroOf(c: Connection, m: Manifest = manifestOf(c)): Promise<Distro> {
  const root = targetRoot() === '/' ? '' : targetRoot();
  const files = [`${root}/etc/os-release`, `${root}/usr/lib/os-release`].map(shellQuote).join(' ');
  const r = await c.run(`for f in ${files}; do if [ -f "$f" ]; then cat "$f"; exit 0; fi; done; true`, {
    quiet: true,
    echo: false,
    check: false,
  });
  const found = distroFromOsRelease(r.stdout);
  if (found) return found;
  const slug = m.droplet?.image && !/^\d+$/.test(m.droplet.image) ? m.droplet.image : m.distributions[0];
  return { slug, family: familyOf(slug) };
}

/** The bundle's rule (tasks/bundle/project-paths.ts): nothing is read through a link leading out of the project. */
export function refuseOutside(project: string, rel: string): void {
  const real = outsideProject(project, rel);
  if (real !== null) {
    const { message, hint } = outsideMessage(rel, real);
    fail(message, hint, project);
  }
}
