import { MpimgError } from '../../core/errors.js';
import { realClock, type Clock } from './clock.js';
import { AbortedError, DoApiError } from './errors.js';
import { scopesFor } from './scopes.js';
import { resolveApiUrl, resolveToken, type TokenSource } from './token.js';
import type {
  Action,
  CreateDropletRequest,
  Droplet,
  DropletSnapshot,
  Image,
  SshKey,
  VendorApp,
  VendorAppUpdate,
} from './types.js';

export const DEFAULT_API_URL = 'https://api.digitalocean.com';

export interface RetryPolicy {
  /** Retries for 429, 5xx and network errors (each kind counts against this). */
  maxRetries: number;
  /** First 5xx/network backoff; doubles each time up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Wait between tries when a droplet "already has a pending event" (422). */
  pendingWaitMs: number;
  maxPendingRetries: number;
  /** A 429 whose reset is further away than this fails instead of waiting. */
  maxRateLimitWaitMs: number;
  /** Per request. */
  requestTimeoutMs: number;
  /**
   * After a create whose answer was lost, how often to list by the run's tag and name, and how long
   * between: a new droplet may take a while to show up in listings.
   */
  lookupTries: number;
  lookupPollMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxRetries: 5,
  backoffMs: 1000,
  maxBackoffMs: 30_000,
  pendingWaitMs: 5000,
  maxPendingRetries: 36,
  maxRateLimitWaitMs: 5 * 60_000,
  requestTimeoutMs: 60_000,
  lookupTries: 12,
  lookupPollMs: 5000,
};

export interface DoClientOptions {
  token: string;
  /** Names where the token came from in 401/403 hints (never the token itself). */
  tokenSource?: TokenSource | string;
  baseUrl?: string;
  /** Where baseUrl came from, for messages about it (default DIGITALOCEAN_API_URL). */
  baseUrlSource?: string;
  clock?: Clock;
  /** Cancels waits and requests (Ctrl-C). Individual calls may pass their own. */
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
}

export interface RequestOptions<T = unknown> {
  body?: unknown;
  query?: Record<string, string | number | boolean>;
  /** Overrides the client's signal (e.g. cleanup after Ctrl-C must still run). */
  signal?: AbortSignal | null;
  /** Retry 422 "pending event" (default true). */
  retryPending?: boolean;
  /**
   * For a request that is not safe to repeat (POST): after a failure that leaves open whether the server
   * acted (5xx, timeout, connection lost after sending), look the result up before sending again.
   * `sentAt` is when the first try went out, in the API server's time (ms). A value is taken as the
   * answer; undefined means nothing happened, so the request is sent again. Without `reconcile` such a
   * request fails instead (DoApiError.unknownEffect).
   */
  reconcile?: (sentAt: number) => Promise<T | undefined>;
  /**
   * The signal stops waits and retries but not a request already sent: its answer (e.g. the id of a
   * droplet just made) is needed to clean up after Ctrl-C.
   */
  finishInFlight?: boolean;
  /** Called before each try goes out, with the API server's time (ms): the caller then knows it may have acted. */
  onSend?: (serverNow: number) => void;
}

interface ApiErrorBody {
  id?: string;
  message?: string;
  request_id?: string;
}

const PENDING_RE = /pending event/i;

/** Failures that happen before a request leaves this machine: the server cannot have acted on it. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** An action's started_at has one-second resolution and our estimate of the server's clock is ±1 s. */
const ACTION_TIME_SLACK_MS = 2000;

function neverSent(err: unknown): boolean {
  const codes: unknown[] = [];
  for (let e: unknown = err, i = 0; e && typeof e === 'object' && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    codes.push((e as { code?: unknown }).code);
    // Node tries each address of a host name; all of them must have refused.
    const list = (e as { errors?: unknown }).errors;
    if (
      Array.isArray(list) &&
      list.length &&
      list.every((x) => NOT_SENT_CODES.has((x as { code?: string })?.code ?? ''))
    )
      return true;
  }
  return codes.some((c) => typeof c === 'string' && NOT_SENT_CODES.has(c));
}

/**
 * Normalises DIGITALOCEAN_API_URL (doctl's form has no /v2) and refuses to send a token in clear text
 * anywhere but loopback.
 */
