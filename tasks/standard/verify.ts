/**
 * The standard `verify` task: checks a droplet made FROM the image, after its first boot, the way a
 * customer gets it. Runs against any host (`mpimg run verify --host <ip> [--port N]`); `mpimg verify`
 * creates the droplet from a snapshot and runs it there.
 *
 * It waits (within the cloud-init bound, `--cloud-init-timeout`) until root logins are let in and
 * first boot has finished, then prints one line per check ([PASS]/[WARN]/[FAIL]/[SKIP] id: message),
 * a summary and the result, and fails when a check failed. The checks also go, as data, to the run
 * that collects them (verify-results.ts), and are the task's return value. The checks: every first-boot step
 * succeeded (the bundle's `status --json`), the login hold is released, the MOTD renders with the
 * droplet's IP, the credentials file is 0600, the declared services are active and their checks
 * (services[].check) exit 0, the firewall is
 * active with the manifest's rules, the image check passes in its --booted mode, and every command
 * of $.verify.commands exits 0. The wait and the first-boot check are in verify-first-boot.ts, the
 * firewall and image check (one run of the image check) in verify-image-check.ts, the other checks in
 * verify-checks.ts; verify-report.ts prints and records each.
 */
import type { Connection } from '../ssh/connection.js';
import { fail } from '../ssh/helpers.js';
import { manifestOf } from './project.js';
import {
  checkCommands,
  checkCredentials,
  checkLoginHold,
  checkMotd,
  checkServiceChecks,
  checkServices,
} from './verify-checks.js';
import { bootBoundMs, checkFirstBoot, waitFirstBoot } from './verify-first-boot.js';
import { checkFirewall, checkImage, runImageCheck, type ImageCheckRun } from './verify-image-check.js';
import { Report } from './verify-report.js';
import type { VerifyCheck } from './verify-results.js';

export const VERIFY_DESCRIPTION =
  'check a droplet made from the image after its first boot (first-boot steps, login hold, MOTD, credentials, services and their checks, firewall, image check --booted, $.verify.commands)';

export type { CheckStatus, VerifyCheck } from './verify-results.js';

/** The task's body: wait for first boot, run every check, print the summary; fail when one failed. */
export async function verifyDroplet(c: Connection): Promise<VerifyCheck[]> {
  const m = manifestOf(c);
  const rep = new Report(c);
  c.log(`verifying ${m.name} ${m.version} on ${c.target}`);
  const blocked = await waitFirstBoot(c, m);
  if (blocked.held !== undefined) {
    rep.add(
      'fail',
      'login-hold',
      `root logins are still held after ${Math.round(bootBoundMs() / 1000)} s: the login hold was not released (nothing else could be checked)`,
      [blocked.held],
    );
  } else {
    await rep.run('first-boot', () => checkFirstBoot(c, m, rep, blocked));
    await rep.run('login-hold', () => checkLoginHold(c, m, rep));
    await rep.run('motd', () => checkMotd(c, m, rep));
    await rep.run('credentials', () => checkCredentials(c, m, rep));
    await rep.run('services', () => checkServices(c, m, rep));
    await checkServiceChecks(c, m, rep);
    let ic: Promise<ImageCheckRun> | undefined;
    const image = () => (ic ??= runImageCheck(c, m));
    await rep.run('firewall', () => checkFirewall(c, m, rep, image));
    await rep.run('image-check', () => checkImage(c, m, rep, image));
    await checkCommands(c, m, rep);
  }
  const failed = rep.checks.filter((x) => x.status === 'fail');
  const result = failed.length ? 'FAIL' : rep.count('warn') ? 'PASS with warnings' : 'PASS';
  c.stdout?.write(
    `\nSummary: ${rep.count('pass')} passed, ${rep.count('warn')} warnings, ${failed.length} failed, ${rep.count('skip')} skipped\nResult: ${result}\n`,
  );
  if (failed.length) {
    fail(
      `verify: ${failed.length} check(s) failed on ${c.target}: ${failed.map((x) => x.id).join(', ')}`,
      'read the [FAIL] lines above; fix the image (first-boot steps, mpimg.json) and build it again',
    );
  }
  return rep.checks;
}
