import type { Writable } from 'node:stream';
import { DEFAULTS, type Manifest } from '../../runtime/manifest.js';
import { MpimgError } from '../errors.js';
import type { DoClient } from './client.js';
import { throwIfAborted } from './clock.js';
import { AbortedError, DoApiError } from './errors.js';
import { snapshotDroplet, type PhaseFn, type SnapshotTimings } from './snapshot.js';
import type { CreateDropletRequest, Droplet, Image } from './types.js';

/** What the build step gets: the fresh droplet's address and a way to stop (Ctrl-C). */
export interface BuildStepContext {
  ip: string;
  droplet: Droplet;
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
  signal?: AbortSignal;
}

/** Runs the project's `build` task against the droplet; throws when the build failed. */
export type BuildStep = (ctx: BuildStepContext) => Promise<void>;

export interface PipelineTimings extends SnapshotTimings {
  /** Bound for a new droplet to become active with a public IPv4. */
  activeTimeoutMs: number;
}

export const BUILD_TAG = 'mpimg-build';

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
}

export interface ImagePipelineResult {
  image: Image;
  droplet: { id: number; name: string; ip: string };
  destroyed: boolean;
}

/** Build droplet request following the Marketplace guide: smallest size, agent/monitoring/IPv6 off, SSH keys, tag. */
export function buildDropletRequest(m: Manifest, name: string, sshKeys: Array<string | number>): CreateDropletRequest {
  const image = m.droplet?.image ?? m.distributions[0];
  const tags = [BUILD_TAG, ...(m.droplet?.tags ?? [])].filter((t, i, a) => a.indexOf(t) === i);
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

export function buildDropletName(m: Manifest, now: Date = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `${m.slug}-build-${ts}`;
}

export function publicIPv4(d: Droplet): string | undefined {
  return d.networks?.v4?.find((n) => n.type === 'public')?.ip_address;
}

/**
 * Create the build droplet → wait active with a public IPv4 → build over SSH → snapshot → destroy the
 * droplet, also when anything failed or the signal fired, unless `keep`.
 */
export async function runImagePipeline(o: ImagePipelineOptions): Promise<ImagePipelineResult> {
  const { client, manifest } = o;
  const phase = o.onPhase ?? (() => {});
  const t = { activeTimeoutMs: 10 * 60_000, pollMs: 3000, ...o.timings };
  const name = o.dropletName ?? buildDropletName(manifest, o.now?.() ?? new Date());

  let sshKeys: Array<string | number> = manifest.droplet?.sshKeys ?? [];
  if (sshKeys.length === 0) {
    phase('reading the account\'s SSH keys');
    sshKeys = (await client.listSshKeys()).map((k) => k.fingerprint);
    if (sshKeys.length === 0) {
      throw new MpimgError('the DigitalOcean account has no SSH keys, so the build droplet could not be reached', {
        where: '$.droplet.sshKeys in mpimg.json',
        hint: 'add your public key with `doctl compute ssh-key import` (or in the control panel), or list key fingerprints in $.droplet.sshKeys',
      });
    }
  }
  const req = buildDropletRequest(manifest, name, sshKeys);

  let droplet: Droplet | undefined;
  let ip = '';
  let failed: unknown;
  let destroyedOk = false;
  let result: ImagePipelineResult | undefined;
  try {
    phase(`creating build droplet ${name} (${req.image}, ${req.region}, ${req.size})`);
    droplet = await client.createDroplet(req);
    phase(`waiting for droplet ${droplet.id} to become active`);
    const start = client.clock.now();
    for (;;) {
      droplet = await client.getDroplet(droplet.id);
      ip = publicIPv4(droplet) ?? '';
      if (droplet.status === 'active' && ip) break;
      if (client.clock.now() - start >= t.activeTimeoutMs) {
        throw new MpimgError(`build droplet ${droplet.id} did not become active with a public IPv4 within ${Math.round(t.activeTimeoutMs / 1000)} s (status ${droplet.status})`, {
          where: `droplet ${droplet.id}`, hint: 'try another region ($.droplet.region) or run again later',
        });
      }
      await client.clock.sleep(t.pollMs, client.signal);
    }
    phase(`building on ${ip} (droplet ${droplet.id})`);
    try {
      await o.build({ ip, droplet, cwd: o.cwd, env: o.env, stdout: o.stdout, stderr: o.stderr, signal: client.signal });
    } catch (err) {
      if (err instanceof MpimgError || client.signal?.aborted) throw err;
      throw new MpimgError(`the build step failed: ${err instanceof Error ? err.message : String(err)}`, { where: `build droplet ${droplet.id} (${ip})`, hint: 'read the output above; `mpimg image --keep` keeps the droplet for debugging' });
    }
    throwIfAborted(client.signal);
    const snap = await snapshotDroplet(client, droplet.id, o.snapshotName, { timings: t, onPhase: phase });
    result = { image: snap.image, droplet: { id: droplet.id, name, ip }, destroyed: false };
  } catch (err) {
    // Ctrl-C surfaces as whatever the interrupted step threw; report it as one clear abort.
    failed = client.signal?.aborted && !(err instanceof AbortedError) ? new AbortedError() : err;
  }

  if (o.keep) {
    if (droplet) phase(`keeping build droplet ${droplet.id} (${ip || 'no IP yet'}): delete it with \`doctl compute droplet delete ${droplet.id}\``);
  } else {
    const destroyed = await destroyBuildDroplets(client, droplet, name, phase);
    destroyedOk = destroyed.ok;
    if (result) result.destroyed = destroyed.ok;
    if (!destroyed.ok) {
      const which = destroyed.left.length ? destroyed.left.join(', ') : `named ${name}`;
      const msg = `could not destroy build droplet(s) ${which}: ${destroyed.why}`;
      const err = new MpimgError(msg, {
        where: `droplet ${which}`,
        hint: destroyed.left.length ? `delete it yourself: doctl compute droplet delete ${destroyed.left.join(' ')}` : `check \`doctl compute droplet list --tag-name ${BUILD_TAG}\` and delete what is left`,
      });
      if (failed) o.stderr.write(`${err.format()}\n`);
      else failed = err;
    }
  }
  if (failed instanceof AbortedError && droplet) {
    failed = new AbortedError(o.keep ? `aborted; build droplet ${droplet.id} kept` : destroyedOk ? `aborted; build droplet ${droplet.id} destroyed` : 'aborted');
  }
  if (failed) throw failed;
  return result!;
}

/**
 * Deletes the droplet we created and any other droplet carrying our unique build name and tag: a create
 * whose answer was lost (network/5xx) may have been retried and made a second one. Runs without the
 * abort signal: Ctrl-C must still clean up.
 */
async function destroyBuildDroplets(client: DoClient, droplet: Droplet | undefined, name: string, phase: PhaseFn): Promise<{ ok: boolean; left: number[]; why?: string }> {
  const ids = new Set<number>();
  if (droplet) ids.add(droplet.id);
  const left: number[] = [];
  let why: string | undefined;
  try {
    for (const d of await client.findDropletsByName(name, { signal: null })) {
      if ((d.tags ?? []).includes(BUILD_TAG)) ids.add(d.id);
    }
  } catch (err) {
    // Only a problem when we do not even know the id of the droplet we made.
    if (!droplet) why = `cannot look for droplets named ${name}: ${err instanceof Error ? err.message : String(err)}`;
  }
  for (const id of ids) {
    phase(`destroying build droplet ${id}`);
    try {
      await client.deleteDroplet(id, { signal: null });
    } catch (err) {
      if (err instanceof DoApiError && err.status === 404) continue;
      left.push(id);
      why = err instanceof Error ? err.message : String(err);
    }
  }
  return { ok: left.length === 0 && why === undefined, left, why };
}
