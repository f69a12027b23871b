import { setTimeout as delay } from 'node:timers/promises';
import { AbortedError } from './errors.js';

/** Every wait goes through one of these so tests can run the whole flow with tiny or recorded sleeps. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface Clock {
  now(): number;
  sleep: Sleep;
}

export const realSleep: Sleep = async (ms, signal) => {
  if (signal?.aborted) throw new AbortedError();
  try {
    await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (signal?.aborted) throw new AbortedError();
    throw err;
  }
};

export const realClock: Clock = { now: () => Date.now(), sleep: realSleep };

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortedError();
}
