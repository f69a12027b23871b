import { MpimgError } from '../../core/errors.js';
import { HostKeyError } from './errors.js';
import { formatDuration } from './output.js';
import type { Connection } from './connection.js';

export interface WaitForSshOptions {
  /** How many connection attempts before giving up. Default 30. */
  attempts?: number;
  /** Pause between attempts in milliseconds. Default 2000. */
  delayMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    // The listener goes when the pause ends: a long wait must not pile them up on one signal.
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Waits until the host accepts an SSH session (a fresh droplet needs a while), with a bounded number
 * of attempts. A host-key problem is never retried. The successful attempt opens the shared connection.
 */
export async function waitForSsh(c: Connection, opts: WaitForSshOptions = {}): Promise<void> {
  const attempts = Math.max(1, opts.attempts ?? 30);
  const delayMs = opts.delayMs ?? 2000;
  let last = '';
  for (let i = 1; i <= attempts; i++) {
    try {
      const r = await c.run('true', { quiet: true, echo: false, check: false });
      if (r.exitCode === 0) {
        if (i > 1) c.log(`ssh is up (attempt ${i})`);
        return;
      }
      last = r.stderr.trim().split('\n').pop() ?? `exit code ${r.exitCode}`;
    } catch (err) {
      if (err instanceof HostKeyError || (err as Error)?.name === 'HostKeyError') throw err;
      if (!(err instanceof MpimgError) && (err as Error)?.name !== 'SshError') throw err;
      last = (err as Error).message;
    }
    if (i < attempts) {
      c.log(`waiting for ssh on ${c.target} (attempt ${i}/${attempts}): ${last}`);
      await sleep(delayMs, opts.signal);
    }
  }
  throw new MpimgError(`ssh on ${c.target} did not answer after ${attempts} attempts`, {
    where: c.target,
    hint: `last error: ${last || 'none'}. Check the address, the port, the firewall and that your key is authorized`,
  });
}

export interface WaitCloudInitOptions {
  /**
   * Upper bound of the wait in milliseconds; 0 skips the wait. Default: MPIMG_CLOUD_INIT_TIMEOUT
   * (seconds; `mpimg run --cloud-init-timeout` sets it for the run), else 10 minutes.
   */
  timeoutMs?: number;
  /** How long cloud-init may report "not run" / "not started" before the wait fails. Default 60 s. */
  notRunGraceMs?: number;
  /** Pause between two `cloud-init status` calls. Default 5 s. */
  pollMs?: number;
  /** A progress line at least this often while waiting. Default 30 s. */
  progressMs?: number;
  /** Added to the environment of the status commands (e.g. PATH). */
  env?: Record<string, string>;
  /** Stops the wait; default: the connection's signal. */
  signal?: AbortSignal;
}

export const CLOUD_INIT_TIMEOUT_ENV = 'MPIMG_CLOUD_INIT_TIMEOUT';
const DEFAULT_CLOUD_INIT_TIMEOUT_MS = 10 * 60_000;

/** What one `cloud-init status --long` said, reduced to what the wait acts on. */
export type CloudInitState = 'absent' | 'not run' | 'running' | 'done' | 'degraded' | 'error' | 'disabled' | 'unknown';

/**
 * Reads `cloud-init status --long` output and its exit code. Old releases print `status: X` (not run,
 * running, done, error, disabled); 23.4+ add `extended_status:` (degraded done, degraded running,
 * error - done, ...), say "not started" for "not run", and exit 2 for recoverable errors and 1 for
 * hard ones (some distributions patch the 2 back to 0, so extended_status is read first).
 */
export function parseCloudInitStatus(text: string, exitCode: number): { state: CloudInitState; reported: string } {
  const ext = /^\s*extended_status:\s*(.+?)\s*$/m.exec(text)?.[1];
  const plain = /^\s*status:\s*(.+?)\s*$/m.exec(text)?.[1];
  const reported = (ext ?? plain ?? '').toLowerCase();
  let state: CloudInitState;
  if (/^error\b/.test(reported) || plain?.toLowerCase() === 'error') state = 'error';
  else if (/^(degraded )?running$/.test(reported)) state = 'running';
  else if (reported === 'not run' || reported === 'not started') state = 'not run';
  else if (reported === 'disabled') state = 'disabled';
  else if (reported === 'degraded done') state = 'degraded';
  else if (reported === 'done') state = exitCode === 2 ? 'degraded' : 'done';
  else state = 'unknown';
  // A hard error is exit 1 whatever the text says, unless cloud-init is still on its way.
  if (exitCode === 1 && state !== 'running' && state !== 'not run') state = 'error';
  return { state, reported: reported || (exitCode ? `exit code ${exitCode}, no status line` : 'no status line') };
}

function timeoutFromEnv(): number | undefined {
  const v = process.env[CLOUD_INIT_TIMEOUT_ENV];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim())) {
    throw new MpimgError(`${CLOUD_INIT_TIMEOUT_ENV} must be a whole number of seconds, got ${JSON.stringify(v)}`, {
      where: CLOUD_INIT_TIMEOUT_ENV,
      hint: `e.g. ${CLOUD_INIT_TIMEOUT_ENV}=900 (15 minutes); 0 skips the wait for cloud-init`,
    });
  }
  return Number(v.trim()) * 1000;
}

