import { inject } from 'vitest';
import type { Suite } from './rootfs.js';

/** What the e2e global setup prepared for this run. */
export interface E2eContext {
  /** Private folder of this run (droplets, projects, keys); removed at the end. */
  runRoot: string;
  /** Extracted root filesystem of each prepared suite (read-only lower layers). */
  bases: Partial<Record<Suite, string>>;
  /** How the root filesystems were obtained, for the timing report. */
  rootfs: Array<{ suite: Suite; tarball: string; built: boolean; buildMs: number; extractMs: number }>;
  repoRoot: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    mpimgE2e: E2eContext;
  }
}

export function e2eContext(): E2eContext {
  const ctx = inject('mpimgE2e');
  if (!ctx) throw new Error('the e2e global setup did not run: use `npm run test:e2e` (vitest.e2e.config.ts)');
  return ctx;
}

/** The extracted base of `suite`; fails loudly when it was not prepared. */
export function baseOf(suite: Suite): string {
  const base = e2eContext().bases[suite];
  if (!base) throw new Error(`root filesystem for ${suite} was not prepared (MPIMG_E2E_SUITES excludes it?)`);
  return base;
}
