import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { E2eContext } from './harness/context.js';
import { processesRootedIn, unmountTree } from './harness/mounts.js';
import { assertPrerequisites } from './harness/prereq.js';
import { E2E_PACKAGES, ensureDebianPackages } from '../debian-packages.js';
import { ensureRootfsTarball, extractRootfs, SUITES, type Suite } from './harness/rootfs.js';

function log(line: string): void {
  process.stderr.write(`[e2e] ${line}\n`);
}

/**
 * Runs once per `npm run test:e2e`: refuses to start (never skips) when not root or tools are missing,
 * builds the package (the scenarios run the real `mpimg` bin), makes sure each Debian root filesystem
 * is cached (debootstrap on a cold cache), and extracts each once into this run's private folder.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensureDebianPackages(E2E_PACKAGES, 'e2e suite');
  assertPrerequisites();
  const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
  if (process.env.MPIMG_SKIP_BUILD !== '1') {
    log('npm run build');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, stdio: 'inherit' });
  }
  const wanted = (process.env.MPIMG_E2E_SUITES ?? Object.keys(SUITES).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of wanted) {
    if (!(s in SUITES))
      throw new Error(`MPIMG_E2E_SUITES: unknown suite "${s}"; use ${Object.keys(SUITES).join(', ')}`);
  }
  const runRoot = mkdtempSync(join(tmpdir(), 'mpimg-e2e-'));
  const ctx: E2eContext = { runRoot, bases: {}, rootfs: [], repoRoot };
  const teardown = async () => {
    // Backstop for a worker that died mid-test: whatever still runs inside this run's droplets goes first.
    for (const pid of processesRootedIn(runRoot)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await unmountTree(runRoot);
    rmSync(runRoot, { recursive: true, force: true });
  };
  try {
    for (const suite of wanted as Suite[]) {
      const t = await ensureRootfsTarball(suite, log);
      if (t.built) log(`${suite}: root filesystem built and cached in ${(t.ms / 1000).toFixed(1)} s: ${t.path}`);
      const t0 = Date.now();
      const base = join(runRoot, `base-${suite}`);
      await extractRootfs(t.path, base);
      const extractMs = Date.now() - t0;
      log(`${suite}: extracted in ${(extractMs / 1000).toFixed(1)} s`);
      ctx.bases[suite] = base;
      ctx.rootfs.push({ suite, tarball: t.path, built: t.built, buildMs: t.ms, extractMs });
    }
  } catch (e) {
    await teardown();
    throw e;
  }
  project.provide('mpimgE2e', ctx);
  return teardown;
}
