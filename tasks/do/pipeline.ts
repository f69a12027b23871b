import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { DEFAULTS, type Manifest } from '../../runtime/manifest.js';
import { MpimgError } from '../errors.js';
import { childEnv, withTokensStashed } from './child-env.js';
import type { DoClient } from './client.js';
import { throwIfAborted } from './clock.js';
import { AbortedError } from './errors.js';
import { seconds, snapshotDroplet, type PhaseFn, type SnapshotTimings } from './snapshot.js';
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
  /**
   * A known_hosts file of this run alone (empty at the start, in a private temp dir removed afterwards):
   * the droplet is new and its IP may have belonged to another droplet, so ~/.ssh/known_hosts must not
   * be used (a changed key would fail the build, and the entry would be litter).
   */
  knownHostsFile?: string;
}

/** Runs the project's `build` task against the droplet; throws when the build failed. */
export type BuildStep = (ctx: BuildStepContext) => Promise<void>;

export interface PipelineTimings extends SnapshotTimings {
  /** Bound for a new droplet to become active with a public IPv4. */
  activeTimeoutMs: number;
  /** After Ctrl-C, how long the build step may take to stop before cleanup goes ahead without it. */
  abortGraceMs: number;
}

/** DigitalOcean's tag rule (letters, digits, `:`, `-`, `_`; at most 255). */
const TAG_RE = /^[a-zA-Z0-9_:-]{1,255}$/;

export const BUILD_TAG = 'mpimg-build';
/** Tag of one `mpimg image` run: cleanup destroys only droplets carrying it (tags allow letters, digits, `:`, `-`, `_`). */
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
}

export interface ImagePipelineResult {
  image: Image;
  droplet: { id: number; name: string; ip: string };
  destroyed: boolean;
  /** This run's tag (mpimg-run:<id>). */
  runTag: string;
}

/** Build droplet request following the Marketplace guide: smallest size, agent/monitoring/IPv6 off, SSH keys, tags. */
export function buildDropletRequest(m: Manifest, name: string, sshKeys: Array<string | number>, runTagName?: string): CreateDropletRequest {
  const image = m.droplet?.image ?? m.distributions[0];
  const tags = [BUILD_TAG, ...(runTagName ? [runTagName] : []), ...(m.droplet?.tags ?? [])].filter((t, i, a) => a.indexOf(t) === i);
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

/** `<slug>-build-<utc timestamp>[-<run id>]`, at most 63 characters (one host name label; the slug is shortened). */
export function buildDropletName(m: Manifest, now: Date = new Date(), runId?: string): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  const suffix = `-build-${ts}${runId ? `-${runId}` : ''}`;
  return `${m.slug.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** The public IPv4 address, only if it is one: it becomes an ssh argument. */
export function publicIPv4(d: Droplet): string | undefined {
  const ip = d.networks?.v4?.find((n) => n.type === 'public')?.ip_address;
  return typeof ip === 'string' && isIPv4(ip) ? ip : undefined;
}

/**
 * Create the build droplet → wait active with a public IPv4 → build over SSH → snapshot → destroy the
 * droplet, also when anything failed or the signal fired, unless `keep`. Every run has its own id: in
 * the droplet's name, and as the tag that cleanup goes by, so parallel runs never touch each other.
 */
export async function runImagePipeline(o: ImagePipelineOptions): Promise<ImagePipelineResult> {
  const { client, manifest } = o;
  const phase = o.onPhase ?? (() => {});
  const t = { activeTimeoutMs: 10 * 60_000, abortGraceMs: 15_000, pollMs: 3000, ...o.timings };
  // A tag the API does not take could cost the droplet all its tags, this run's among them.
  (manifest.droplet?.tags ?? []).forEach((tg, i) => {
    if (!TAG_RE.test(tg)) {
      throw new MpimgError(`bad droplet tag "${tg}"`, { where: `$.droplet.tags[${i}] in mpimg.json`, hint: 'DigitalOcean tags are 1-255 letters, digits, ":", "-" or "_" (no spaces)' });
    }
  });
  const runId = newRunId();
  const tag = runTag(runId);
  const name = o.dropletName ?? buildDropletName(manifest, o.now?.() ?? new Date(), runId);

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
  const req = buildDropletRequest(manifest, name, sshKeys, tag);

  let droplet: Droplet | undefined;
  let ip = '';
  let failed: unknown;
  let destroyedOk = false;
  let snapshotSent = false;
  let result: ImagePipelineResult | undefined;
  try {
    phase(`creating build droplet ${name} (${req.image}, ${req.region}, ${req.size}, tag ${tag})`);
    // finishInFlight: after Ctrl-C the answer still tells which droplet to destroy.
    droplet = await client.createDroplet(req, { findByTag: tag, finishInFlight: true });
    throwIfAborted(client.signal);
    phase(`waiting for droplet ${droplet.id} to become active`);
    const start = client.clock.now();
    for (;;) {
      droplet = await client.getDroplet(droplet.id);
      ip = publicIPv4(droplet) ?? '';
      if (droplet.status === 'active' && ip) break;
      if (client.clock.now() - start >= t.activeTimeoutMs) {
        throw new MpimgError(`build droplet ${droplet.id} did not become active with a public IPv4 within ${seconds(t.activeTimeoutMs)} (status ${droplet.status}, ${ip ? `IPv4 ${ip}` : 'no public IPv4'})`, {
          where: `droplet ${droplet.id}`, hint: 'try another region ($.droplet.region) or run again later',
        });
      }
      await client.clock.sleep(t.pollMs, client.signal);
    }
    phase(`building on ${ip} (droplet ${droplet.id})`);
    await runBuild(o, { ip, droplet, signal: client.signal, graceMs: t.abortGraceMs });
    throwIfAborted(client.signal);
    const snap = await snapshotDroplet(client, droplet.id, o.snapshotName, {
      timings: t, onPhase: phase, beforeAction: (type) => { if (type === 'snapshot') snapshotSent = true; },
    });
    result = { image: snap.image, droplet: { id: droplet.id, name, ip }, destroyed: false, runTag: tag };
  } catch (err) {
    // Ctrl-C surfaces as whatever the interrupted step threw; report it as one clear abort.
    failed = client.signal?.aborted && !(err instanceof AbortedError) ? new AbortedError() : err;
  }

  if (o.keep) {
    if (droplet) phase(`keeping build droplet ${droplet.id} (${ip || 'no IP yet'}): delete it with \`doctl compute droplet delete ${droplet.id}\``);
  } else {
    const destroyed = await destroyBuildDroplets(client, droplet, tag, phase);
    destroyedOk = destroyed.ok;
    if (result) result.destroyed = destroyed.ok;
    if (!destroyed.ok) {
      const which = destroyed.left.length ? destroyed.left.join(', ') : `tagged ${tag}`;
      const err = new BuildDropletLeftError(`could not destroy build droplet(s) ${which}: ${destroyed.why}`, {
        where: `droplet ${which}`,
        hint: destroyed.left.length ? `delete it yourself: doctl compute droplet delete ${destroyed.left.join(' ')}` : `check \`doctl compute droplet list --tag-name ${tag}\` and delete what is left`,
      }, result);
      if (failed) o.stderr.write(`${err.format()}\n`);
      else failed = err;
    }
  }
  if (failed instanceof AbortedError && (droplet || snapshotSent)) {
    const parts = ['aborted'];
    if (droplet) parts.push(o.keep ? `build droplet ${droplet.id} kept` : destroyedOk ? `build droplet ${droplet.id} destroyed` : `build droplet ${droplet.id} NOT destroyed`);
    if (snapshotSent) parts.push(`a snapshot "${o.snapshotName}" had been started and may still appear: check \`doctl compute image list-user\``);
    failed = new AbortedError(parts.join('; '));
  }
  if (failed) throw failed;
  return result!;
}

