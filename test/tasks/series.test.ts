import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sshdPerFile } from '../helpers/sshd-run.js';
import { task, series, collectTasks, isTask } from '../../tasks/ssh/task.js';
import { formatTimings } from '../../tasks/ssh/output.js';
import { CommandError } from '../../tasks/ssh/errors.js';
import { connectTo } from './helpers.js';

const sshd = sshdPerFile();
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mpimg-tasks-series-'));
});

afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('task() and series()', () => {
  it('runs a whole series over ONE TCP connection, prefixing output and timing each task', async () => {
    const before = sshd.acceptedConnections();
    const { c, out, err } = connectTo(sshd);
    const local = join(work, 'payload.txt');
    writeFileSync(local, 'payload\n');
    const steps = Array.from({ length: 8 }, (_, i) =>
      task(`step-${i}`, `step number ${i}`, async (cx) => {
        await cx.run(`echo "from step ${i}"`);
      }),
    );
    const copy = task('copy', 'copy a file', async (cx) => {
      await cx.put(local, join(work, 'dest', 'payload.txt'), { mode: 0o644 });
      await cx.get(join(work, 'dest', 'payload.txt'), join(work, 'back.txt'));
      if (!(await cx.exists(join(work, 'dest')))) throw new Error('dest missing');
    });
    const all = task('all', 'everything', series(...steps, copy));
    try {
      await all(c);
    } finally {
      c.close();
    }
    expect(sshd.acceptedConnections() - before).toBe(1);
    expect(readFileSync(join(work, 'back.txt'), 'utf8')).toBe('payload\n');
    expect(out.text).toContain('[step-3] from step 3\n');
    expect(err.text).toContain('[step-3] > step-3: step number 3');
    expect(err.text).toMatch(/\[all\] done in \d/);
    expect(c.timings.map((t) => t.name)).toEqual(['all', ...steps.map((s) => s.taskName), 'copy']);
    expect(c.timings.map((t) => t.depth)).toEqual([0, ...steps.map(() => 1), 1]);
    expect(c.timings.every((t) => t.ok)).toBe(true);
    const table = formatTimings(c.timings);
    expect(table).toMatch(/^timings:\n/);
    expect(table).toMatch(/\n {4}step-0 +\d.*ok\n/);
  });

  it('stops at the first failing step and records which task failed', async () => {
    const { c, err } = connectTo(sshd);
    const ran: string[] = [];
    const a = task('first', 'ok', async () => {
      ran.push('first');
    });
    const b = task('second', 'fails', async (cx) => {
      ran.push('second');
      await cx.run('echo about to fail; exit 4');
    });
    const d = task('third', 'never', async () => {
      ran.push('third');
    });
    let e: unknown;
    try {
      await task('chain', 'a chain', series(a, b, d))(c);
    } catch (x) {
      e = x;
    } finally {
      c.close();
    }
    expect(ran).toEqual(['first', 'second']);
    expect(e).toBeInstanceOf(CommandError);
    expect((e as CommandError).task).toBe('second');
    expect((e as CommandError).remoteExitCode).toBe(4);
    expect((e as CommandError).lastLines).toEqual(['about to fail']);
    expect(err.text).toMatch(/\[second\] FAILED after/);
    expect(c.timings.find((t) => t.name === 'second')?.ok).toBe(false);
    expect(c.timings.find((t) => t.name === 'chain')?.ok).toBe(false);
  });

  it('finds exported tasks by name and rejects bad names and duplicates', () => {
    const a = task('build', 'Build it', () => undefined);
    const b = task('check', 'Check it', () => undefined);
    const found = collectTasks({ a, b, helper: () => 1, list: [a], value: 3 });
    expect([...found.keys()]).toEqual(['build', 'check']);
    expect(isTask(a)).toBe(true);
    expect(isTask(() => undefined)).toBe(false);
    expect(() => task('Bad Name', 'x', () => undefined)).toThrow(/bad task name/);
    expect(() => collectTasks({ a, other: task('build', 'again', () => undefined) })).toThrow(
      /two tasks are named "build"/,
    );
    expect(() => series(a, 3 as never)).toThrow(/step 2 is not a function/);
  });
});
