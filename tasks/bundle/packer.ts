/**
 * The Packer template of an image project, rendered from mpimg.json by `mpimg bundle` into
 * dist/<slug>.pkr.hcl: no value of the manifest is ever typed into it by hand, so it cannot drift.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join, posix, relative } from 'node:path';
import { familyOf } from '../../runtime/distro.js';
import { DEFAULTS, distroInfo, forDistro } from '../../runtime/manifest.js';
import { packageArgument } from '../../runtime/sections/build.js';
import { withSectionPackages } from '../../runtime/section-packages.js';
import { UsageError } from '../../core/errors.js';
import { STEPS, type PackerContext } from '../steps/index.js';
import { packerSecretChecks } from '../steps/repository-auth.js';
import { RECORD_LOCAL_SCRIPT } from '../record/packer-scripts.js';
import type { Project } from './project.js';
import { renderDroplet, sq } from './render.js';

/**
 * An HCL string's inside: JSON escaping plus HCL's own template markers, so text from mpimg.json
 * stays text (`${var.do_access_token}` in a snapshot name must not reach Packer as an expression).
 * Function replacements: in a replacement string `$$` means one `$`.
 */
export const hclInner = (s: string): string =>
  JSON.stringify(String(s))
    .slice(1, -1)
    .replace(/\$\{/g, () => '$${')
    .replace(/%\{/g, () => '%%{');
/** A whole HCL string literal of text. */
export const hcl = (s: string): string => `"${hclInner(s)}"`;

/** `p` with its links resolved, also when its last parts do not exist yet (an --out folder to be made). */
function realPath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const up = dirname(p);
    return up === p ? p : join(realPath(up), basename(p));
  }
}

/**
 * The project folder as Packer finds it from the template: `${path.root}` (the template's folder)
 * and the way from there, so the template works wherever `mpimg bundle --out` wrote it and wherever
 * packer is started. Both ends with their links resolved: the system follows a link before `..`.
 */
export function projectFromTemplate(projectDir: string, outDir: string): string {
  const rel = relative(realPath(outDir), realPath(projectDir));
  return `"\${path.root}${rel ? `/${hclInner(rel)}` : ''}"`;
}

/**
 * The oldest Packer that reads the template (`required_version`; `mpimg validate` warns about an
 * older one on PATH): `required_plugins` and `packer init` came with Packer 1.7.0.
 */
export const PACKER_MIN_VERSION = '1.7.0';

/**
 * `variables`: the resolved $.variables of this bundle, given to the build scripts as in `mpimg run`.
 * `outDir`: where the template is written (the bundle's own files are found next to it).
 */
/** build.packages as the package manager gets them (runtime/sections/build.ts: packageArgument). */
function packageArguments(entries: string[], variables: Record<string, string>, family: 'apt' | 'dnf'): string[] {
  try {
    return entries.map((e) => packageArgument(e, variables, family));
  } catch (err) {
    throw new UsageError(
      (err as Error).message,
      'fix build.packages or the variable (--var NAME=VALUE) and bundle again',
    );
  }
}

export function renderPacker(
  project: Project,
  generatorVersion: string,
  variables: Record<string, string> = {},
  outDir = join(project.dir, 'dist'),
): string {
  const m = project.manifest;
  const image = m.droplet?.image ?? m.distributions[0];
  const cleanupArgs = [
    ...(m.cleanup?.lockRootPassword ? ['--lock-root-password'] : []),
    ...(m.cleanup?.zeroFill
      ? ['--zero-fill', ...(m.cleanup.zeroFillMaxMiB ? ['--zero-fill-max-mib', String(m.cleanup.zeroFillMaxMiB)] : [])]
      : []),
  ];
  // The snapshot name of mpimg.json, with Packer filling in the time as `mpimg snapshot` does.
  const name = (m.snapshot?.name ?? DEFAULTS.snapshotName)
    .replaceAll('{slug}', m.slug)
    .replaceAll('{version}', m.version);
  const snapshotExpr = `"${name.split('{timestamp}').map(hclInner).join('${formatdate("YYYYMMDD-hhmmss", timestamp())}')}"`;
  const family = distroInfo(image)?.family ?? distroInfo(m.distributions[0])?.family ?? 'apt';
  const ctx: PackerContext = {
    slug: m.slug,
    family,
    packages: packageArguments(
      withSectionPackages(forDistro(m.build?.packages, image, familyOf(image)), m, familyOf(image)),
      variables,
      familyOf(image),
    ),
    // The bundle's list (tasks/bundle/scripts-dir.ts): exactly the scripts the SSH task runs.
    buildScripts: project.buildScripts.map((f) => ({ rel: f.rel, name: posix.basename(f.rel) })),
    env: [
      ...Object.entries(variables).map(([k, v]) => `${k}=${v}`),
      'MPIMG_ROOT=/',
      `MPIMG_NAME=${m.name}`,
      `MPIMG_SLUG=${m.slug}`,
      `MPIMG_VERSION=${m.version}`,
      `MPIMG_DISTRO=${image}`,
    ],
    buildSecrets: (m.build?.secrets ?? []).map((s) => s.name),
    repositories: forDistro(m.build?.repositories, image, familyOf(image)),
    cleanupArgs,
    hcl,
    hclInner,
    sq,
  };
  // The steps of tasks/steps/ in build order, each with its provisioners for this bundle (a step with
  // nothing to do here has none and is left out).
  const steps = STEPS.map((s) => ({
    name: s.name,
    summary: s.summary,
    boot: s.packerPhase === 'boot',
    provisioners: s.packer(ctx),
  })).filter((s) => s.provisioners.length > 0);
  return renderDroplet('packer.pkr.hcl.ejs', {
    slug: m.slug,
    generator: generatorVersion,
    image,
    region: m.droplet?.region ?? DEFAULTS.region,
    size: m.droplet?.size ?? DEFAULTS.size,
    family,
    requiredVersion: `>= ${PACKER_MIN_VERSION}`,
    bootSteps: steps.filter((s) => s.boot),
    buildSteps: steps.filter((s) => !s.boot),
    snapshotExpr,
    buildSecrets: ctx.buildSecrets,
    // Repository credentials from build secrets: refused by the SSH task's rules at validate.
    secretChecks: packerSecretChecks(ctx),
    project: projectFromTemplate(project.dir, outDir),
    recordLocal: `set -- --packer-manifest "$MPIMG_MANIFEST"\n${RECORD_LOCAL_SCRIPT}`,
    hcl,
    hclInner,
  });
}
