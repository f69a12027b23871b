import { MpimgError } from '../errors.js';
import type { DoClient } from './client.js';
import { DoApiError } from './errors.js';
import type { Action, Droplet, Image } from './types.js';

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
}

export const DEFAULT_SNAPSHOT_TIMINGS: SnapshotTimings = {
  pollMs: 3000,
  shutdownResendMs: 20_000,
  shutdownTimeoutMs: 6 * 60_000,
  powerOffTimeoutMs: 5 * 60_000,
  unlockTimeoutMs: 10 * 60_000,
  snapshotTimeoutMs: 60 * 60_000,
};

export type PhaseFn = (phase: string) => void;

export interface SnapshotOptions {
  timings?: Partial<SnapshotTimings>;
  onPhase?: PhaseFn;
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
export async function snapshotDroplet(client: DoClient, droplet: Droplet | number, name: string, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
  const t = { ...DEFAULT_SNAPSHOT_TIMINGS, ...opts.timings };
  const phase = opts.onPhase ?? (() => {});
  const { clock, signal } = client;
  const id = typeof droplet === 'number' ? droplet : droplet.id;
  if (!name.trim() || name.length > 255) {
    throw new MpimgError(`bad snapshot name "${name}"`, { where: '--name / $.snapshot.name', hint: 'give a non-empty name of at most 255 characters' });
  }

  let d = await client.getDroplet(id);
  if (d.status === 'archive') {
    throw new MpimgError(`droplet ${id} is archived and cannot be snapshotted`, { where: `droplet ${id}`, hint: 'pick a live droplet' });
  }
  let poweredOff = false;
  if (d.status !== 'off') {
    phase(`shutting down droplet ${id}`);
    await client.dropletAction(id, { type: 'shutdown' });
    const start = clock.now();
    let lastSent = start;
    for (;;) {
      await clock.sleep(t.pollMs, signal);
      d = await client.getDroplet(id);
      if (d.status === 'off') break;
      const now = clock.now();
      if (now - start >= t.shutdownTimeoutMs) {
        phase(`powering off droplet ${id} (graceful shutdown took longer than ${seconds(t.shutdownTimeoutMs)})`);
        await client.dropletAction(id, { type: 'power_off' });
        poweredOff = true;
        d = await waitFor(client, id, (x) => x.status === 'off', t.powerOffTimeoutMs, t.pollMs, 'power off');
        break;
      }
      if (now - lastSent >= t.shutdownResendMs) {
        lastSent = now;
        try {
          await client.dropletAction(id, { type: 'shutdown' }, { retryPending: false });
        } catch (err) {
          // The first shutdown may still be pending; that is the wait we are already doing.
          if (!(err instanceof DoApiError && err.status === 422)) throw err;
        }
      }
    }
  }
  if (d.locked) {
    phase(`waiting for droplet ${id} to unlock`);
    d = await waitFor(client, id, (x) => !x.locked, t.unlockTimeoutMs, t.pollMs, 'unlock');
  }
  const before = new Set(d.snapshot_ids ?? []);

  phase(`snapshotting droplet ${id} as "${name}"`);
  let action = await client.dropletAction(id, { type: 'snapshot', name });
  const started = clock.now();
  while (action.status === 'in-progress') {
    if (clock.now() - started >= t.snapshotTimeoutMs) {
      throw new MpimgError(`snapshot action ${action.id} did not finish within ${seconds(t.snapshotTimeoutMs)}`, {
        where: `droplet ${id}`, hint: 'check the droplet in the control panel; the snapshot may still complete later',
      });
    }
    await clock.sleep(t.pollMs, signal);
    action = await client.getAction(action.id);
  }
  if (action.status !== 'completed') {
    throw new MpimgError(`snapshot action ${action.id} ended as "${action.status}"`, {
      where: `droplet ${id}`, hint: 'DigitalOcean could not take the snapshot; run the command again, and contact support if it keeps failing',
    });
  }
  d = await client.getDroplet(id);
  if (d.locked) d = await waitFor(client, id, (x) => !x.locked, t.unlockTimeoutMs, t.pollMs, 'unlock');

  phase('looking up the new image');
  const snaps = await client.dropletSnapshots(id);
  const named = snaps.filter((s) => s.name === name);
  const fresh = named.filter((s) => !before.has(s.id));
  const pick = (fresh.length ? fresh : named).sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id)[0];
  if (!pick) {
    throw new MpimgError(`the snapshot "${name}" completed but is not among droplet ${id}'s snapshots`, {
      where: `GET /v2/droplets/${id}/snapshots`, hint: 'look for it with `doctl compute image list-user`',
    });
  }
  const image = await client.getImage(pick.id);
  return { image, action, dropletId: id, poweredOff };
}

async function waitFor(client: DoClient, id: number, ok: (d: Droplet) => boolean, timeoutMs: number, pollMs: number, what: string): Promise<Droplet> {
  const start = client.clock.now();
  for (;;) {
    const d = await client.getDroplet(id);
    if (ok(d)) return d;
    if (client.clock.now() - start >= timeoutMs) {
      throw new MpimgError(`droplet ${id} did not ${what} within ${seconds(timeoutMs)} (status ${d.status}, locked ${d.locked})`, {
        where: `droplet ${id}`, hint: 'check the droplet in the control panel and run the command again',
      });
    }
    await client.clock.sleep(pollMs, client.signal);
  }
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
