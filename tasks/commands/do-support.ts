import type { CommandContext } from './types.js';
import { DoClient, type RetryPolicy } from '../do/client.js';
import type { Clock } from '../do/clock.js';
import { formatListUser } from '../do/format.js';
import type { Image } from '../do/types.js';

/** Test seams shared by `mpimg snapshot` and `mpimg image`: clock, retry bounds, fixed "now". */
export interface DoCommandDeps {
  clock?: Clock;
  retry?: Partial<RetryPolicy>;
  now?: () => Date;
}

export function clientFor(ctx: CommandContext, deps: DoCommandDeps): DoClient {
  return DoClient.fromEnv(ctx.env, { clock: deps.clock, retry: deps.retry, signal: ctx.signal });
}

/** --json: the image object alone on stdout; else the list-user header and line to submit. */
export function printImage(ctx: CommandContext, image: Image, json: boolean): void {
  if (json) {
    ctx.stdout.write(`${JSON.stringify(image, null, 2)}\n`);
    return;
  }
  ctx.stdout.write(`${formatListUser([image])}\n`);
  ctx.stderr.write('Submit the line above (the same as `doctl compute image list-user` shows) with your Marketplace listing.\n');
}
