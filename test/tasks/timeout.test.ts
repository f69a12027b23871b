import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createSshd } from '../helpers/sshd.js';
import { sshdPerFile } from '../helpers/sshd-run.js';
import { CommandTimeoutError } from '../../tasks/ssh/errors.js';
import type { Connection } from '../../tasks/ssh/connection.js';
import { connectTo, type Capture } from './helpers.js';

// A command that outlives its timeoutMs must not keep running on the "droplet" (this machine: the
// test sshd logs in as root here). The sleeps use odd, unique durations so pgrep finds only ours.
const sshd = sshdPerFile();
let c: Connection;
let err: Capture;

/** Pids of processes whose whole command line is exactly `cmd`. */
function pids(cmd: string): number[] {
  const r = spawnSync('pgrep', ['-x', '-f', cmd], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

const OURS = ['sleep 3171', 'sleep 3172', 'sleep 3173', 'sleep 3174', 'sleep 3175', 'sleep 3176', 'sleep 3179'];

beforeAll(async () => {
  ({ c, err } = connectTo(sshd, { stdout: null }));
});

afterAll(async () => {
  // Should there be survivors (a regression), end exactly those by pid so they do not linger.
  for (const cmd of OURS)
    for (const pid of pids(cmd)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  c?.close();
});

describe('RunOptions.timeoutMs', () => {
  it('kills the remote process group and reports a timeout, not an exit code', async () => {
    const t0 = Date.now();
    const e = await c.run('echo started; sleep 3171 & sleep 3172', { timeoutMs: 1500 }).then(
      () => null,
      (x: unknown) => x,
    );
    const took = Date.now() - t0;
    expect(pids('sleep 3171')).toEqual([]);
    expect(pids('sleep 3172')).toEqual([]);
    expect(e).toBeInstanceOf(CommandTimeoutError);
    const te = e as CommandTimeoutError;
    expect(te.remoteStopped).toBe(true);
    expect(te.message).toBe('remote command timed out after 1.5s and was stopped');
    const text = te.format();
    expect(text).toContain('command: echo started; sleep 3171 & sleep 3172');
    expect(text).toContain('timeout: 1.5s (timeoutMs), its processes on the host were killed');
    expect(text).not.toMatch(/exit code/);
    expect(text).toContain('| started');
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(10_000);
    // The marker line that names the process group is not part of the output.
    expect(err.text).not.toContain('mpimg-pgid');
    expect(te.lastLines.join('\n')).not.toContain('mpimg-pgid');
    // The connection is still fine afterwards.
    expect((await c.run('echo after', { quiet: true })).stdout).toBe('after\n');
  });

  it('with check: false, resolves with timedOut and exit code 124; TERM-ignoring processes get KILL', async () => {
    const cmd = "trap '' TERM; sleep 3173 & sleep 3174";
    const r = await c.run(cmd, { timeoutMs: 800, check: false, quiet: true });
    expect(pids('sleep 3173')).toEqual([]);
    expect(pids('sleep 3174')).toEqual([]);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(124);
    expect(r.ok).toBe(false);
    const fine = await c.run('exit 0', { timeoutMs: 5000, quiet: true });
    expect(fine.timedOut).toBe(false);
  });

  it('the abort signal (Ctrl-C in the CLI) stops the remote command as well', async () => {
    const ac = new AbortController();
    const { c: ca } = connectTo(sshd, { stdout: null, stderr: null, signal: ac.signal });
    try {
      await ca.run('true', { quiet: true });
      setTimeout(() => ac.abort(), 700);
      const e = await ca.run('sleep 3175 & sleep 3176', { quiet: true }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(pids('sleep 3175')).toEqual([]);
      expect(pids('sleep 3176')).toEqual([]);
      expect((e as Error)?.name).toBe('AbortError');
    } finally {
      ca.close();
    }
  });

  it('a host that never names the process group still times out promptly, saying the command may still run', async () => {
    // This server ignores the command it is sent (ForceCommand), so the process-group line never comes.
    const s = await createSshd({ extraConfig: 'ForceCommand exec sleep 3179' });
    await s.start();
    const { c: cs } = connectTo(s, { stdout: null, stderr: null });
    try {
      const t0 = Date.now();
      const e = await cs.run('echo never', { timeoutMs: 1000 }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(e).toBeInstanceOf(CommandTimeoutError);
      expect((e as CommandTimeoutError).remoteStopped).toBe(false);
      expect((e as CommandTimeoutError).format()).toMatch(
        /timed out after 1\.0s\n[\s\S]*may still run[\s\S]*fix: the command could NOT be stopped on the host/,
      );
    } finally {
      cs.close();
      await s.stop();
      for (const pid of pids('sleep 3179')) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  });
});
