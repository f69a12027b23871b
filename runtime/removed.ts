/**
 * build.remove on a droplet: what the build removed must stay gone (`status` reports a path of the
 * list that is there). The sh twin is mpimg_st_removed in templates/droplet/installer.sh.ejs.
 * Node 18 APIs only (bundled into the runtime).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { distroFromOsRelease } from './distro.js';
import { lstat } from './files.js';
import { readOsRelease } from './ops.js';
import { familyOfOsRelease, type Plan } from './plan.js';
import { resolveInRoot } from './root.js';
import { forDistro } from './sections/common.js';

const GLOB = /[*?[]/;

/**
 * One name against the last part of a build.remove entry, as sh globs it: `*`, `?`, `[...]` and
 * `[!...]`; a leading dot is matched only by a dot (the build's `for f in dir/*` skips dot files).
 */
export function nameGlob(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[' && pattern.indexOf(']', i + 2) > 0) {
      const end = pattern.indexOf(']', i + 2);
      let set = pattern.slice(i + 1, end);
      const negate = set.startsWith('!');
      if (negate) set = set.slice(1);
      re += `[${negate ? '^' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${pattern.startsWith('.') ? '' : '(?!\\.)'}${re}$`, 's');
}

/** The droplet paths of `entry` that are there now (its folders' links followed, the last part not). */
function present(root: string, entry: string): string[] {
  const folder = path.posix.dirname(entry);
  const name = path.posix.basename(entry);
  try {
    if (!GLOB.test(name)) return lstat(resolveInRoot(root, entry).real) ? [entry] : [];
    const dir = resolveInRoot(root, folder, { followLast: true }).real;
    if (!lstat(dir)?.isDirectory()) return [];
    const re = nameGlob(name);
    return fs
      .readdirSync(dir)
      .filter((n) => re.test(n))
      .sort()
      .map((n) => `${folder === '/' ? '' : folder}/${n}`);
  } catch {
    // a folder on the way is not a folder (or a link loop): nothing of the entry can be there
    return [];
  }
}

/** The entries of build.remove for this root's distribution, and those of them that are there. */
export function removedDrift(plan: Pick<Plan, 'removed'>, root: string): { checked: number; there: string[] } {
  if (!plan.removed) return { checked: 0, there: [] };
  const text = readOsRelease(root);
  const d = distroFromOsRelease(text) ?? { slug: '', family: familyOfOsRelease(text) };
  const entries = forDistro(plan.removed, d.slug, d.family);
  return { checked: entries.length, there: entries.flatMap((e) => present(root, e)) };
}
