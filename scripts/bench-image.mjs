#!/usr/bin/env node
// Benchmark of `mpimg image --all`: three distributions against the local DigitalOcean API double
// (127.0.0.1), with the slow parts scaled down but kept in proportion (a droplet comes up, the build
// runs, the shutdown and the snapshot take their time), as a ratio to ONE distribution.
//   target: ratio <= 1.25 (the builds run side by side, not one after another)
// The build step stands in for SSH (it only waits): this measures the pipeline and its parallelism.
// Usage: node scripts/bench-image.mjs [--runs N] [--results FILE]   (FILE: one JSON line per target)
import { build } from 'esbuild';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, results: { type: 'string' } } });
const RUNS = Number(values.runs);
const TARGET = 1.25;
// Scaled delays (ms): droplet create -> active, the build, shutdown, snapshot.
const DELAY = { active: 300, build: 600, shutdown: 150, snapshot: 600 };
const DISTS = ['debian-12-x64', 'ubuntu-24-04-x64', 'rockylinux-9-x64'];
const TOKEN = `dop_v1_${'b'.repeat(64)}`;

const work = mkdtempSync(join(tmpdir(), 'mpimg-bench-image-'));
await build({
  absWorkingDir: root,
  entryPoints: { image: 'tasks/commands/image.ts', double: 'test/helpers/do-api-double.ts' },
  outdir: work,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // the package's own files (templates, package.json) are found from the repository
  define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(root, 'tasks/commands/image.ts')).href) },
});
const { createImageCommand } = await import(pathToFileURL(join(work, 'image.mjs')).href);
const { DoApiDouble } = await import(pathToFileURL(join(work, 'double.mjs')).href);

const project = join(work, 'project');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function once(argv) {
  const api = await DoApiDouble.start(TOKEN);
  try {
    api.sshKeys = [{ id: 1, fingerprint: 'aa:bb', name: 'bench', public_key: 'ssh-ed25519 AAAA bench' }];
    api.behaviour.activeAfterMs = DELAY.active;
    api.behaviour.actionMs = { shutdown: DELAY.shutdown, snapshot: DELAY.snapshot };
    const out = new PassThrough();
    const err = new PassThrough();
    let text = '';
    out.on('data', (d) => {
      text += d;
    });
    err.on('data', (d) => {
      text += d;
    });
    const ctx = {
      cwd: project,
      stdout: out,
      stderr: err,
      isTTY: false,
      signal: new AbortController().signal,
      env: {
        PATH: process.env.PATH,
        HOME: work,
        XDG_CONFIG_HOME: work,
        DIGITALOCEAN_API_URL: api.url,
        DIGITALOCEAN_ACCESS_TOKEN: TOKEN,
      },
    };
    const cmd = createImageCommand({
      build: () => sleep(DELAY.build),
      timings: { pollMs: 25, shutdownResendMs: 5000 },
    });
    const t0 = performance.now();
    const code = await cmd.run(argv, ctx).catch((e) => {
      text += String(e?.format?.() ?? e);
      return 1;
    });
    const ms = performance.now() - t0;
    if (code !== 0) throw new Error(`mpimg image ${argv.join(' ')} failed:\n${text}`);
    if (api.droplets.size !== 0) throw new Error('droplets were left behind');
    return ms;
  } finally {
    await api.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let line;
try {
  mkdirSync(project);
  writeFileSync(
    join(project, 'mpimg.json'),
    JSON.stringify({
      name: 'Bench App',
      slug: 'bench-app',
      vendor: 'bench',
      version: '1.0.0',
      distributions: DISTS,
      droplet: { region: 'fra1' },
    }),
  );
  await once(['--distributions', DISTS[0]]); // warm-up
  const one = [];
  const three = [];
  for (let i = 0; i < RUNS; i++) {
    one.push(await once(['--distributions', DISTS[0]]));
    three.push(await once(['--all']));
  }
  const r = median(three) / median(one);
  line = {
    name: `\`mpimg image --all\` (${DISTS.length} distributions) / one distribution`,
    value: `${r.toFixed(2)} (${median(three).toFixed(0)} ms vs ${median(one).toFixed(0)} ms)`,
    target: `<= ${TARGET}`,
    ok: r <= TARGET,
  };
} catch (e) {
  line = {
    name: `\`mpimg image --all\` (${DISTS.length} distributions) / one distribution`,
    value: `failed: ${String(e?.message ?? e).split('\n')[0]}`,
    target: `<= ${TARGET}`,
    ok: false,
  };
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`${line.ok ? 'PASS' : 'MISS'}  ${line.name}: ${line.value}  (target ${line.target})`);
if (values.results) appendFileSync(values.results, `${JSON.stringify(line)}\n`);
