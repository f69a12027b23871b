import type { CommandContext } from './types.js';
import { DEFAULT_API_URL, DoClient, normaliseBaseUrl, type RetryPolicy } from '../do/client.js';
import { resolveApiUrl } from '../do/token.js';
import type { Clock } from '../do/clock.js';
import { formatListUser } from '../do/format.js';
import type { Image } from '../do/types.js';

/** Test seams shared by `mpimg snapshot` and `mpimg image`: clock, retry bounds, fixed "now". */
export interface DoCommandDeps {
  clock?: Clock;
  retry?: Partial<RetryPolicy>;
  now?: () => Date;
}

/** The command's API client: call it once per command (see DoClient.fromEnv for where the token comes from). */
export function clientFor(ctx: CommandContext, deps: DoCommandDeps): DoClient {
  return DoClient.fromEnv(ctx.env, { clock: deps.clock, retry: deps.retry, signal: ctx.signal });
}

/** The API's base URL as a client would use it, without needing a token (dry runs print it). */
export function apiBaseUrl(env: NodeJS.ProcessEnv): string {
  const api = resolveApiUrl(env, DEFAULT_API_URL);
  return normaliseBaseUrl(api.url, api.source);
}

/** --json: the image object alone on stdout; else the list-user header and line to submit. */
export function printImage(ctx: CommandContext, image: Image, json: boolean): void {
  if (json) {
    ctx.stdout.write(`${JSON.stringify(image, null, 2)}\n`);
    return;
  }
  ctx.stdout.write(`${formatListUser([image])}\n`);
  ctx.stderr.write(
    'Submit the line above (the same as `doctl compute image list-user` shows) with your Marketplace listing.\n',
  );
}