/** The build step with a private known_hosts file and without the API token anywhere in reach. */
async function runBuild(o: ImagePipelineOptions, b: { ip: string; droplet: Droplet; signal?: AbortSignal; graceMs: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mpimg-run-'));
  try {
    chmodSync(dir, 0o700);
    const knownHostsFile = join(dir, 'known_hosts');
    writeFileSync(knownHostsFile, '', { mode: 0o600 });
    const step = withTokensStashed(() => o.build({
      ip: b.ip, droplet: b.droplet, cwd: o.cwd, env: childEnv(o.env), stdout: o.stdout, stderr: o.stderr, signal: b.signal, knownHostsFile,
    }));
    await settleOrAbandon(step, b.signal, b.graceMs, () => {
      o.stderr.write(`mpimg image: the build step did not stop within ${seconds(b.graceMs)} of Ctrl-C; cleaning up without it\n`);
    });
  } catch (err) {
    if (err instanceof MpimgError || b.signal?.aborted) throw err;
    throw new MpimgError(`the build step failed: ${err instanceof Error ? err.message : String(err)}`, { where: `build droplet ${b.droplet.id} (${b.ip})`, hint: 'read the output above; `mpimg image --keep` keeps the droplet for debugging' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Waits for `p`; once the signal fires, waits at most `graceMs` more. A build step that ignores Ctrl-C
 * must not keep the droplet (and its bill) alive: cleanup goes ahead and `p` is left to end on its own.
 */
async function settleOrAbandon(p: Promise<void>, signal: AbortSignal | undefined, graceMs: number, onAbandon: () => void): Promise<void> {
  if (!signal) return p;
  p.catch(() => { /* a late failure after we moved on is not news */ });
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const abandoned = new Promise<void>((_resolve, reject) => {
    onAbort = () => {
      timer = setTimeout(() => { onAbandon(); reject(new AbortedError()); }, graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([p, abandoned]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  }
}

/**
 * Deletes the droplet we created and any other droplet carrying this run's tag (a create whose answer
 * was lost may have made one we have no id for). Never by name or by the shared mpimg-build tag: those
 * match other runs' droplets. Runs without the abort signal: Ctrl-C must still clean up.
 */
async function destroyBuildDroplets(client: DoClient, droplet: Droplet | undefined, tag: string, phase: PhaseFn): Promise<{ ok: boolean; left: number[]; why?: string }> {
  const ids = new Set<number>();
  if (droplet) ids.add(droplet.id);
  const left: number[] = [];
  let why: string | undefined;
  try {
    for (const d of await client.listDropletsByTag(tag, { signal: null })) ids.add(d.id);
  } catch (err) {
    // Only a problem when we do not even know the id of the droplet we made.
    if (!droplet) why = `cannot look for droplets tagged ${tag}: ${err instanceof Error ? err.message : String(err)}`;
  }
  for (const id of ids) {
    phase(`destroying build droplet ${id}`);
    try {
      await client.deleteDroplet(id, { signal: null });
    } catch (err) {
      left.push(id);
      why = err instanceof Error ? err.message : String(err);
    }
  }
  return { ok: left.length === 0 && why === undefined, left, why };
}
