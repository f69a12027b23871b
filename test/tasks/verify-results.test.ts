// The verify task's results travel as data (objects through one async-context channel), never as
// printed lines read back: a check line in the output proves nothing, and parallel runs do not mix.
import { describe, expect, it } from 'vitest';
import { collectVerifyChecks, reportVerifyCheck, type VerifyCheck } from '../../tasks/standard/verify-results.js';
import { checkCollector, summarise } from '../../tasks/do/verify.js';
import type * as VerifyResults from '../../tasks/standard/verify-results.js';

const check = (id: string, status: VerifyCheck['status']): VerifyCheck => ({
  id,
  status,
  message: `${id} is ${status}`,
  details: [`about ${id}`],
});
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('verify results as data', () => {
  it('a collector gets what the task reports, not what it prints', async () => {
    const collect = checkCollector();
    const printed: string[] = [];
    await collect.run(async () => {
      // A task whose printed line says PASS while its result says FAIL: the result counts.
      printed.push('[PASS] first-boot: every first-boot step succeeded');
      reportVerifyCheck(check('first-boot', 'fail'));
      await tick();
      reportVerifyCheck(check('motd', 'warn'));
    });
    expect(collect.checks()).toEqual([check('first-boot', 'fail'), check('motd', 'warn')]);
    expect(summarise(collect.checks())).toEqual({ result: 'fail', summary: { pass: 0, warn: 1, fail: 1, skip: 0 } });
  });

  it('parallel runs (image --all) each collect their own checks', async () => {
    const a: VerifyCheck[] = [];
    const b: VerifyCheck[] = [];
    await Promise.all([
      collectVerifyChecks(
        (c) => a.push(c),
        async () => {
          await tick();
          reportVerifyCheck(check('a1', 'pass'));
          await tick();
          reportVerifyCheck(check('a2', 'fail'));
        },
      ),
      collectVerifyChecks(
        (c) => b.push(c),
        async () => {
          reportVerifyCheck(check('b1', 'skip'));
          await tick();
          await tick();
          reportVerifyCheck(check('b2', 'pass'));
        },
      ),
    ]);
    expect(a.map((c) => c.id)).toEqual(['a1', 'a2']);
    expect(b.map((c) => c.id)).toEqual(['b1', 'b2']);
  });

  it('outside a collecting run a report goes nowhere; a malformed one is dropped', async () => {
    expect(() => reportVerifyCheck(check('alone', 'pass'))).not.toThrow();
    const got: VerifyCheck[] = [];
    await collectVerifyChecks(
      (c) => got.push(c),
      async () => {
        reportVerifyCheck({ id: 'bad', status: 'great' as VerifyCheck['status'], message: 'x', details: [] });
        reportVerifyCheck({ id: 'ok', status: 'pass', message: 'fine', details: ['a', 7 as unknown as string] });
      },
    );
    expect(got).toEqual([{ id: 'ok', status: 'pass', message: 'fine', details: ['a'] }]);
  });

  it('another copy of the library (the built lib/ beside these sources) reports into the same run', async () => {
    const built = new URL('../../lib/tasks/standard/verify-results.js', import.meta.url).href;
    const other = (await import(built)) as typeof VerifyResults;
    expect(other.reportVerifyCheck).not.toBe(reportVerifyCheck);
    const got: VerifyCheck[] = [];
    await collectVerifyChecks(
      (c) => got.push(c),
      async () => {
        other.reportVerifyCheck(check('from-lib', 'pass'));
      },
    );
    expect(got).toEqual([check('from-lib', 'pass')]);
  });
});
