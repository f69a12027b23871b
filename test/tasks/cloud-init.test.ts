import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTask, sshdPerFile } from '../helpers/sshd-run.js';
import { BASE_ENV } from '../../tasks/ssh/connection.js';
import { parseCloudInitStatus, waitCloudInit, type WaitCloudInitOptions } from '../../tasks/ssh/wait.js';
import type { MpimgError } from '../../core/errors.js';
import { connectTo } from './helpers.js';
import { makeTaskProject } from './fixture-project.js';

// waitCloudInit against the real sshd with a fake `cloud-init` first on the remote PATH (a temp dir).
// The fake plays a script of states, one per call (the last one repeats), in the output formats of
// old (status: only) and new (extended_status:) releases, and records how it was called. Like the
// real one, `status --wait` blocks while the state is "not run"/"running" (bounded to 60 s here).
const sshd = sshdPerFile();
let work: string;

const FAKE = `#!/bin/sh
set -eu
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
[ "\${1:-}" = status ] || { echo "fake cloud-init: status only" >&2; exit 3; }
long=0; wait=0
for a in "$@"; do case $a in --long|-l) long=1 ;; --wait|-w) wait=1 ;; esac; done
next() {
  n=$(cat "$dir/n" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$dir/n"
  line=$(sed -n "\${n}p" "$dir/states"); [ -n "$line" ] || line=$(tail -n 1 "$dir/states")
  status=\${line%%|*}; rest=\${line#*|}; ext=\${rest%%|*}; code=\${rest#*|}
}
next
if [ "$wait" = 1 ]; then
  i=0
  while [ "$i" -lt 120 ]; do
    case $status in "not run"|"not started"|running) ;; *) break ;; esac
    printf .; sleep 0.5; i=$((i + 1)); next
  done
  echo
fi
echo "status: $status"
if [ "$long" = 1 ]; then
  if [ -n "$ext" ]; then
    printf 'extended_status: %s\\nboot_status_code: enabled-by-generator\\ndetail: DataSourceFake\\nerrors: []\\nrecoverable_errors: {}\\n' "$ext"
  else
    printf 'time: Mon, 01 Dec 2025 10:00:00 +0000\\ndetail:\\nDataSourceFake\\n'
  fi
fi
exit "$code"
`;

/** A fake cloud-init playing these states ("status|extended_status|exit code" per call). */
function fakeCloudInit(states: string[]): { path: string; calls: () => string[] } {
  const dir = mkdtempSync(join(work, 'ci-'));
  writeFileSync(join(dir, 'cloud-init'), FAKE, { mode: 0o755 });
  writeFileSync(join(dir, 'states'), `${states.join('\n')}\n`);
  return {
    path: `${dir}:${BASE_ENV.PATH}`,
    calls: () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n'),
  };
}

async function wait(states: string[], opts: WaitCloudInitOptions = {}) {
  const fake = fakeCloudInit(states);
  const { c, err } = connectTo(sshd, { stdout: null, env: { PATH: fake.path } });
  const t0 = Date.now();
  let error: MpimgError | undefined;
  try {
    await waitCloudInit(c, { pollMs: 100, notRunGraceMs: 1000, progressMs: 400, ...opts });
  } catch (e) {
    error = e as MpimgError;
  } finally {
    c.close();
  }
  return { error, text: error?.format() ?? '', log: err.text, ms: Date.now() - t0, calls: fake.calls() };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mpimg-tasks-ci-'));
});

afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('waitCloudInit', () => {
  it('"not run" that stays so fails quickly (the grace), not after the whole bound, and never calls --wait', async () => {
    const r = await wait(['not run||0'], { timeoutMs: 60_000, notRunGraceMs: 1200 });
    expect(r.text).toMatch(/cloud-init has not run on root@127\.0\.0\.1:\d+ \(status "not run" for 1\.\ds\)/);
    expect(r.text).toMatch(/fix: .*fresh droplet.*--cloud-init-timeout 0/);
    expect(r.ms).toBeLessThan(8000);
    expect(r.calls.every((a) => a === 'status --long')).toBe(true);
    // The newer spelling of the same state.
    const n = await wait(['not started|not started|0'], { timeoutMs: 60_000, notRunGraceMs: 500 });
    expect(n.text).toMatch(/has not run .*\(status "not started" for/);
  });

  it('running, then done: waits and goes on, with progress lines naming the state and the time', async () => {
    const r = await wait(
      [
        'not run||0',
        'running|running|0',
        'running|running|0',
        'running|running|0',
        'running|running|0',
        'running|running|0',
        'running|running|0',
        'done|done|0',
      ],
      { timeoutMs: 50_000 },
    );
    expect(r.error).toBeUndefined();
    expect(r.log).toMatch(/waiting for cloud-init to finish the first boot \(up to 50\.0s\)/);
    // (the first poll is an ssh login: seconds on a busy machine)
    expect(r.log).toMatch(/cloud-init: not run \([\d.]+m?s elapsed\)/);
    expect(r.log).toMatch(/cloud-init: running \([\d.]+m?s elapsed\)/);
    // Progress repeats while the state stays the same (every progressMs).
    expect((r.log.match(/cloud-init: running/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(r.log).toMatch(/cloud-init is done \(waited [\d.]+s\)/);
    expect(r.calls).toHaveLength(8);
  });

  it('"running" at the bound fails, naming the state and the bound, within the bound', async () => {
    const r = await wait(['running|running|0'], { timeoutMs: 1500 });
    expect(r.text).toMatch(
      /cloud-init is still "running" on root@127\.0\.0\.1:\d+ after 1\.5s \(the bound of the wait\)/,
    );
    expect(r.text).toMatch(/--cloud-init-timeout <seconds> or MPIMG_CLOUD_INIT_TIMEOUT/);
    expect(r.ms).toBeGreaterThanOrEqual(1400);
    expect(r.ms).toBeLessThan(5000);
  });

  it('error (old: status error, exit 1; new: extended "error - done") fails with the logs to read', async () => {
    for (const state of ['error||1', 'error|error - done|1', 'done|done|1']) {
      const r = await wait([state], { timeoutMs: 10_000 });
      expect(r.text, state).toMatch(
        /cloud-init reported "(error|error - done|done)" on root@127\.0\.0\.1:\d+ \(exit code 1\)/,
      );
      expect(r.text, state).toMatch(/\/var\/log\/cloud-init-output\.log/);
      expect(r.ms, state).toBeLessThan(5000);
    }
  });

  it('disabled fails at once, saying why it matters and how to go on anyway', async () => {
    const r = await wait(['disabled|disabled|0'], { timeoutMs: 60_000 });
    expect(r.text).toMatch(/cloud-init is disabled on root@127\.0\.0\.1:\d+ \(status "disabled"\)/);
    expect(r.text).toMatch(/first-boot scripts need cloud-init[\s\S]*--cloud-init-timeout 0/);
    expect(r.ms).toBeLessThan(5000);
    expect(r.calls).toHaveLength(1);
  });

  it('recoverable errors (exit 2, or "degraded done" with exit 0) warn and go on', async () => {
    for (const state of ['done|degraded done|2', 'done|degraded done|0', 'done||2']) {
      const r = await wait([state], { timeoutMs: 10_000 });
      expect(r.error, state).toBeUndefined();
      expect(r.log, state).toMatch(
        /warning: cloud-init finished with recoverable errors \("(degraded done|done)", exit code [02]\)/,
      );
      expect(r.log, state).toMatch(/\[?.*status: done/);
    }
    // "degraded running" is still running: wait on.
    const r = await wait(['done|degraded running|2', 'done|done|0'], { timeoutMs: 10_000 });
    expect(r.error).toBeUndefined();
    expect(r.log).toMatch(/cloud-init: degraded running/);
    expect(r.log).toMatch(/cloud-init is done/);
  });

  it('a host without cloud-init has nothing to wait for; timeout 0 skips the wait', async () => {
    const empty = mkdtempSync(join(work, 'nopath-'));
    const { c, err } = connectTo(sshd, { stdout: null, env: { PATH: empty } });
    try {
      await waitCloudInit(c);
      expect(err.text).toContain('cloud-init is not installed: nothing to wait for');
      const fake = fakeCloudInit(['running|running|0']);
      await waitCloudInit(c, { timeoutMs: 0, env: { PATH: fake.path } });
      expect(err.text).toContain('not waiting for cloud-init (timeout 0)');
      expect(() => fake.calls()).toThrow();
    } finally {
      c.close();
    }
  });
});

describe('parseCloudInitStatus', () => {
  it('reads old and new output and exit codes', () => {
    expect(parseCloudInitStatus('status: done\ntime: x\n', 0).state).toBe('done');
    expect(parseCloudInitStatus('status: done\nextended_status: degraded done\n', 0)).toEqual({
      state: 'degraded',
      reported: 'degraded done',
    });
    expect(parseCloudInitStatus('status: done\n', 2).state).toBe('degraded');
    expect(parseCloudInitStatus('status: running\nextended_status: error - running\n', 1).state).toBe('error');
    expect(parseCloudInitStatus('status: not run\n', 0).state).toBe('not run');
    expect(parseCloudInitStatus('\n..........\nstatus: running\n', 0).state).toBe('running');
    expect(parseCloudInitStatus('Traceback (most recent call last):\n', 1)).toEqual({
      state: 'error',
      reported: 'exit code 1, no status line',
    });
    expect(parseCloudInitStatus('status: something new\n', 0).state).toBe('unknown');
  });
});

describe('mpimg run --cloud-init-timeout and MPIMG_CLOUD_INIT_TIMEOUT', () => {
  let project: string;
  beforeAll(async () => {
    // The task passes only the PATH of the fake (and fast polling): the bound comes from the CLI.
    project = await makeTaskProject(`import { task, waitCloudInit } from 'generator-mpimg/tasks';
export const waitFake = task('wait-fake', 'wait for the fake cloud-init', (c) =>
  waitCloudInit(c, { env: { PATH: process.env.FAKE_CLOUD_INIT_PATH }, pollMs: 100 }));
`);
  });
  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  async function runWait(flag: string[], env: Record<string, string> = {}) {
    const fake = fakeCloudInit(['running|running|0']);
    const t0 = Date.now();
    const r = await runTask(sshd, 'wait-fake', {
      cwd: project,
      env: { FAKE_CLOUD_INIT_PATH: fake.path, ...env },
      args: flag,
      waitAttempts: 2,
    });
    return { code: r.code, err: r.err, ms: Date.now() - t0, envAfter: r.envAfter.MPIMG_CLOUD_INIT_TIMEOUT };
  }

  it('the flag bounds the wait (and wins over the environment)', async () => {
    const r = await runWait(['--cloud-init-timeout', '1'], { MPIMG_CLOUD_INIT_TIMEOUT: '900' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: cloud-init is still "running" on root@127\.0\.0\.1:\d+ after 1\.0s/);
    expect(r.ms).toBeLessThan(10_000);
    // The CLI put the caller's value back.
    expect(r.envAfter).toBe('900');
  });

  it('MPIMG_CLOUD_INIT_TIMEOUT bounds it without the flag; bad values are refused clearly', async () => {
    const r = await runWait([], { MPIMG_CLOUD_INIT_TIMEOUT: '1' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/still "running" .* after 1\.0s/);
    const bad = await runWait([], { MPIMG_CLOUD_INIT_TIMEOUT: '10m' });
    expect(bad.err).toMatch(/MPIMG_CLOUD_INIT_TIMEOUT must be a whole number of seconds, got "10m"/);
    await expect(runWait(['--cloud-init-timeout', 'ten'])).rejects.toThrow(
      /--cloud-init-timeout must be a whole number/,
    );
  });

  it('--cloud-init-timeout 0 skips the wait', async () => {
    const r = await runWait(['--cloud-init-timeout', '0']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('not waiting for cloud-init (timeout 0)');
  });
});
