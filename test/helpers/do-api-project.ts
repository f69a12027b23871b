/**
 * The set-up of the tests of the DigitalOcean commands: for each test, the API double (accepting the
 * test token) and a project folder holding mpimg.json, both gone after the test; and a command run
 * as tasks/cli.ts runs it, in that folder, against that double, its output captured.
 */
import { afterEach, beforeEach } from 'vitest';
import type { Command } from '../../tasks/commands/types.js';
import { MANIFEST, TOKEN, apiEnv, captureContext, runCommand, tempDir, writeManifest } from '../do/support.js';
import { DoApiDouble } from './do-api-double.js';
import { standIn } from './stand-in.js';

export interface ApiProject {
  /** The double of this test (valid inside a test or a beforeEach registered after this call). */
  api: DoApiDouble;
  /** The project folder of this test; `dir` changes from test to test. */
  project: { dir: string; cleanup: () => void };
  /** `cmd` in the project folder with the double's URL and the token (or `env`), output captured. */
  runner(cmd: Command, opts?: { env?: NodeJS.ProcessEnv; isTTY?: boolean }): CommandRunner;
}

export interface CommandRunner {
  cap: ReturnType<typeof captureContext>;
  run: (argv?: string[]) => Promise<number>;
}

/**
 * Registers the per-test hooks. `manifest` is written as mpimg.json (MANIFEST when absent; none when
 * false); `prepare` sets up the double (keys, apps, timings) before the test.
 */
export function apiDoublePerTest(opts: {
  prefix: string;
  manifest?: unknown;
  prepare?: (api: DoApiDouble) => void;
}): ApiProject {
  let current: DoApiDouble | undefined;
  let dir: { dir: string; cleanup: () => void } | undefined;
  const project = {
    get dir(): string {
      if (!dir) throw new Error('the project folder is made per test: read project.dir inside a test or a hook');
      return dir.dir;
    },
    cleanup: () => dir?.cleanup(),
  };
  beforeEach(async () => {
    current = await DoApiDouble.start(TOKEN);
    opts.prepare?.(current);
    dir = tempDir(opts.prefix);
    if (opts.manifest !== false) writeManifest(dir.dir, opts.manifest ?? MANIFEST);
  });
  afterEach(async () => {
    try {
      // close() fails the test when the double saw a departure from the API contract
      await current?.close();
    } finally {
      project.cleanup();
      current = undefined;
      dir = undefined;
    }
  });
  const api = standIn('the API double', () => current, DoApiDouble.prototype);
  return {
    api,
    project,
    runner(cmd, o = {}) {
      const cap = captureContext({ cwd: project.dir, env: o.env ?? apiEnv(api.url, project.dir), isTTY: o.isTTY });
      return { cap, run: (argv: string[] = []) => runCommand(cmd, argv, cap.ctx) };
    },
  };
}
