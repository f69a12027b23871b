#!/usr/bin/env node
// Benchmark of the fast test lane: `npm run test:unit` (everything that needs neither root nor
// Debian packages) on this machine, and the image check on a clean staged root, the program the
// heaviest test files (the image check's fixture tables, system lane since they need root) run.
//   targets: the unit lane in < 180 s; the image check's median < 40 x `bash -c :` on the same machine
//   (a ratio, so a busy machine slows both sides: it counts the processes the check starts)
// The load average is printed with each: on a shared machine it explains a miss.
// Usage: node scripts/bench-unit.mjs [--skip-lane] [--cold] [--results FILE]   (FILE: one JSON line per target)
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    'skip-lane': { type: 'boolean', default: false },
    cold: { type: 'boolean', default: false },
    results: { type: 'string' },
  },
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

// 1. the image check on the clean staged root of test/scripts/fixture-root.ts (as root only: for another
// user the tree is that user's, and the check's root-run check FAILs it)
if (process.getuid?.() === 0) {
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
} else {
  console.log('SKIP  image check on a clean staged root: needs root (a root-owned tree)');
}

// 2. the whole unit lane, as the user running this (run it as an ordinary user too: the lane's promise).
// Wall time moves with the machine's load, so the CPU time of the lane's processes is printed with it
// (cutime + cstime of this process once the lane is reaped), and a load above half the cores before
// the run is called out. --cold drops the build stamp first, so the run includes `npm run build`.
function childCpuSeconds() {
  // /proc/self/stat: fields 16 and 17 are the CPU ticks of reaped children (user, system)
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}
if (!values['skip-lane']) {
  const busy = loadavg()[0] > availableParallelism() / 2;
  if (values.cold) rmSync(join(root, 'lib/.mpimg-build-stamp'), { force: true });
  const before = load();
  const json = join(mkdtempSync(join(tmpdir(), 'mpimg-bench-lane-')), 'lane.json');
  const cpu0 = childCpuSeconds();
  const s = process.hrtime.bigint();
  const r = spawnSync('npx', ['vitest', 'run', '--project', 'unit', '--reporter=json', `--outputFile=${json}`], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const seconds = Number(process.hrtime.bigint() - s) / 1e9;
  const cpu = childCpuSeconds() - cpu0;
  report(
    `\`npm run test:unit\` wall time${values.cold ? ' (with the build)' : ''}`,
    r.status === 0
      ? `${seconds.toFixed(0)} s, CPU ${cpu.toFixed(0)} s (${before} before${busy ? ': NOT idle' : ''}, ${load()} after)`
      : `failed (exit ${r.status})`,
    `< ${LANE_TARGET_S} s`,
    r.status === 0 && seconds < LANE_TARGET_S,
  );
  try {
    const files = JSON.parse(readFileSync(json, 'utf8')).testResults.map((t) => [
      relative(root, t.name),
      (t.endTime - t.startTime) / 1000,
    ]);
    console.log('  slowest files (s):');
    for (const [f, d] of files.sort((a, b) => b[1] - a[1]).slice(0, 10))
      console.log(`    ${d.toFixed(1).padStart(6)}  ${f}`);
  } catch {
    /* no report: the run failed before writing it */
  } finally {
    rmSync(dirname(json), { recursive: true, force: true });
  }
}
