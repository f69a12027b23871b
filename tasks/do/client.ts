import { MpimgError } from '../../core/errors.js';
import { afterErrorStatus, afterNetworkError, parseAnswer, type Call, type Verdict } from './api-failure.js';
import { DEFAULT_API_URL, normaliseBaseUrl } from './api-url.js';
import { realClock, type Clock } from './clock.js';
import { AbortedError, DoApiError } from './errors.js';
import { DEFAULT_RETRY, isRepeatable, RetryBudget, type RetryPolicy } from './retry.js';
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

export { DEFAULT_API_URL, normaliseBaseUrl } from './api-url.js';
export { DEFAULT_RETRY, rateLimitWaitMs, type RetryPolicy } from './retry.js';

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

/** An action's started_at has one-second resolution and our estimate of the server's clock is ±1 s. */
const ACTION_TIME_SLACK_MS = 2000;

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
    const call = this.#call(method, url, opts.body, opts.retryPending !== false);
    const budget = new RetryBudget(this.retry);
    let firstSentAt: number | undefined;
    /** An earlier try may have been carried out: look before sending again. */
    let maybeDone = false;
    for (;;) {
      if (outer?.aborted) throw new AbortedError();
      if (maybeDone && opts.reconcile) {
        const found = await opts.reconcile(firstSentAt!);
        if (found !== undefined) return found;
      }
      firstSentAt ??= this.serverNow();
      opts.onSend?.(this.serverNow());
      const answer = await this.#send(call, outer, opts.finishInFlight);
      let verdict: Verdict;
      if ('err' in answer) {
        if (outer?.aborted) throw new AbortedError();
        verdict = afterNetworkError(answer.err, call, budget);
      } else {
        const date = Date.parse(answer.res.headers.get('date') ?? '');
        if (Number.isFinite(date)) this.#serverOffsetMs = date - this.clock.now();
        if (answer.res.ok) return parseAnswer<T>(answer.res, answer.text, call);
        // Only reachable with finishInFlight: the answer came, it is not a success, and the user wants out.
        if (outer?.aborted) throw new AbortedError();
        verdict = afterErrorStatus(answer.res, answer.text, call, budget, this.serverNow());
      }
      if ('unknown' in verdict) {
        maybeDone = true;
        if (!opts.reconcile || budget.spent) return lastLook(opts.reconcile, firstSentAt, verdict.unknown);
        verdict = { again: budget.backoff() };
      }
      await this.clock.sleep(verdict.again, outer);
    }
  }

  #call(method: string, url: URL, body: unknown, retryPending: boolean): Call {
    return {
      method,
      url,
      label: `${method} ${url.pathname}`,
      body,
      repeatable: isRepeatable(method),
      retryPending,
      baseUrl: this.baseUrl,
      baseUrlSource: this.baseUrlSource,
      tokenSource: this.tokenSource,
      redact: (s) => this.redact(s),
    };
  }

  /** One try: the answer, or why none came. */
  async #send(
    call: Call,
    outer: AbortSignal | undefined,
    finishInFlight: boolean | undefined,
  ): Promise<{ res: Response; text: string } | { err: unknown }> {
    const attempt = AbortSignal.timeout(this.retry.requestTimeoutMs);
    const signal = outer && !finishInFlight ? AbortSignal.any([outer, attempt]) : attempt;
    try {
      const res = await fetch(call.url, {
        method: call.method,
        headers: {
          Authorization: `Bearer ${this.#token}`,
          Accept: 'application/json',
          ...(call.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          'User-Agent': 'generator-mpimg',
        },
        body: call.body !== undefined ? JSON.stringify(call.body) : undefined,
        signal,
      });
      return { res, text: await res.text() };
    } catch (err) {
      return { err };
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

/** Out of retries after a failure of unknown effect: one more look, then give up without sending again. */
async function lastLook<T>(reconcile: RequestOptions<T>['reconcile'], sentAt: number, err: DoApiError): Promise<T> {
  const found = reconcile ? await reconcile(sentAt) : undefined;
  if (found !== undefined) return found;
  throw err;
}
