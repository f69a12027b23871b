/**
 * Pending updates of a host, counted by the image check's own shell (templates/droplet/99-img-check.sh
 * --pending-updates): one logic for its security-updates line and for `mpimg outdated`. The package's
 * copy of the check is used (a project's older copy may not know the mode); it only simulates, after
 * refreshing the package indexes.
 */
import { MpimgError } from '../../core/errors.js';
import { packageScript } from '../bundle/droplet-scripts.js';
import type { Connection } from '../ssh/connection.js';
import { withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';

export interface PendingPackage {
  name: string;
  /** null when the package database did not say (dnf: a package rpm does not list). */
  installed: string | null;
  candidate: string;
  security: boolean;
  /** Where the candidate comes from: apt's suite (e.g. bookworm-security), dnf's repository id. */
  source: string | null;
}

export interface PendingUpdates {
  distribution: string;
  manager: string;
  packages: PendingPackage[];
}

/** Exit statuses of `mpimg outdated`: a fixed contract (workflows act on them). */
export const OUTDATED_EXIT = { none: 0, error: 1, usage: 2, pending: 3, security: 4 } as const;

export function outdatedExit(p: Pick<PendingUpdates, 'packages'>): number {
  if (p.packages.some((x) => x.security)) return OUTDATED_EXIT.security;
  return p.packages.length ? OUTDATED_EXIT.pending : OUTDATED_EXIT.none;
}

/** Reads the lines of `99-img-check.sh --pending-updates`; anything else in them is an error. */
export function parsePendingUpdates(text: string, where = 'the image check --pending-updates'): PendingUpdates {
  const out: PendingUpdates = { distribution: '', manager: '', packages: [] };
  const bad = (line: string) =>
    new MpimgError(`unexpected line from ${where}: ${JSON.stringify(line.slice(0, 200))}`, {
      where,
      hint: 'run templates/droplet/99-img-check.sh --pending-updates on the host by hand to see what it says',
    });
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split('\t');
    if (f[0] === 'distribution' && f.length === 2) out.distribution = f[1];
    else if (f[0] === 'manager' && f.length === 2) out.manager = f[1];
    else if (f[0] === 'update' && f.length === 6 && (f[4] === '0' || f[4] === '1') && f[1] && f[3]) {
      out.packages.push({
        name: f[1],
        installed: f[2] === '-' || f[2] === '' ? null : f[2],
        candidate: f[3],
        security: f[4] === '1',
        source: f[5] === '-' || f[5] === '' ? null : f[5],
      });
    } else throw bad(line);
  }
  if (!out.manager) throw bad(text.split('\n')[0] ?? '');
  return out;
}

/**
 * Copies the package's image check to a private temp folder on the host, runs it with
 * --pending-updates --refresh (as root, through sudo for another user) and reads its answer.
 */
export async function pendingUpdates(c: Connection, opts: { refresh?: boolean } = {}): Promise<PendingUpdates> {
  const script = packageScript('check');
  const r = await withRemoteTempDir(
    c,
    async (tmp) => {
      const remote = `${tmp}/99-img-check.sh`;
      await c.put(script, remote, { mode: 0o700 });
      const args = ['bash', remote, '--pending-updates', ...(opts.refresh === false ? [] : ['--refresh'])];
      return c.sudo(args.map(shellQuote).join(' '), { quiet: true, echo: false, check: false, timeoutMs: 15 * 60_000 });
    },
    'mpimg-outdated',
  );
  if (r.exitCode !== 0) {
    const why = r.stderr.trim().split('\n').filter(Boolean).slice(-3).join('; ');
    throw new MpimgError(`could not tell which updates are pending on ${c.target}: ${why || `exit ${r.exitCode}`}`, {
      where: c.target,
      hint: r.timedOut
        ? 'the package manager did not answer within 15 minutes; try again'
        : 'check that the package indexes refresh there (apt-get update / dnf makecache) and try again',
    });
  }
  return parsePendingUpdates(r.stdout, `${c.target}`);
}