export function normaliseBaseUrl(raw: string, where = 'DIGITALOCEAN_API_URL'): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new MpimgError(`bad API URL "${raw}"`, { where, hint: `use a URL such as ${DEFAULT_API_URL}, or unset it` });
  }
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
    throw new MpimgError(`refusing to send the API token to ${u.protocol}//${u.host}`, {
      where,
      hint: 'use an https:// URL (plain http is only allowed on 127.0.0.1/localhost)',
    });
  }
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '').replace(/\/v2$/, '');
}

export class DoClient {
  readonly #token: string;
  /** Server clock minus ours, from the Date header of the last answer (to compare with action times). */
  #serverOffsetMs = 0;
  readonly tokenSource: string;
  readonly baseUrl: string;
  readonly baseUrlSource: string;
  readonly clock: Clock;
  readonly signal?: AbortSignal;
  readonly retry: RetryPolicy;

  constructor(opts: DoClientOptions) {
    if (!opts.token) throw new MpimgError('empty DigitalOcean API token', { hint: 'set DIGITALOCEAN_ACCESS_TOKEN' });
    // An HTTP header cannot carry spaces or control characters; say so without echoing the token.
    if (!/^[\x21-\x7e]+$/.test(opts.token)) {
      throw new MpimgError('the DigitalOcean API token contains spaces, line breaks or non-ASCII characters', {
        where: opts.tokenSource ?? 'token',
        hint: 'copy the token again exactly as the control panel shows it',
      });
    }
    this.#token = opts.token;
    this.tokenSource = opts.tokenSource ?? 'token';
    this.baseUrl = normaliseBaseUrl(opts.baseUrl ?? DEFAULT_API_URL, opts.baseUrlSource);
    this.baseUrlSource = opts.baseUrlSource ?? 'DIGITALOCEAN_API_URL';
    this.clock = opts.clock ?? realClock;
    this.signal = opts.signal;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  /**
   * Token from the environment / doctl config; base URL from DIGITALOCEAN_API_URL, else the `api-url`
   * of doctl's config file (DIGITALOCEAN_CONFIG or its default place), else DigitalOcean's.
   */
  static fromEnv(
    env: NodeJS.ProcessEnv,
    opts: Omit<DoClientOptions, 'token' | 'tokenSource' | 'baseUrl' | 'baseUrlSource'> = {},
  ): DoClient {
    const api = resolveApiUrl(env, DEFAULT_API_URL);
    const t = resolveToken(env);
    return new DoClient({
      ...opts,
      token: t.token,
      tokenSource: t.file ? `${t.source} (${t.file})` : t.source,
      baseUrl: api.url,
      baseUrlSource: api.source,
    });
  }

  /** Never let the token reach a message, even if the server echoes it. */
  redact(s: string): string {
    return s.split(this.#token).join('[redacted]');
  }

  toJSON(): Record<string, string> {
    return { baseUrl: this.baseUrl, tokenSource: this.tokenSource };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DoClient(${this.baseUrl}, token from ${this.tokenSource})`;
  }

  /** Our estimate of the API server's clock (ms). */
  serverNow(): number {
    return this.clock.now() + this.#serverOffsetMs;
  }

  async request<T>(method: string, path: string, opts: RequestOptions<T> = {}): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, String(v));
    const outer = opts.signal === null ? undefined : (opts.signal ?? this.signal);
    const label = `${method} ${url.pathname}`;
    // GET/PUT/DELETE may be repeated freely; a POST twice can make two droplets or two snapshots.
    const repeatable = method === 'GET' || method === 'HEAD' || method === 'PUT' || method === 'DELETE';
    let tries = 0;
    let pendingTries = 0;
    let firstSentAt: number | undefined;
    /** An earlier try may have been carried out: look before sending again. */
    let maybeDone = false;
    for (;;) {
      if (outer?.aborted) throw new AbortedError();
      if (maybeDone && opts.reconcile) {
        const found = await opts.reconcile(firstSentAt!);
        if (found !== undefined) return found;
      }
      const attempt = AbortSignal.timeout(this.retry.requestTimeoutMs);
      const signal = outer && !opts.finishInFlight ? AbortSignal.any([outer, attempt]) : attempt;
      firstSentAt ??= this.serverNow();
      opts.onSend?.(this.serverNow());
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${this.#token}`,
            Accept: 'application/json',
            ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
            'User-Agent': 'generator-mpimg',
          },
          body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
          signal,
        });
        text = await res.text();
      } catch (err) {
        if (outer?.aborted) throw new AbortedError();
        const why = this.redact(errText(err));
        if (!repeatable && !neverSent(err)) {
          maybeDone = true;
          if (!opts.reconcile || tries >= this.retry.maxRetries)
            return this.lastLook(opts.reconcile, firstSentAt, this.unknownEffect(label, why, 0));
        } else if (tries >= this.retry.maxRetries) {
          throw new DoApiError(`cannot reach the DigitalOcean API: ${why}`, {
            status: 0,
            where: `${label} (${this.baseUrl})`,
            hint:
              this.baseUrl === DEFAULT_API_URL
                ? 'check the network'
                : `check the network, and that ${this.baseUrlSource} points at the API`,
          });
        }
        await this.clock.sleep(this.backoff(tries++), outer);
        continue;
      }
      const date = Date.parse(res.headers.get('date') ?? '');
      if (Number.isFinite(date)) this.#serverOffsetMs = date - this.clock.now();
      if (res.ok) {
        if (res.status === 204 || text === '') return undefined as T;
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new DoApiError(`the API answered ${res.status} with a body that is not JSON`, {
            status: res.status,
            where: label,
            hint: `check ${this.baseUrlSource} (${this.baseUrl})`,
          });
        }
      }
      // Only reachable with finishInFlight: the answer came, it is not a success, and the user wants out.
      if (outer?.aborted) throw new AbortedError();
      const body = parseErrorBody(text);
      const message = this.redact(body.message ?? res.statusText ?? 'no message');
      const base = { status: res.status, apiId: body.id, requestId: body.request_id, where: label };
      if (res.status === 429) {
        // ratelimit-reset is the server's epoch: compared with the server's clock (this answer's Date), so
        // a machine whose clock is off neither gives up on a short wait nor hammers the API.
        // Without either header (the Vendor API names none), the 5xx backoff: growing waits, not five quick tries.
        const wait = rateLimitWaitMs(res.headers, this.serverNow()) ?? this.backoff(tries);
        if (tries >= this.retry.maxRetries || wait > this.retry.maxRateLimitWaitMs) {
          throw new DoApiError(`rate limited by the DigitalOcean API (${message})`, {
            ...base,
            hint: `wait ${Math.ceil(wait / 1000)} s (until the rate limit resets) and run the command again`,
          });
        }
        tries++;
        await this.clock.sleep(wait, outer);
        continue;
      }
      if (res.status >= 500) {
        if (!repeatable) {
          maybeDone = true;
          if (!opts.reconcile || tries >= this.retry.maxRetries)
            return this.lastLook(
              opts.reconcile,
              firstSentAt,
              this.unknownEffect(label, `${res.status}: ${message}`, res.status, base),
            );
        } else if (tries >= this.retry.maxRetries) {
          throw new DoApiError(`the DigitalOcean API failed with ${res.status}: ${message}`, {
            ...base,
            hint: 'a DigitalOcean-side problem: check https://status.digitalocean.com and try again',
          });
        }
        await this.clock.sleep(this.backoff(tries++), outer);
        continue;
      }
      if (res.status === 422 && PENDING_RE.test(message) && opts.retryPending !== false) {
        if (pendingTries >= this.retry.maxPendingRetries) {
          throw new DoApiError(`the droplet stayed busy: ${message}`, {
            ...base,
            hint: "wait until the droplet's current action ends and try again",
          });
        }
        pendingTries++;
        await this.clock.sleep(this.retry.pendingWaitMs, outer);
        continue;
      }
      throw new DoApiError(`DigitalOcean API refused ${label} with ${res.status}: ${message}`, {
        ...base,
        hint: this.hintFor(res.status, method, url, opts.body),
      });
    }
  }

  /** Out of retries after a failure of unknown effect: one more look, then give up without sending again. */
  private async lastLook<T>(reconcile: RequestOptions<T>['reconcile'], sentAt: number, err: DoApiError): Promise<T> {
    const found = reconcile ? await reconcile(sentAt) : undefined;
    if (found !== undefined) return found;
    throw err;
  }

  private unknownEffect(
    label: string,
    why: string,
    status: number,
    base: { apiId?: string; requestId?: string } = {},
  ): DoApiError {
    return new DoApiError(`${label} failed (${why}) and it is not known whether DigitalOcean carried it out`, {
      ...base,
      status,
      where: `${label} (${this.baseUrl})`,
      unknownEffect: true,
      hint: 'it was not sent again, so nothing is done twice: check the droplet (control panel or doctl) before running the command again',
    });
  }

  private backoff(n: number): number {
    return Math.min(this.retry.maxBackoffMs, this.retry.backoffMs * 2 ** n);
  }

  private hintFor(status: number, method: string, url: URL, body: unknown): string {
    switch (status) {
      case 401:
        return `the token (from ${this.tokenSource}) was rejected: create a new one at https://cloud.digitalocean.com/account/api/tokens`;
      case 403: {
        const scopes = scopesFor(method, url.pathname, url.searchParams, body);
        return scopes
          ? `the token (from ${this.tokenSource}) may not do this: a custom-scoped token needs ${scopes.join(', ')} for this call; add them to the token (or use a full-access token of the team that owns the resources)`
          : `the token (from ${this.tokenSource}) may not do this: use a token with write access of the team that owns the resources`;
      }
      case 404:
        return 'check the droplet/image/action id or name (and that it belongs to this account)';
      case 422:
        return 'the request was rejected as invalid: check the values in mpimg.json and the flags';
      default:
        return 'check the request and try again';
    }
  }

  /** Every page of a list; follows page numbers on our own base URL (never an absolute link from the answer). */
  async listAll<T>(
    path: string,
    key: string,
    query: Record<string, string | number | boolean> = {},
    perPage = 200,
    opts: Pick<RequestOptions, 'signal'> = {},
  ): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; page <= 10_000; page++) {
      const res = await this.request<Record<string, unknown>>('GET', path, {
        ...opts,
        query: { ...query, page, per_page: perPage },
      });
      const items = (res?.[key] as T[] | undefined) ?? [];
      out.push(...items);
      const links = res?.links as { pages?: { next?: string } } | undefined;
      if (!links?.pages?.next || items.length === 0) break;
    }
    return out;
  }

  async getDroplet(id: number, opts: Pick<RequestOptions, 'signal'> = {}): Promise<Droplet> {
    return (await this.request<{ droplet: Droplet }>('GET', `/v2/droplets/${id}`, opts)).droplet;
  }

  /**
   * Droplets of an exact name (the API's filter ignores case). A listing holds GPU droplets only when
   * asked for with type=gpus, and the others only without it.
   */
  async findDropletsByName(
    name: string,
    opts: Pick<RequestOptions, 'signal'> & { gpu?: boolean } = {},
  ): Promise<Droplet[]> {
    const found = await this.listAll<Droplet>(
      '/v2/droplets',
      'droplets',
      { name, ...(opts.gpu ? { type: 'gpus' } : {}) },
      200,
      { signal: opts.signal },
    );
    return found.filter((d) => d.name === name);
  }

  /**
   * Droplets carrying a tag. The API takes tag_name only alone (not with type), and lists no GPU
   * droplet without type=gpus: GPU droplets are listed with type=gpus and picked by their tags here.
   */
  async listDropletsByTag(
    tag: string,
    opts: Pick<RequestOptions, 'signal'> & { gpu?: boolean } = {},
  ): Promise<Droplet[]> {
    const query: Record<string, string> = opts.gpu ? { type: 'gpus' } : { tag_name: tag };
    return (await this.listAll<Droplet>('/v2/droplets', 'droplets', query, 200, { signal: opts.signal })).filter((d) =>
      (d.tags ?? []).includes(tag),
    );
  }

  /**
   * The droplets one create request may have made: those with the run's tag, and those of its exact
   * name made since it was sent (tags are applied after creation, so a new droplet can be untagged).
   */
  async findRunDroplets(
    p: { tag: string; name?: string; sentAt?: number; gpu?: boolean },
    opts: Pick<RequestOptions, 'signal'> = {},
  ): Promise<Droplet[]> {
    const found = new Map<number, Droplet>();
    for (const d of await this.listDropletsByTag(p.tag, { signal: opts.signal, gpu: p.gpu })) found.set(d.id, d);
    if (p.name !== undefined) {
      const from = (p.sentAt ?? 0) - ACTION_TIME_SLACK_MS;
      for (const d of await this.findDropletsByName(p.name, { signal: opts.signal, gpu: p.gpu })) {
        if ((d.tags ?? []).includes(p.tag) || (d.created_at !== undefined && Date.parse(d.created_at) >= from))
          found.set(d.id, d);
      }
    }
    return [...found.values()].sort((a, b) => a.id - b.id);
  }

  /** findRunDroplets, asked again for a bounded time (retry.lookupTries, lookupPollMs) until something shows. */
  async lookForRunDroplets(
    p: Parameters<DoClient['findRunDroplets']>[0],
    opts: Pick<RequestOptions, 'signal'> = {},
  ): Promise<Droplet[]> {
    for (let i = 1; ; i++) {
      const found = await this.findRunDroplets(p, opts);
      if (found.length || i >= this.retry.lookupTries) return found;
      await this.clock.sleep(this.retry.lookupPollMs, opts.signal === null ? undefined : (opts.signal ?? this.signal));
    }
  }

  /** `123` is an id; anything else is an exact droplet name that must match exactly one droplet. */
  async resolveDroplet(idOrName: string): Promise<Droplet> {
    if (/^\d+$/.test(idOrName)) {
      try {
        return await this.getDroplet(Number(idOrName));
      } catch (err) {
        if (err instanceof DoApiError && err.status === 404) {
          throw new DoApiError(`droplet ${idOrName} not found`, {
            status: 404,
            where: '--droplet',
            hint: "check the id with `doctl compute droplet list` (the token must belong to the droplet's team)",
          });
        }
        throw err;
      }
    }
    const found = await this.findDropletsByName(idOrName);
    // Only then GPU droplets: a plain listing never holds them.
    if (found.length === 0) found.push(...(await this.findDropletsByName(idOrName, { gpu: true })));
    if (found.length === 0) {
      throw new DoApiError(`no droplet named "${idOrName}"`, {
        status: 404,
        where: '--droplet',
        hint: 'give the droplet id or its exact name',
      });
    }
    if (found.length > 1) {
      throw new MpimgError(
        `${found.length} droplets are named "${idOrName}" (ids ${found.map((d) => d.id).join(', ')})`,
        { where: '--droplet', hint: 'give the droplet id instead of the name' },
      );
    }
    return found[0];
  }

  /**
   * Sends a droplet action once: after a failure that leaves open whether it was accepted, the
   * droplet's actions are searched for one of this type started since, and only if there is none is
   * it sent again.
   */
  async dropletAction(
    id: number,
    body: { type: string; name?: string },
    opts: Pick<RequestOptions, 'retryPending' | 'signal'> = {},
  ): Promise<Action> {
    return (
      await this.request<{ action: Action }>('POST', `/v2/droplets/${id}/actions`, {
        ...opts,
        body,
        reconcile: async (sentAt) => {
          const a = await this.findActionSince(id, body.type, sentAt, opts);
          return a ? { action: a } : undefined;
        },
      })
    ).action;
  }

  async listDropletActions(id: number, opts: Pick<RequestOptions, 'signal'> = {}): Promise<Action[]> {
    return this.listAll<Action>(`/v2/droplets/${id}/actions`, 'actions', {}, 200, opts);
  }

  /** The earliest action of `type` on the droplet that started at or after `sinceServerMs` (server clock). */
  async findActionSince(
    id: number,
    type: string,
    sinceServerMs: number,
    opts: Pick<RequestOptions, 'signal'> = {},
  ): Promise<Action | undefined> {
    const from = sinceServerMs - ACTION_TIME_SLACK_MS;
    return (await this.listDropletActions(id, opts))
      .filter(
        (a) => a.type === type && a.resource_id === id && a.started_at !== null && Date.parse(a.started_at) >= from,
      )
      .sort((a, b) => Date.parse(a.started_at!) - Date.parse(b.started_at!) || a.id - b.id)[0];
  }

  async getAction(id: number): Promise<Action> {
    return (await this.request<{ action: Action }>('GET', `/v2/actions/${id}`)).action;
  }

  async dropletSnapshots(id: number): Promise<DropletSnapshot[]> {
    return this.listAll<DropletSnapshot>(`/v2/droplets/${id}/snapshots`, 'snapshots');
  }

  async getImage(id: number): Promise<Image> {
    return (await this.request<{ image: Image }>('GET', `/v2/images/${id}`)).image;
  }

  /** The account's own images (snapshots, backups, custom): what `doctl compute image list-user` shows. */
  async listUserImages(perPage = 200): Promise<Image[]> {
    return this.listAll<Image>('/v2/images', 'images', { private: true }, perPage);
  }

  /**
   * Creates a droplet once. With `findByTag` (a tag unique to this request, among `req.tags`), a failure
   * that leaves open whether the droplet was made is answered by looking, for a bounded time, for a
   * droplet with that tag or with the request's name made since (see findRunDroplets); only when none
   * shows up is the request sent again. Without it such a failure is not retried.
   */
  async createDroplet(
    req: CreateDropletRequest,
    opts: { findByTag?: string } & Pick<RequestOptions, 'signal' | 'finishInFlight' | 'onSend'> = {},
  ): Promise<Droplet> {
    const tag = opts.findByTag;
    if (tag !== undefined && !(req.tags ?? []).includes(tag))
      throw new Error(`createDroplet: findByTag ${tag} is not among the request's tags`);
    return (
      await this.request<{ droplet: Droplet }>('POST', '/v2/droplets', {
        body: req,
        signal: opts.signal,
        finishInFlight: opts.finishInFlight,
        onSend: opts.onSend,
        reconcile:
          tag === undefined
            ? undefined
            : async (sentAt) => {
                const found = await this.lookForRunDroplets(
                  { tag, name: req.name, sentAt, gpu: isGpuSize(req.size) },
                  { signal: opts.signal },
                );
                return found.length ? { droplet: found[0] } : undefined;
              },
      })
    ).droplet;
  }

  /** Deletes a droplet; true when it was deleted, false when it was already gone (404). */
  async deleteDroplet(id: number, opts: Pick<RequestOptions, 'signal'> = {}): Promise<boolean> {
    try {
      await this.request<void>('DELETE', `/v2/droplets/${id}`, opts);
      return true;
    } catch (err) {
      if (err instanceof DoApiError && err.status === 404) return false;
      throw err;
    }
  }

  async listSshKeys(): Promise<SshKey[]> {
    return this.listAll<SshKey>('/v2/account/keys', 'ssh_keys');
  }

  /**
   * Updates a Marketplace listing through the Vendor API (it then goes to review). A PATCH is sent
   * again only when the server cannot have acted on it (429, or the request never left this machine);
   * after a 5xx or a lost answer it fails as DoApiError.unknownEffect instead.
   */
  async updateVendorApp(
    appId: string,
    body: VendorAppUpdate,
    opts: Pick<RequestOptions, 'signal'> = {},
  ): Promise<VendorApp> {
    return this.request<VendorApp>('PATCH', `/api/v1/vendor-portal/apps/${encodeURIComponent(appId)}`, {
      ...opts,
      body,
      retryPending: false,
    });
  }
}

/** GPU droplet sizes (gpu-h100x1-80gb, gpu-mi300x1-192gb, ...): listings hold them only with type=gpus. */
export function isGpuSize(size: string | undefined): boolean {
  return typeof size === 'string' && /^gpu-/.test(size);
}

function parseErrorBody(text: string): ApiErrorBody {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as ApiErrorBody) : {};
  } catch {
    return { message: text.slice(0, 200) || undefined };
  }
}

function errText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (err.name === 'TimeoutError') return 'request timed out';
    if (cause instanceof Error) return `${err.message} (${(cause as NodeJS.ErrnoException).code ?? cause.message})`;
    return err.message;
  }
  return String(err);
}

/** retry-after (seconds) wins; else ratelimit-reset (epoch seconds); undefined when neither is there. */
export function rateLimitWaitMs(headers: Headers, nowMs: number): number | undefined {
  const ra = headers.get('retry-after');
  if (ra && /^\d+(\.\d+)?$/.test(ra.trim())) return Math.max(0, Math.round(Number(ra) * 1000));
  const reset = headers.get('ratelimit-reset');
  if (reset && /^\d+$/.test(reset.trim())) return Math.max(0, Number(reset) * 1000 - nowMs);
  return undefined;
}
