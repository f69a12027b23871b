import { MpimgError } from '../../core/errors.js';
import type { DoClient } from './client.js';
import { DoApiError } from './errors.js';
import type { Action, Droplet, DropletSnapshot, Image } from './types.js';

/** Bounds and poll intervals of the snapshot flow (defaults follow Packer's digitalocean builder). */
export interface SnapshotTimings {
  /** Droplet status / action poll interval. */
  pollMs: number;
  /** A graceful shutdown is only "issued": send it again this often while waiting. */
  shutdownResendMs: number;
  /** After this long without reaching `off`, fall back to a hard power_off. */
  shutdownTimeoutMs: number;
  powerOffTimeoutMs: number;
  unlockTimeoutMs: number;
  snapshotTimeoutMs: number;
  /** How long a completed snapshot may take to show up among the droplet's snapshots. */
  imageTimeoutMs: number;
}

export const DEFAULT_SNAPSHOT_TIMINGS: SnapshotTimings = {
  pollMs: 3000,
  shutdownResendMs: 20_000,
  shutdownTimeoutMs: 6 * 60_000,
  powerOffTimeoutMs: 5 * 60_000,
  unlockTimeoutMs: 10 * 60_000,
  snapshotTimeoutMs: 60 * 60_000,
  imageTimeoutMs: 5 * 60_000,
};

export type PhaseFn = (phase: string) => void;

/** The snapshot action itself ended as `errored`: no image will come of it. */
export class SnapshotErroredError extends MpimgError {
  constructor(message: string, opts: { where: string; hint: string }) {
    super(message, opts);
    this.name = 'SnapshotErroredError';
  }
}

export interface SnapshotOptions {
  timings?: Partial<SnapshotTimings>;
  onPhase?: PhaseFn;
  /** Called just before each droplet action (shutdown, power_off, snapshot) is sent. */
  beforeAction?: (type: string) => void;
}

export interface SnapshotResult {
  image: Image;
  action: Action;
  dropletId: number;
  /** True when the graceful shutdown did not finish in time and power_off was used. */
  poweredOff: boolean;
}

/**
 * shutdown (re-sent while waiting) → power_off after a bound → wait off and unlocked → snapshot action →
 * poll until completed (errored fails) → wait unlocked → the new image from the droplet's snapshots.
 */
export async function snapshotDroplet(
  client: DoClient,
  droplet: Droplet | number,
  name: string,
  opts: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const id = typeof droplet === 'number' ? droplet : droplet.id;
  if (!name.trim() || name.length > 255) {
    throw new MpimgError(`bad snapshot name "${name}"`, {
      where: '--name / $.snapshot.name',
      hint: 'give a non-empty name of at most 255 characters',
    });
  }
  const run: Run = {
    client,
    id,
    name,
    t: { ...DEFAULT_SNAPSHOT_TIMINGS, ...opts.timings },
    phase: opts.onPhase ?? (() => {}),
    act: (type, o = {}) => {
      opts.beforeAction?.(type);
      return client.dropletAction(id, type === 'snapshot' ? { type, name } : { type }, o);
    },
  };
  const d = await client.getDroplet(id);
  if (d.status === 'archive') {
    throw new MpimgError(`droplet ${id} is archived and cannot be snapshotted`, {
      where: `droplet ${id}`,
      hint: 'pick a live droplet',
    });
  }
  const off = d.status === 'off' ? { d, poweredOff: false } : await shutDown(run);
  let ready = off.d;
  if (ready.locked) {
    run.phase(`waiting for droplet ${id} to unlock`);
    ready = await waitFor(client, id, (x) => !x.locked, run.t.unlockTimeoutMs, run.t.pollMs, 'unlock');
  }
  const before = new Set(ready.snapshot_ids ?? []);
  const action = await takeSnapshot(run);
  const image = await findNewImage(run, before);
  return { image, action, dropletId: id, poweredOff: off.poweredOff };
}

/** One snapshot run: the droplet, the name, the timings, and how to report and act. */
interface Run {
  client: DoClient;
  id: number;
  name: string;
  t: SnapshotTimings;
  phase: PhaseFn;
  act: (type: string, o?: { retryPending?: boolean }) => Promise<Action>;
}

