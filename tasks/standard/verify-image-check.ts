/**
 * The verify checks that read the image check's one run on the booted droplet (--booted --json): the
 * firewall (running now, and loading exactly $.firewall at boot, which the image check compares) and
 * the image check's own result.
 */
import { basename } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Manifest } from '../../runtime/manifest.js';
import { checkArgs, firewallCheckArg } from '../../runtime/sections/firewall.js';
import { imageCheckArgs } from '../../runtime/script-args.js';
import { checkScriptOf } from '../bundle/droplet-scripts.js';
import type { Connection, RunResult } from '../ssh/connection.js';
import { withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { rootArgs } from './project.js';
import type { Report } from './verify-report.js';

const cmdline = (...words: string[]): string => words.map(shellQuote).join(' ');

/** Whether `ufw status` says the firewall is active. */
export function parseUfwStatus(text: string): { active: boolean } {
  return { active: /^Status:\s*active\b/m.test(text) };
}

interface CheckJson {
  result?: string;
  checks?: Array<{ id: string; status: string; message: string; evidence?: string[] }>;
}

/** One run of the image check per verify: the firewall and image-check lines both read it. */
export interface ImageCheckRun {
  script: ReturnType<typeof checkScriptOf>;
  /** The project's check knows --firewall, so it compared the rules with mpimg.json's. */
  comparesFirewall: boolean;
  r: RunResult;
  report?: CheckJson;
}

export async function runImageCheck(c: Connection, m: Manifest): Promise<ImageCheckRun> {
  const script = checkScriptOf(c.project, m);
  const text = readFileSync(script.abs, 'utf8');
  // The arguments as the build's check task passes them (one rule source: mpimg.json through imageCheckArgs).
  const fw = checkArgs(m.firewall, text);
  const r = await withRemoteTempDir(
    c,
    async (tmp) => {
      const remote = `${tmp}/${basename(script.abs)}`;
      await c.put(script.abs, remote, { mode: 0o700 });
      return c.sudo(cmdline('bash', remote, ...imageCheckArgs(m, text), '--booted', '--json', ...rootArgs()), {
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
export async function checkFirewall(
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

export async function checkImage(
  c: Connection,
  m: Manifest,
  rep: Report,
  image: () => Promise<ImageCheckRun>,
): Promise<void> {
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
