/**
 * The verify task's wait for first boot (root logins let in, cloud-init done, the image's own last
 * step finished) and its first-boot check, read from the bundle's `status --json` on the droplet.
 */
import { basename } from 'node:path';
import type { Manifest } from '../../runtime/manifest.js';
import { toolDirs } from '../../runtime/policy.js';
import type { Connection, RunResult } from '../ssh/connection.js';
import { remoteNodeMajor, withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { CLOUD_INIT_TIMEOUT_ENV, waitCloudInit } from '../ssh/wait.js';
import { bundleOf, rootArgs } from './project.js';
import { fatal, type Report } from './verify-report.js';

const cmdline = (...words: string[]): string => words.map(shellQuote).join(' ');

/** The bundle's `status --json` on the droplet, quietly (its JSON is read here, not shown). */
export interface BundleStatus {
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
export function bootBoundMs(): number {
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
export async function waitFirstBoot(
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

export async function checkFirstBoot(
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
