// Times `mpimg new --yes` (the app generator through yeoman-environment, in-process) against a
// trivial generator that writes the same files (same paths and bytes, no templates, no questions)
// through the same environment: the ratio is the cost of our logic, not of the disk.
// Prints {"ours": ms, "trivial": ms} (medians); used by scripts/bench.mjs.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnv } from 'yeoman-environment';
import Generator from 'yeoman-generator';

const root = fileURLToPath(new URL('..', import.meta.url));
const APP = join(root, 'lib/generators/app/index.js');
const quiet = new Writable({ write: (_c, _e, cb) => cb() });
const RUNS = 15;

function listFiles(dir, rel = '') {
  const out = [];
  for (const e of readdirSync(join(dir, rel))) {
    const r = rel ? `${rel}/${e}` : e;
    if (statSync(join(dir, r)).isDirectory()) out.push(...listFiles(dir, r));
    else out.push({ path: r, data: readFileSync(join(dir, r)) });
  }
  return out;
}

function makeEnv(cwd) {
  return createEnv({ cwd, skipInstall: true, stdout: quiet, stderr: quiet, console: new Console(quiet, quiet) });
}

async function runOurs(dir) {
  const env = makeEnv(dir);
  env.register(APP, { namespace: 'mpimg:app' });
  const g = await env.create('mpimg:app', {
    generatorArgs: [],
    generatorOptions: {
      yes: true,
      name: 'Bench App',
      'non-interactive': true,
      skipInstall: true,
      'skip-next-steps': true,
      localConfigOnly: true,
    },
  });
  await env.runGenerator(g);
}

let reference = [];
class Trivial extends Generator {
  writing() {
    for (const f of reference) this.fs.write(this.destinationPath(f.path), f.data);
  }
}

async function runTrivial(dir) {
  const env = makeEnv(dir);
  env.registerStub(Trivial, 'trivial:app');
  const g = await env.create('trivial:app', { generatorArgs: [], generatorOptions: { skipInstall: true } });
  await env.runGenerator(g);
}

async function time(fn) {
  const t = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'mpimg-gen-'));
    const s = process.hrtime.bigint();
    await fn(dir);
    if (i >= 2) t.push(Number(process.hrtime.bigint() - s) / 1e6);
    if (fn === runOurs && i === 0) reference = listFiles(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
}

const ours = await time(runOurs);
const trivial = await time(runTrivial);
process.stdout.write(JSON.stringify({ ours, trivial, files: reference.length }) + '\n');
