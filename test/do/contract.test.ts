// The API contract (test/helpers/do-api-contract.ts, written from DigitalOcean's published OpenAPI
// description and the Vendor API's README) as the judge of both sides: every request the client sends
// and every answer the double gives, for every endpoint the client uses, must agree with it; and the
// contract has teeth: a drift on either side (a field the client renames, a key the double leaves out)
// is caught.
import { describe, expect, it } from 'vitest';
import { createImageCommand } from '../../tasks/commands/image.js';
import { createSnapshotCommand } from '../../tasks/commands/snapshot.js';
import { DoClient } from '../../tasks/do/client.js';
import type { BuildStep } from '../../tasks/do/step.js';
import { checkExchange, endpointFor, ENDPOINTS, type Exchange } from '../helpers/do-api-contract.js';
import { type RecordedRequest } from '../helpers/do-api-double.js';
import { apiDoublePerTest } from '../helpers/do-api-project.js';
import {
  FAST_RETRY,
  FAST_TIMINGS,
  MANIFEST,
  TOKEN,
  apiEnv,
  captureContext,
  fastClock,
  runCommand,
  writeManifest,
} from './support.js';

const APP = 'acme-wiki-listing';
const NOW = new Date('2026-03-04T05:06:07Z');

const { api, project } = apiDoublePerTest({
  prefix: 'mpimg-contract-',
  manifest: false,
  prepare: (a) => {
    a.sshKeys = [
      {
        id: 7,
        fingerprint: '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa',
        name: 'laptop',
        public_key: 'ssh-ed25519 AAAA laptop',
      },
    ];
    a.behaviour.activeAfterMs = 10;
    a.behaviour.actionMs = { shutdown: 10, snapshot: 20 };
    a.addApp({ appId: APP, name: 'Acme Wiki' });
  },
});

const passVerify: BuildStep = async (c) => {
  c.stdout.write(
    '[PASS] first-boot: every first-boot step succeeded (first boot finished)\n\nSummary: 1 passed, 0 warnings, 0 failed, 0 skipped\nResult: PASS\n',
  );
};

function exchange(r: RecordedRequest): Exchange {
  return {
    method: r.method,
    path: r.path,
    query: r.query,
    body: r.body,
    status: r.status,
    headers: r.headers ?? {},
    response: r.response,
  };
}

/** Runs the client's flows: every endpoint it uses, their success answers and the usual failures. */
async function everyFlow(): Promise<void> {
  const env = apiEnv(api.url, project.dir);
  const deps = { clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS, now: () => NOW };
  // image --verify --release: account keys, create, get, actions, action, snapshots, image, delete, the Vendor API.
  writeManifest(project.dir, {
    ...MANIFEST,
    listing: { appId: APP, software: [{ name: 'Acme Wiki', version: '1.2.0' }] },
  });
  let cap = captureContext({ cwd: project.dir, env });
  expect(
    await runCommand(
      createImageCommand({ ...deps, build: async () => {}, verify: passVerify }),
      ['--verify', '--release', '--reason', 'contract'],
      cap.ctx,
    ),
    cap.err(),
  ).toBe(0);
  // A GPU size, a lost create answer (looked up by tag and by name, with type=gpus) and a lost
  // snapshot answer (looked up among the droplet's actions); ids of SSH keys as integers.
  writeManifest(project.dir, {
    ...MANIFEST,
    droplet: {
      region: 'nyc3',
      size: 'gpu-h100x1-80gb',
      sshKeys: [7, '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa'],
    },
  });
  api.inject({ method: 'POST', path: '/v2/droplets', status: 503, afterHandling: true });
  api.inject({
    method: 'POST',
    path: /^\/v2\/droplets\/\d+\/actions$/,
    actionType: 'snapshot',
    status: 503,
    afterHandling: true,
  });
  cap = captureContext({ cwd: project.dir, env });
  expect(await runCommand(createImageCommand({ ...deps, build: async () => {} }), [], cap.ctx), cap.err()).toBe(0);
  // snapshot --droplet <name> of a GPU droplet (found among GPU droplets), then a list of the account's images, page by
  // page.
  const gpu = api.addDroplet({ name: 'gpu-box', size: 'gpu-h100x1-80gb', tags: ['mpimg-build'] });
  cap = captureContext({ cwd: project.dir, env });
  expect(
    await runCommand(createSnapshotCommand(deps), ['--droplet', 'gpu-box', '--name', 'gpu-snap'], cap.ctx),
    cap.err(),
  ).toBe(0);
  expect(api.images.size).toBeGreaterThan(2);
  const client = new DoClient({ token: TOKEN, baseUrl: api.url, clock: fastClock(), retry: FAST_RETRY });
  expect((await client.listUserImages(2)).length).toBe(api.images.size);
  // The usual failures: 404, 429 with its headers, 5xx, 401.
  await expect(client.getDroplet(999_999)).rejects.toThrow(/404/);
  api.rateLimit({ path: `/v2/droplets/${gpu.id}`, retryAfter: 0 });
  api.inject({ path: `/v2/droplets/${gpu.id}`, status: 503 });
  expect((await client.getDroplet(gpu.id)).id).toBe(gpu.id);
  await expect(
    new DoClient({ token: 'dop_v1_wrong', baseUrl: api.url, retry: FAST_RETRY }).getDroplet(gpu.id),
  ).rejects.toThrow(/401/);
}

