/**
 * A local stand-in for the DigitalOcean API v2 (node:http on 127.0.0.1, random port).
 * It keeps droplet, action and image state, checks request bodies against the public shapes
 * (422 like the real API for missing fields and unknown action types), answers in the real JSON
 * shapes, and can inject faults: 401, 404, 422 pending event, 429 with ratelimit headers, 5xx,
 * slow actions and errored actions, a lost answer (the change happened, the answer is an error, never
 * comes in time, or the connection drops), and a slow server.
 * Droplets may be made from the account's snapshots (size, region and status checked like the real
 * API), GPU droplets are listed only with type=gpus (and others only without it), and the Marketplace
 * Vendor API's PATCH of a listing is there too (the README's answers: 400 for a bad body or a listing
 * in review, 403 for a bad token or an image of another team, 404 for an unknown app).
 *
 * Every exchange is checked against the contract (do-api-contract.ts, written from DigitalOcean's
 * published API description): what the client sent and what the double answered. close() fails when
 * anything departed from it, so every test that uses the double is also a contract test.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkExchange } from './do-api-contract.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** The status answered; 0 when the connection was dropped without an answer. */
  status: number;
  at: number;
  /** Whether the request carried the expected bearer token. */
  authorized: boolean;
  /** The answer's headers (lower-case) and body, for the contract check. */
  headers?: Record<string, string>;
  response?: unknown;
}

export interface Fault {
  method?: string;
  /** Exact pathname or a pattern. */
  path?: string | RegExp;
  /** Only a droplet action of this type (the body's `type`). */
  actionType?: string;
  /**
   * Answer with this status instead of the real answer. Without it (and without `drop`) the real answer is only
   * delayed.
   */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  /** Do the work first, then answer with the fault (a lost answer: the change happened anyway). */
  afterHandling?: boolean;
  /** Close the connection without answering (a reset). */
  drop?: boolean;
  /**
   * Wait this long: before the work when not `afterHandling` (a slow server: the change happens late),
   * else before the answer (the client may time out although the change happened).
   */
  delayMs?: number;
}

interface ActionState {
  id: number;
  status: 'in-progress' | 'completed' | 'errored';
  type: string;
  started_at: string;
  completed_at: string | null;
  resource_id: number;
  resource_type: 'droplet';
  region_slug: string;
  doneAt: number;
  name?: string;
}

export interface DropletState {
  id: number;
  name: string;
  status: 'new' | 'active' | 'off' | 'archive';
  locked: boolean;
  region: string;
  size: string;
  image: string | number;
  distribution: string;
  disk: number;
  tags: string[];
  snapshot_ids: number[];
  ip: string;
  created_at: string;
  activeAt: number;
  /** Listings show the droplet from this time on (a new droplet takes a moment to be listed); 0: at once. */
  listedAt?: number;
  /** Its tags are applied from this time on (the API tags a droplet after creating it); 0: at once. */
  taggedAt?: number;
  /** The create request body, for assertions. */
  request?: Record<string, unknown>;
}

export interface DoubleImage {
  id: number;
  name: string;
  type: string;
  distribution: string;
  slug: string | null;
  public: boolean;
  regions: string[];
  created_at: string;
  min_disk_size: number;
  size_gigabytes: number;
  description: string;
  tags: string[];
  status: string;
  error_message: string;
  /** Droplet the snapshot was taken from. */
  droplet_id?: number;
}

export interface DoubleBehaviour {
  /** How long each action type stays in-progress (ms). */
  actionMs: Record<string, number>;
  /** Action types that end as `errored`. */
  erroredActions: Set<string>;
  /** The graceful shutdown action completes but the droplet keeps running (a hung guest). */
  shutdownIgnored: boolean;
  /** A new droplet becomes active (with its public IPv4) after this long. */
  activeAfterMs: number;
  /** Public IPv4 given to created droplets (default: one from 203.0.113.0/24). */
  createdIp?: string;
  /** Created droplets become active but never get a public IPv4. */
  noPublicIp?: boolean;
  /** Public IPv4 of droplets created from one of the account's images (default: as createdIp). */
  fromImageIp?: string;
  /** A created droplet shows up in listings only after this long. */
  listedAfterMs?: number;
  /** A created droplet gets its tags only after this long (until then it has none). */
  tagsAfterMs?: number;
}

/** A Marketplace listing of the Vendor Portal. */
export interface DoubleApp {
  appId: string;
  name: string;
  /** The listing's version counter (the Vendor API answers it as a number). */
  version: number;
  /** "approved" can be updated; "pending" and "in review" answer 400. */
  status: 'approved' | 'pending' | 'in review' | 'rejected';
  customData: Record<string, unknown>;
  lastUpdated: number;
  reason: string;
}

