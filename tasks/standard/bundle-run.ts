/**
 * Runs the project's bundle on the droplet: the .cjs where Node 18+ is there, else its POSIX-sh twin
 * (same commands, same results), copied into a private remote temp folder that is removed afterwards.
 */
import { basename } from 'node:path';
import type { Connection, RunResult } from '../ssh/connection.js';
import { remoteNodeMajor, withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { bundleOf, manifestOf } from './project.js';

const cmdline = (...words: string[]): string => words.map(shellQuote).join(' ');

/** `MPIMG_INSTALLER=sh` uses the sh twin even where Node is there. */
export async function runBundle(c: Connection, args: string[], opts: { check?: boolean } = {}): Promise<RunResult> {
  const m = manifestOf(c);
  const { cjs, sh } = bundleOf(c, m);
  const node = await remoteNodeMajor(c);
  const useNode = node >= 18 && process.env.MPIMG_INSTALLER !== 'sh';
  c.log(
    useNode
      ? `node ${node} found: using dist/${basename(cjs)}`
      : `using dist/${basename(sh)} (${node >= 18 ? 'MPIMG_INSTALLER=sh' : `no Node 18+ on the droplet${node ? `: node ${node}` : ''}`})`,
  );
  return withRemoteTempDir(
    c,
    async (tmp) => {
      const local = useNode ? cjs : sh;
      const remote = `${tmp}/${basename(local)}`;
      await c.put(local, remote, { mode: 0o700 });
      return c.sudo(cmdline(useNode ? 'node' : 'sh', remote, ...args), { check: opts.check });
    },
    `${m.slug}-bundle`,
  );
}