/** One poll. Exits 0 whenever it ran: the status and cloud-init's exit code travel in the output. */
export const CLOUD_INIT_STATUS_SCRIPT = [
  'if ! command -v cloud-init >/dev/null 2>&1; then echo "mpimg-cloud-init: absent"; exit 0; fi',
  'cloud-init status --long 2>&1',
  'echo "mpimg-cloud-init-exit: $?"',
].join('\n');

interface CloudInitPoll {
  state: CloudInitState;
  reported: string;
  /** cloud-init's exit code. */
  code: number;
  /** What `cloud-init status --long` printed. */
  text: string;
}

/** One poll of cloud-init's status; undefined when cloud-init is not installed. */
async function pollCloudInit(
  c: Connection,
  env: Record<string, string> | undefined,
): Promise<CloudInitPoll | undefined> {
  const r = await c.run(CLOUD_INIT_STATUS_SCRIPT, { quiet: true, echo: false, env, timeoutMs: 60_000 });
  if (/^mpimg-cloud-init: absent$/m.test(r.stdout)) return undefined;
  const exitMatch = /^mpimg-cloud-init-exit: (\d+)$/m.exec(r.stdout);
  const code = exitMatch ? Number(exitMatch[1]) : 1;
  const text = r.stdout.replace(/^mpimg-cloud-init-exit: \d+\n?/m, '').trimEnd();
  return { ...parseCloudInitStatus(text, code), code, text };
}

const LOGS_HINT =
  'look at `cloud-init status --long`, /var/log/cloud-init.log and /var/log/cloud-init-output.log on the host';

/** The error for a state the wait cannot go on from (error, disabled); undefined for the others. */
function finalError(p: CloudInitPoll, where: string): MpimgError | undefined {
  if (p.state === 'error') {
    return new MpimgError(`cloud-init reported "${p.reported}" on ${where} (exit code ${p.code})`, {
      where,
      hint: `${LOGS_HINT}; a droplet whose first boot failed is best destroyed and created again`,
    });
  }
  if (p.state === 'disabled') {
    return new MpimgError(`cloud-init is disabled on ${where} (status "disabled"): it will not run on this boot`, {
      where,
      hint: "build on a fresh droplet of a stock image; the image's first-boot scripts need cloud-init. Check /etc/cloud/cloud-init.disabled and the kernel command line (cloud-init=disabled). To build anyway without waiting: --cloud-init-timeout 0",
    });
  }
  return undefined;
}

