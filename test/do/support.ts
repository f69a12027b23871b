import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Command, CommandContext } from '../../tasks/commands/types.js';
import type { Clock } from '../../tasks/do/clock.js';
import { realSleep } from '../../tasks/do/clock.js';
import { MpimgError } from '../../core/errors.js';

/** A token shaped like a real one; tests assert it never shows up in any output. */
export const TOKEN = 'dop_v1_' + 'a1b2c3d4'.repeat(8);

export interface Captured {
  ctx: CommandContext;
  out: () => string;
  err: () => string;
  abort: AbortController;
}

export function captureContext(opts: { cwd: string; env: NodeJS.ProcessEnv; isTTY?: boolean }): Captured {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (b: Buffer) => {
    o += b.toString();
  });
  stderr.on('data', (b: Buffer) => {
    e += b.toString();
  });
  const abort = new AbortController();
  return {
    ctx: { cwd: opts.cwd, env: opts.env, stdout, stderr, isTTY: opts.isTTY ?? false, signal: abort.signal },
    out: () => o,
    err: () => e,
    abort,
  };
}

/** Runs a command the way tasks/cli.ts does: user-facing errors become stderr text and an exit code. */
export async function runCommand(cmd: Command, argv: string[], ctx: CommandContext): Promise<number> {
  try {
    return await cmd.run(argv, ctx);
  } catch (err) {
    if (err instanceof MpimgError) {
      ctx.stderr.write(`${err.format()}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

/** Real time, but sleeps are capped so the flows run in milliseconds; every requested wait is recorded. */
export function fastClock(capMs = 2): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => Date.now(),
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      await realSleep(Math.min(ms, capMs), signal);
    },
  };
}

/** Tiny bounds for the snapshot flow. */
export const FAST_TIMINGS = {
  pollMs: 2,
  shutdownResendMs: 10,
  shutdownTimeoutMs: 60,
  powerOffTimeoutMs: 2000,
  unlockTimeoutMs: 2000,
  snapshotTimeoutMs: 2000,
  imageTimeoutMs: 2000,
  activeTimeoutMs: 2000,
};

export const FAST_RETRY = { backoffMs: 1, maxBackoffMs: 4, pendingWaitMs: 1, requestTimeoutMs: 5000 };

export function tempDir(prefix = 'mpimg-do-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const MANIFEST = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.2.0',
  distributions: ['debian-12-x64'],
  build: { packages: ['nginx'] },
  droplet: { region: 'fra1' },
};

export function writeManifest(dir: string, m: unknown = MANIFEST): void {
  writeFileSync(join(dir, 'mpimg.json'), JSON.stringify(m, null, 2));
}

/** A clean env for the API: no HOME secrets, the double's URL, the token. */
export function apiEnv(url: string, home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    PATH: process.env.PATH,
    DIGITALOCEAN_API_URL: url,
    DIGITALOCEAN_ACCESS_TOKEN: TOKEN,
    ...extra,
  };
}
