/**
 * The contract of every endpoint the DigitalOcean client uses, as JSON Schemas written for this project
 * from DigitalOcean's published OpenAPI description (github.com/digitalocean/openapi: field names,
 * types, required keys, enums, status codes, rate-limit headers) and, for the Marketplace Vendor API,
 * from the marketplace-partners README. The API double checks every exchange against it: the request
 * the client sent (method, path, query, body) and the answer the double gave (status, headers, body).
 * A drift on either side is a violation, and the double refuses to close with violations.
 *
 * Deliberate narrowings, so that a drift shows: objects have no keys beyond the described ones (the
 * double must not invent fields, the client must not send unknown ones), and an SSH key given as a
 * string must be a fingerprint (an id goes as an integer, like godo, doctl and Terraform send it).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';

/** One request and its answer, as the double saw them. */
export interface Exchange {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The request body: parsed JSON, the raw text when it was not JSON, undefined when there was none. */
  body: unknown;
  status: number;
  /** Response headers, lower-case names. */
  headers: Record<string, string>;
  /** The response body (parsed JSON), undefined for none. */
  response: unknown;
}

type S = Record<string, unknown>;

const str: S = { type: 'string' };
const int: S = { type: 'integer' };
const bool: S = { type: 'boolean' };
const num: S = { type: 'number' };
const dateTime: S = { type: 'string', format: 'date-time' };
const strings: S = { type: 'array', items: str };
const nullable = (s: S): S => ({ anyOf: [s, { type: 'null' }] });
/** An object of exactly these keys (those in `required` must be there). */
const obj = (properties: Record<string, S>, required: string[] = []): S => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** The region slugs an image may be in (shared/attributes/region_slug.yml). */
const REGION_SLUG: S = {
  type: 'string',
  enum: [
    'ams1',
    'ams2',
    'ams3',
    'blr1',
    'fra1',
    'lon1',
    'nyc1',
    'nyc2',
    'nyc3',
    'sfo1',
    'sfo2',
    'sfo3',
    'sgp1',
    'tor1',
    'syd1',
  ],
};

