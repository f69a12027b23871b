/**
 * `mpimg verify`: a droplet made FROM the snapshot (the smallest size whose disk fits the image, the
 * manifest's region, agent off, a tag of this run), the project's `verify` task run on it over SSH
 * (with a known_hosts file of this run), and the droplet destroyed always (failure, Ctrl-C) unless kept.
 */
import type { Writable } from 'node:stream';
import { DEFAULTS, type Manifest } from '../../runtime/manifest.js';
import { collectVerifyChecks, type CheckStatus, type VerifyCheck } from '../standard/verify-results.js';
import { MpimgError } from '../../core/errors.js';
import type { DoClient } from './client.js';
import { checkDropletTags, runDropletStep, sshKeysFor, withRunDroplet, type DropletInfo } from './droplet-run.js';
import { DoApiError } from './errors.js';
import {
  DEFAULT_PIPELINE_TIMINGS,
  newRunId,
  runDropletName,
  runTag,
  type BuildStep,
  type PipelineTimings,
} from './pipeline.js';
import type { PhaseFn } from './snapshot.js';
import type { CreateDropletRequest, Image } from './types.js';

export const VERIFY_TAG = 'mpimg-verify';

/** Droplet sizes by disk, smallest first (basic droplets; the Marketplace asks for the smallest that fits). */
export const SIZES: ReadonlyArray<{ slug: string; diskGb: number }> = [
  { slug: 's-1vcpu-512mb-10gb', diskGb: 10 },
  { slug: 's-1vcpu-1gb', diskGb: 25 },
  { slug: 's-1vcpu-2gb', diskGb: 50 },
  { slug: 's-2vcpu-4gb', diskGb: 80 },
  { slug: 's-4vcpu-8gb', diskGb: 160 },
  { slug: 's-8vcpu-16gb', diskGb: 320 },
];

/**
 * The size for a droplet of an image with `minDiskGb`: $.droplet.size when its disk fits (or when
 * the table does not know it: the API then says whether it fits), else the smallest that fits.
 */
export function pickSize(minDiskGb: number, preferred?: string): { size: string; note?: string } {
  const smallest = SIZES.find((s) => s.diskGb >= minDiskGb);
  if (preferred) {
    const known = SIZES.find((s) => s.slug === preferred);
    if (!known || known.diskGb >= minDiskGb) return { size: preferred };
    if (smallest)
      return {
        size: smallest.slug,
        note: `$.droplet.size ${preferred} has a ${known.diskGb} GB disk, too small for the image's ${minDiskGb} GB: using ${smallest.slug}`,
      };
  }
  if (!smallest) {
    throw new MpimgError(`no droplet size known here has a disk of ${minDiskGb} GB, the image's min_disk_size`, {
      where: 'the image',
      hint: 'set $.droplet.size in mpimg.json to a size whose disk fits the image (doctl compute size list)',
    });
  }
  return { size: smallest.slug };
}

export interface VerifyPipelineOptions {
  client: DoClient;
  manifest: Manifest;
  imageId: number;
  /** Runs the project's verify task on the droplet (default in the command: `mpimg run verify`). */
  verify: BuildStep;
  keep?: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
  timings?: Partial<PipelineTimings>;
  onPhase?: PhaseFn;
  now?: () => Date;
  prog?: string;
  /**
   * What the droplet is for, in its name, messages and errors (default "verify"): `mpimg outdated
   * --image` boots its droplet through this same path.
   */
  what?: string;
}

export interface VerifyPipelineResult {
  image: Image;
  droplet: DropletInfo;
  destroyed: boolean;
  runTag: string;
  size: string;
}

