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
 * droplet's IP, the credentials file is 0600, the declared services are active, the firewall is
 * active with the manifest's rules, the image check passes in its --booted mode, and every command
 * of $.verify.commands exits 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isIPv4 } from 'node:net';
import { DEFAULTS, forDistro, type Manifest } from '../../runtime/manifest.js';
import { toolDirs } from '../../runtime/policy.js';
import { checkArgs, firewallCheckArg } from '../../runtime/sections/firewall.js';
import { serviceOf } from '../../runtime/sections/services.js';
import { DEFAULT_COMMAND_TIMEOUT_S } from '../../runtime/sections/verify.js';
import { checkScriptOf } from '../bundle/droplet-scripts.js';
import type { Connection, RunResult } from '../ssh/connection.js';
import { fail, remoteNodeMajor, withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { CLOUD_INIT_TIMEOUT_ENV, waitCloudInit } from '../ssh/wait.js';
import { bundleOf, distroOf, manifestOf, rootArgs, targetRoot } from './project.js';
import { reportVerifyCheck, type CheckStatus, type VerifyCheck } from './verify-results.js';

export const VERIFY_DESCRIPTION =
  'check a droplet made from the image after its first boot (first-boot steps, login hold, MOTD, credentials, services, firewall, image check --booted, $.verify.commands)';

export type { CheckStatus, VerifyCheck } from './verify-results.js';

const TAG: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

const cmdline = (...words: string[]): string => words.map(shellQuote).join(' ');

/** Errors that mean the droplet cannot be reached any more: no later check could run either. */
function fatal(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'SshError' || name === 'HostKeyError' || name === 'AbortError' || name === 'AbortedError';
}

class Report {
  readonly checks: VerifyCheck[] = [];
  constructor(private readonly c: Connection) {}

  add(status: CheckStatus, id: string, message: string, details: string[] = []): void {
    // One line each: a message or detail never breaks the line format.
    const one = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, ' ');
    const check: VerifyCheck = { id, status, message: one(message), details: details.map(one) };
    this.checks.push(check);
    // As data for the run that asked (mpimg verify, image --verify); the lines below are for people.
    reportVerifyCheck(check);
    const lines = [
      `[${TAG[status]}] ${id}: ${check.message}`,
      ...check.details.slice(0, 10).map((d) => `       - ${d}`),
    ];
    if (check.details.length > 10) lines.push(`       - ... and ${check.details.length - 10} more`);
    this.c.stdout?.write(`${lines.join('\n')}\n`);
  }

  /** Runs one check; an unexpected error of it is its failure, not the end of the others. */
  async run(id: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (fatal(err)) throw err;
      this.add('fail', id, `could not be checked: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  count(s: CheckStatus): number {
    return this.checks.filter((c) => c.status === s).length;
  }
}

/** The bundle's `status --json` on the droplet, quietly (its JSON is read here, not shown). */
interface BundleStatus {
  r: RunResult;
  json?: Record<string, unknown>;
}

async function bundleStatus(c: Connection, m: Manifest): Promise<BundleStatus> {
  const { cjs, sh } = bundleOf(c, m);
  const node = await remoteNodeMajor(c);
  const local = node >= 18 && process.env.MPIMG_INSTALLER !== 'sh' ? cjs : sh;
  const r = await withRemoteTempDir(
    c,
    async (tmp) => {
      const remote = `${tmp}/${basename(local)}`;
      await c.put(local, remote, { mode: 0o700 });
      return c.sudo(cmdline(local === cjs ? 'node' : 'sh', remote, 'status', '--json', ...rootArgs()), {
        quiet: true,
        echo: false,
        check: false,
      });
    },
    `${m.slug}-verify`,
  );
  try {
    return { r, json: JSON.parse(r.stdout) as Record<string, unknown> };
  } catch {
    return { r };
  }
}

/** Seconds of the wait for first boot: the cloud-init bound of the run (default 600). */
function bootBoundMs(): number {
  const v = process.env[CLOUD_INIT_TIMEOUT_ENV];
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) * 1000 : 600_000;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

const READY = 'mpimg-verify-ready';

/**
 * Until root's commands run (a held login gets the hold's message instead) and first boot has
 * finished. Returns what blocked, or undefined when the droplet is ready.
 */
async function waitFirstBoot(
  c: Connection,
  m: Manifest,
): Promise<{ held?: string; cloudInit?: string; status?: BundleStatus }> {
  const bound = bootBoundMs();
  const start = Date.now();
  let said = false;
  for (;;) {
    const r = await c.run(`echo ${READY}`, { quiet: true, echo: false, check: false });
    if (r.stdout.includes(READY)) break;
    if (Date.now() - start >= bound) {
      return {
        held:
          r.exitCode === 255
            ? `ssh fails: ${r.stderr.trim().split('\n').pop() ?? ''}`
            : (r.stdout.trim().split('\n').pop() ?? `exit code ${r.exitCode}`),
      };
    }
    if (!said)
      c.log(
        `root logins are held (${r.stdout.trim().split('\n').pop() || `exit code ${r.exitCode}`}): waiting for first boot to finish`,
      );
    said = true;
    await sleep(Math.min(5000, Math.max(100, bound / 20)), c.signal);
  }
  let cloudInit: string | undefined;
  // --cloud-init-timeout 0: no waiting at all; the checks see the droplet as it is.
  if (bound === 0) return { status: await bundleStatus(c, m) };
  try {
    await waitCloudInit(c, { timeoutMs: Math.max(1000, bound - (Date.now() - start)) });
  } catch (err) {
    if (fatal(err)) throw err;
    cloudInit = err instanceof Error ? err.message : String(err);
  }
  // The image's own last step may still be on its way right after cloud-init says done.
  const until = Date.now() + Math.min(60_000, Math.max(1000, bound - (Date.now() - start)));
  for (;;) {
    const status = await bundleStatus(c, m);
    if (cloudInit || status.json?.stage !== 'first-boot-running' || Date.now() >= until) return { cloudInit, status };
    await sleep(2000, c.signal);
  }
}

/** The droplet's IPv4 addresses as it sees them (the fallback when --host is not its public address). */
async function ownAddresses(c: Connection): Promise<string[]> {
  const r = await c.run(
    "{ hostname -I 2>/dev/null; ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, \"/\"); print a[1] }'; } | tr ' ' '\\n'",
    { quiet: true, echo: false, check: false },
  );
  return [...new Set(r.stdout.split(/\s+/).filter((w) => isIPv4(w) && !w.startsWith('127.')))];
}

/** The MOTD text of the project, when the image has one (as the bundler picks it). */
function motdText(c: Connection, m: Manifest): string | undefined {
  if (m.motd === null) return undefined;
  const rel = m.motd?.file ?? DEFAULTS.motdFile;
  const abs = join(c.project, rel);
  if (!existsSync(abs)) return undefined;
  return readFileSync(abs, 'utf8');
}

async function checkFirstBoot(
  c: Connection,
  m: Manifest,
  rep: Report,
  blocked: { cloudInit?: string; status?: BundleStatus },
): Promise<void> {
  const { r, json } = blocked.status ?? (await bundleStatus(c, m));
  if (!json) {
    rep.add(
      'fail',
      'first-boot',
      `the bundle's status did not answer (exit code ${r.exitCode})`,
      r.stderr.trim().split('\n').slice(-3),
    );
    return;
  }
  const stage = String(json.stage);
  const failed = Array.isArray(json.failedSteps) ? json.failedSteps.map(String) : [];
  const logs = `${toolDirs(m.slug).logs}/`;
  if (failed.length) {
    const named = failed.map((f) => {
      const [id, code] = f.split(' ');
      return `${id} (exit ${code})`;
    });
    rep.add('fail', 'first-boot', `first-boot step(s) failed: ${named.join(', ')}: see ${logs} on the droplet`);
  } else if (stage !== 'first-boot-finished') {
    rep.add(
      'fail',
      'first-boot',
      `first boot has not finished (stage ${stage})${blocked.cloudInit ? `: ${blocked.cloudInit}` : ''}`,
    );
  } else if (blocked.cloudInit) {
    rep.add('fail', 'first-boot', `the image's steps finished, but cloud-init did not: ${blocked.cloudInit}`);
  } else {
    rep.add('pass', 'first-boot', 'every first-boot step succeeded (first boot finished)');
  }
}