/**
 * The droplet sizes the double knows ([memory MiB, vcpus, disk GB]); a size outside it is taken without a disk check.
 */
const SIZES: Record<string, [number, number, number]> = {
  's-1vcpu-512mb-10gb': [512, 1, 10],
  's-1vcpu-1gb': [1024, 1, 25],
  's-1vcpu-2gb': [2048, 1, 50],
  's-2vcpu-2gb': [2048, 2, 60],
  's-2vcpu-4gb': [4096, 2, 80],
  's-4vcpu-8gb': [8192, 4, 160],
  's-8vcpu-16gb': [16384, 8, 320],
  'gpu-h100x1-80gb': [245760, 20, 720],
};
/** Disk (GB) of the droplet sizes the double knows. */
export const SIZE_DISK_GB: Record<string, number> = Object.fromEntries(
  Object.entries(SIZES).map(([k, v]) => [k, v[2]]),
);

/** GPU droplets are listed only with type=gpus (and the others only without it). */
const isGpuSize = (size: string) => size.startsWith('gpu-');

/** The keys each droplet action type takes (backup_policy is required for change_backup_policy). */
const ACTION_KEYS: Record<string, string[]> = {
  enable_backups: ['backup_policy'],
  disable_backups: [],
  change_backup_policy: ['backup_policy'],
  reboot: [],
  power_cycle: [],
  shutdown: [],
  power_off: [],
  power_on: [],
  restore: ['image'],
  password_reset: [],
  resize: ['disk', 'size'],
  rebuild: ['image'],
  rename: ['name'],
  change_kernel: ['kernel'],
  enable_ipv6: [],
  snapshot: ['name'],
};
const CREATE_KEYS = new Set([
  'name',
  'region',
  'size',
  'image',
  'ssh_keys',
  'backups',
  'backup_policy',
  'ipv6',
  'private_networking',
  'vpc_uuid',
  'user_data',
  'monitoring',
  'volumes',
  'tags',
  'with_droplet_agent',
  'public_networking',
]);
/** A droplet name (droplet_single_create.yml). */
const DROPLET_NAME_RE = /^[a-zA-Z0-9]?[a-z0-9A-Z.-]*[a-z0-9A-Z]$/;
const PUBLIC_HOST = 'https://api.digitalocean.com';
const APP_KEYS = new Set(['imageId', 'reasonForUpdate', 'version', 'osVersion', 'softwareIncluded']);
const SOFTWARE_KEYS = ['name', 'version', 'releaseNotes', 'website', 'licenseType', 'licenseLink'];
const REGION_FEATURES = ['backups', 'ipv6', 'metadata', 'install_agent', 'storage', 'image_transfer'];

function regionJson(slug: string): Record<string, unknown> {
  return { name: slug.toUpperCase(), slug, features: [...REGION_FEATURES], available: true, sizes: Object.keys(SIZES) };
}

function sizeJson(slug: string, region: string): Record<string, unknown> {
  const [memory, vcpus, disk] = SIZES[slug] ?? [1024, 1, 25];
  return {
    slug,
    memory,
    vcpus,
    disk,
    transfer: 1,
    price_monthly: 6,
    price_hourly: 0.00893,
    regions: [region],
    available: true,
    description: isGpuSize(slug) ? 'GPU' : 'Basic',
  };
}

/** A time as the API writes it (seconds, Z). */
const apiTime = (ms: number = Date.now()) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function distributionOf(image: string | number): string {
  const s = String(image);
  if (s.startsWith('ubuntu')) return 'Ubuntu';
  if (s.startsWith('debian')) return 'Debian';
  if (s.startsWith('rocky')) return 'Rocky Linux';
  if (s.startsWith('alma')) return 'AlmaLinux';
  if (s.startsWith('centos')) return 'CentOS';
  return 'Unknown';
}