const DEFS: Record<string, S> = {
  error: {
    type: 'object',
    properties: { id: str, message: str, request_id: str },
    required: ['id', 'message'],
    additionalProperties: false,
  },
  region: obj({ name: str, slug: str, features: strings, available: bool, sizes: strings }, [
    'available',
    'features',
    'name',
    'sizes',
    'slug',
  ]),
  size: obj(
    {
      slug: str,
      memory: { type: 'integer', minimum: 8, multipleOf: 8 },
      vcpus: int,
      disk: int,
      transfer: num,
      price_monthly: num,
      price_hourly: num,
      regions: strings,
      available: bool,
      description: str,
      disk_info: { type: 'array' },
      gpu_info: { type: 'object' },
    },
    [
      'available',
      'disk',
      'memory',
      'price_hourly',
      'price_monthly',
      'regions',
      'slug',
      'transfer',
      'vcpus',
      'description',
    ],
  ),
  // The image model names no required keys. `distribution` has an enum in the description, but it is
  // documented for custom images ("any other value will be accepted but ignored"); base images report others.
  image: obj({
    id: int,
    name: str,
    type: { type: 'string', enum: ['base', 'snapshot', 'backup', 'custom', 'admin'] },
    distribution: str,
    slug: nullable(str),
    public: bool,
    regions: { type: 'array', items: REGION_SLUG },
    created_at: dateTime,
    min_disk_size: nullable({ type: 'integer', minimum: 0 }),
    size_gigabytes: nullable(num),
    description: str,
    tags: nullable(strings),
    status: { type: 'string', enum: ['NEW', 'available', 'pending', 'deleted', 'retired'] },
    error_message: str,
  }),
  networkV4: obj({
    ip_address: { type: 'string', format: 'ipv4' },
    netmask: { type: 'string', format: 'ipv4' },
    gateway: str,
    type: { type: 'string', enum: ['public', 'private'] },
  }),
  networkV6: obj({
    ip_address: { type: 'string', format: 'ipv6' },
    netmask: int,
    gateway: { type: 'string', format: 'ipv6' },
    type: { type: 'string', enum: ['public'] },
  }),
  droplet: obj(
    {
      id: int,
      name: str,
      memory: { type: 'integer', multipleOf: 8 },
      vcpus: int,
      disk: int,
      disk_info: { type: 'array' },
      locked: bool,
      status: { type: 'string', enum: ['new', 'active', 'off', 'archive'] },
      kernel: nullable(obj({ id: int, name: str, version: str })),
      created_at: dateTime,
      features: strings,
      backup_ids: { type: 'array', items: int },
      next_backup_window: nullable(obj({ start: dateTime, end: dateTime })),
      snapshot_ids: { type: 'array', items: int },
      image: { $ref: 'do#/definitions/image' },
      volume_ids: strings,
      size: { $ref: 'do#/definitions/size' },
      size_slug: str,
      networks: obj({
        v4: { type: 'array', items: { $ref: 'do#/definitions/networkV4' } },
        v6: { type: 'array', items: { $ref: 'do#/definitions/networkV6' } },
      }),
      region: { $ref: 'do#/definitions/region' },
      tags: strings,
      vpc_uuid: str,
      gpu_info: { type: 'object' },
    },
    [
      'id',
      'name',
      'memory',
      'vcpus',
      'disk',
      'locked',
      'status',
      'created_at',
      'features',
      'backup_ids',
      'next_backup_window',
      'snapshot_ids',
      'image',
      'volume_ids',
      'size',
      'size_slug',
      'networks',
      'region',
      'tags',
    ],
  ),
  action: obj({
    id: int,
    status: { type: 'string', enum: ['in-progress', 'completed', 'errored'] },
    type: str,
    started_at: dateTime,
    completed_at: nullable(dateTime),
    resource_id: nullable(int),
    resource_type: str,
    region: { $ref: 'do#/definitions/region' },
    region_slug: nullable(str),
  }),
  actionLink: obj({ id: int, rel: str, href: { type: 'string', format: 'uri' } }),
  dropletSnapshot: obj(
    {
      id: int,
      name: str,
      created_at: dateTime,
      regions: strings,
      min_disk_size: int,
      size_gigabytes: num,
      type: { type: 'string', enum: ['snapshot', 'backup'] },
    },
    ['id', 'name', 'created_at', 'regions', 'min_disk_size', 'size_gigabytes', 'type'],
  ),
  sshKey: obj({ id: int, fingerprint: str, public_key: str, name: str }, ['public_key', 'name']),
  links: obj({ pages: obj({ first: str, prev: str, next: str, last: str }) }),
  meta: obj({ total: int }, ['total']),
  backupPolicy: obj({
    plan: { type: 'string', enum: ['daily', 'weekly'] },
    weekday: { type: 'string', enum: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
    hour: { type: 'integer', enum: [0, 4, 8, 12, 16, 20] },
  }),
};

const ref = (name: string): S => ({ $ref: `do#/definitions/${name}` });
/** A page of a list: `key` holds the items; links and meta as every list has them. */
const page = (key: string, item: string, keyRequired = true): S =>
  obj({ [key]: { type: 'array', items: ref(item) }, links: ref('links'), meta: ref('meta') }, [
    ...(keyRequired ? [key] : []),
    'meta',
  ]);

/** Query values arrive as text; integers and booleans are compared as what they spell. */
const qInt = (min: number, max?: number): S => ({
  type: 'string',
  pattern: '^[0-9]+$',
  'x-min': min,
  ...(max !== undefined ? { 'x-max': max } : {}),
});
const qBool: S = { type: 'string', enum: ['true', 'false'] };
const paging = { page: qInt(1), per_page: qInt(1, 200) };

/** droplets_create, one droplet (droplet_single_create.yml + droplet_create.yml). */
const CREATE_DROPLET: S = obj(
  {
    name: { type: 'string', maxLength: 255, pattern: '^[a-zA-Z0-9]?[a-z0-9A-Z.\\-]*[a-z0-9A-Z]$' },
    region: str,
    size: str,
    image: { anyOf: [str, int] },
    // ids or fingerprints; an id goes as an integer (narrowed: see the header).
    ssh_keys: { type: 'array', items: { anyOf: [int, { type: 'string', not: { pattern: '^[0-9]+$' } }] } },
    backups: bool,
    backup_policy: ref('backupPolicy'),
    ipv6: bool,
    monitoring: bool,
    tags: nullable(strings),
    user_data: str,
    private_networking: bool,
    volumes: strings,
    vpc_uuid: str,
    with_droplet_agent: bool,
    public_networking: bool,
  },
  ['name', 'size', 'image'],
);

/** dropletActions_post: the keys each action type takes (droplet_actions.yml). */
const ACTION_BODIES: Record<string, S> = Object.fromEntries(
  [
    ...[
      'disable_backups',
      'reboot',
      'power_cycle',
      'shutdown',
      'power_off',
      'power_on',
      'password_reset',
      'enable_ipv6',
    ].map((t) => [t, {}]),
    ['enable_backups', { backup_policy: ref('backupPolicy') }],
    ['change_backup_policy', { backup_policy: ref('backupPolicy') }],
    ['restore', { image: int }],
    ['resize', { disk: bool, size: str }],
    ['rebuild', { image: { anyOf: [str, int] } }],
    ['rename', { name: str }],
    ['change_kernel', { kernel: int }],
    ['snapshot', { name: str }],
  ].map(([t, props]) => [
    t as string,
    obj({ type: { type: 'string', const: t }, ...(props as Record<string, S>) }, [
      'type',
      ...(t === 'change_backup_policy' ? ['backup_policy'] : []),
    ]),
  ]),
);

const dropletAction = (body: unknown): S => {
  const type = body && typeof body === 'object' ? (body as { type?: unknown }).type : undefined;
  return (
    (typeof type === 'string' && ACTION_BODIES[type]) ||
    obj({ type: { type: 'string', enum: Object.keys(ACTION_BODIES) } }, ['type'])
  );
};

/** The Vendor API's PATCH body (README "Update your App Image via API"): null or left out keeps a value. */
const SOFTWARE = obj(
  Object.fromEntries(
    ['name', 'version', 'releaseNotes', 'website', 'licenseType', 'licenseLink'].map((k) => [k, nullable(str)]),
  ),
);
const VENDOR_UPDATE: S = obj(
  {
    imageId: int,
    reasonForUpdate: str,
    version: str,
    osVersion: nullable(str),
    softwareIncluded: nullable({ type: 'array', items: SOFTWARE }),
  },
  ['imageId'],
);
const VENDOR_APP: S = {
  type: 'object',
  properties: {
    appId: str,
    name: str,
    version: num,
    type: str,
    status: obj({ value: str, lastUpdated: num, modifiedBy: str, reason: str }),
    customData: { type: 'object' },
  },
};

export interface Endpoint {
  /** The operationId of the description (or `vendorApp_update`). */
  id: string;
  method: string;
  path: RegExp;
  query?: S;
  /** A body schema, or one chosen from the body (droplet actions by their type). */
  body?: S | ((body: unknown) => S);
  /** The success status and its body (none for 204). */
  ok: { status: number; body?: S };
  /** Error statuses the description names; others only through its `default` (the error shape). */
  errors: number[];
  /** Only the statuses named: the Vendor API's README lists its own and has no `default`. */
  closed?: boolean;
  /** Facts a schema cannot say: what the answer must agree with in the request. */
  check?: (ex: Exchange) => string[];
}

const V2_ERRORS = [401, 404, 429, 500];

function listCheck(
  key: string,
  filter?: (item: Record<string, unknown>, q: Record<string, string>) => string | undefined,
): (ex: Exchange) => string[] {
  return (ex) => {
    if (ex.status !== 200) return [];
    const items = ((ex.response as Record<string, unknown>)?.[key] ?? []) as Array<Record<string, unknown>>;
    const perPage = Math.min(200, Number(ex.query.per_page ?? 20));
    const out = items.length > perPage ? [`${items.length} ${key} on a page of per_page=${perPage}`] : [];
    if (filter)
      for (const it of items) {
        const why = filter(it, ex.query);
        if (why) out.push(why);
      }
    return out;
  };
}

const isGpu = (d: Record<string, unknown>) => /^gpu-/.test(String(d.size_slug ?? ''));

export const ENDPOINTS: Endpoint[] = [
  {
    id: 'droplets_list',
    method: 'GET',
    path: /^\/v2\/droplets$/,
    // tag_name can not be combined with name or type.
    query: {
      ...obj({ ...paging, tag_name: str, name: str, type: { type: 'string', enum: ['droplets', 'gpus'] } }),
      not: { anyOf: [{ required: ['tag_name', 'name'] }, { required: ['tag_name', 'type'] }] },
    },
    ok: { status: 200, body: page('droplets', 'droplet', false) },
    errors: V2_ERRORS,
    check: listCheck('droplets', (d, q) => {
      if (q.tag_name !== undefined && !(d.tags as string[]).includes(q.tag_name))
        return `droplet ${d.id} listed for tag_name=${q.tag_name} without that tag`;
      if (q.name !== undefined && String(d.name).toLowerCase() !== q.name.toLowerCase())
        return `droplet ${d.id} "${d.name}" listed for name=${q.name}`;
      if ((q.type === 'gpus') !== isGpu(d))
        return `droplet ${d.id} of size ${d.size_slug} listed for type=${q.type ?? '(none)'}`;
      return undefined;
    }),
  },
  {
    id: 'droplets_create',
    method: 'POST',
    path: /^\/v2\/droplets$/,
    body: CREATE_DROPLET,
    ok: {
      status: 202,
      body: obj({ droplet: ref('droplet'), links: obj({ actions: { type: 'array', items: ref('actionLink') } }) }, [
        'droplet',
        'links',
      ]),
    },
    errors: [401, 429, 500],
    check: (ex) => {
      if (ex.status !== 202) return [];
      const links = (ex.response as { links?: { actions?: Array<{ id: number; href: string }> } }).links?.actions ?? [];
      return links
        .filter((l) => !l.href.endsWith(`/v2/actions/${l.id}`))
        .map((l) => `action link ${l.href} does not name action ${l.id}`);
    },
  },
  {
    id: 'droplets_get',
    method: 'GET',
    path: /^\/v2\/droplets\/[1-9][0-9]*$/,
    ok: { status: 200, body: obj({ droplet: ref('droplet') }) },
    errors: V2_ERRORS,
  },
  {
    id: 'droplets_destroy',
    method: 'DELETE',
    path: /^\/v2\/droplets\/[1-9][0-9]*$/,
    ok: { status: 204 },
    errors: V2_ERRORS,
  },
  {
    id: 'dropletActions_post',
    method: 'POST',
    path: /^\/v2\/droplets\/[1-9][0-9]*\/actions$/,
    body: dropletAction,
    ok: { status: 201, body: obj({ action: ref('action') }) },
    errors: V2_ERRORS,
  },
  {
    id: 'dropletActions_list',
    method: 'GET',
    path: /^\/v2\/droplets\/[1-9][0-9]*\/actions$/,
    query: obj(paging),
    ok: { status: 200, body: page('actions', 'action', false) },
    errors: V2_ERRORS,
    check: listCheck('actions'),
  },
  {
    id: 'actions_get',
    method: 'GET',
    path: /^\/v2\/actions\/[1-9][0-9]*$/,
    ok: { status: 200, body: obj({ action: ref('action') }) },
    errors: V2_ERRORS,
  },
  {
    id: 'droplets_list_snapshots',
    method: 'GET',
    path: /^\/v2\/droplets\/[1-9][0-9]*\/snapshots$/,
    query: obj(paging),
    ok: { status: 200, body: page('snapshots', 'dropletSnapshot', false) },
    errors: V2_ERRORS,
    check: listCheck('snapshots'),
  },
  {
    id: 'images_list',
    method: 'GET',
    path: /^\/v2\/images$/,
    query: obj({
      ...paging,
      private: qBool,
      type: { type: 'string', enum: ['application', 'distribution'] },
      tag_name: str,
    }),
    ok: { status: 200, body: page('images', 'image') },
    errors: [401, 429, 500],
    check: listCheck('images'),
  },
  {
    id: 'images_get',
    method: 'GET',
    path: /^\/v2\/images\/[1-9][0-9]*$/,
    ok: { status: 200, body: obj({ image: ref('image') }, ['image']) },
    errors: V2_ERRORS,
  },
  {
    id: 'sshKeys_list',
    method: 'GET',
    path: /^\/v2\/account\/keys$/,
    query: obj(paging),
    ok: { status: 200, body: page('ssh_keys', 'sshKey', false) },
    errors: [401, 429, 500],
    check: listCheck('ssh_keys'),
  },
  {
    id: 'vendorApp_update',
    method: 'PATCH',
    path: /^\/api\/v1\/vendor-portal\/apps\/[^/]+$/,
    body: VENDOR_UPDATE,
    ok: { status: 200, body: VENDOR_APP },
    errors: [400, 403, 404, 429, 500, 502, 503, 504],
    closed: true,
  },
];

/** The rate-limit headers every /v2 answer carries (shared/headers.yml): integers. */
const RATE_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

let ajv: Ajv | undefined;
const compiled = new WeakMap<object, ValidateFunction>();

function validator(schema: S): ValidateFunction {
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addFormat('date-time', {
      type: 'string',
      validate: (s: string) =>
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)),
    });
    ajv.addFormat('ipv4', { type: 'string', validate: (s: string) => isIPv4(s) });
    ajv.addFormat('ipv6', { type: 'string', validate: (s: string) => isIPv6(s) });
    ajv.addFormat('uri', {
      type: 'string',
      validate: (s: string) => {
        try {
          return Boolean(new URL(s).protocol);
        } catch {
          return false;
        }
      },
    });
    ajv.addKeyword({ keyword: 'x-min', type: 'string', validate: (min: number, v: string) => Number(v) >= min });
    ajv.addKeyword({ keyword: 'x-max', type: 'string', validate: (max: number, v: string) => Number(v) <= max });
    ajv.addSchema({ $id: 'do', definitions: DEFS });
  }
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

