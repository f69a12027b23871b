// The API client's retry policy: which failures are tried again, how long to wait between tries and how
// many times. client.ts asks it after each failed try; what the user is told stays with the failures
// (api-failure.ts).

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

/** GET/PUT/DELETE may be repeated freely; a POST twice can make two droplets or two snapshots. */
export function isRepeatable(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'PUT' || method === 'DELETE';
}

/** Failures that happen before a request leaves this machine: the server cannot have acted on it. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

export function neverSent(err: unknown): boolean {
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

/** retry-after (seconds) wins; else ratelimit-reset (epoch seconds); undefined when neither is there. */
export function rateLimitWaitMs(headers: Headers, nowMs: number): number | undefined {
  const ra = headers.get('retry-after');
  if (ra && /^\d+(\.\d+)?$/.test(ra.trim())) return Math.max(0, Math.round(Number(ra) * 1000));
  const reset = headers.get('ratelimit-reset');
  if (reset && /^\d+$/.test(reset.trim())) return Math.max(0, Number(reset) * 1000 - nowMs);
  return undefined;
}

/** The tries one request has left: 429, 5xx and network failures share one count, busy droplets another. */
export class RetryBudget {
  #tries = 0;
  #pendingTries = 0;

  constructor(readonly policy: RetryPolicy) {}

  /** No retry left for a 429, 5xx or network failure. */
  get spent(): boolean {
    return this.#tries >= this.policy.maxRetries;
  }

  /** The growing wait before the next try; it uses up one try. */
  backoff(): number {
    return this.#delay(this.#tries++);
  }

  /**
   * The wait a 429 asks for. ratelimit-reset is the server's epoch, so `serverNow` is the server's clock
   * (the answer's Date): a machine whose clock is off neither gives up on a short wait nor hammers the API.
   * Without either header (the Vendor API names none), the 5xx backoff: growing waits, not five quick tries.
   */
  rateLimitWait(headers: Headers, serverNow: number): number {
    return rateLimitWaitMs(headers, serverNow) ?? this.#delay(this.#tries);
  }

  /** Whether to wait `ms` for the rate limit to reset (using up one try), or give up now. */
  takeRateLimitWait(ms: number): boolean {
    if (this.spent || ms > this.policy.maxRateLimitWaitMs) return false;
    this.#tries++;
    return true;
  }

  /** The wait before asking a busy droplet again (422 pending event); undefined once out of patience. */
  pendingWait(): number | undefined {
    if (this.#pendingTries >= this.policy.maxPendingRetries) return undefined;
    this.#pendingTries++;
    return this.policy.pendingWaitMs;
  }

  #delay(n: number): number {
    return Math.min(this.policy.maxBackoffMs, this.policy.backoffMs * 2 ** n);
  }
}
