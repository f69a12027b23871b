/**
 * One image of `mpimg image`: build and snapshot it on a droplet of its own, then verify the
 * snapshot when asked. Used once, or once per distribution with --all (image-all.ts).
 */
import type { Writable } from 'node:stream';
import type { Manifest } from '../../runtime/manifest.js';
import { MpimgError } from '../../core/errors.js';
import type { DoClient } from '../do/client.js';
import { AbortedError } from '../do/errors.js';
import { BuildDropletLeftError, runImagePipeline, type BuildStep, type PipelineTimings } from '../do/pipeline.js';
import type { Progress } from '../do/progress.js';
import type { ImageRecord } from '../do/release.js';
import type { Image } from '../do/types.js';
import { checkCollector, runVerifyPipeline, summarise } from '../do/verify.js';
import type { DoCommandDeps } from './do-support.js';
import { noteSnapshotInRecord } from '../record/attach.js';
import { runTaskBuildStep } from './task-step.js';
import type { CommandContext } from './types.js';
import { defaultVerifyStep } from './verify.js';

export interface ImageCommandDeps extends DoCommandDeps {
  /** Runs the project's build task on the droplet; default: \`mpimg run build --host <ip> --user root\`. */
  build?: BuildStep;
  /** Runs the project's verify task (--verify); default: \`mpimg run verify --host <ip> --user root\`. */
  verify?: BuildStep;
  timings?: Partial<PipelineTimings>;
}

/** The flags of `mpimg image` as parsed. */
export interface ImageFlags {
  keep?: boolean;
  json?: boolean;
  verify?: boolean;
  release?: boolean;
  reason?: string;
  all?: boolean;
  distributions?: string;
  parallel?: string;
  'dry-run'?: boolean;
}

export interface OneOptions {
  ctx: CommandContext;
  deps: ImageCommandDeps;
  /** One client per command, made before any step runs (a build step takes the token out of process.env). */
  client: DoClient;
  manifest: Manifest;
  name: string;
  keep: boolean;
  verify: boolean;
  json: boolean;
  stdout: Writable;
  stderr: Writable;
  progress: Progress;
  now: Date;
}

export interface OneResult {
  image?: Image;
  verify: ImageRecord['verify'];
  error?: unknown;
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What the build and the verify pipeline of one image share: the droplet's project, output and clock. */
function pipelineBase(o: OneOptions) {
  return {
    client: o.client,
    manifest: o.manifest,
    keep: o.keep,
    now: () => o.now,
    cwd: o.ctx.cwd,
    env: o.ctx.env,
    stdout: o.stdout,
    stderr: o.stderr,
    timings: o.deps.timings,
    onPhase: (p: string) => o.progress.phase(p),
  };
}

/** The build droplet's part: create, build, snapshot, destroy. */
async function buildOne(o: OneOptions): Promise<OneResult> {
  const { progress } = o;
  const build = o.deps.build ?? runTaskBuildStep();
  try {
    const res = await runImagePipeline({
      ...pipelineBase(o),
      snapshotName: o.name,
      build: async (b) => {
        progress.suspend();
        await build(b);
      },
    });
    progress.done(`image ${res.image.id} "${res.image.name}" ready${res.destroyed ? ', build droplet destroyed' : ''}`);
    noteSnapshotInRecord(o.ctx.cwd, res.droplet, res.image, o.stderr);
    return { image: res.image, verify: 'not run' };
  } catch (err) {
    // The image was made but the droplet is left: the image still counts, the run fails.
    if (err instanceof BuildDropletLeftError && err.result) {
      progress.done(
        `image ${err.result.image.id} "${err.result.image.name}" ready, but the build droplet was not destroyed`,
      );
      noteSnapshotInRecord(o.ctx.cwd, err.result.droplet, err.result.image, o.stderr);
      return { image: err.result.image, verify: 'not run', error: err };
    }
    return { verify: 'not run', error: err };
  } finally {
    progress.suspend();
  }
}

/** --verify: a droplet made from the snapshot runs the verify task; a failure keeps the snapshot. */
async function verifyOne(o: OneOptions, image: Image): Promise<OneResult> {
  const { progress } = o;
  const step = o.deps.verify ?? defaultVerifyStep();
  const collect = checkCollector();
  try {
    await collect.run(() =>
      runVerifyPipeline({
        ...pipelineBase(o),
        imageId: image.id,
        prog: 'mpimg image --verify',
        verify: async (b) => {
          progress.suspend();
          await step(b);
        },
      }),
    );
    progress.done(
      `image ${image.id} verified: ${summarise(collect.checks()).result === 'warn' ? 'passed with warnings' : 'passed'}`,
    );
    return { image, verify: 'passed' };
  } catch (err) {
    progress.suspend();
    if (err instanceof AbortedError) return { image, verify: 'failed', error: err };
    const failed = collect
      .checks()
      .filter((c) => c.status === 'fail')
      .map((c) => c.id);
    const e = new MpimgError(
      `verify failed${failed.length ? ` (${failed.join(', ')})` : ''}: the snapshot ${image.id} "${image.name}" is kept, not ready to submit`,
      {
        where: `image ${image.id}`,
        hint: `${err instanceof MpimgError ? `${err.message}; ` : ''}fix the image and build it again; delete the snapshot with \`doctl compute image delete ${image.id}\``,
      },
    );
    return { image, verify: 'failed', error: e };
  }
}

/** One image: build (and snapshot) it, then verify the snapshot when asked. */
export async function oneImage(o: OneOptions): Promise<OneResult> {
  const built = await buildOne(o);
  if (built.error || !built.image || !o.verify) return built;
  return verifyOne(o, built.image);
}

/** The line of dist/images.json for one image built since `start` (ms). */
export function recordOf(distribution: string, one: OneResult, start: number): ImageRecord {
  return {
    distribution,
    imageId: one.image?.id,
    imageName: one.image?.name,
    verify: one.verify,
    ok: !one.error,
    minutes: Math.round((Date.now() - start) / 600) / 100,
    ...(one.error ? { error: errText(one.error) } : {}),
  };
}