describe('the DigitalOcean API contract', () => {
  it('every request the client sends and every answer the double gives agree with it, for every endpoint the client uses', async () => {
    await everyFlow();
    expect(api.violations).toEqual([]);
    // Every endpoint of the contract was used, and answered with its success status at least once.
    const seen = new Map<string, Set<number>>();
    for (const r of api.requests) {
      const ep = endpointFor(r.method, r.path);
      expect(ep, `${r.method} ${r.path}`).toBeDefined();
      if (!seen.has(ep!.id)) seen.set(ep!.id, new Set());
      seen.get(ep!.id)!.add(r.status);
    }
    for (const ep of ENDPOINTS) expect([...(seen.get(ep.id) ?? [])], ep.id).toContain(ep.ok.status);
    // ... and the failures the client must read: 401, 404, 429, 5xx.
    const statuses = new Set(api.requests.map((r) => r.status));
    for (const st of [200, 201, 202, 204, 401, 404, 429, 503]) expect(statuses.has(st), String(st)).toBe(true);
    // GPU droplets were asked for as the API wants: type=gpus, never combined with tag_name.
    const lists = api.requests.filter((r) => r.method === 'GET' && r.path === '/v2/droplets').map((r) => r.query);
    expect(lists.some((q) => q.type === 'gpus' && q.name !== undefined)).toBe(true);
    expect(lists.some((q) => q.type === 'gpus' && q.name === undefined)).toBe(true);
    expect(lists.every((q) => q.tag_name === undefined || (q.type === undefined && q.name === undefined))).toBe(true);
  });

  it("has teeth: a drift of the client's requests or of the double's answers is caught", async () => {
    await everyFlow();
    const find = (method: string, re: RegExp, status: number) =>
      exchange(api.requests.find((r) => r.method === method && re.test(r.path) && r.status === status)!);
    const clone = <T>(x: T): T => structuredClone(x);
    const create = find('POST', /^\/v2\/droplets$/, 202);
    // a droplet that is up (new ones have no address yet): the address drift needs one
    const get = exchange(
      api.requests.find(
        (r) =>
          r.method === 'GET' &&
          /^\/v2\/droplets\/\d+$/.test(r.path) &&
          r.status === 200 &&
          (r.response as any)?.droplet?.networks?.v4?.length > 0,
      )!,
    );
    const list = find('GET', /^\/v2\/droplets$/, 200);
    const patch = find('PATCH', /vendor-portal/, 200);
    const del = find('DELETE', /^\/v2\/droplets\/\d+$/, 204);
    for (const ok of [create, get, list, patch, del]) expect(checkExchange(ok)).toEqual([]);

    const drifts: Array<[string, Exchange, RegExp]> = [];
    const drift = (
      what: string,
      base: Exchange,
      change: (x: Exchange & { body: any; response: any }) => void,
      expected: RegExp,
    ) => {
      const x = clone(base) as Exchange & { body: any; response: any };
      change(x);
      drifts.push([what, x, expected]);
    };
    // The client's side.
    drift(
      'an SSH key id sent as a string',
      create,
      (x) => {
        x.body.ssh_keys = ['7'];
      },
      /body\/ssh_keys\/0/,
    );
    drift(
      'a droplet name ending in "-"',
      create,
      (x) => {
        x.body.name = 'acme-';
      },
      /body\/name: must match pattern/,
    );
    drift(
      'a create field the API does not have',
      create,
      (x) => {
        x.body.agent = false;
      },
      /additionalProperty":"agent/,
    );
    drift(
      'no image',
      create,
      (x) => {
        delete x.body.image;
      },
      /missingProperty":"image/,
    );
    drift(
      'tag_name with type=gpus',
      list,
      (x) => {
        x.query = { tag_name: 'mpimg-run:abc', type: 'gpus', page: '1', per_page: '200' };
      },
      /query: must NOT be valid/,
    );
    drift(
      'per_page above 200',
      list,
      (x) => {
        x.query.per_page = '500';
      },
      /query\/per_page/,
    );
    drift(
      'a software field that is not a string',
      patch,
      (x) => {
        x.body.softwareIncluded = [{ name: 'x', version: 2 }];
      },
      /softwareIncluded\/0\/version/,
    );
    drift(
      'an imageId sent as a string',
      patch,
      (x) => {
        x.body.imageId = String(x.body.imageId);
      },
      /body\/imageId: must be integer/,
    );
    drift(
      'a call the contract does not know',
      get,
      (x) => {
        x.path = '/v2/droplets/1/neighbors';
      },
      /no endpoint of the contract/,
    );
    // The double's side.
    drift(
      'a droplet without its region',
      get,
      (x) => {
        delete x.response.droplet.region;
      },
      /missingProperty":"region/,
    );
    drift(
      'a thin region',
      get,
      (x) => {
        x.response.droplet.region = { slug: 'nyc3', name: 'nyc3', available: true };
      },
      /missingProperty":"features|missingProperty":"sizes/,
    );
    drift(
      'a droplet status the API does not have',
      get,
      (x) => {
        x.response.droplet.status = 'running';
      },
      /droplet\/status: must be equal to one of the allowed values/,
    );
    drift(
      'a field the API does not give',
      get,
      (x) => {
        x.response.droplet.ip = '203.0.113.1';
      },
      /additionalProperty":"ip/,
    );
    drift(
      'a v4 address that is not one',
      get,
      (x) => {
        x.response.droplet.networks.v4[0].ip_address = 'nope';
      },
      /ip_address: must match format "ipv4"/,
    );
    drift(
      'no ratelimit-reset header',
      get,
      (x) => {
        delete x.headers['ratelimit-reset'];
      },
      /header ratelimit-reset missing/,
    );
    drift(
      'an action link that names another action',
      create,
      (x) => {
        x.response.links.actions[0].href = 'https://api.digitalocean.com/v2/actions/0';
      },
      /does not name action/,
    );
    drift(
      'a GPU droplet in a plain listing',
      list,
      (x) => {
        x.query = { page: '1', per_page: '200' };
        x.response.droplets = [{ ...clone(get.response as any).droplet, size_slug: 'gpu-h100x1-80gb' }];
      },
      /of size gpu-h100x1-80gb listed for type=\(none\)/,
    );
    drift(
      'more items than per_page',
      list,
      (x) => {
        x.query.per_page = '1';
        x.response.droplets = [clone(get.response as any).droplet, clone(get.response as any).droplet];
      },
      /2 droplets on a page of per_page=1/,
    );
    drift(
      'a Vendor API 422 (its README answers 400)',
      patch,
      (x) => {
        x.status = 422;
        x.response = { id: 'unprocessable_entity', message: 'bad' };
      },
      /status 422 is not an answer of vendorApp_update/,
    );
    drift(
      'a Vendor API 401 (its README answers 403)',
      patch,
      (x) => {
        x.status = 401;
        x.response = { id: 'unauthorized', message: 'bad' };
      },
      /status 401 is not an answer of vendorApp_update/,
    );
    drift(
      'an error without its message',
      get,
      (x) => {
        x.status = 404;
        x.response = { id: 'not_found' };
      },
      /missingProperty":"message/,
    );
    drift(
      'a 204 with a body',
      del,
      (x) => {
        x.response = { ok: true };
      },
      /204 answer: must be empty/,
    );
    for (const [what, x, expected] of drifts) expect(checkExchange(x).join('\n'), what).toMatch(expected);
  });

  it('the double takes what the description allows and the old double refused, and answers what the API answers', async () => {
    api.sshKeys = [];
    const call = async (method: string, path: string, body?: unknown, token = TOKEN) => {
      const res = await fetch(`${api.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'text/plain' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as any) : undefined };
    };
    // public_networking and tags: null are spec-valid; a non-JSON content-type is not refused.
    const made = await call('POST', '/v2/droplets', {
      name: 'web-1',
      size: 's-1vcpu-1gb',
      image: 'debian-12-x64',
      public_networking: true,
      tags: null,
    });
    expect(made.status).toBe(202);
    const d = made.json.droplet;
    // Whole objects: region, size and image as the description has them, a private v4 address too.
    expect(d.region).toMatchObject({
      slug: 'nyc3',
      available: true,
      features: expect.any(Array),
      sizes: expect.any(Array),
    });
    expect(d.size).toMatchObject({
      slug: 's-1vcpu-1gb',
      memory: 1024,
      vcpus: 1,
      disk: 25,
      price_monthly: expect.any(Number),
      regions: expect.any(Array),
    });
    expect(d.image).toMatchObject({ slug: 'debian-12-x64', type: 'base', distribution: 'Debian', public: true });
    expect(made.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
    // The create's action link names an action that exists.
    const link = made.json.links.actions[0];
    expect(link.href).toBe(`https://api.digitalocean.com/v2/actions/${link.id}`);
    expect((await call('GET', `/v2/actions/${link.id}`)).json.action).toMatchObject({
      id: link.id,
      type: 'create',
      resource_id: d.id,
    });
    await new Promise((r) => setTimeout(r, 20));
    const up = (await call('GET', `/v2/droplets/${d.id}`)).json.droplet;
    expect(up.networks.v4.map((n: { type: string }) => n.type).sort()).toEqual(['private', 'public']);
    // change_backup_policy is an action type (with its policy).
    expect(
      (
        await call('POST', `/v2/droplets/${d.id}/actions`, {
          type: 'change_backup_policy',
          backup_policy: { plan: 'weekly', weekday: 'SUN', hour: 20 },
        })
      ).status,
    ).toBe(201);
    // per_page above 200 is held to 200, not refused (the contract flags the request itself).
    for (let i = 0; i < 201; i++) api.addDroplet({ name: 'many' });
    const many = await call('GET', '/v2/droplets?name=many&per_page=500');
    expect(many.status).toBe(200);
    expect(many.json.droplets).toHaveLength(200);
    // A name the description's pattern refuses (ending in "-" or ".").
    for (const name of ['web-', 'web.'])
      expect((await call('POST', '/v2/droplets', { name, size: 's-1vcpu-1gb', image: 'debian-12-x64' })).status).toBe(
        422,
      );
    // The Vendor API: each software field is optional; a bad body is 400, another team's image or a bad token 403.
    const img = api.addImage().id;
    expect(
      (
        await call('PATCH', `/api/v1/vendor-portal/apps/${APP}`, {
          imageId: img,
          softwareIncluded: [{ name: 'Nginx' }],
        })
      ).status,
    ).toBe(200);
    api.apps.get(APP)!.status = 'approved';
    expect((await call('PATCH', `/api/v1/vendor-portal/apps/${APP}`, { reasonForUpdate: 'no image' })).status).toBe(
      400,
    );
    expect((await call('PATCH', `/api/v1/vendor-portal/apps/${APP}`, { imageId: 424242 })).status).toBe(403);
    expect((await call('PATCH', `/api/v1/vendor-portal/apps/${APP}`, { imageId: img }, 'dop_v1_wrong')).status).toBe(
      403,
    );
    // Requests made here on purpose against the contract (text/plain is fine; per_page=500 and the bad names are not).
    expect(api.violations.map((v) => v.split(':')[0])).toEqual([
      'GET /v2/droplets query/per_page',
      'POST /v2/droplets body/name',
      'POST /v2/droplets body/name',
      'PATCH /api/v1/vendor-portal/apps/acme-wiki-listing body',
    ]);
    api.allowViolations = true;
  });
});
