/**
 * The verify task's results as data. Each check the task records goes, as an object, to the collector
 * of the run that asked for it (`mpimg verify`, `mpimg image --verify`); the printed [PASS]/[FAIL]
 * lines are for people only. The task may come from another copy of this library (the project's
 * node_modules) in the same process: the channel is one AsyncLocalStorage found through a global
 * symbol, so every copy finds it, and parallel verifies (`image --all`) each get their own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One check of a verify run: its name, status, one-line message and detail lines. */
export interface VerifyCheck {
  id: string;
  status: CheckStatus;
  message: string;
  details: string[];
}

type Sink = (check: unknown) => void;

/** Versioned: a copy of the library that passes another shape uses another key. */
const KEY = Symbol.for('generator-mpimg.verify-results.v1');

function channel(): AsyncLocalStorage<Sink> {
  const g = globalThis as { [KEY]?: AsyncLocalStorage<Sink> };
  return (g[KEY] ??= new AsyncLocalStorage<Sink>());
}

const STATUSES: readonly string[] = ['pass', 'warn', 'fail', 'skip'];

/** The check when `x` has the shape of one (what another copy sent is checked, not trusted). */
function asCheck(x: unknown): VerifyCheck | undefined {
  const c = x as Partial<VerifyCheck> | null;
  if (typeof c !== 'object' || c === null) return undefined;
  if (typeof c.id !== 'string' || typeof c.message !== 'string' || !STATUSES.includes(c.status as string))
    return undefined;
  const details = Array.isArray(c.details) ? c.details.filter((d): d is string => typeof d === 'string') : [];
  return { id: c.id, status: c.status as CheckStatus, message: c.message, details };
}

/** Records a check for the run collecting them (none: it is only printed). */
export function reportVerifyCheck(check: VerifyCheck): void {
  channel().getStore()?.({ ...check, details: [...check.details] });
}

/** Runs `fn`; every check a verify task reports while it runs (in its async context) goes to `onCheck`. */
export function collectVerifyChecks<T>(onCheck: (check: VerifyCheck) => void, fn: () => Promise<T>): Promise<T> {
  return channel().run((x) => {
    const check = asCheck(x);
    if (check) onCheck(check);
  }, fn);
}
