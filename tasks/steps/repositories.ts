/** repositories: build.repositories with their checked signing keys, before the packages. */
import { forDistro, type Manifest } from '../../runtime/manifest.js';
import type { Connection } from '../ssh/connection.js';
import { shellQuote } from '../ssh/quote.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { distroOf, manifestOf, targetRoot } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

/** Whether the target has a repository list an earlier build of this image wrote (its mark). */
async function ownRepositoryLists(c: Connection, m: Manifest): Promise<boolean> {
  const root = targetRoot() === '/' ? '' : targetRoot();
  const globs = `${shellQuote(`${root}/etc/apt/sources.list.d`)}/*.sources ${shellQuote(`${root}/etc/yum.repos.d`)}/*.repo`;
  const r = await c.run(
    `for f in ${globs}; do [ -f "$f" ] || continue; case $(head -n 1 "$f") in ${shellQuote(`# mpimg:${m.slug} repository `)}*) exit 0 ;; esac; done; exit 1`,
    { quiet: true, echo: false, check: false },
  );
  return r.exitCode === 0;
}

export default defineStep({
  name: 'repositories',
  summary:
    'add the build.repositories of mpimg.json with their checked signing keys (before the packages), remove the ones it no longer lists',
  sections: ['$.build.repositories'],
  buildScript: { help: 'package repositories and their signing keys (before the packages)' },
  // Also when this distribution's list is empty, if an earlier build added repositories: the ones
  // mpimg.json no longer lists are removed then too.
  run: async (c) => {
    const m = manifestOf(c);
    const d = await distroOf(c, m);
    if (forDistro(m.build?.repositories, d.slug, d.family).length === 0 && !(await ownRepositoryLists(c, m)))
      return c.log(`mpimg.json lists no build.repositories for ${d.slug}`);
    await runBuildScript(c, 'repositories');
  },
  packer: (p) => [
    {
      type: 'shell',
      ...(p.family === 'apt' ? { env: ['"DEBIAN_FRONTEND=noninteractive"'] } : {}),
      inline: [bundleCommand(p, 'build.sh', 'repositories')],
    },
  ],
});
