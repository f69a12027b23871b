/**
 * For the tests of `mpimg images`: project folders with mpimg.json, removed after each test, and the
 * command run in one of them as the CLI runs it (no API, no token), its output captured.
 */
import { afterEach } from 'vitest';
import { main } from '../../tasks/cli.js';
import { captureContext, tempDir, writeManifest } from '../do/support.js';

/** Registers the clean-up; the function it returns makes a project folder and returns its path. */
export function projectsPerTest(prefix: string): () => string {
  const dirs: Array<{ cleanup: () => void }> = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));
  return () => {
    const t = tempDir(prefix);
    dirs.push(t);
    writeManifest(t.dir);
    return t.dir;
  };
}

/** `mpimg images ARGS` in `cwd`. */
export async function images(cwd: string, ...args: string[]) {
  const cap = captureContext({ cwd, env: { PATH: process.env.PATH } });
  const code = await main(['images', ...args], cap.ctx);
  return { code, out: cap.out(), err: cap.err() };
}