function problems(schema: S, value: unknown, what: string): string[] {
  const v = validator(schema);
  if (v(value)) return [];
  return (v.errors ?? []).map(
    (e) =>
      `${what}${e.instancePath || ''}: ${e.message ?? 'invalid'}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`,
  );
}

export function endpointFor(method: string, path: string): Endpoint | undefined {
  return ENDPOINTS.find((e) => e.method === method && e.path.test(path));
}

/** Every way `ex` departs from the contract, as readable lines (empty: it agrees). */
export function checkExchange(ex: Exchange): string[] {
  const where = `${ex.method} ${ex.path}`;
  const ep = endpointFor(ex.method, ex.path);
  if (!ep)
    return [
      `${where}: no endpoint of the contract (a call the client makes must be described in test/helpers/do-api-contract.ts)`,
    ];
  const out: string[] = [];
  // The request: what the client sent.
  out.push(...problems(ep.query ?? obj({}), ex.query, `${where} query`));
  if (ep.body) {
    const schema = typeof ep.body === 'function' ? ep.body(ex.body) : ep.body;
    out.push(...(ex.body === undefined ? [`${where} body: missing`] : problems(schema, ex.body, `${where} body`)));
  } else if (ex.body !== undefined) {
    out.push(`${where} body: this call takes none`);
  }
  // The answer: what the double gave (0: the connection was dropped on purpose).
  if (ex.status === 0) return out;
  const v2 = ex.path.startsWith('/v2/');
  if (ex.status === ep.ok.status) {
    if (ep.ok.body) out.push(...problems(ep.ok.body, ex.response, `${where} ${ex.status} answer`));
    else if (ex.response !== undefined) out.push(`${where} ${ex.status} answer: must be empty`);
  } else if (ex.status >= 400 && (!ep.closed || ep.errors.includes(ex.status))) {
    if (v2 || ex.response !== undefined) out.push(...problems(DEFS.error, ex.response, `${where} ${ex.status} answer`));
  } else {
    out.push(
      `${where}: status ${ex.status} is not an answer of ${ep.id} (${[ep.ok.status, ...ep.errors].join(', ')}${ep.closed ? '' : ', or an error'})`,
    );
  }
  if (v2) {
    for (const h of RATE_HEADERS)
      if (!/^[0-9]+$/.test(ex.headers[h] ?? ''))
        out.push(`${where} ${ex.status} answer: header ${h} missing or not an integer`);
    if (!/^application\/json/.test(ex.headers['content-type'] ?? ''))
      out.push(
        `${where} ${ex.status} answer: content-type ${ex.headers['content-type'] ?? '(none)'} is not application/json`,
      );
  }
  if (ep.check && !out.length) out.push(...ep.check(ex).map((m) => `${where}: ${m}`));
  return out;
}
