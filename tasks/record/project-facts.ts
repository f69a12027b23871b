/** What a build record says of the project on the vendor's machine: version, variables, secret names, git state. */
import { spawnSync } from 'node:child_process';
import type { Manifest } from '../../runtime/manifest.js';
import { packageVersion } from '../../core/paths.js';
import { childEnv } from '../secrets.js';
import { RECORDS_DIR, type BuildRecord } from './types.js';

/** The names of the secrets a manifest knows: $.secrets (first boot) and build.secrets (build time), if any. */
export function secretNames(m: Manifest): { secrets: string[]; buildSecrets: string[] } {
  const names = (list: unknown): string[] =>
    Array.isArray(list)
      ? list
          .map((s: unknown) => (typeof s === 'string' ? s : (s as { name?: unknown })?.name))
          .filter((n): n is string => typeof n === 'string')
          .sort()
      : [];
  return {
    secrets: names(m.secrets),
    buildSecrets: names((m.build as { secrets?: unknown } | undefined)?.secrets),
  };
}

/**
 * The commit of the repository holding the project, and whether the project folder differs from it
 * (the records folder aside: writing a record must not make the next build dirty). null when the
 * project is in no repository or git is missing.
 */
export function gitState(project: string): BuildRecord['project']['git'] {
  // The project's own repository, whatever GIT_DIR the calling shell has.
  const env: NodeJS.ProcessEnv = { ...childEnv(), LC_ALL: 'C' };
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete env[k];
  const git = (args: string[]) =>
    spawnSync('git', ['-C', project, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  const head = git(['rev-parse', '--verify', '-q', 'HEAD']);
  if (head.error || head.status !== 0) return null;
  const status = git(['status', '--porcelain', '--untracked-files=normal', '--', '.', `:(exclude)${RECORDS_DIR}`]);
  if (status.error || status.status !== 0)
    throw new Error(`git status failed in ${project}: ${(status.stderr || String(status.error)).trim()}`);
  return { commit: head.stdout.trim(), dirty: status.stdout.trim() !== '' };
}

export function generatorVersion(): string {
  try {
    return packageVersion();
  } catch {
    return 'unknown';
  }
}
