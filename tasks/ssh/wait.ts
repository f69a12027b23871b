import { MpimgError } from '../errors.js';
import { HostKeyError } from './errors.js';
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
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
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

/**
 * Waits for cloud-init to finish its first boot (`cloud-init status --wait`) so the build does not race
 * it for apt/dnf locks. Exit 2 (finished with recoverable errors) is reported and accepted; a host
 * without cloud-init has nothing to wait for.
 */
export async function waitCloudInit(c: Connection): Promise<void> {
  c.log('$ cloud-init status --wait');
  const r = await c.run(
    'if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null; s=$?; cloud-init status --long || true; exit $s; else echo "cloud-init is not installed: nothing to wait for"; fi',
    { check: false, echo: false },
  );
  if (r.exitCode === 2) {
    c.log('cloud-init finished with recoverable errors (exit 2): see `cloud-init status --long` above; going on');
    return;
  }
  if (r.exitCode !== 0) {
    throw new MpimgError(`cloud-init failed on ${c.target} (exit code ${r.exitCode})`, {
      where: c.target,
      hint: 'look at /var/log/cloud-init.log and /var/log/cloud-init-output.log on the droplet; recreate it if its first boot failed',
    });
  }
}
