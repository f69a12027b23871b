import type { Writable } from 'node:stream';

/** What a command gets from the CLI: no globals, so tests can drive commands in-process. */
export interface CommandContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
  /** true when stdout is a terminal (progress bars, colour); false in CI and pipes. */
  isTTY: boolean;
  /** Cancelled on SIGINT/SIGTERM so long-running commands can clean up (e.g. destroy a droplet). */
  signal: AbortSignal;
}