/** The image must be the account's own, finished, and in the region the droplet is made in. */
export async function usableImage(client: DoClient, id: number, region: string, what = '--image'): Promise<Image> {
  let image: Image;
  try {
    image = await client.getImage(id);
  } catch (err) {
    if (err instanceof DoApiError && err.status === 404) {
      throw new MpimgError(`image ${id} was not found in this account`, {
        where: what,
        hint: 'check the id with `doctl compute image list-user` (the token must belong to the team that owns the snapshot)',
      });
    }
    throw err;
  }
  if (image.status !== undefined && image.status !== 'available') {
    throw new MpimgError(`image ${id} "${image.name}" is ${image.status}, not available`, {
      where: what,
      hint:
        image.status === 'NEW' || image.status === 'pending'
          ? 'wait until it is available (doctl compute image get) and run again'
          : 'pick an available snapshot',
    });
  }
  if (!(image.regions ?? []).includes(region)) {
    throw new MpimgError(
      `image ${id} is not in region ${region} (it is in ${(image.regions ?? []).join(', ') || 'no region'})`,
      {
        where: '$.droplet.region in mpimg.json',
        hint: `copy it there with \`doctl compute image-action transfer ${id} --region ${region}\`, or set $.droplet.region to one of its regions`,
      },
    );
  }
  return image;
}

/** A droplet made from the image: the manifest's region, agent, monitoring and IPv6 off, this run's tag. */
export function verifyDropletRequest(
  m: Manifest,
  imageId: number,
  size: string,
  sshKeys: Array<string | number>,
  name: string,
  tag: string,
): CreateDropletRequest {
  return {
    name,
    region: m.droplet?.region ?? DEFAULTS.region,
    size,
    image: imageId,
    ssh_keys: sshKeys,
    tags: [VERIFY_TAG, tag, ...(m.droplet?.tags ?? [])].filter((x, i, a) => a.indexOf(x) === i),
    with_droplet_agent: false,
    monitoring: false,
    ipv6: false,
  };
}

export async function runVerifyPipeline(o: VerifyPipelineOptions): Promise<VerifyPipelineResult> {
  const { client, manifest: m } = o;
  const phase = o.onPhase ?? (() => {});
  const t = { ...DEFAULT_PIPELINE_TIMINGS, ...o.timings };
  checkDropletTags(m);
  const region = m.droplet?.region ?? DEFAULTS.region;
  phase(`looking up image ${o.imageId}`);
  const image = await usableImage(client, o.imageId, region);
  const { size, note } = pickSize(image.min_disk_size ?? 0, m.droplet?.size);
  if (note) phase(note);
  const runId = newRunId();
  const tag = runTag(runId);
  const what = o.what ?? 'verify';
  const sshKeys = await sshKeysFor(client, m, phase, 'the droplet');
  const req = verifyDropletRequest(
    m,
    image.id,
    size,
    sshKeys,
    runDropletName(m, what, o.now?.() ?? new Date(), runId),
    tag,
  );
  const out = await withRunDroplet<void>({
    client,
    request: req,
    tag,
    label: `${what} droplet`,
    keep: o.keep,
    timings: t,
    phase,
    stderr: o.stderr,
    work: async (droplet, ip) => {
      phase(`${what === 'verify' ? 'verifying' : `${what}:`} image ${image.id} on ${ip} (droplet ${droplet.id})`);
      await runDropletStep({
        ip,
        droplet,
        cwd: o.cwd,
        env: o.env,
        stdout: o.stdout,
        stderr: o.stderr,
        signal: client.signal,
        graceMs: t.abortGraceMs,
        what,
        prog: o.prog ?? `mpimg ${what}`,
        step: o.verify,
      });
    },
  });
  return { image, droplet: out.droplet, destroyed: out.destroyed, runTag: tag, size };
}

/**
 * The checks the verify task reports while `run` goes, as data (standard/verify-results.ts: the task
 * may be another copy of this library, in the project); what it prints is for people only.
 */
export function checkCollector(): { checks: () => VerifyCheck[]; run<T>(fn: () => Promise<T>): Promise<T> } {
  const checks: VerifyCheck[] = [];
  return { checks: () => [...checks], run: (fn) => collectVerifyChecks((c) => checks.push(c), fn) };
}

export function summarise(checks: VerifyCheck[]): {
  result: 'pass' | 'warn' | 'fail';
  summary: Record<CheckStatus, number>;
} {
  const n = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const summary = { pass: n('pass'), warn: n('warn'), fail: n('fail'), skip: n('skip') };
  return { result: summary.fail ? 'fail' : summary.warn ? 'warn' : 'pass', summary };
}
