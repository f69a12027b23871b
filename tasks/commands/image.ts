import { parseArgs } from 'node:util';
import { snapshotName } from '../../runtime/manifest.js';
import { runTaskBuildStep } from '../do/build-step.js';
import { clientFor, printImage, type DoCommandDeps } from '../do/command-support.js';
import { BuildDropletLeftError, runImagePipeline, type BuildStep, type PipelineTimings } from '../do/pipeline.js';
import { createProgress } from '../do/progress.js';
import { loadManifest } from '../do/project.js';
import { UsageError } from '../errors.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg image [--keep] [--json]

The whole path in one command, from ./mpimg.json: create a build droplet (base image, region, smallest
size, your account's SSH keys, droplet agent/monitoring/IPv6 off, tags mpimg-build and mpimg-run:<id>
of this run), wait until it is active, run the \`build\` task on it over SSH (with a known_hosts file of
this run only, and without the API token in its environment), snapshot it, and destroy it at the end,
also when a step fails or on Ctrl-C. Only this run's droplet is destroyed: parallel runs are safe.

Options:
  --keep   keep the build droplet (e.g. to debug a failed build); delete it yourself afterwards
  --json   print the image object as JSON instead of the list-user line

Token: DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, or doctl's config (access-token).
`;

export interface ImageCommandDeps extends DoCommandDeps {
  /** Runs the project's build task on the droplet; default: \`mpimg run build --host <ip> --user root\`. */
  build?: BuildStep;
  timings?: Partial<PipelineTimings>;
}

export function createImageCommand(deps: ImageCommandDeps = {}): Command {
  return {
    name: 'image',
    summary: 'create a build droplet, build, snapshot and destroy it',
    usage,
    async run(argv, ctx) {
      let values: { keep?: boolean; json?: boolean };
      try {
        ({ values } = parseArgs({ args: argv, options: { keep: { type: 'boolean' }, json: { type: 'boolean' } }, strict: true, allowPositionals: false }));
      } catch (err) {
        throw new UsageError((err as Error).message, 'see `mpimg image --help`');
      }
      const manifest = loadManifest(ctx.cwd);
      const now = deps.now?.() ?? new Date();
      const client = clientFor(ctx, deps);
      const progress = createProgress(ctx.stderr, { isTTY: ctx.isTTY, prefix: 'mpimg image', now: deps.clock?.now });
      const build = deps.build ?? runTaskBuildStep();
      try {
        const res = await runImagePipeline({
          client, manifest, snapshotName: snapshotName(manifest, now), keep: Boolean(values.keep), now: () => now,
          cwd: ctx.cwd, env: ctx.env,
          // --json keeps stdout for the JSON alone.
          stdout: values.json ? ctx.stderr : ctx.stdout, stderr: ctx.stderr,
          timings: deps.timings,
          onPhase: (p) => progress.phase(p),
          build: async (b) => {
            progress.suspend();
            await build(b);
          },
        });
        progress.done(`image ${res.image.id} "${res.image.name}" ready${res.destroyed ? ', build droplet destroyed' : ''}`);
        printImage(ctx, res.image, Boolean(values.json));
        return 0;
      } catch (err) {
        // The image was made but the droplet is left: still print the line to submit, then fail.
        if (err instanceof BuildDropletLeftError && err.result) {
          progress.done(`image ${err.result.image.id} "${err.result.image.name}" ready, but the build droplet was not destroyed`);
          printImage(ctx, err.result.image, Boolean(values.json));
        }
        throw err;
      } finally {
        progress.suspend();
      }
    },
  };
}

export default createImageCommand();
