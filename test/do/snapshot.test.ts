import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DoClient } from '../../tasks/do/client.js';
import { snapshotDroplet } from '../../tasks/do/snapshot.js';
import { MpimgError } from '../../core/errors.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, fastClock } from './support.js';

let api: DoApiDouble;
beforeEach(async () => {
  api = await DoApiDouble.start(TOKEN);
});
afterEach(async () => {
  await api.close();
});

function client() {
  return new DoClient({ token: TOKEN, baseUrl: api.url, clock: fastClock(), retry: FAST_RETRY });
}
/** The state-changing calls, in order. */
function posts(): string[] {
  return api.calls().filter((c) => c.startsWith('POST'));
}

function dedupe(a: string[]): string[] {
  return a.filter((x, i) => i === 0 || a[i - 1] !== x);
}

describe('snapshot flow', () => {
  it('shuts down, waits off and unlocked, snapshots, polls until completed and returns the new image', async () => {
    const d = api.addDroplet({ name: 'built', distribution: 'Debian', disk: 25 });
    const old = api.addImage({ name: 'acme-1', droplet_id: d.id });
    d.snapshot_ids.push(old.id);
    // The snapshot takes long enough to be polled more than once, also on a busy machine.
    api.behaviour.actionMs = { shutdown: 30, snapshot: 1000 };
    const phases: string[] = [];
    const res = await snapshotDroplet(client(), d.id, 'acme-1', {
      timings: FAST_TIMINGS,
      onPhase: (p) => phases.push(p),
    });
    expect(res.image.id).not.toBe(old.id);
    expect(res.image).toMatchObject({
      name: 'acme-1',
      type: 'snapshot',
      distribution: 'Debian',
      slug: null,
      public: false,
      min_disk_size: 25,
    });
    expect(res.action.status).toBe('completed');
    expect(res.poweredOff).toBe(false);
    // Shutdown (re-sent while the first one is still pending: 422s are expected), then one snapshot.
    expect(dedupe(posts())).toEqual([
      `POST /v2/droplets/${d.id}/actions shutdown`,
      `POST /v2/droplets/${d.id}/actions snapshot`,
    ]);
    const snapBody = api.requests.find((r) => (r.body as { type?: string })?.type === 'snapshot')!.body;
    expect(snapBody).toEqual({ type: 'snapshot', name: 'acme-1' });
    // Polled the action while it was in progress.
    expect(api.calls().filter((c) => c.startsWith('GET /v2/actions/')).length).toBeGreaterThan(1);
    expect(phases[0]).toMatch(/shutting down/);
    expect(phases.some((p) => /snapshotting .*"acme-1"/.test(p))).toBe(true);
  });

  it('re-sends shutdown while waiting and falls back to power_off after the bound', async () => {
    const d = api.addDroplet();
    api.behaviour.shutdownIgnored = true;
    const res = await snapshotDroplet(client(), d.id, 'snap', {
      timings: { ...FAST_TIMINGS, shutdownResendMs: 5, shutdownTimeoutMs: 250 },
    });
    expect(res.poweredOff).toBe(true);
    const p = posts().map((c) => c.split(' ').pop());
    expect(p.filter((t) => t === 'shutdown').length).toBeGreaterThanOrEqual(3);
    expect(p.slice(-2)).toEqual(['power_off', 'snapshot']);
    expect(p.indexOf('power_off')).toBeGreaterThan(p.lastIndexOf('shutdown'));
  });

  it('skips the shutdown of a droplet that is already off', async () => {
    const d = api.addDroplet({ status: 'off' });
    await snapshotDroplet(client(), d.id, 'snap', { timings: FAST_TIMINGS });
    expect(posts()).toEqual([`POST /v2/droplets/${d.id}/actions snapshot`]);
  });

  it('waits through a "pending event" 422 on the snapshot action', async () => {
    const d = api.addDroplet({ status: 'off' });
    api.inject({
      method: 'POST',
      path: `/v2/droplets/${d.id}/actions`,
      status: 422,
      times: 2,
      body: { id: 'unprocessable_entity', message: 'Droplet already has a pending event.' },
    });
    const res = await snapshotDroplet(client(), d.id, 'snap', { timings: FAST_TIMINGS });
    expect(res.image.name).toBe('snap');
    expect(api.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([422, 422, 201]);
  });

  it('fails clearly when the snapshot action ends as errored', async () => {
    const d = api.addDroplet({ status: 'off' });
    api.behaviour.erroredActions.add('snapshot');
    api.behaviour.actionMs = { snapshot: 20 };
    const err = await snapshotDroplet(client(), d.id, 'snap', { timings: FAST_TIMINGS }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpimgError);
    expect((err as MpimgError).message).toMatch(/snapshot action \d+ ended as "errored"/);
    expect(api.images.size).toBe(0);
  });

  it('gives up on a snapshot that outlives its bound', async () => {
    const d = api.addDroplet({ status: 'off' });
    api.behaviour.actionMs = { snapshot: 60_000 };
    await expect(
      snapshotDroplet(client(), d.id, 'snap', { timings: { ...FAST_TIMINGS, snapshotTimeoutMs: 50 } }),
    ).rejects.toThrow(/did not finish within 50 ms/);
  });

  it('fails when power_off does not bring the droplet down within its bound', async () => {
    const d = api.addDroplet();
    api.behaviour.shutdownIgnored = true;
    api.behaviour.actionMs = { power_off: 60_000 };
    await expect(
      snapshotDroplet(client(), d.id, 'snap', {
        timings: { ...FAST_TIMINGS, shutdownTimeoutMs: 20, powerOffTimeoutMs: 40 },
      }),
    ).rejects.toThrow(/did not power off within 40 ms/);
  });

  it('stops waiting as soon as the signal fires', async () => {
    const d = api.addDroplet();
    api.behaviour.actionMs = { shutdown: 60_000 };
    const ac = new AbortController();
    const c = new DoClient({
      token: TOKEN,
      baseUrl: api.url,
      clock: fastClock(),
      retry: FAST_RETRY,
      signal: ac.signal,
    });
    // Aborted once the shutdown was sent and is being waited for (a fixed delay races a busy machine).
    const sent = setInterval(() => {
      if (posts().length > 0) {
        clearInterval(sent);
        setTimeout(() => ac.abort(), 20);
      }
    }, 5);
    const err = await snapshotDroplet(c, d.id, 'snap', {
      timings: { ...FAST_TIMINGS, shutdownTimeoutMs: 60_000 },
    }).catch((e: unknown) => e);
    clearInterval(sent);
    expect((err as MpimgError).exitCode).toBe(130);
    expect(dedupe(posts())).toEqual([`POST /v2/droplets/${d.id}/actions shutdown`]);
  });

  describe('a snapshot action is sent once', () => {
    function snapshotActions() {
      return [...api.actions.values()].filter((a) => a.type === 'snapshot');
    }

    it('503 after the API accepted it: finds the accepted action, completes with its image, sends nothing twice', async () => {
      const d = api.addDroplet({ status: 'off' });
      api.behaviour.actionMs = { snapshot: 30 };
      api.inject({
        method: 'POST',
        path: `/v2/droplets/${d.id}/actions`,
        actionType: 'snapshot',
        status: 503,
        afterHandling: true,
      });
      const res = await snapshotDroplet(client(), d.id, 'snap', { timings: FAST_TIMINGS });
      expect(snapshotActions()).toHaveLength(1);
      expect(res.action.id).toBe(snapshotActions()[0].id);
      expect(res.action.status).toBe('completed');
      expect(api.images.size).toBe(1);
      expect(res.image.id).toBe([...api.images.values()][0].id);
      expect(res.image.name).toBe('snap');
      expect(api.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([503]);
      expect(api.calls()).toContain(`GET /v2/droplets/${d.id}/actions`);
    });

    it('a dropped connection or a too-late answer after acceptance: the same', async () => {
      for (const fault of [{ drop: true }, { delayMs: 400 }]) {
        const d = api.addDroplet({ status: 'off' });
        api.inject({
          method: 'POST',
          path: `/v2/droplets/${d.id}/actions`,
          actionType: 'snapshot',
          afterHandling: true,
          ...fault,
        });
        const c = new DoClient({
          token: TOKEN,
          baseUrl: api.url,
          clock: fastClock(),
          retry: { ...FAST_RETRY, requestTimeoutMs: 150 },
        });
        const res = await snapshotDroplet(c, d.id, 'snap', { timings: FAST_TIMINGS });
        expect([...api.actions.values()].filter((a) => a.resource_id === d.id)).toHaveLength(1);
        expect(res.image.name).toBe('snap');
        expect(api.droplets.get(d.id)!.snapshot_ids).toEqual([res.image.id]);
      }
    });

    it('503 before the API acted: looked up, nothing found, sent again', async () => {
      const d = api.addDroplet({ status: 'off' });
      api.inject({ method: 'POST', path: `/v2/droplets/${d.id}/actions`, actionType: 'snapshot', status: 503 });
      const res = await snapshotDroplet(client(), d.id, 'snap', { timings: FAST_TIMINGS });
      expect(api.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([503, 201]);
      expect(snapshotActions()).toHaveLength(1);
      expect(res.image.name).toBe('snap');
    });

    it("the lookup reads every page of the droplet's actions and ignores older actions of the same type", async () => {
      const d = api.addDroplet({ status: 'off' });
      // A long-lived droplet: 250 old actions, some of them snapshots.
      for (let i = 0; i < 250; i++)
        api.addAction({
          resourceId: d.id,
          type: i % 5 === 0 ? 'snapshot' : 'reboot',
          startedAt: '2025-01-01T00:00:00Z',
        });
      api.inject({
        method: 'POST',
        path: `/v2/droplets/${d.id}/actions`,
        actionType: 'snapshot',
        status: 502,
        afterHandling: true,
      });
      const res = await snapshotDroplet(client(), d.id, 'snap', { timings: FAST_TIMINGS });
      const fresh = snapshotActions().filter((a) => a.started_at > '2026');
      expect(fresh).toHaveLength(1);
      expect(res.action.id).toBe(fresh[0].id);
      const pages = api.requests
        .filter((r) => r.path === `/v2/droplets/${d.id}/actions` && r.method === 'GET')
        .map((r) => r.query.page);
      expect(pages).toEqual(['1', '2']);
      expect(res.image.name).toBe('snap');
    });

    it('a shutdown whose answer was lost is not sent twice either', async () => {
      const d = api.addDroplet();
      api.behaviour.actionMs = { shutdown: 20 };
      api.inject({
        method: 'POST',
        path: `/v2/droplets/${d.id}/actions`,
        actionType: 'shutdown',
        status: 500,
        afterHandling: true,
      });
      await snapshotDroplet(client(), d.id, 'snap', { timings: { ...FAST_TIMINGS, shutdownResendMs: 60_000 } });
      expect([...api.actions.values()].filter((a) => a.type === 'shutdown')).toHaveLength(1);
    });
  });

  it("never returns an older snapshot of the same name when the droplet's snapshot list lags", async () => {
    const d = api.addDroplet({ status: 'off' });
    const old = api.addImage({ name: 'snap', droplet_id: d.id, created_at: '2025-01-01T00:00:00Z' });
    d.snapshot_ids.push(old.id);
    const stale = {
      snapshots: [
        {
          id: old.id,
          name: 'snap',
          created_at: old.created_at,
          regions: ['nyc3'],
          min_disk_size: 10,
          size_gigabytes: 1.2,
          type: 'snapshot',
        },
      ],
      links: {},
      meta: { total: 1 },
    };
    api.inject({ method: 'GET', path: `/v2/droplets/${d.id}/snapshots`, status: 200, body: stale, times: 2 });
    const res = await snapshotDroplet(client(), d.id, 'snap', { timings: FAST_TIMINGS });
    expect(res.image.id).not.toBe(old.id);
    expect(api.droplets.get(d.id)!.snapshot_ids).toEqual([old.id, res.image.id]);
    expect(api.requests.filter((r) => r.path === `/v2/droplets/${d.id}/snapshots`)).toHaveLength(3);
  });

  it('a completed snapshot that never shows up fails within its bound instead of naming another image', async () => {
    const d = api.addDroplet({ status: 'off' });
    const old = api.addImage({ name: 'snap', droplet_id: d.id });
    d.snapshot_ids.push(old.id);
    const stale = {
      snapshots: [
        {
          id: old.id,
          name: 'snap',
          created_at: old.created_at,
          regions: ['nyc3'],
          min_disk_size: 10,
          size_gigabytes: 1.2,
          type: 'snapshot',
        },
      ],
      links: {},
      meta: { total: 1 },
    };
    api.inject({ method: 'GET', path: `/v2/droplets/${d.id}/snapshots`, status: 200, body: stale, times: 10_000 });
    await expect(
      snapshotDroplet(client(), d.id, 'snap', { timings: { ...FAST_TIMINGS, imageTimeoutMs: 40 } }),
    ).rejects.toThrow(/the snapshot "snap" completed but did not appear among droplet \d+'s snapshots within 40 ms/);
  });
});
