import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { run } from './exec.js';

/** mountinfo escapes blanks and backslashes in paths as octal (\040, \011, \012, \134). */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points of this process's mount namespace at or below `prefix`, deepest first. */
export function mountsUnder(prefix: string): string[] {
  const base = prefix.replace(/\/+$/, '');
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => unescapeMountPath(line.split(' ')[4]))
    .filter((p) => p === base || p.startsWith(`${base}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function mountTmpfs(dir: string, options = 'mode=0755'): Promise<void> {
  await run('mount', ['-t', 'tmpfs', '-o', options, 'mpimg-e2e', dir]);
}

/** overlayfs: `lowers` top-most first; writes go to `upper` (which should be on a tmpfs). */
export async function mountOverlay(lowers: string[], upper: string, work: string, merged: string): Promise<void> {
  const opts = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`;
  await run('mount', ['-t', 'overlay', '-o', opts, 'mpimg-e2e', merged]);
}

/** Unmounts `dir` and everything below it; retries briefly when busy, then detaches lazily. */
export async function unmountTree(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) {
    let ok = false;
    for (let i = 0; i < 10 && !ok; i++) {
      const r = await run('umount', [point], { allowFail: true });
      ok = r.code === 0 || !mountsUnder(point).includes(point);
      if (!ok) await new Promise((res) => setTimeout(res, 200));
    }
    if (!ok) await run('umount', ['-l', point], { allowFail: true });
  }
  const left = mountsUnder(dir);
  if (left.length) throw new Error(`still mounted after teardown: ${left.join(', ')}`);
}

/** Host pids of processes whose root directory is at or below `dir` (they run inside a droplet there). */
export function processesRootedIn(dir: string): number[] {
  const base = dir.replace(/\/+$/, '');
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const root = readlinkSync(`/proc/${n}/root`);
        return root === base || root.startsWith(`${base}/`);
      } catch {
        return false;
      }
    })
    .map(Number);
}
