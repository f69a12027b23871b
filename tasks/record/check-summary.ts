/**
 * The image check's counts, taken from its output when the check step runs (its "Summary: N passed,
 * N warnings, N failed, N skipped" line) and kept on the connection for the record step. A symbol of
 * the global registry: the CLI's and the project's copies of the library share it.
 */
import type { Connection } from '../ssh/connection.js';
import type { CheckSummary } from './types.js';

const KEY = Symbol.for('generator-mpimg.check-summary');

/** The counts of the check's Summary line (the last one), or null when the output has none. */
export function parseCheckSummary(output: string): CheckSummary | null {
  const all = [...output.matchAll(/^Summary: (\d+) passed, (\d+) warnings?, (\d+) failed, (\d+) skipped\s*$/gm)];
  const m = all.at(-1);
  return m ? { pass: Number(m[1]), warn: Number(m[2]), fail: Number(m[3]), skip: Number(m[4]) } : null;
}

export function noteCheckOutput(c: Connection, output: string): void {
  (c as unknown as Record<symbol, unknown>)[KEY] = parseCheckSummary(output);
}

export function checkSummaryOf(c: Connection): CheckSummary | null {
  return ((c as unknown as Record<symbol, unknown>)[KEY] as CheckSummary | null | undefined) ?? null;
}