export class DoApiDouble {
  readonly server: Server;
  url = '';
  token: string;
  readonly droplets = new Map<number, DropletState>();
  readonly actions = new Map<number, ActionState>();
  readonly images = new Map<number, DoubleImage>();
  readonly apps = new Map<string, DoubleApp>();
  sshKeys: Array<{ id: number; fingerprint: string; public_key: string; name: string }> = [];
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  /** Departures from the contract, one line each (see do-api-contract.ts). */
  readonly violations: string[] = [];
  /** A test that sends what the contract forbids on purpose sets this; close() then does not fail. */
  allowViolations = false;
  behaviour: DoubleBehaviour = { actionMs: {}, erroredActions: new Set(), shutdownIgnored: false, activeAfterMs: 0 };
  private nextId = 1000;
  /** Per request, so concurrent clients never get each other's faults or statuses. */
  private readonly overrides = new WeakMap<IncomingMessage, Fault>();
  private readonly records = new WeakMap<IncomingMessage, RecordedRequest>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(token: string) {
    this.token = token;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) =>
        this.send(res, req, 500, { id: 'server_error', message: String(err) }),
      );
    });
  }

  static async start(token: string, opts: { port?: number } = {}): Promise<DoApiDouble> {
    const d = new DoApiDouble(token);
    await new Promise<void>((resolve, reject) => {
      d.server.once('error', reject);
      d.server.listen(opts.port ?? 0, '127.0.0.1', resolve);
    });
    d.url = `http://127.0.0.1:${(d.server.address() as AddressInfo).port}`;
    return d;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.violations.length && !this.allowViolations) {
      throw new Error(
        `the API double saw ${this.violations.length} departure(s) from the DigitalOcean API contract:\n${this.violations.join('\n')}`,
      );
    }
  }

  inject(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** A 429 answer with the rate-limit headers the real API sends. */
  rateLimit(opts: {
    path?: string | RegExp;
    method?: string;
    resetEpoch?: number;
    retryAfter?: number;
    times?: number;
  }): void {
    const headers: Record<string, string> = {
      'ratelimit-limit': '5000',
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(Math.floor(Date.now() / 1000)),
    };
    if (opts.resetEpoch !== undefined) headers['ratelimit-reset'] = String(opts.resetEpoch);
    if (opts.retryAfter !== undefined) headers['retry-after'] = String(opts.retryAfter);
    this.inject({
      path: opts.path,
      method: opts.method,
      times: opts.times,
      status: 429,
      headers,
      body: { id: 'too_many_requests', message: 'API Rate limit exceeded.' },
    });
  }

  /** The requests the client made, as "METHOD /path" (plus the action type for actions). */
  calls(): string[] {
    return this.requests.map((r) => {
      const type =
        r.body && typeof r.body === 'object' && 'type' in r.body ? ` ${(r.body as { type: string }).type}` : '';
      return `${r.method} ${r.path}${type}`;
    });
  }

  addDroplet(p: Partial<DropletState> = {}): DropletState {
    const id = p.id ?? this.nextId++;
    const image = p.image ?? 'debian-12-x64';
    const d: DropletState = {
      id,
      name: `droplet-${id}`,
      status: 'active',
      locked: false,
      region: 'nyc3',
      size: 's-1vcpu-512mb-10gb',
      image,
      distribution: distributionOf(image),
      disk: 10,
      tags: [],
      snapshot_ids: [],
      ip: `203.0.113.${(id % 250) + 1}`,
      created_at: apiTime(),
      activeAt: 0,
      ...p,
    };
    this.droplets.set(id, d);
    return d;
  }

  addImage(p: Partial<DoubleImage> = {}): DoubleImage {
    const id = p.id ?? this.nextId++;
    const img: DoubleImage = {
      id,
      name: `image-${id}`,
      type: 'snapshot',
      distribution: 'Debian',
      slug: null,
      public: false,
      regions: ['nyc3'],
      created_at: '2026-01-02T03:04:05Z',
      min_disk_size: 10,
      size_gigabytes: 1.2,
      description: '',
      tags: [],
      status: 'available',
      error_message: '',
      ...p,
    };
    this.images.set(id, img);
    return img;
  }

  /** A listing of the Vendor Portal (approved, so it can be updated, unless said otherwise). */
  addApp(p: Partial<DoubleApp> & { appId: string }): DoubleApp {
    const app: DoubleApp = {
      name: `app-${p.appId}`,
      version: 1,
      status: 'approved',
      customData: {},
      lastUpdated: 0,
      reason: '',
      ...p,
    };
    this.apps.set(app.appId, app);
    return app;
  }

  /** A finished action from the droplet's past (fixtures for action lists). */
  addAction(p: { resourceId: number; type: string; startedAt: string; status?: 'completed' | 'errored' }): number {
    const d = this.droplets.get(p.resourceId);
    const region = d?.region ?? 'nyc3';
    const id = this.nextId++;
    this.actions.set(id, {
      id,
      status: p.status ?? 'completed',
      type: p.type,
      started_at: p.startedAt,
      completed_at: p.startedAt,
      resource_id: p.resourceId,
      resource_type: 'droplet',
      region_slug: region,
      doneAt: 0,
    });
    return id;
  }

  /** Moves time-based state forward: finishes due actions, brings new droplets up. */
  private tick(): void {
    const now = Date.now();
    for (const d of this.droplets.values()) {
      if (d.status === 'new' && now >= d.activeAt) d.status = 'active';
    }
    for (const a of this.actions.values()) {
      if (a.status !== 'in-progress' || now < a.doneAt) continue;
      const d = this.droplets.get(a.resource_id);
      a.completed_at = apiTime(now);
      if (this.behaviour.erroredActions.has(a.type)) {
        a.status = 'errored';
      } else {
        a.status = 'completed';
        if (d) this.applyAction(a, d);
      }
      if (d) d.locked = false;
    }
  }

  private applyAction(a: ActionState, d: DropletState): void {
    if (a.type === 'shutdown' && !this.behaviour.shutdownIgnored) d.status = 'off';
    if (a.type === 'power_off') d.status = 'off';
    if (a.type === 'power_on' || a.type === 'reboot' || a.type === 'power_cycle') d.status = 'active';
    if (a.type === 'snapshot') {
      const img = this.addImage({
        name: a.name ?? `${d.name}-${Date.now()}`,
        distribution: d.distribution,
        regions: [d.region],
        min_disk_size: d.disk,
        created_at: apiTime(),
        droplet_id: d.id,
      });
      d.snapshot_ids.push(img.id);
    }
  }

  /** The droplet's image as the API shows it: a base image by its slug, or one of the account's. */
  private dropletImageJson(d: DropletState): Record<string, unknown> {
    const own = typeof d.image === 'number' ? this.images.get(d.image) : undefined;
    if (own) return this.imageJson(own);
    const slug = typeof d.image === 'string' ? d.image : null;
    return {
      id: typeof d.image === 'number' ? d.image : 100_000 + String(d.image).length,
      name: String(d.image),
      type: 'base',
      distribution: d.distribution,
      slug,
      public: true,
      regions: [d.region],
      created_at: '2025-01-01T00:00:00Z',
      min_disk_size: 10,
      size_gigabytes: 1.5,
      description: `${d.distribution} base image`,
      tags: [],
      status: 'available',
      error_message: '',
    };
  }

  /** The tags a droplet has by now. */
  private tagsOf(d: DropletState): string[] {
    return Date.now() >= (d.taggedAt ?? 0) ? d.tags : [];
  }

  private dropletJson(d: DropletState): Record<string, unknown> {
    const up = d.status !== 'new';
    const [memory, vcpus] = SIZES[d.size] ?? [1024, 1];
    // Every droplet has a private address in its VPC; listed first, as a client must not assume the order.
    const v4 = up
      ? [{ ip_address: `10.110.0.${(d.id % 250) + 2}`, netmask: '255.255.240.0', gateway: '<nil>', type: 'private' }]
      : [];
    if (up && d.ip) v4.push({ ip_address: d.ip, netmask: '255.255.255.0', gateway: '203.0.113.1', type: 'public' });
    return {
      id: d.id,
      name: d.name,
      memory,
      vcpus,
      disk: d.disk,
      locked: d.locked,
      status: d.status,
      kernel: null,
      created_at: d.created_at,
      features: ['droplet_agent', 'private_networking'],
      backup_ids: [],
      next_backup_window: null,
      snapshot_ids: [...d.snapshot_ids],
      image: this.dropletImageJson(d),
      volume_ids: [],
      size: sizeJson(d.size, d.region),
      size_slug: d.size,
      networks: { v4, v6: [] },
      region: regionJson(d.region),
      tags: [...this.tagsOf(d)],
      vpc_uuid: '00000000-0000-4000-8000-000000000000',
    };
  }

  private actionJson(a: ActionState): Record<string, unknown> {
    const { doneAt: _doneAt, name: _name, ...rest } = a;
    return { ...rest, region: regionJson(a.region_slug) };
  }

  private imageJson(i: DoubleImage): Record<string, unknown> {
    const { droplet_id: _d, ...rest } = i;
    return { ...rest };
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private send(
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): void {
    const f = this.overrides.get(req);
    this.overrides.delete(req);
    if (f?.status !== undefined) {
      status = f.status;
      body = f.body ?? { id: 'error', message: `injected ${f.status}` };
      headers = f.headers ?? {};
    }
    const rec = this.records.get(req);
    // Like the real API, JSON (an empty 204 included) and the rate-limit headers on every answer.
    const all: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'ratelimit-limit': '5000',
      'ratelimit-remaining': '4999',
      'ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60),
      ...headers,
    };
    if (rec) {
      rec.status = f?.drop ? 0 : status;
      rec.headers = all;
      rec.response = body;
      for (const v of checkExchange({
        method: rec.method,
        path: rec.path,
        query: rec.query,
        body: rec.body,
        status: rec.status,
        headers: all,
        response: body,
      }))
        this.violations.push(v);
    }
    const answer = () => {
      if (f?.drop) {
        req.socket.destroy();
        return;
      }
      res.writeHead(status, all);
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    if (f?.delayMs && f.afterHandling) this.later(f.delayMs, answer);
    else answer();
  }

  private unprocessable(res: ServerResponse, req: IncomingMessage, message: string): void {
    this.send(res, req, 422, { id: 'unprocessable_entity', message, request_id: 'req-double' });
  }

  private notFound(res: ServerResponse, req: IncomingMessage): void {
    this.send(res, req, 404, {
      id: 'not_found',
      message: 'The resource you were accessing could not be found.',
      request_id: 'req-double',
    });
  }

  private paginate<T>(
    res: ServerResponse,
    req: IncomingMessage,
    key: string,
    all: T[],
    path: string,
    query: Record<string, string>,
  ): void {
    // Out-of-range paging is not refused: a page below 1 is the first, per_page is held to 1..200 (the contract flags
    // such a request).
    const asked = (v: string | undefined, dflt: number) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : dflt);
    const page = Math.max(1, asked(query.page, 1));
    const perPage = Math.min(200, Math.max(1, asked(query.per_page, 20)));
    const items = all.slice((page - 1) * perPage, page * perPage);
    const lastPage = Math.max(1, Math.ceil(all.length / perPage));
    const extra = Object.entries(query)
      .filter(([k]) => k !== 'page' && k !== 'per_page')
      .map(([k, v]) => `&${k}=${encodeURIComponent(v)}`)
      .join('');
    // Links point at the public host, like the real API: a client must not follow them blindly.
    const link = (p: number) => `${PUBLIC_HOST}${path}?page=${p}&per_page=${perPage}${extra}`;
    const pages: Record<string, string> = {};
    if (page > 1) {
      pages.first = link(1);
      pages.prev = link(page - 1);
    }
    if (page < lastPage) {
      pages.next = link(page + 1);
      pages.last = link(lastPage);
    }
    this.send(res, req, 200, {
      [key]: items,
      links: Object.keys(pages).length ? { pages } : {},
      meta: { total: all.length },
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const query = Object.fromEntries(url.searchParams);
    const authorized = req.headers.authorization === `Bearer ${this.token}`;
    const record = (b: unknown) => {
      const rec: RecordedRequest = { method, path, query, body: b, status: 0, at: Date.now(), authorized };
      this.requests.push(rec);
      this.records.set(req, rec);
    };
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        record(raw);
        return this.send(res, req, 400, { id: 'bad_request', message: 'unparseable JSON' });
      }
    }
    record(body);

    const type = body && typeof body === 'object' && 'type' in body ? (body as { type: unknown }).type : undefined;
    const fault = this.faults.find(
      (f) =>
        (!f.method || f.method === method) &&
        (!f.path || (typeof f.path === 'string' ? f.path === path : f.path.test(path))) &&
        (f.actionType === undefined || f.actionType === type) &&
        (f.times ?? 1) > 0,
    );
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.afterHandling) {
        this.overrides.set(req, fault);
      } else if (fault.status !== undefined || fault.drop) {
        this.overrides.set(req, fault);
        const answer = () => this.send(res, req, fault.status ?? 500);
        if (fault.delayMs) return this.later(fault.delayMs, answer);
        return answer();
      } else if (fault.delayMs) {
        // A slow server: the work happens late, whether or not the client still waits.
        await new Promise<void>((r) => this.later(fault.delayMs!, r));
      }
    }
    if (!authorized) {
      // The Vendor API answers a bad token with 403 (its README), /v2 with 401.
      if (path.startsWith('/api/v1/vendor-portal/'))
        return this.send(res, req, 403, {
          id: 'forbidden',
          message: 'You are not authorized to perform this operation',
          request_id: 'req-double',
        });
      return this.send(res, req, 401, {
        id: 'unauthorized',
        message: 'Unable to authenticate you',
        request_id: 'req-double',
      });
    }
    this.tick();

    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/v2/droplets') {
      // The name filter is exact but ignores case; GPU droplets only with type=gpus, the others only without.
      const gpus = query.type === 'gpus';
      const now = Date.now();
      const all = [...this.droplets.values()]
        .filter((d) => isGpuSize(d.size) === gpus && now >= (d.listedAt ?? 0))
        .filter(
          (d) =>
            (query.name === undefined || d.name.toLowerCase() === query.name.toLowerCase()) &&
            (query.tag_name === undefined || this.tagsOf(d).includes(query.tag_name)),
        )
        .map((d) => this.dropletJson(d));
      return this.paginate(res, req, 'droplets', all, path, query);
    }
    if (method === 'POST' && path === '/v2/droplets') return this.createDroplet(res, req, body);
    if ((m = /^\/v2\/droplets\/(\d+)$/.exec(path))) {
      const d = this.droplets.get(Number(m[1]));
      if (!d) return this.notFound(res, req);
      if (method === 'GET') return this.send(res, req, 200, { droplet: this.dropletJson(d) });
      if (method === 'DELETE') {
        this.droplets.delete(d.id);
        return this.send(res, req, 204);
      }
    }
    if ((m = /^\/v2\/droplets\/(\d+)\/actions$/.exec(path)) && method === 'POST')
      return this.postAction(res, req, Number(m[1]), body);
    if ((m = /^\/v2\/droplets\/(\d+)\/actions$/.exec(path)) && method === 'GET') {
      const id = Number(m[1]);
      if (!this.droplets.has(id)) return this.notFound(res, req);
      // Oldest first here; a client must not rely on the order (or on finding its action on page 1).
      const all = [...this.actions.values()].filter((a) => a.resource_id === id).map((a) => this.actionJson(a));
      return this.paginate(res, req, 'actions', all, path, query);
    }
    if ((m = /^\/v2\/(?:droplets\/(\d+)\/)?actions\/(\d+)$/.exec(path)) && method === 'GET') {
      const a = this.actions.get(Number(m[2]));
      if (!a || (m[1] !== undefined && a.resource_id !== Number(m[1]))) return this.notFound(res, req);
      return this.send(res, req, 200, { action: this.actionJson(a) });
    }
    if ((m = /^\/v2\/droplets\/(\d+)\/snapshots$/.exec(path)) && method === 'GET') {
      const d = this.droplets.get(Number(m[1]));
      if (!d) return this.notFound(res, req);
      const snaps = d.snapshot_ids
        .map((id) => this.images.get(id))
        .filter((i): i is DoubleImage => Boolean(i))
        .map((i) => ({
          id: i.id,
          name: i.name,
          created_at: i.created_at,
          regions: i.regions,
          min_disk_size: i.min_disk_size,
          size_gigabytes: i.size_gigabytes,
          type: 'snapshot',
        }));
      return this.paginate(res, req, 'snapshots', snaps, path, query);
    }
    if (method === 'GET' && path === '/v2/images') {
      // Only the account's own images live here, which is what private=true lists.
      const all = query.private === 'true' ? [...this.images.values()].map((i) => this.imageJson(i)) : [];
      return this.paginate(res, req, 'images', all, path, query);
    }
    if ((m = /^\/v2\/images\/(\d+)$/.exec(path)) && method === 'GET') {
      const i = this.images.get(Number(m[1]));
      if (!i) return this.notFound(res, req);
      return this.send(res, req, 200, { image: this.imageJson(i) });
    }
    if (method === 'GET' && path === '/v2/account/keys')
      return this.paginate(res, req, 'ssh_keys', this.sshKeys, path, query);
    if ((m = /^\/api\/v1\/vendor-portal\/apps\/([^/]+)$/.exec(path)) && method === 'PATCH')
      return this.patchApp(res, req, decodeURIComponent(m[1]), body);
    return this.notFound(res, req);
  }

  private appJson(a: DoubleApp): Record<string, unknown> {
    return {
      appId: a.appId,
      name: a.name,
      version: a.version,
      type: 'droplet',
      status: { value: a.status, lastUpdated: a.lastUpdated, modifiedBy: 'vendor@example.com', reason: a.reason },
      customData: { ...a.customData },
    };
  }

  /** PATCH /api/v1/vendor-portal/apps/{app_id}: the Vendor API's update of a listing (it then goes to review). */
  private patchApp(res: ServerResponse, req: IncomingMessage, appId: string, body: unknown): void {
    const app = this.apps.get(appId);
    if (!app)
      return this.send(res, req, 404, { id: 'not_found', message: `app ${appId} not found`, request_id: 'req-double' });
    if (app.status === 'pending' || app.status === 'in review') {
      return this.send(res, req, 400, {
        id: 'bad_request',
        message: `app is ${app.status} and cannot be updated until it has been reviewed`,
        request_id: 'req-double',
      });
    }
    // The README's answers: 400 for a bad request, 403 for an image that is not the team's.
    const bad = (message: string) => this.send(res, req, 400, { id: 'bad_request', message, request_id: 'req-double' });
    if (!body || typeof body !== 'object' || Array.isArray(body)) return bad('request body must be a JSON object');
    const b = body as Record<string, unknown>;
    const unknown = Object.keys(b).filter((k) => !APP_KEYS.has(k));
    if (unknown.length) return bad(`unknown field(s): ${unknown.join(', ')}`);
    if (b.imageId === undefined) return bad('imageId is required');
    if (typeof b.imageId !== 'number' || !Number.isInteger(b.imageId)) return bad('imageId must be an integer');
    for (const k of ['reasonForUpdate', 'version', 'osVersion']) {
      if (b[k] !== undefined && b[k] !== null && typeof b[k] !== 'string') return bad(`${k} must be a string or null`);
    }
    if (b.softwareIncluded !== undefined && b.softwareIncluded !== null) {
      if (!Array.isArray(b.softwareIncluded)) return bad('softwareIncluded must be an array');
      for (const [i, sw] of b.softwareIncluded.entries()) {
        if (!sw || typeof sw !== 'object' || Array.isArray(sw)) return bad(`softwareIncluded[${i}] must be an object`);
        const keys = Object.keys(sw as object);
        const unknownKeys = keys.filter((k) => !SOFTWARE_KEYS.includes(k));
        if (unknownKeys.length) return bad(`softwareIncluded[${i}]: unknown field(s) ${unknownKeys.join(', ')}`);
        // Each field is optional: null or left out keeps the listing's value.
        const notString = keys.filter(
          (k) => (sw as Record<string, unknown>)[k] !== null && typeof (sw as Record<string, unknown>)[k] !== 'string',
        );
        if (notString.length) return bad(`softwareIncluded[${i}]: ${notString.join(', ')} must be strings or null`);
      }
    }
    const img = this.images.get(b.imageId);
    if (!img || img.type !== 'snapshot')
      return this.send(res, req, 403, {
        id: 'forbidden',
        message: `image ${b.imageId} does not belong to the requestor's team`,
        request_id: 'req-double',
      });
    app.version += 1;
    app.status = 'pending';
    app.lastUpdated = Date.now();
    app.reason = typeof b.reasonForUpdate === 'string' ? b.reasonForUpdate : app.reason;
    // null leaves a value as it was; anything else (an empty string too) replaces it.
    const data: Record<string, unknown> = {
      ...app.customData,
      imageId: img.id,
      imageName: img.name,
      imageLabel: img.name,
    };
    for (const k of ['reasonForUpdate', 'version', 'osVersion', 'softwareIncluded'])
      if (b[k] !== undefined && b[k] !== null) data[k] = b[k];
    app.customData = data;
    this.send(res, req, 200, this.appJson(app));
  }

  private postAction(res: ServerResponse, req: IncomingMessage, id: number, body: unknown): void {
    const d = this.droplets.get(id);
    if (!d) return this.notFound(res, req);
    if (!body || typeof body !== 'object' || Array.isArray(body))
      return this.unprocessable(res, req, 'request body must be a JSON object');
    const b = body as Record<string, unknown>;
    if (typeof b.type !== 'string') return this.unprocessable(res, req, 'type is required');
    const allowed = Object.hasOwn(ACTION_KEYS, b.type) ? ACTION_KEYS[b.type] : undefined;
    if (!allowed) return this.unprocessable(res, req, `${b.type} is not a valid droplet action type`);
    const unknown = Object.keys(b).filter((k) => k !== 'type' && !allowed.includes(k));
    if (unknown.length) return this.unprocessable(res, req, `unknown field(s) for ${b.type}: ${unknown.join(', ')}`);
    if (b.type === 'change_backup_policy' && (!b.backup_policy || typeof b.backup_policy !== 'object'))
      return this.unprocessable(res, req, 'backup_policy is required');
    if (b.type === 'snapshot' && b.name !== undefined && (typeof b.name !== 'string' || b.name === ''))
      return this.unprocessable(res, req, 'name must be a non-empty string');
    if (
      [...this.actions.values()].some((a) => a.resource_id === id && a.status === 'in-progress') ||
      d.status === 'new'
    ) {
      return this.unprocessable(res, req, 'Droplet already has a pending event.');
    }
    const now = Date.now();
    const a: ActionState = {
      id: this.nextId++,
      status: 'in-progress',
      type: b.type,
      started_at: apiTime(now),
      completed_at: null,
      resource_id: id,
      resource_type: 'droplet',
      region_slug: d.region,
      doneAt: now + (this.behaviour.actionMs[b.type] ?? 0),
      name: typeof b.name === 'string' ? b.name : undefined,
    };
    this.actions.set(a.id, a);
    d.locked = true;
    this.send(res, req, 201, { action: this.actionJson(a) });
  }

  private createDroplet(res: ServerResponse, req: IncomingMessage, body: unknown): void {
    if (!body || typeof body !== 'object' || Array.isArray(body))
      return this.unprocessable(res, req, 'request body must be a JSON object');
    const b = body as Record<string, unknown>;
    const unknown = Object.keys(b).filter((k) => !CREATE_KEYS.has(k));
    if (unknown.length) return this.unprocessable(res, req, `unknown field(s): ${unknown.join(', ')}`);
    for (const k of ['name', 'size', 'image'])
      if (b[k] === undefined || b[k] === '') return this.unprocessable(res, req, `${k} is required`);
    if (typeof b.name !== 'string' || b.name.length > 255 || !DROPLET_NAME_RE.test(b.name))
      return this.unprocessable(res, req, 'name must be a valid hostname');
    if (typeof b.size !== 'string') return this.unprocessable(res, req, 'size must be a string');
    if (typeof b.image !== 'string' && typeof b.image !== 'number')
      return this.unprocessable(res, req, 'image must be a slug or an id');
    if (b.region !== undefined && typeof b.region !== 'string')
      return this.unprocessable(res, req, 'region must be a string');
    for (const k of [
      'ipv6',
      'monitoring',
      'with_droplet_agent',
      'backups',
      'private_networking',
      'public_networking',
    ]) {
      if (b[k] !== undefined && typeof b[k] !== 'boolean')
        return this.unprocessable(res, req, `${k} must be a boolean`);
    }
    if (
      b.ssh_keys !== undefined &&
      (!Array.isArray(b.ssh_keys) || b.ssh_keys.some((k) => typeof k !== 'string' && typeof k !== 'number'))
    ) {
      return this.unprocessable(res, req, 'ssh_keys must be an array of ids or fingerprints');
    }
    if (Array.isArray(b.ssh_keys)) {
      const bad = b.ssh_keys.find((k) => !this.sshKeys.some((s) => s.id === k || s.fingerprint === k));
      if (bad !== undefined) return this.unprocessable(res, req, `ssh key ${String(bad)} not found`);
    }
    if (
      b.tags !== undefined &&
      b.tags !== null &&
      (!Array.isArray(b.tags) || b.tags.some((t) => typeof t !== 'string' || !/^[a-zA-Z0-9_:-]{1,255}$/.test(t)))
    ) {
      return this.unprocessable(res, req, 'tags must be an array of valid tag names');
    }
    const region = (b.region as string | undefined) ?? 'nyc3';
    const disk = SIZE_DISK_GB[b.size];
    // A droplet made from one of the account's images (a snapshot): the image must be there, done,
    // in the region, and fit the size's disk.
    let from: DoubleImage | undefined;
    if (typeof b.image === 'number') {
      from = this.images.get(b.image);
      if (!from) return this.unprocessable(res, req, 'You specified an invalid image for Droplet creation.');
      if (from.status !== 'available')
        return this.unprocessable(res, req, `image ${from.id} is ${from.status}, not available`);
      if (!from.regions.includes(region))
        return this.unprocessable(res, req, `image ${from.id} is not available in region ${region}`);
      if (disk !== undefined && disk < from.min_disk_size) {
        return this.unprocessable(
          res,
          req,
          `size ${b.size} has a ${disk} GB disk, smaller than the image's min_disk_size of ${from.min_disk_size} GB`,
        );
      }
    }
    const ip = this.behaviour.noPublicIp ? '' : (from && this.behaviour.fromImageIp) || this.behaviour.createdIp;
    const d = this.addDroplet({
      name: b.name,
      size: b.size,
      image: b.image,
      region,
      status: 'new',
      tags: (b.tags as string[] | undefined) ?? [],
      activeAt: Date.now() + this.behaviour.activeAfterMs,
      request: b,
      listedAt: Date.now() + (this.behaviour.listedAfterMs ?? 0),
      taggedAt: Date.now() + (this.behaviour.tagsAfterMs ?? 0),
      ...(from ? { distribution: from.distribution } : {}),
      ...(disk !== undefined ? { disk } : {}),
      ...(ip !== undefined ? { ip } : {}),
    });
    // The create event is an action of its own, done when the droplet is up.
    const action: ActionState = {
      id: this.nextId++,
      status: 'in-progress',
      type: 'create',
      started_at: apiTime(),
      completed_at: null,
      resource_id: d.id,
      resource_type: 'droplet',
      region_slug: region,
      doneAt: d.activeAt,
    };
    this.actions.set(action.id, action);
    this.send(res, req, 202, {
      droplet: this.dropletJson(d),
      links: { actions: [{ id: action.id, rel: 'create', href: `${PUBLIC_HOST}/v2/actions/${action.id}` }] },
    });
  }
}
