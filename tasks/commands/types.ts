import type { CommandContext } from '../context.js';

// The context lives below the CLI layer: library code (tasks/import/) takes it too.
export type { CommandContext };

export interface Command {
  name: string;
  /** One line for `mpimg --help`. */
  summary: string;
  /** Full usage text for `mpimg <name> --help`. */
  usage: string;
  /** Returns the exit code. Throw MpimgError/UsageError for user-facing failures. */
  run(argv: string[], ctx: CommandContext): Promise<number>;
}
