/**
 * A user-facing error: what went wrong, where (file, field, line or option) and how to fix it.
 * The CLI prints it without a stack trace and exits with `exitCode`.
 */
export class MpimgError extends Error {
  readonly where?: string;
  readonly hint?: string;
  readonly exitCode: number;
  constructor(message: string, opts: { where?: string; hint?: string; exitCode?: number } = {}) {
    super(message);
    this.name = 'MpimgError';
    this.where = opts.where;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
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
