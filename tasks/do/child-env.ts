import { stashTokens } from '../secrets.js';

export { childEnv } from '../secrets.js';

let depth = 0;
let restore: (() => void) | undefined;

/**
 * Runs `fn` with the token variables moved out of process.env, so nothing it starts with the default
 * environment (ssh, the vendor's tasks) inherits them. Overlapping calls share one stash and the last
 * one to finish puts the variables back; otherwise the first to finish would restore them under the
 * others' feet.
 */
export async function withTokensStashed<T>(fn: () => Promise<T>): Promise<T> {
  if (depth++ === 0) restore = stashTokens(process.env);
  try {
    return await fn();
  } finally {
    if (--depth === 0) {
      const r = restore;
      restore = undefined;
      r?.();
    }
  }
}
