import { createInterface } from 'node:readline/promises';
import { snapshotName } from '../../runtime/manifest.js';
import { clientFor, printImage, type DoCommandDeps } from './do-support.js';
import { AbortedError } from '../do/errors.js';
import { BUILD_TAG, publicIPv4 } from '../do/pipeline.js';
import { createProgress } from '../do/progress.js';
import { loadManifest } from '../do/project.js';
import { COMMAND_SCOPES } from '../do/scopes.js';
import { SnapshotErroredError, snapshotDroplet, type SnapshotTimings } from '../do/snapshot.js';
import type { Droplet } from '../do/types.js';
import { MpimgError, UsageError } from '../../core/errors.js';
import { noteSnapshotInRecord } from '../record/attach.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import type { Command, CommandContext } from './types.js';

const usage = `Usage: mpimg snapshot --droplet <id|name> [--name <snapshot name>] [--yes] [--json]

Power off a built droplet (graceful shutdown, hard power-off after a bound), snapshot it through the
DigitalOcean API and print the \`doctl compute image list-user\` line to submit.

A droplet without the tag ${BUILD_TAG} (the build droplets of \`mpimg image\` carry it) may be one
that serves someone: its name, tags and IP are shown and you are asked before it is shut down. Without
a terminal (CI, pipes) the command refuses unless --yes is given.

Options:
  --droplet <id|name>  the droplet to snapshot (id, or its exact name)
  --name <name>        snapshot name (default: $.snapshot.name of ./mpimg.json, with a timestamp)
  --yes                do not ask: shut the droplet down and snapshot it
  --json               print the image object as JSON instead of the list-user line
${projectHelp(23)}

Token: DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, or doctl's config (access-token; DIGITALOCEAN_CONFIG
names another config file). A custom-scoped token needs these scopes:
  ${COMMAND_SCOPES.snapshot.join(', ')}
API endpoint: DIGITALOCEAN_API_URL, else api-url of doctl's config, else DigitalOcean's.
`;

/** Asks one question on the terminal; resolves with the answer line. */
export type Prompt = (question: string, ctx: CommandContext) => Promise<string>;

export interface SnapshotCommandDeps extends DoCommandDeps {
  timings?: Partial<SnapshotTimings>;
  /** Asks for confirmation (default: a line from the terminal on stdin). Used only when ctx.isTTY. */
  prompt?: Prompt;
}

const ttyPrompt: Prompt = async (question, ctx) => {
  const rl = createInterface({ input: process.stdin, output: ctx.stderr, terminal: true });
  try {
    return await rl.question(question, { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) throw new AbortedError();
    throw err;
  } finally {
    rl.close();
  }
};

/** Names come from the API; keep terminal control characters out of what we print. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

export function describeDroplet(d: Droplet): string {
  const tags = (d.tags ?? []).map(printable).join(', ');
  return `droplet ${d.id} "${printable(d.name ?? '')}" (tags: ${tags || 'none'}; public IPv4: ${publicIPv4(d) ?? 'none'}; status: ${printable(String(d.status))})`;
}

/** After a failure: what state the droplet may have been left in. */
function noteLeftState(ctx: CommandContext, droplet: Droplet, sent: Set<string>, name: string, err: unknown): void {
  if (droplet.status !== 'off' && (sent.has('shutdown') || sent.has('power_off'))) {
    ctx.stderr.write(
      `note: droplet ${droplet.id} was running and may now be off: power it on with \`doctl compute droplet-action power-on ${droplet.id}\`\n`,
    );
  }
  if (sent.has('snapshot') && !(err instanceof SnapshotErroredError)) {
    ctx.stderr.write(
      `note: a snapshot "${name}" of droplet ${droplet.id} was started and may still appear: check \`doctl compute image list-user\`\n`,
    );
  }
}

export function createSnapshotCommand(deps: SnapshotCommandDeps = {}): Command {
  return {
    name: 'snapshot',
    summary: 'power off a droplet, snapshot it and print the line to submit',
    usage,
    async run(argv, ctx) {
      const { values } = parseOptions(
        argv,
        {
          ...PROJECT_OPTION,
          droplet: { type: 'string' },
          name: { type: 'string' },
          json: { type: 'boolean' },
          yes: { type: 'boolean', short: 'y' },
        },
        { command: 'snapshot', usage },
      );
      ctx = inProject(ctx, values.project);
      if (!values.droplet)
        throw new UsageError(
          'missing --droplet <id|name>',
          'e.g. `mpimg snapshot --droplet 123456` (or `make snapshot DROPLET=123456`)',
        );
      const name = values.name ?? snapshotName(loadManifest(ctx.cwd), deps.now?.() ?? new Date());
      const client = clientFor(ctx, deps);
      const progress = createProgress(ctx.stderr, { isTTY: ctx.isTTY, prefix: 'mpimg snapshot', now: deps.clock?.now });
      const sent = new Set<string>();
      let droplet: Droplet | undefined;
      try {
        progress.phase(`looking up droplet ${values.droplet}`);
        droplet = await client.resolveDroplet(values.droplet);
        const what = describeDroplet(droplet);
        progress.phase(`found ${what}`);
        if (!(droplet.tags ?? []).includes(BUILD_TAG) && !values.yes) {
          if (!ctx.isTTY || (!deps.prompt && !process.stdin.isTTY)) {
            throw new MpimgError(`refusing to shut down and snapshot ${what} without confirmation`, {
              where: `--droplet ${values.droplet}`,
              hint: `it is not tagged ${BUILD_TAG} and there is no terminal to ask on: make sure it is the droplet you built, then run again with --yes`,
            });
          }
          progress.suspend();
          const answer = await (deps.prompt ?? ttyPrompt)(
            `This shuts down ${what} and snapshots it.\nContinue? [y/N] `,
            ctx,
          );
          if (!/^\s*y(es)?\s*$/i.test(answer)) {
            throw new MpimgError(`not confirmed: droplet ${droplet.id} was left as it is`, {
              where: `--droplet ${values.droplet}`,
              hint: 'answer "y" to go on (or pass --yes)',
            });
          }
        }
        const res = await snapshotDroplet(client, droplet, name, {
          timings: deps.timings,
          onPhase: (p) => progress.phase(p),
          beforeAction: (t) => sent.add(t),
        });
        progress.done(`snapshot ${res.image.id} "${res.image.name}" ready`);
        // the build record of this droplet gets the snapshot (and the base image id the API gave)
        const ids = { id: droplet.id, ip: publicIPv4(droplet), baseImageId: droplet.image?.id };
        noteSnapshotInRecord(ctx.cwd, ids, res.image, ctx.stderr, deps.now?.() ?? new Date());
        printImage(ctx, res.image, Boolean(values.json));
        return 0;
      } catch (err) {
        progress.suspend();
        if (droplet) noteLeftState(ctx, droplet, sent, name, err);
        throw err;
      } finally {
        progress.suspend();
      }
    },
  };
}

export default createSnapshotCommand();