/** How long to wait at most (ms): the option, else the environment, else the default; 0 skips the wait. */
function waitBound(opts: WaitCloudInitOptions): number {
  const bound = opts.timeoutMs ?? timeoutFromEnv() ?? DEFAULT_CLOUD_INIT_TIMEOUT_MS;
  if (!Number.isFinite(bound) || bound < 0) {
    throw new MpimgError(`bad cloud-init timeout ${bound}`, {
      where: 'waitCloudInit',
      hint: 'give milliseconds >= 0 (0 skips the wait)',
    });
  }
  return bound;
}

/**
 * Waits, within a bound, for cloud-init to finish the first boot, so the build does not race it for
 * the apt/dnf locks. Polls `cloud-init status --long` (never `--wait`, which waits forever where
 * cloud-init never runs), with a progress line every ~30 s. Goes on when cloud-init is done, is not
 * installed (nothing to wait for), or finished with recoverable errors (a warning). Fails, naming the
 * state, on "error", "disabled", "not run" for longer than the grace, or "running" at the bound.
 */
export async function waitCloudInit(c: Connection, opts: WaitCloudInitOptions = {}): Promise<void> {
  const bound = waitBound(opts);
  if (bound === 0) {
    c.log('not waiting for cloud-init (timeout 0)');
    return;
  }
  const grace = opts.notRunGraceMs ?? 60_000;
  const pollMs = Math.max(10, opts.pollMs ?? 5000);
  const progressMs = opts.progressMs ?? 30_000;
  const start = Date.now();
  const elapsed = () => Date.now() - start;
  const where = c.target;
  c.log(`waiting for cloud-init to finish the first boot (up to ${formatDuration(bound)})`);

  let lastState: CloudInitState | undefined;
  let lastProgress = 0;
  let notRunSince: number | undefined;
  for (;;) {
    const p = await pollCloudInit(c, opts.env);
    if (!p) {
      c.log('cloud-init is not installed: nothing to wait for');
      return;
    }
    const show = () =>
      p.text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .forEach((l) => c.log(`  ${l}`));
    const now = elapsed();
    if (p.state !== lastState || now - lastProgress >= progressMs) {
      if (lastState !== undefined || p.state !== 'done')
        c.log(`cloud-init: ${p.reported} (${formatDuration(now)} elapsed)`);
      lastProgress = now;
    }
    lastState = p.state;
    if (p.state === 'done') {
      c.log(`cloud-init is done${now >= 1000 ? ` (waited ${formatDuration(now)})` : ''}`);
      return;
    }
    if (p.state === 'degraded') {
      show();
      c.log(
        `warning: cloud-init finished with recoverable errors ("${p.reported}", exit code ${p.code}): see the status above; going on`,
      );
      return;
    }
    const fatal = finalError(p, where);
    if (fatal) {
      show();
      throw fatal;
    }
    if (p.state === 'not run') {
      notRunSince ??= now;
      if (now - notRunSince >= grace) {
        show();
        throw new MpimgError(
          `cloud-init has not run on ${where} (status "${p.reported}" for ${formatDuration(now - notRunSince)})`,
          {
            where,
            hint: 'this host did not boot through cloud-init (not a fresh droplet, or cloud-init is broken): build on a fresh droplet, or skip the wait with --cloud-init-timeout 0',
          },
        );
      }
    } else notRunSince = undefined;

    const left = bound - elapsed();
    if (left <= 0) {
      show();
      throw new MpimgError(
        `cloud-init is still "${p.reported}" on ${where} after ${formatDuration(bound)} (the bound of the wait)`,
        {
          where,
          hint: `${LOGS_HINT}; if its first boot is only slow, raise the bound: --cloud-init-timeout <seconds> or ${CLOUD_INIT_TIMEOUT_ENV}`,
        },
      );
    }
    await sleep(Math.min(pollMs, left), opts.signal ?? c.signal);
  }
}
