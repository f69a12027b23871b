#!/usr/bin/env node
// Benchmark of the fast test lane: `npm run test:unit` (everything that needs neither root nor
// Debian packages) on this machine, and the image check on a clean staged root, the program most of
// that lane's time goes to.
//   targets: the unit lane in < 180 s; the image check's median < 40 x `bash -c :` on the same machine
//   (a ratio, so a busy machine slows both sides: it counts the processes the check starts)
// The load average is printed with each: on a shared machine it explains a miss.
// Usage: node scripts/bench-unit.mjs [--skip-lane] [--results FILE]   (FILE: one JSON line per target)
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: { 'skip-lane': { type: 'boolean', default: false }, results: { type: 'string' } },
});
const LANE_TARGET_S = 180;
const CHECK_TARGET = 40;
const load = () => `load ${loadavg()[0].toFixed(1)}`;
const report = (name, value, target, ok) => {
  console.log(`${ok ? 'PASS' : 'MISS'}  ${name}: ${value}  (target ${target})`);
  if (values.results) appendFileSync(values.results, `${JSON.stringify({ name, value, target, ok })}\n`);
};

function medianMs(cmd, args, runs) {
  const t = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { encoding: 'utf8', env: { PATH: process.env.PATH, LC_ALL: 'C' } });
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
}

// 1. the image check on the clean staged root of test/scripts/fixture-root.ts
const work = mkdtempSync(join(tmpdir(), 'mpimg-bench-unit-'));
try {
  await build({
    absWorkingDir: root,
    entryPoints: { fixture: 'test/scripts/fixture-root.ts' },
    outdir: work,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'error',
  });
  const fx = await import(pathToFileURL(join(work, 'fixture.mjs')).href);
  const clean = fx.cleanRoot();
  const script = join(root, 'templates/droplet/99-img-check.sh');
  try {
    const bare = medianMs('bash', ['-c', ':'], 21);
    const check = medianMs('bash', [script, '--root', clean], 9);
    const json = medianMs('bash', [script, '--root', clean, '--json'], 9);
    const ratio = Math.max(check, json) / bare;
    report(
      'image check on a clean staged root / `bash -c :`',
      `${ratio.toFixed(1)} (${check.toFixed(0)} ms, --json ${json.toFixed(0)} ms, vs ${bare.toFixed(1)} ms; ${load()})`,
      `< ${CHECK_TARGET}`,
      ratio < CHECK_TARGET,
    );
  } finally {
    fx.cleanupFixtures();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

// 2. the whole unit lane
if (!values['skip-lane']) {
  const before = load();
  const s = process.hrtime.bigint();
  const r = spawnSync('npm', ['run', '--silent', 'test:unit'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const seconds = Number(process.hrtime.bigint() - s) / 1e9;
  report(
    '`npm run test:unit` wall time',
    r.status === 0 ? `${seconds.toFixed(0)} s (${before} before, ${load()} after)` : `failed (exit ${r.status})`,
    `< ${LANE_TARGET_S} s`,
    r.status === 0 && seconds < LANE_TARGET_S,
  );
}