async function checkLoginHold(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const r = targetRoot() === '/' ? '' : targetRoot();
  const dropIn = `/etc/ssh/sshd_config.d/00-${m.slug}-login-hold.conf`;
  const start = `# >>> mpimg:${m.slug} login-hold >>>`;
  const out = await c.sudo(
    [
      `if [ -e ${shellQuote(r + dropIn)} ] || [ -L ${shellQuote(r + dropIn)} ]; then echo drop-in; fi`,
      `if grep -Fqx -- ${shellQuote(start)} ${shellQuote(`${r}/etc/ssh/sshd_config`)} 2>/dev/null; then echo block; fi`,
      'true',
    ].join('\n'),
    { quiet: true, echo: false },
  );
  const found = out.stdout.split('\n').filter(Boolean);
  if (found.length === 0)
    rep.add('pass', 'login-hold', 'the login hold is released (no hold drop-in, no hold block in sshd_config)');
  else
    rep.add(
      'fail',
      'login-hold',
      'the login hold was not released: root logins still get the wait message',
      found.map((f) =>
        f === 'drop-in' ? `${dropIn} is there` : `/etc/ssh/sshd_config holds the mpimg:${m.slug} login-hold block`,
      ),
    );
}

async function checkMotd(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const text = motdText(c, m);
  if (text === undefined) return rep.add('pass', 'motd', 'the image has no MOTD');
  const d = await distroOf(c, m);
  const script = d.family === 'dnf' ? `/opt/${m.vendor}/${m.slug}/motd` : `/etc/update-motd.d/99-${m.slug}`;
  const r = await c.sudo(`exec sh ${shellQuote(script)}`, {
    quiet: true,
    echo: false,
    check: false,
    timeoutMs: 60_000,
  });
  if (r.exitCode !== 0 || r.stdout.trim() === '') {
    return rep.add(
      'fail',
      'motd',
      `the MOTD ${script} did not render (exit code ${r.exitCode}${r.stdout.trim() ? '' : ', no output'})`,
      r.stderr.trim().split('\n').filter(Boolean).slice(-3),
    );
  }
  if (/\{\{[^{}]*\}\}/.test(r.stdout))
    return rep.add('fail', 'motd', `the MOTD ${script} still shows a {{placeholder}}`);
  if (!text.includes('{{ip}}')) return rep.add('pass', 'motd', `the MOTD renders (its text does not show the IP)`);
  const expected = isIPv4(c.host) && !c.host.startsWith('127.') ? [c.host] : await ownAddresses(c);
  const shown = [...new Set(r.stdout.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? [])];
  const hit = expected.find((ip) => shown.includes(ip));
  if (hit) return rep.add('pass', 'motd', `the MOTD renders with the droplet's IP ${hit}`);
  rep.add(
    'fail',
    'motd',
    `the MOTD does not show the droplet's IP (${expected.join(', ') || 'unknown'}); it shows ${shown.length ? shown.join(', ') : 'no address'}`,
  );
}

