import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { DEFAULTS, type Manifest } from '../../runtime/manifest.js';
import { MpimgError } from '../../core/errors.js';
import type { DoClient } from './client.js';
import { throwIfAborted } from './clock.js';
import { checkDropletTags, runDropletStep, sshKeysFor, withRunDroplet } from './droplet-run.js';
import { snapshotDroplet, type PhaseFn, type SnapshotTimings } from './snapshot.js';
import type { BuildStep } from './step.js';
import type { CreateDropletRequest, Image } from './types.js';

export { publicIPv4 } from './droplet-run.js';
export type { BuildStep, BuildStepContext } from './step.js';

export interface PipelineTimings extends SnapshotTimings {
  /** Bound for a new droplet to become active with a public IPv4. */
  activeTimeoutMs: number;
  /** After Ctrl-C, how long the build step may take to stop before cleanup goes ahead without it. */
  abortGraceMs: number;
}

/** A droplet's wait and the grace after Ctrl-C (the snapshot's bounds are DEFAULT_SNAPSHOT_TIMINGS). */
export const DEFAULT_PIPELINE_TIMINGS = { activeTimeoutMs: 10 * 60_000, abortGraceMs: 15_000, pollMs: 3000 };

export const BUILD_TAG = 'mpimg-build';
/**
 * Tag of one `mpimg image` run: cleanup destroys only droplets carrying it (tags allow letters, digits, `:`, `-`, `_`).
 */
export const RUN_TAG_PREFIX = 'mpimg-run:';

/** 48 random bits: droplet names alone have one-second resolution and collide between parallel jobs. */
export function newRunId(): string {
  return randomBytes(6).toString('hex');
}

export function runTag(runId: string): string {
  return `${RUN_TAG_PREFIX}${runId}`;
}

/** The build droplet could not be destroyed; `result` is set when the image itself was made. */
export class BuildDropletLeftError extends MpimgError {
  readonly result?: ImagePipelineResult;
  constructor(message: string, opts: { where: string; hint: string }, result?: ImagePipelineResult) {
    super(message, opts);
    this.name = 'BuildDropletLeftError';
    this.result = result;
  }
}

export interface ImagePipelineOptions {
  client: DoClient;
  manifest: Manifest;
  snapshotName: string;
  build: BuildStep;
  /** Keep the build droplet (also on failure), e.g. to debug it. */
  keep?: boolean;
  dropletName?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
  timings?: Partial<PipelineTimings>;
  onPhase?: PhaseFn;
  now?: () => Date;
  /** How the grace message names the program (default "mpimg image"). */
  prog?: string;
}

export interface ImagePipelineResult {
  image: Image;
  droplet: { id: number; name: string; ip: string };
  destroyed: boolean;
  /** This run's tag (mpimg-run:<id>). */
  runTag: string;
}

/** Build droplet request following the Marketplace guide: smallest size, agent/monitoring/IPv6 off, SSH keys, tags. */
export function buildDropletRequest(
  m: Manifest,
  name: string,
  sshKeys: Array<string | number>,
  runTagName?: string,
): CreateDropletRequest {
  const image = m.droplet?.image ?? m.distributions[0];
  const tags = [BUILD_TAG, ...(runTagName ? [runTagName] : []), ...(m.droplet?.tags ?? [])].filter(
    (t, i, a) => a.indexOf(t) === i,
  );
  return {
    name,
    region: m.droplet?.region ?? DEFAULTS.region,
    size: m.droplet?.size ?? DEFAULTS.size,
    image: /^\d+$/.test(image) ? Number(image) : image,
    ssh_keys: sshKeys,
    tags,
    with_droplet_agent: false,
    monitoring: false,
    ipv6: false,
  };
}

/** `<slug>-<kind>-<utc timestamp>[-<run id>]`, at most 63 characters (one host name label; the slug is shortened). */
export function runDropletName(m: Manifest, kind: string, now: Date = new Date(), runId?: string): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  const suffix = `-${kind}-${ts}${runId ? `-${runId}` : ''}`;
  return `${m.slug.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** `<slug>-build-<utc timestamp>[-<run id>]`. */
export function buildDropletName(m: Manifest, now: Date = new Date(), runId?: string): string {
  return runDropletName(m, 'build', now, runId);
}

/**
 * Create the build droplet → wait active with a public IPv4 → build over SSH → snapshot → destroy the
 * droplet, also when anything failed or the signal fired, unless `keep`. Every run has its own id: in
 * the droplet's name, and as the tag that cleanup goes by, so parallel runs never touch each other.
 */
export async function runImagePipeline(o: ImagePipelineOptions): Promise<ImagePipelineResult> {
  const { client, manifest } = o;
  const phase = o.onPhase ?? (() => {});
  const t = { ...DEFAULT_PIPELINE_TIMINGS, ...o.timings };
  checkDropletTags(manifest);
  const runId = newRunId();
  const tag = runTag(runId);
  const name = o.dropletName ?? buildDropletName(manifest, o.now?.() ?? new Date(), runId);
  const sshKeys = await sshKeysFor(client, manifest, phase);
  const req = buildDropletRequest(manifest, name, sshKeys, tag);

  let snapshotSent = false;
  const out = await withRunDroplet<Image>({
    client,
    request: req,
    tag,
    label: 'build droplet',
    keep: o.keep,
    timings: t,
    phase,
    stderr: o.stderr,
    work: async (droplet, ip) => {
      phase(`building on ${ip} (droplet ${droplet.id})`);
      await runDropletStep({
        ip,
        droplet,
        cwd: o.cwd,
        env: o.env,
        stdout: o.stdout,
        stderr: o.stderr,
        signal: client.signal,
        graceMs: t.abortGraceMs,
        what: 'build',
        prog: o.prog ?? 'mpimg image',
        step: o.build,
      });
      throwIfAborted(client.signal);
      const snap = await snapshotDroplet(client, droplet.id, o.snapshotName, {
        timings: t,
        onPhase: phase,
        beforeAction: (type) => {
          if (type === 'snapshot') snapshotSent = true;
        },
      });
      return snap.image;
    },
    abortNotes: () =>
      snapshotSent
        ? [
            `a snapshot "${o.snapshotName}" had been started and may still appear: check \`doctl compute image list-user\``,
          ]
        : [],
    leftError: (message, opts, image, droplet) =>
      new BuildDropletLeftError(
        message,
        opts,
        image && droplet ? { image, droplet, destroyed: false, runTag: tag } : undefined,
      ),
  });
  return { image: out.result, droplet: out.droplet, destroyed: out.destroyed, runTag: tag };
}
