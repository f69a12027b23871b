/**
 * `mpimg validate`: is the `packer` on PATH new enough for the template `mpimg bundle` writes (its
 * required_version)? Said as a warning, since the Packer path is optional (`make image` needs no
 * Packer); no packer on PATH says nothing.
 */
import { spawnSync } from 'node:child_process';
import { PACKER_MIN_VERSION } from './packer.js';
import type { Project } from './project.js';

const parts = (v: string): number[] => v.split('.').map(Number);

/** a < b, for "MAJOR.MINOR.PATCH" versions. */
export function versionBelow(a: string, b: string): boolean {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  return false;
}

/**
 * The version `packer version` says ("Packer v1.6.6", "Packer v1.11.2" and an update note), null
 * when it says none, undefined when there is no packer on PATH (env's PATH, as the shell finds it).
 */
export function packerOnPath(env: NodeJS.ProcessEnv): string | null | undefined {
  // CHECKPOINT_DISABLE: `packer version` would otherwise ask HashiCorp whether it is current.
  const r = spawnSync('packer', ['version'], {
    env: { ...env, CHECKPOINT_DISABLE: '1' },
    encoding: 'utf8',
    timeout: 20_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
  return /\bPacker v(\d+\.\d+\.\d+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? null;
}

/** What validate says about the packer on PATH: nothing when it is new enough or absent. */
export function packerWarnings(project: Project, env: NodeJS.ProcessEnv): string[] {
  const have = packerOnPath(env);
  const template = `dist/${project.manifest.slug}.pkr.hcl`;
  const fix = `install Packer ${PACKER_MIN_VERSION} or newer (https://developer.hashicorp.com/packer/install), or build with \`make image\`, which needs no Packer`;
  if (have === undefined) return [];
  if (have === null)
    return [
      `\`packer version\` did not say which Packer is on PATH; ${template} needs Packer ${PACKER_MIN_VERSION} or newer: ${fix}`,
    ];
  if (!versionBelow(have, PACKER_MIN_VERSION)) return [];
  return [
    `the packer on PATH is ${have}, older than the ${PACKER_MIN_VERSION} that ${template} needs (its required_version; packer refuses it): ${fix}`,
  ];
}
