import { parseArgs } from 'node:util';
import { snapshotName } from '../../runtime/manifest.js';
import { clientFor, printImage, type DoCommandDeps } from '../do/command-support.js';
import { createProgress } from '../do/progress.js';
import { loadManifest } from '../do/project.js';
import { snapshotDroplet, type SnapshotTimings } from '../do/snapshot.js';
import { UsageError } from '../errors.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg snapshot --droplet <id|name> [--name <snapshot name>] [--json]

Power off a built droplet (graceful shutdown, hard power-off after a bound), snapshot it through the
DigitalOcean API and print the \`doctl compute image list-user\` line to submit.

Options:
  --droplet <id|name>  the droplet to snapshot (id, or its exact name)
  --name <name>        snapshot name (default: $.snapshot.name of ./mpimg.json, with a timestamp)
  --json               print the image object as JSON instead of the list-user line

Token: DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, or doctl's config (access-token).
DIGITALOCEAN_API_URL points the client at another API endpoint.
`;

export interface SnapshotCommandDeps extends DoCommandDeps {
  timings?: Partial<SnapshotTimings>;
}

export function createSnapshotCommand(deps: SnapshotCommandDeps = {}): Command {
  return {
    name: 'snapshot',
    summary: 'power off a droplet, snapshot it and print the line to submit',
    usage,
    async run(argv, ctx) {
      let values: { droplet?: string; name?: string; json?: boolean };
      try {
        ({ values } = parseArgs({ args: argv, options: { droplet: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } }, strict: true, allowPositionals: false }));
      } catch (err) {
        throw new UsageError((err as Error).message, 'see `mpimg snapshot --help`');
      }
      if (!values.droplet) throw new UsageError('missing --droplet <id|name>', 'e.g. `mpimg snapshot --droplet 123456` (or `make snapshot DROPLET=123456`)');
      const name = values.name ?? snapshotName(loadManifest(ctx.cwd), deps.now?.() ?? new Date());
      const client = clientFor(ctx, deps);
      const progress = createProgress(ctx.stderr, { isTTY: ctx.isTTY, prefix: 'mpimg snapshot', now: deps.clock?.now });
      try {
        progress.phase(`looking up droplet ${values.droplet}`);
        const droplet = await client.resolveDroplet(values.droplet);
        const res = await snapshotDroplet(client, droplet, name, { timings: deps.timings, onPhase: (p) => progress.phase(p) });
        progress.done(`snapshot ${res.image.id} "${res.image.name}" ready`);
        printImage(ctx, res.image, Boolean(values.json));
        return 0;
      } finally {
        progress.suspend();
      }
    },
  };
}

export default createSnapshotCommand();
