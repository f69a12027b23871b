/** debconf: build.debconf preseeded with debconf-set-selections, right before build.packages. */
import { UsageError } from '../../core/errors.js';
import { debconfLine, type DebconfEntry } from '../../runtime/sections/debconf.js';
import { sq } from '../bundle/shell-word.js';
import { runBuildScript } from '../standard/build-script-run.js';
import { distroOf, manifestOf } from '../standard/project.js';
import { defineStep } from './define.js';
import { bundleCommand, fragmentFile, type BuildScriptContext } from './types.js';

/** One `debconf_entry` line per answer, its {{VARIABLE}}s filled in with the bundle's values. */
function entryLines(ctx: BuildScriptContext): string[] {
  return (ctx.manifest.build?.debconf ?? []).map((e: DebconfEntry) => {
    let line: string;
    try {
      line = debconfLine(e, ctx.project.variables);
    } catch (err) {
      throw new UsageError(
        (err as Error).message,
        'fix build.debconf or the variable (--var NAME=VALUE) and bundle again',
      );
    }
    // the value as debconfLine checked it: everything after the third blank
    const value = line.split(' ').slice(3).join(' ');
    return `debconf_entry ${[e.package, e.question, e.type, value].map(sq).join(' ')}`;
  });
}

export default defineStep({
  name: 'debconf',
  summary: 'preseed the answers of build.debconf (debconf-set-selections) before the packages install',
  sections: ['$.build.debconf'],
  buildScript: {
    help: 'preseed the debconf answers of build.debconf (apt distributions)',
    shell: fragmentFile('debconf'),
    data: (ctx) => {
      const lines = entryLines(ctx);
      return { debconfCase: ctx.distroCase((_slug, family) => (family === 'apt' ? lines : [])) };
    },
  },
  run: async (c) => {
    const m = manifestOf(c);
    const d = await distroOf(c, m);
    if (!m.build?.debconf?.length) return c.log('mpimg.json has no build.debconf answers');
    if (d.family !== 'apt') return c.log(`build.debconf is for apt distributions: nothing to preseed on ${d.slug}`);
    await runBuildScript(c, 'debconf');
  },
  // always: the build script says when there is nothing to preseed (no answers, a dnf machine)
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'build.sh', 'debconf')] }],
});