async function checkCredentials(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const r = targetRoot() === '/' ? '' : targetRoot();
  const file = m.credentials?.file ?? `/root/.${m.slug}-credentials`;
  const q = shellQuote(r + file);
  const out = (
    await c.sudo(`if [ -e ${q} ] || [ -L ${q} ]; then stat -c '%a %U %F' -- ${q}; fi`, { quiet: true, echo: false })
  ).stdout.trim();
  if (!out) return rep.add('pass', 'credentials', `no credentials file (${file}): nothing was saved`);
  const [mode, owner, ...type] = out.split(' ');
  if (type.join(' ') !== 'regular file')
    return rep.add('fail', 'credentials', `${file} is a ${type.join(' ')}, not a regular file`);
  if (mode !== '600' || owner !== 'root')
    return rep.add(
      'fail',
      'credentials',
      `${file} has mode ${mode.padStart(4, '0')}, owner ${owner}: it holds passwords and must be 0600, owned by root`,
    );
  rep.add('pass', 'credentials', `${file} is 0600, owned by root`);
}

async function checkServices(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const d = await distroOf(c, m);
  const units = forDistro(m.services, d.slug, d.family)
    .map(serviceOf)
    .map((s) => s.name);
  if (units.length === 0) return rep.add('pass', 'services', `$.services declares none for ${d.slug}`);
  const r = await c.sudo(
    [
      'if [ ! -d /run/systemd/system ] || ! command -v systemctl >/dev/null 2>&1; then echo no-systemd; exit 0; fi',
      `for u in ${units.map(shellQuote).join(' ')}; do s=$(systemctl is-active -- "$u" 2>/dev/null); printf '%s %s\\n' "$u" "\${s:-unknown}"; done`,
    ].join('\n'),
    { quiet: true, echo: false },
  );
  if (r.stdout.trim() === 'no-systemd')
    return rep.add('skip', 'services', `systemd is not running here: ${units.join(', ')} not checked`);
  const states = new Map(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
  const bad = units.filter((u) => states.get(u) !== 'active');
  if (bad.length)
    rep.add(
      'fail',
      'services',
      `declared service(s) not active: ${bad.map((u) => `${u} (${states.get(u) ?? 'unknown'})`).join(', ')}`,
      ['see `systemctl status <unit>` and `journalctl -u <unit>` on the droplet'],
    );
  else rep.add('pass', 'services', `every declared service is active: ${units.join(', ')}`);
}

/** Whether `ufw status` says the firewall is active. */
export function parseUfwStatus(text: string): { active: boolean } {
  return { active: /^Status:\s*active\b/m.test(text) };
}

interface CheckJson {
  result?: string;
  checks?: Array<{ id: string; status: string; message: string; evidence?: string[] }>;
}

/** One run of the image check per verify: the firewall and image-check lines both read it. */
interface ImageCheckRun {
  script: ReturnType<typeof checkScriptOf>;
  /** The project's check knows --firewall, so it compared the rules with mpimg.json's. */
  comparesFirewall: boolean;
  r: RunResult;
  report?: CheckJson;
}

async function runImageCheck(c: Connection, m: Manifest): Promise<ImageCheckRun> {
  const script = checkScriptOf(c.project, m);
  const text = readFileSync(script.abs, 'utf8');
  // The rules as the build's check task passes them (one rule source: $.firewall through checkArgs).
  const fw = checkArgs(m.firewall, text);
  const r = await withRemoteTempDir(
    c,
    async (tmp) => {
      const remote = `${tmp}/${basename(script.abs)}`;
      await c.put(script.abs, remote, { mode: 0o700 });
      return c.sudo(cmdline('bash', remote, ...fw, '--booted', '--json', ...rootArgs()), {
        quiet: true,
        echo: false,
        check: false,
        timeoutMs: 15 * 60_000,
      });
    },
    `${m.slug}-check`,
  );
  let report: CheckJson | undefined;
  try {
    report = JSON.parse(r.stdout) as CheckJson;
  } catch {
    report = undefined;
  }
  return { script, comparesFirewall: fw.length > 0, r, report };
}

/**
 * The firewall runs now (ufw active, firewalld running), and what it loads at boot lets in exactly
 * $.firewall: that comparison is the image check's own (--firewall), read from its report.
 */
async function checkFirewall(
  c: Connection,
  m: Manifest,
  rep: Report,
  image: () => Promise<ImageCheckRun>,
): Promise<void> {
  const r = await c.sudo(
    [
      'if command -v ufw >/dev/null 2>&1; then echo "@@ufw"; ufw status 2>&1 || true; fi',
      'if command -v firewall-cmd >/dev/null 2>&1; then echo "@@firewalld"; firewall-cmd --state 2>&1 || true; fi',
    ].join('\n'),
    { quiet: true, echo: false },
  );
  const parts = new Map<string, string>();
  let key = '';
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('@@')) {
      key = line.slice(2);
      parts.set(key, '');
      continue;
    }
    if (key) parts.set(key, `${parts.get(key)}${line}\n`);
  }
  const ufw = parts.has('ufw') ? parseUfwStatus(parts.get('ufw')!) : undefined;
  const firewalld = parts.has('firewalld') ? parts.get('firewalld')!.trim() === 'running' : undefined;
  const which = ufw?.active ? 'ufw' : firewalld ? 'firewalld' : undefined;
  if (!m.firewall) {
    if (!which)
      return rep.add(
        'warn',
        'firewall',
        'no firewall is active: Marketplace review rejects images without one; declare the ports in $.firewall',
      );
    // Running now is not enough: the image check tells whether it also comes up at the next boot.
    const boot = (await image()).report?.checks?.find((x) => x.id === 'firewall');
    if (boot && boot.status !== 'pass')
      return rep.add(
        'warn',
        'firewall',
        `${which} is active now, but the image check says: ${boot.message}`,
        boot.evidence ?? [],
      );
    return rep.add('pass', 'firewall', `a firewall is active (${which}); $.firewall declares no rules`);
  }
  if (!which)
    return rep.add(
      'fail',
      'firewall',
      `the firewall is not active (${[ufw ? 'ufw inactive' : '', firewalld === false ? 'firewalld not running' : '', !ufw && firewalld === undefined ? 'neither ufw nor firewalld is installed' : ''].filter(Boolean).join(', ')})`,
    );
  const rules = firewallCheckArg(m.firewall)
    .split(' ')
    .map((x) => x.replace(':', ' '))
    .join(', ');
  const ic = await image();
  if (!ic.comparesFirewall) {
    return rep.add(
      'warn',
      'firewall',
      `${which} is active; its rules were not compared with $.firewall: the project's ${ic.script.rel} has no --firewall option`,
      [`compare: mpimg add check-script --show | diff -u ${ic.script.rel} -`],
    );
  }
  const fw = ic.report?.checks?.find((x) => x.id === 'firewall');
  if (!fw)
    return rep.add(
      'fail',
      'firewall',
      `${which} is active, but the image check gave no firewall result to compare its rules with $.firewall (see the image-check line)`,
    );
  if (fw.status === 'pass')
    return rep.add('pass', 'firewall', `${which} is active with exactly the rules of $.firewall (${rules})`);
  rep.add(
    'fail',
    'firewall',
    `${which} is active, but ${fw.message}`,
    (fw.evidence ?? []).filter((e) => !e.startsWith('mpimg.json: ')),
  );
}

