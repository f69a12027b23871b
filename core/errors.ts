/**
 * A user-facing error: what went wrong, where (file, field, line or option) and how to fix it.
 * The CLI prints it without a stack trace and exits with `exitCode`.
 */
export class MpimgError extends Error {
  readonly where?: string;
  readonly hint?: string;
  readonly exitCode: number;
  /** The problems a listing message was made of, each with its own path and fix (`validate --json`). */
  readonly problems?: ReadonlyArray<{ path: string; message: string; hint: string }>;
  constructor(
    message: string,
    opts: { where?: string; hint?: string; exitCode?: number; problems?: MpimgError['problems'] } = {},
  ) {
    super(message);
    this.name = 'MpimgError';
    this.where = opts.where;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
    this.problems = opts.problems;
  }
  format(): string {
    const lines = [`error: ${this.message}`];
    if (this.where) lines.push(`  where: ${this.where}`);
    if (this.hint) lines.push(`  fix: ${this.hint}`);
    return lines.join('\n');
  }
}

/** Wrong flags or arguments: exit 2, like most CLIs. */
export class UsageError extends MpimgError {
  constructor(message: string, hint?: string) {
    super(message, { hint, exitCode: 2 });
    this.name = 'UsageError';
  }
}