/** shutdown, re-sent while waiting; power_off after a bound. The droplet once off. */
async function shutDown(run: Run): Promise<{ d: Droplet; poweredOff: boolean }> {
  const { client, id, t, phase, act } = run;
  const { clock, signal } = client;
  phase(`shutting down droplet ${id}`);
  await act('shutdown');
  const start = clock.now();
  let lastSent = start;
  for (;;) {
    await clock.sleep(t.pollMs, signal);
    const d = await client.getDroplet(id);
    if (d.status === 'off') return { d, poweredOff: false };
    const now = clock.now();
    if (now - start >= t.shutdownTimeoutMs) {
      phase(`powering off droplet ${id} (graceful shutdown took longer than ${seconds(t.shutdownTimeoutMs)})`);
      await act('power_off');
      return {
        d: await waitFor(client, id, (x) => x.status === 'off', t.powerOffTimeoutMs, t.pollMs, 'power off'),
        poweredOff: true,
      };
    }
    if (now - lastSent >= t.shutdownResendMs) {
      lastSent = now;
      try {
        await act('shutdown', { retryPending: false });
      } catch (err) {
        // The first shutdown may still be pending; that is the wait we are already doing.
        if (!(err instanceof DoApiError && err.status === 422)) throw err;
      }
    }
  }
}

/** The snapshot action, polled until completed (errored fails), then the droplet unlocked again. */
async function takeSnapshot(run: Run): Promise<Action> {
  const { client, id, t } = run;
  const { clock, signal } = client;
  run.phase(`snapshotting droplet ${id} as "${run.name}"`);
  let action = await run.act('snapshot');
  const started = clock.now();
  while (action.status === 'in-progress') {
    if (clock.now() - started >= t.snapshotTimeoutMs) {
      throw new MpimgError(`snapshot action ${action.id} did not finish within ${seconds(t.snapshotTimeoutMs)}`, {
        where: `droplet ${id}`,
        hint: 'check the droplet in the control panel; the snapshot may still complete later',
      });
    }
    await clock.sleep(t.pollMs, signal);
    action = await client.getAction(action.id);
  }
  if (action.status !== 'completed') {
    throw new SnapshotErroredError(`snapshot action ${action.id} ended as "${action.status}"`, {
      where: `droplet ${id}`,
      hint: 'DigitalOcean could not take the snapshot; run the command again, and contact support if it keeps failing',
    });
  }
  const d = await client.getDroplet(id);
  if (d.locked) await waitFor(client, id, (x) => !x.locked, t.unlockTimeoutMs, t.pollMs, 'unlock');
  return action;
}

/** The image the snapshot made: one of the droplet's snapshots of that name that was not there `before`. */
async function findNewImage(run: Run, before: Set<number>): Promise<Image> {
  const { client, id, name, t } = run;
  const { clock, signal } = client;
  run.phase('looking up the new image');
  // Only a snapshot that was not there before counts: an older one may carry the same name (a custom
  // --name, a re-run), and the list may lag behind the action for a moment.
  const lookStart = clock.now();
  for (;;) {
    const fresh = (await client.dropletSnapshots(id)).filter((s) => s.name === name && !before.has(s.id));
    const pick: DropletSnapshot | undefined = fresh.sort(
      (a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id,
    )[0];
    if (pick) return client.getImage(pick.id);
    if (clock.now() - lookStart >= t.imageTimeoutMs) {
      throw new MpimgError(
        `the snapshot "${name}" completed but did not appear among droplet ${id}'s snapshots within ${seconds(t.imageTimeoutMs)}`,
        {
          where: `GET /v2/droplets/${id}/snapshots`,
          hint: 'look for it with `doctl compute image list-user`',
        },
      );
    }
    await clock.sleep(t.pollMs, signal);
  }
}

async function waitFor(
  client: DoClient,
  id: number,
  ok: (d: Droplet) => boolean,
  timeoutMs: number,
  pollMs: number,
  what: string,
): Promise<Droplet> {
  const start = client.clock.now();
  for (;;) {
    const d = await client.getDroplet(id);
    if (ok(d)) return d;
    if (client.clock.now() - start >= timeoutMs) {
      throw new MpimgError(
        `droplet ${id} did not ${what} within ${seconds(timeoutMs)} (status ${d.status}, locked ${d.locked})`,
        {
          where: `droplet ${id}`,
          hint: 'check the droplet in the control panel and run the command again',
        },
      );
    }
    await client.clock.sleep(pollMs, client.signal);
  }
}

/** A bound for messages: seconds, or milliseconds below one second (tests use tiny bounds). */
export function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
