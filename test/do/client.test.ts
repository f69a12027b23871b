import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DoClient, normaliseBaseUrl } from '../../tasks/do/client.js';
import { type DoApiError } from '../../tasks/do/errors.js';
import { MpimgError } from '../../core/errors.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { realSleep, type Clock } from '../../tasks/do/clock.js';
import { FAST_RETRY, TOKEN, fastClock } from './support.js';

let api: DoApiDouble;
beforeEach(async () => {
  api = await DoApiDouble.start(TOKEN);
});
afterEach(async () => {
  await api.close();
});

function client(over: Partial<ConstructorParameters<typeof DoClient>[0]> = {}) {
  const clock = fastClock();
  return {
    clock,
    c: new DoClient({
      token: TOKEN,
      tokenSource: 'DIGITALOCEAN_ACCESS_TOKEN',
      baseUrl: api.url,
      clock,
      retry: FAST_RETRY,
      ...over,
    }),
  };
}

async function failure(p: Promise<unknown>): Promise<DoApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MpimgError);
    const text = (err as MpimgError).format();
    expect(text).not.toContain(TOKEN);
    return err as DoApiError;
  }
  throw new Error('expected a failure');
}

describe('DoClient against the API double', () => {
  it('sends Bearer auth and reads the public shapes', async () => {
    const d = api.addDroplet({ name: 'web' });
    const { c } = client();
    expect((await c.getDroplet(d.id)).name).toBe('web');
    expect((await c.resolveDroplet('web')).id).toBe(d.id);
    expect((await c.resolveDroplet(String(d.id))).id).toBe(d.id);
  });

  it('fails fast and clearly on 401 (one request, no retry, hint names the token source, not the token)', async () => {
    const d = api.addDroplet();
    const { c, clock } = client({ token: 'dop_v1_wrong' });
    const err = await failure(c.getDroplet(d.id));
    expect(err.status).toBe(401);
    expect(err.format()).toMatch(/token \(from DIGITALOCEAN_ACCESS_TOKEN\) was rejected/);
    expect(api.requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('fails fast on 403 and 404 with what/where/fix', async () => {
    const d = api.addDroplet();
    api.inject({
      path: `/v2/droplets/${d.id}`,
      status: 403,
      body: { id: 'forbidden', message: 'You do not have access for the attempted action.' },
    });
    const { c, clock } = client();
    const e403 = await failure(c.getDroplet(d.id));
    expect(e403.status).toBe(403);
    expect(e403.format()).toMatch(
      /fix: the token \(from DIGITALOCEAN_ACCESS_TOKEN\) may not do this: a custom-scoped token needs droplet:read for this call/,
    );
    const e404 = await failure(c.resolveDroplet('999999'));
    expect(e404.status).toBe(404);
    expect(e404.format()).toMatch(/droplet 999999 not found[\s\S]*where: --droplet[\s\S]*fix:/);
    const byName = await failure(c.resolveDroplet('nope'));
    expect(byName.message).toBe('no droplet named "nope"');
    // a name is looked for among GPU droplets too, which a plain listing never holds
    expect(api.requests.slice(2).map((r) => r.query)).toEqual([
      { name: 'nope', page: '1', per_page: '200' },
      { name: 'nope', type: 'gpus', page: '1', per_page: '200' },
    ]);
    expect(clock.sleeps).toEqual([]);
  });

  it('a 403 of a custom-scoped token names the scopes the refused call needs', async () => {
    api.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'k', public_key: 'ssh-ed25519 AAAA k' }];
    api.inject({
      method: 'POST',
      path: '/v2/droplets',
      status: 403,
      body: { id: 'forbidden', message: 'You are not authorized to perform this operation' },
    });
    api.inject({
      method: 'GET',
      path: '/v2/droplets',
      status: 403,
      body: { id: 'forbidden', message: 'You are not authorized to perform this operation' },
    });
    const d = api.addDroplet();
    api.inject({
      method: 'POST',
      path: `/v2/droplets/${d.id}/actions`,
      status: 403,
      body: { id: 'forbidden', message: 'You are not authorized to perform this operation' },
    });
    const { c } = client();
    const create = await failure(
      c.createDroplet({
        name: 'x',
        region: 'nyc3',
        size: 's-1vcpu-1gb',
        image: 'debian-12-x64',
        ssh_keys: [7],
        tags: ['mpimg-build'],
        with_droplet_agent: false,
        monitoring: false,
        ipv6: false,
      }),
    );
    expect(create.hint).toBe(
      'the token (from DIGITALOCEAN_ACCESS_TOKEN) may not do this: a custom-scoped token needs droplet:create, image:read, ssh_key:read, tag:create for this call; add them to the token (or use a full-access token of the team that owns the resources)',
    );
    expect((await failure(c.listDropletsByTag('mpimg-build'))).hint).toMatch(
      /needs droplet:read, tag:read for this call/,
    );
    expect((await failure(c.dropletAction(d.id, { type: 'snapshot', name: 's' }))).hint).toMatch(
      /needs droplet:update, image:create for this call/,
    );
  });

  it('refuses an ambiguous droplet name', async () => {
    api.addDroplet({ name: 'twin' });
    api.addDroplet({ name: 'twin' });
    const { c } = client();
    await expect(c.resolveDroplet('twin')).rejects.toThrow(/2 droplets are named "twin"/);
  });

  it('waits until ratelimit-reset on 429 and then retries', async () => {
    const d = api.addDroplet();
    const { c, clock } = client();
    const reset = Math.floor(Date.now() / 1000) + 30;
    api.rateLimit({ path: `/v2/droplets/${d.id}`, resetEpoch: reset });
    expect((await c.getDroplet(d.id)).id).toBe(d.id);
    expect(api.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(clock.sleeps).toHaveLength(1);
    expect(clock.sleeps[0]).toBeGreaterThan(28_000);
    expect(clock.sleeps[0]).toBeLessThanOrEqual(30_000);
  });

  it("reads ratelimit-reset on the server's clock: a machine clock 10 minutes slow still waits 30 s, not 630 s", async () => {
    const d = api.addDroplet();
    const clock = fastClock();
    const slow = { ...clock, now: () => Date.now() - 600_000 };
    const c = new DoClient({ token: TOKEN, baseUrl: api.url, clock: slow, retry: FAST_RETRY });
    api.rateLimit({ path: `/v2/droplets/${d.id}`, resetEpoch: Math.floor(Date.now() / 1000) + 30 });
    expect((await c.getDroplet(d.id)).id).toBe(d.id);
    expect(api.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(clock.sleeps).toHaveLength(1);
    expect(clock.sleeps[0]).toBeGreaterThan(27_000);
    expect(clock.sleeps[0]).toBeLessThanOrEqual(31_000);
  });

  it('a 429 with neither ratelimit-reset nor retry-after waits longer each time (backoff), then goes on', async () => {
    let n = 0;
    const srv = createHttpServer((_req, res) => {
      n++;
      res.setHeader('content-type', 'application/json');
      if (n <= 3) {
        res.statusCode = 429;
        res.end(JSON.stringify({ id: 'too_many_requests', message: 'slow down' }));
        return;
      }
      res.end(JSON.stringify({ droplet: { id: 1, name: 'x' } }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const { c, clock } = client({
        baseUrl: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
        retry: { ...FAST_RETRY, backoffMs: 1, maxBackoffMs: 8 },
      });
      expect((await c.getDroplet(1)).id).toBe(1);
      expect(clock.sleeps).toEqual([1, 2, 4]);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('prefers retry-after over ratelimit-reset', async () => {
    const d = api.addDroplet();
    const { c, clock } = client();
    api.rateLimit({ path: `/v2/droplets/${d.id}`, resetEpoch: Math.floor(Date.now() / 1000) + 600, retryAfter: 7 });
    await c.getDroplet(d.id);
    expect(clock.sleeps).toEqual([7000]);
  });

  it('gives up with a clear message when the rate limit resets too far away', async () => {
    const d = api.addDroplet();
    const { c, clock } = client();
    api.rateLimit({ path: `/v2/droplets/${d.id}`, resetEpoch: Math.floor(Date.now() / 1000) + 3600 });
    const err = await failure(c.getDroplet(d.id));
    expect(err.status).toBe(429);
    expect(err.format()).toMatch(/rate limited[\s\S]*fix: wait 3\d{3} s/);
    expect(clock.sleeps).toEqual([]);
  });

  it('retries 5xx with exponential backoff, then succeeds', async () => {
    const d = api.addDroplet();
    const { c, clock } = client({ retry: { ...FAST_RETRY, backoffMs: 100, maxBackoffMs: 10_000 } });
    api.inject({ path: `/v2/droplets/${d.id}`, status: 500, times: 2 });
    api.inject({ path: `/v2/droplets/${d.id}`, status: 503, times: 1 });
    await c.getDroplet(d.id);
    expect(api.requests.map((r) => r.status)).toEqual([500, 500, 503, 200]);
    expect(clock.sleeps).toEqual([100, 200, 400]);
  });

  it('gives up on a persistent 5xx after maxRetries', async () => {
    const d = api.addDroplet();
    const { c } = client({ retry: { ...FAST_RETRY, maxRetries: 3 } });
    api.inject({
      path: `/v2/droplets/${d.id}`,
      status: 500,
      times: 100,
      body: { id: 'server_error', message: 'Server Error' },
    });
    const err = await failure(c.getDroplet(d.id));
    expect(err.status).toBe(500);
    expect(err.format()).toContain('status.digitalocean.com');
    expect(api.requests).toHaveLength(4);
  });

  it('treats 422 "pending event" as wait-and-retry, other 422s as a clear failure', async () => {
    const d = api.addDroplet();
    const { c, clock } = client({ retry: { ...FAST_RETRY, pendingWaitMs: 250 } });
    api.inject({
      path: `/v2/droplets/${d.id}/actions`,
      status: 422,
      times: 2,
      body: { id: 'unprocessable_entity', message: 'Droplet already has a pending event.' },
    });
    const a = await c.dropletAction(d.id, { type: 'power_off' });
    expect(a.type).toBe('power_off');
    expect(clock.sleeps).toEqual([250, 250]);
    // an action type the API does not have: sent on purpose, against the contract
    api.allowViolations = true;
    const bad = await failure(c.dropletAction(d.id, { type: 'explode' }));
    expect(bad.status).toBe(422);
    expect(bad.message).toContain('explode is not a valid droplet action type');
  });

  it('reads every page of the private images list on its own base URL (never the absolute next link)', async () => {
    for (let i = 0; i < 450; i++) api.addImage({ name: `img-${i}` });
    const { c } = client();
    const images = await c.listUserImages();
    expect(images).toHaveLength(450);
    expect(new Set(images.map((i) => i.id)).size).toBe(450);
    const lists = api.requests.filter((r) => r.path === '/v2/images');
    expect(lists.map((r) => [r.query.page, r.query.per_page, r.query.private])).toEqual([
      ['1', '200', 'true'],
      ['2', '200', 'true'],
      ['3', '200', 'true'],
    ]);
    const small = await c.listUserImages(7);
    expect(small.map((i) => i.name)).toEqual(images.map((i) => i.name));
  });

  it('redacts the token even when the server echoes it back', async () => {
    const d = api.addDroplet();
    api.inject({
      path: `/v2/droplets/${d.id}`,
      status: 400,
      body: { id: 'bad_request', message: `bad header Bearer ${TOKEN}` },
    });
    const { c } = client();
    const err = await failure(c.getDroplet(d.id));
    expect(err.message).toContain('[redacted]');
    expect(JSON.stringify(c)).not.toContain(TOKEN);
    const { inspect } = await import('node:util');
    expect(inspect(c, { showHidden: true, depth: 5 })).not.toContain(TOKEN);
  });

  it('reports an unreachable API after retrying, naming DIGITALOCEAN_API_URL', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const { c, clock } = client({ baseUrl: `http://127.0.0.1:${port}`, retry: { ...FAST_RETRY, maxRetries: 2 } });
    const err = await failure(c.getDroplet(1));
    expect(err.message).toMatch(/cannot reach the DigitalOcean API/);
    expect(err.format()).toContain('DIGITALOCEAN_API_URL');
    expect(clock.sleeps).toHaveLength(2);
  });

  it('refuses a token a header cannot carry, without echoing it', () => {
    const bad = `${TOKEN}\nsecond-line`;
    let err: unknown;
    try {
      new DoClient({ token: bad, baseUrl: api.url });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MpimgError);
    expect((err as MpimgError).format()).toMatch(/contains spaces, line breaks/);
    expect((err as MpimgError).format()).not.toContain(TOKEN);
    expect(api.requests).toHaveLength(0);
  });

  it('normalises DIGITALOCEAN_API_URL and refuses plain http off loopback', () => {
    expect(normaliseBaseUrl('https://api.digitalocean.com/')).toBe('https://api.digitalocean.com');
    expect(normaliseBaseUrl('https://api.example.com/do/v2/')).toBe('https://api.example.com/do');
    expect(normaliseBaseUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(() => normaliseBaseUrl('http://api.example.com')).toThrow(/refusing to send the API token/);
    expect(() => normaliseBaseUrl('not a url')).toThrow(/bad API URL/);
  });

  it('validates request bodies like the API: unknown create fields and missing fields get 422', async () => {
    const { c } = client();
    api.allowViolations = true;
    const err = await failure(
      c.request('POST', '/v2/droplets', {
        body: { name: 'x', size: 's-1vcpu-512mb-10gb', image: 'debian-12-x64', agent: false },
      }),
    );
    expect(err.status).toBe(422);
    expect(err.message).toContain('unknown field(s): agent');
    const missing = await failure(c.request('POST', '/v2/droplets', { body: { name: 'x', image: 'debian-12-x64' } }));
    expect(missing.message).toContain('size is required');
  });

  it('counts every droplet of a name, beyond the first page', async () => {
    for (let i = 0; i < 201; i++) api.addDroplet({ name: 'twin' });
    const { c } = client();
    await expect(c.resolveDroplet('twin')).rejects.toThrow(/^201 droplets are named "twin"/);
  });

  it('a POST that failed with 5xx is not sent again without a way to look its result up', async () => {
    const d = api.addDroplet();
    api.inject({ method: 'POST', path: `/v2/droplets/${d.id}/actions`, status: 500, afterHandling: true });
    const { c } = client();
    const err = await failure(c.request('POST', `/v2/droplets/${d.id}/actions`, { body: { type: 'power_off' } }));
    expect(err.unknownEffect).toBe(true);
    expect(err.format()).toMatch(
      /POST \/v2\/droplets\/\d+\/actions failed \(500: injected 500\) and it is not known whether DigitalOcean carried it out[\s\S]*fix: it was not sent again/,
    );
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(api.actions.size).toBe(1);
  });

  it('a POST to an API that refuses connections (nothing was sent) is retried without a lookup', async () => {
    const d = api.addDroplet({ status: 'off' });
    const port = Number(new URL(api.url).port);
    const state = { droplets: [...api.droplets.values()] };
    await api.close();
    // The API comes (back) up while the client waits before its second try.
    let restarted: DoApiDouble | undefined;
    const clock: Clock = {
      now: () => Date.now(),
      sleep: async (ms, signal) => {
        if (!restarted) {
          restarted = await DoApiDouble.start(TOKEN, { port });
          for (const x of state.droplets) restarted.addDroplet(x);
        }
        await realSleep(Math.min(ms, 2), signal);
      },
    };
    try {
      const c = new DoClient({ token: TOKEN, baseUrl: `http://127.0.0.1:${port}`, clock, retry: FAST_RETRY });
      const a = await c.dropletAction(d.id, { type: 'power_on' });
      expect(a.type).toBe('power_on');
      expect(restarted!.calls()).toEqual([`POST /v2/droplets/${d.id}/actions power_on`]);
      expect(restarted!.actions.size).toBe(1);
    } finally {
      await restarted?.close();
      api = await DoApiDouble.start(TOKEN);
    }
  });

  it('deleting a droplet that is already gone (404) counts as done; other failures do not', async () => {
    const d = api.addDroplet();
    const { c } = client();
    expect(await c.deleteDroplet(d.id)).toBe(true);
    expect(await c.deleteDroplet(d.id)).toBe(false);
    const e = api.addDroplet();
    api.inject({
      method: 'DELETE',
      path: `/v2/droplets/${e.id}`,
      status: 403,
      body: { id: 'forbidden', message: 'You do not have access for the attempted action.' },
    });
    expect((await failure(c.deleteDroplet(e.id))).status).toBe(403);
  });

  it('a DELETE whose answer was lost (5xx after deleting) is retried and ends as done', async () => {
    const d = api.addDroplet();
    api.inject({ method: 'DELETE', path: `/v2/droplets/${d.id}`, status: 503, afterHandling: true });
    const { c } = client();
    expect(await c.deleteDroplet(d.id)).toBe(false);
    expect(api.requests.map((r) => r.status)).toEqual([503, 404]);
    expect(api.droplets.has(d.id)).toBe(false);
  });
});