async function checkImage(c: Connection, m: Manifest, rep: Report, image: () => Promise<ImageCheckRun>): Promise<void> {
  const { script, r, report } = await image();
  if (r.exitCode === 2 && /unknown argument '--booted'/.test(r.stderr)) {
    return rep.add(
      'fail',
      'image-check',
      `the project's own ${script.rel} has no --booted mode (it is older than this check)`,
      [
        `bring it up to date from generator-mpimg's templates/droplet/99-img-check.sh, or remove it to use the package's`,
      ],
    );
  }
  if (!report) {
    return rep.add(
      'fail',
      'image-check',
      `the image check (${script.rel}) did not answer JSON (exit code ${r.exitCode})`,
      r.stderr.trim().split('\n').filter(Boolean).slice(-3),
    );
  }
  // Its firewall result has the firewall line of its own: a wrong rule is reported there, once.
  const own = (report.checks ?? []).filter((x) => x.id !== 'firewall');
  const by = (st: string) => own.filter((x) => x.status === st);
  const n = (report.checks ?? []).length;
  if (by('fail').length)
    rep.add(
      'fail',
      'image-check',
      `the image check (--booted) failed: ${by('fail')
        .map((x) => x.id)
        .join(', ')}`,
      by('fail').map((x) => `${x.id}: ${x.message}`),
    );
  else if (by('warn').length)
    rep.add(
      'warn',
      'image-check',
      `the image check (--booted) passes with warnings: ${by('warn')
        .map((x) => x.id)
        .join(', ')}`,
      by('warn').map((x) => `${x.id}: ${x.message}`),
    );
  else if (
    (r.exitCode === 0 && report.result === 'pass') ||
    ((r.exitCode === 0 || r.exitCode === 1) &&
      (report.checks ?? []).some((x) => x.id === 'firewall' && x.status !== 'pass'))
  ) {
    // Nothing of its own failed or warned: a warning (exit 0) or failure (exit 1) is its firewall
    // check's, which the firewall line reports.
    rep.add(
      'pass',
      'image-check',
      `the image check passes on the booted droplet (${n} checks${script.custom ? `, the project's ${script.rel}` : ''})`,
    );
  } else
    rep.add(
      'fail',
      'image-check',
      `the image check ended with exit code ${r.exitCode} (result ${report.result ?? 'unknown'})`,
    );
}

async function checkCommands(c: Connection, m: Manifest, rep: Report): Promise<void> {
  const commands = m.verify?.commands ?? [];
  const timeoutS = m.verify?.commandTimeoutSeconds ?? DEFAULT_COMMAND_TIMEOUT_S;
  for (const [i, command] of commands.entries()) {
    const id = `command-${i + 1}`;
    await rep.run(id, async () => {
      const r = await c.sudo(command, { quiet: true, echo: false, check: false, timeoutMs: timeoutS * 1000 });
      if (r.exitCode === 0) return rep.add('pass', id, `\`${command}\` exited 0`);
      // The command's own last lines go to the log (stderr), not into the report.
      for (const l of `${r.stdout}${r.stderr}`.trim().split('\n').filter(Boolean).slice(-5)) c.log(`${id} | ${l}`);
      rep.add(
        'fail',
        id,
        r.timedOut ? `\`${command}\` did not finish within ${timeoutS} s` : `\`${command}\` exited ${r.exitCode}`,
      );
    });
  }
}

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
