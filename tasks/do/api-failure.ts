// What one failed try of an API request means: wait and send again, look whether the server carried it
// out before sending again (unknown effect), or a DoApiError for the user. The waits and counts come
// from the retry policy (retry.ts); the messages and hints are here.
import { DEFAULT_API_URL } from './api-url.js';
import { DoApiError } from './errors.js';
import { neverSent, type RetryBudget } from './retry.js';
import { scopesFor } from './scopes.js';

/** One request as its failures describe it. */
export interface Call {
  method: string;
  url: URL;
  /** `POST /v2/droplets` */
  label: string;
  body: unknown;
  repeatable: boolean;
  retryPending: boolean;
  baseUrl: string;
  baseUrlSource: string;
  tokenSource: string;
  /** Takes the token out of any text that reaches a message. */
  redact(s: string): string;
}

/** Send again after `again` ms, or: the try may have been carried out (`unknown` says so if we give up). */
export type Verdict = { again: number } | { unknown: DoApiError };

interface ApiErrorBody {
  id?: string;
  message?: string;
  request_id?: string;
}

const PENDING_RE = /pending event/i;

/** The request failed before an answer came (refused, reset, timed out). Throws when out of retries. */
export function afterNetworkError(err: unknown, call: Call, budget: RetryBudget): Verdict {
  const why = call.redact(errText(err));
  if (!call.repeatable && !neverSent(err)) return { unknown: unknownEffect(call, why, 0) };
  if (budget.spent) {
    throw new DoApiError(`cannot reach the DigitalOcean API: ${why}`, {
      status: 0,
      where: `${call.label} (${call.baseUrl})`,
      hint:
        call.baseUrl === DEFAULT_API_URL
          ? 'check the network'
          : `check the network, and that ${call.baseUrlSource} points at the API`,
    });
  }
  return { again: budget.backoff() };
}

/** The server answered with an error status. Throws what is not tried again. */
export function afterErrorStatus(
  res: Response,
  text: string,
  call: Call,
  budget: RetryBudget,
  serverNow: number,
): Verdict {
  const body = parseErrorBody(text);
  const message = call.redact(body.message ?? res.statusText ?? 'no message');
  const base = { status: res.status, apiId: body.id, requestId: body.request_id, where: call.label };
  if (res.status === 429) {
    const wait = budget.rateLimitWait(res.headers, serverNow);
    if (budget.takeRateLimitWait(wait)) return { again: wait };
    throw new DoApiError(`rate limited by the DigitalOcean API (${message})`, {
      ...base,
      hint: `wait ${Math.ceil(wait / 1000)} s (until the rate limit resets) and run the command again`,
    });
  }
  if (res.status >= 500) {
    if (!call.repeatable) return { unknown: unknownEffect(call, `${res.status}: ${message}`, res.status, base) };
    if (budget.spent) {
      throw new DoApiError(`the DigitalOcean API failed with ${res.status}: ${message}`, {
        ...base,
        hint: 'a DigitalOcean-side problem: check https://status.digitalocean.com and try again',
      });
    }
    return { again: budget.backoff() };
  }
  if (res.status === 422 && PENDING_RE.test(message) && call.retryPending) {
    const wait = budget.pendingWait();
    if (wait !== undefined) return { again: wait };
    throw new DoApiError(`the droplet stayed busy: ${message}`, {
      ...base,
      hint: "wait until the droplet's current action ends and try again",
    });
  }
  throw new DoApiError(`DigitalOcean API refused ${call.label} with ${res.status}: ${message}`, {
    ...base,
    hint: hintFor(res.status, call),
  });
}

/** A successful answer's body: JSON, or undefined when there is none. */
export function parseAnswer<T>(res: Response, text: string, call: Call): T {
  if (res.status === 204 || text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new DoApiError(`the API answered ${res.status} with a body that is not JSON`, {
      status: res.status,
      where: call.label,
      hint: `check ${call.baseUrlSource} (${call.baseUrl})`,
    });
  }
}

function unknownEffect(
  call: Call,
  why: string,
  status: number,
  base: { apiId?: string; requestId?: string } = {},
): DoApiError {
  return new DoApiError(`${call.label} failed (${why}) and it is not known whether DigitalOcean carried it out`, {
    ...base,
    status,
    where: `${call.label} (${call.baseUrl})`,
    unknownEffect: true,
    hint: 'it was not sent again, so nothing is done twice: check the droplet (control panel or doctl) before running the command again',
  });
}

function hintFor(status: number, call: Call): string {
  switch (status) {
    case 401:
      return `the token (from ${call.tokenSource}) was rejected: create a new one at https://cloud.digitalocean.com/account/api/tokens`;
    case 403: {
      const scopes = scopesFor(call.method, call.url.pathname, call.url.searchParams, call.body);
      return scopes
        ? `the token (from ${call.tokenSource}) may not do this: a custom-scoped token needs ${scopes.join(', ')} for this call; add them to the token (or use a full-access token of the team that owns the resources)`
        : `the token (from ${call.tokenSource}) may not do this: use a token with write access of the team that owns the resources`;
    }
    case 404:
      return 'check the droplet/image/action id or name (and that it belongs to this account)';
    case 422:
      return 'the request was rejected as invalid: check the values in mpimg.json and the flags';
    default:
      return 'check the request and try again';
  }
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
