/**
 * How the verify task reports a check: one line for people ([PASS]/[WARN]/[FAIL]/[SKIP] id: message,
 * with its detail lines) and, as data, to the run that collects them (verify-results.ts).
 */
import type { Connection } from '../ssh/connection.js';
import { reportVerifyCheck, type CheckStatus, type VerifyCheck } from './verify-results.js';

const TAG: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

/** Errors that mean the droplet cannot be reached any more: no later check could run either. */
export function fatal(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'SshError' || name === 'HostKeyError' || name === 'AbortError' || name === 'AbortedError';
}

export class Report {
  readonly checks: VerifyCheck[] = [];
  constructor(private readonly c: Connection) {}

  add(status: CheckStatus, id: string, message: string, details: string[] = []): void {
    // One line each: a message or detail never breaks the line format.
    const one = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, ' ');
    const check: VerifyCheck = { id, status, message: one(message), details: details.map(one) };
    this.checks.push(check);
    // As data for the run that asked (mpimg verify, image --verify); the lines below are for people.
    reportVerifyCheck(check);
    const lines = [
      `[${TAG[status]}] ${id}: ${check.message}`,
      ...check.details.slice(0, 10).map((d) => `       - ${d}`),
    ];
    if (check.details.length > 10) lines.push(`       - ... and ${check.details.length - 10} more`);
    this.c.stdout?.write(`${lines.join('\n')}\n`);
  }

  /** Runs one check; an unexpected error of it is its failure, not the end of the others. */
  async run(id: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (fatal(err)) throw err;
      this.add('fail', id, `could not be checked: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  count(s: CheckStatus): number {
    return this.checks.filter((c) => c.status === s).length;
  }
}
