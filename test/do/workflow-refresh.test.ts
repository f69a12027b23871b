// The refresh job of the generated .github/workflows/image.yml, its steps run here as GitHub runs
// them: the records artifact fetched from a local double of GitHub's artifacts API (curl, unzip, the
// real `mpimg images --latest-snapshot`); a real ssh-agent holding the key, as webfactory/ssh-agent
// leaves it; the real `mpimg outdated --image <id> --json`, whose droplet from the snapshot (the
// DigitalOcean API double makes it) leads to the test droplet of droplet-root.ts, whose apt prints
// recorded answers; `mpimg image` in this process against the API double (stand-ins for its SSH
// steps, as in workflow.test.ts) and `mpimg release` as the real CLI. Also `make outdated` of the
// generated Makefile against the same droplet.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImageCommand } from '../../tasks/commands/image.js';
import { packageRoot } from '../../core/paths.js';
import type { BuildStep } from '../../tasks/do/pipeline.js';
import { COMMAND_SCOPES, scopesFor } from '../../tasks/do/scopes.js';
import { writeRecord } from '../../tasks/record/store.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { sampleRecord } from '../helpers/build-record.js';
import { removeDir, runIn, tempDir } from '../generators/support.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand } from './support.js';
import { APT_ANSWERS, testDroplet, verifyProject, type FakeState, type TestDroplet } from './droplet-root.js';
import {
  parsed,
  runnerHome,
  runScriptAsync,
  sshAgent,
  steps,
  words,
  type RunnerHome,
  type ScriptResult,
  type Step,
} from './workflow-support.js';

const GH_TOKEN = 'ghs_' + 'x9'.repeat(18);
const REPO = 'acme/wiki';
const APP = 'acme-wiki-app';
let dir: string;
let yaml: string;
/** The droplet every droplet made from a snapshot leads to, and the runner's ~/.ssh that routes there. */
let dropletProject: string;
let droplet: TestDroplet;
let home: RunnerHome;

beforeAll(async () => {
  dir = tempDir('mpimg-refresh-');
  await runIn('app', dir).withOptions({
    yes: true,
    name: 'Acme Wiki',
    slug: 'acme-wiki',
    vendor: 'acme',
    distro: 'debian-12-x64',
  });
  yaml = readFileSync(join(dir, '.github/workflows/image.yml'), 'utf8');
  // ./node_modules/.bin/mpimg as `npm ci` makes it: the real CLI.
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  const bin = join(dir, 'node_modules/.bin/mpimg');
  writeFileSync(
    bin,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(packageRoot(), 'bin/mpimg.js'))} "$@"\n`,
  );
  chmodSync(bin, 0o755);
  dropletProject = verifyProject();
  droplet = await testDroplet(dropletProject);
  home = runnerHome({ address: droplet.sshd.host, port: droplet.sshd.port });
});
afterAll(async () => {
  await droplet?.stop();
  for (const d of [dir, dropletProject, home?.dir]) if (d) removeDir(d);
});

/** A double of GitHub's artifacts API: the list of a name's artifacts, and each one's zip (through a redirect). */
class GitHubDouble {
  server!: Server;
  url = '';
  artifacts: Array<{ id: number; name: string; expired: boolean; created_at: string; zip?: Buffer }> = [];
  requests: Array<{ path: string; auth: string | undefined }> = [];
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url!, this.url);
      this.requests.push({ path: `${u.pathname}${u.search}`, auth: req.headers.authorization });
      if (u.pathname.startsWith('/repos/') && req.headers.authorization !== `Bearer ${GH_TOKEN}`) {
        res.writeHead(401).end('{"message": "Bad credentials"}');
        return;
      }
      if (u.pathname === `/repos/${REPO}/actions/artifacts`) {
        const name = u.searchParams.get('name');
        const list = this.artifacts
          .filter((a) => a.name === name)
          .map((a) => ({
            ...a,
            zip: undefined,
            archive_download_url: `${this.url}/repos/${REPO}/actions/artifacts/${a.id}/zip`,
          }));
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ total_count: list.length, artifacts: list }));
        return;
      }
      let m = /^\/repos\/[^/]+\/[^/]+\/actions\/artifacts\/(\d+)\/zip$/.exec(u.pathname);
      if (m) {
        res.writeHead(302, { location: `${this.url}/blob/${m[1]}` }).end();
        return;
      }
      m = /^\/blob\/(\d+)$/.exec(u.pathname);
      const zip = m && this.artifacts.find((a) => a.id === Number(m![1]))?.zip;
      if (zip) res.writeHead(200, { 'content-type': 'application/zip' }).end(zip);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** The zip upload-artifact makes of images/: one folder per record at its root. */
function recordsZip(snapshotId: number): Buffer {
  const t = tempDir('mpimg-artifact-');
  const r = sampleRecord({ id: '20260301T100000Z-debian-12-x64-aaaaaa', createdAt: '2026-03-01T10:00:00.000Z' });
  r.snapshot = { id: snapshotId, name: 'acme-wiki-1.0.0', at: '2026-03-01T10:20:00.000Z' };
  writeRecord(t, r, { bomFormat: 'CycloneDX' });
  execFileSync('zip', ['-qr', join(t, 'records.zip'), '.'], { cwd: join(t, 'images') });
  const zip = readFileSync(join(t, 'records.zip'));
  removeDir(t);
  return zip;
}

/** `if:` of the refresh job: `steps.X.outputs.Y == / != 'Z'` joined by ||, as GitHub evaluates them. */
function condition(expr: string, out: Record<string, Record<string, string>>): boolean {
  return expr.split(' || ').some((c) => {
    const m = /^steps\.([\w-]+)\.outputs\.(\w+) (==|!=) '([^']*)'$/.exec(c.trim());
    if (!m) throw new Error(`the test does not know the condition ${c}`);
    const v = out[m[1]]?.[m[2]] ?? '';
    return m[3] === '==' ? v === m[4] : v !== m[4];
  });
}

interface Run {
  ran: string[];
  /** Whether the ssh-agent action ran (its key in a real agent for the later steps). */
  agent: boolean;
  /** Upload steps whose condition held (GitHub would run them; this test does not upload). */
  uploads: string[];
  out: Record<string, Record<string, string>>;
  results: Record<string, ScriptResult>;
  /** What the outdated step asked of the API. */
  outdatedRequests: Array<{ method: string; path: string; query: Record<string, string>; body: unknown }>;
  failed?: { step: string; status: number | null };
}

describe('the refresh job of .github/workflows/image.yml', () => {
  let api: DoApiDouble;
  let gh: GitHubDouble;
  let listed: number;
  let manifest: string;
  beforeEach(async () => {
    api = await DoApiDouble.start(TOKEN);
    api.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'ci', public_key: 'ssh-ed25519 AAAA ci' }];
    api.behaviour.actionMs = { shutdown: 5, snapshot: 5 };
    // a droplet made from a snapshot is reached at this address (the runner's ~/.ssh routes it)
    api.behaviour.fromImageIp = droplet.sshd.host;
    api.addApp({ appId: APP, name: 'Acme Wiki' });
    listed = api.addImage({ name: 'acme-wiki-1.0.0-20260301' }).id;
    gh = new GitHubDouble();
    await gh.start();
    gh.artifacts = [
      { id: 1, name: `mpimg-listing-${APP}`, expired: false, created_at: '2026-02-01T00:00:00Z' },
      {
        id: 2,
        name: `mpimg-listing-${APP}`,
        expired: false,
        created_at: '2026-03-01T10:30:00Z',
        zip: recordsZip(listed),
      },
      { id: 3, name: `mpimg-listing-${APP}`, expired: true, created_at: '2026-03-05T00:00:00Z' },
      { id: 4, name: 'mpimg-listing-other', expired: false, created_at: '2026-03-06T00:00:00Z' },
    ];
    const file = join(dir, 'mpimg.json');
    manifest = readFileSync(file, 'utf8');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(manifest), listing: { appId: APP } }, null, 2));
  });
  afterEach(async () => {
    writeFileSync(join(dir, 'mpimg.json'), manifest);
    for (const d of ['images', 'dist']) rmSync(join(dir, d), { recursive: true, force: true });
    await api.close();
    await gh.close();
  });

  const build: BuildStep = async (c) => {
    c.stdout.write(`built on ${c.ip}\n`);
  };
  const verify: BuildStep = async (c) => {
    c.stdout.write('[PASS] first-boot: every first-boot step succeeded\n');
  };

  /** A value of the workflow as GitHub fills it in for a scheduled run of this project. */
  function known(v: string, out: Run['out'], app: string): string {
    const values: Record<string, string> = {
      '${{ secrets.DIGITALOCEAN_ACCESS_TOKEN }}': TOKEN,
      '${{ secrets.MPIMG_SSH_PRIVATE_KEY }}': readFileSync(droplet.sshd.identityFile, 'utf8'),
      '${{ github.token }}': GH_TOKEN,
      '${{ github.api_url }}': gh.url,
      '${{ github.repository }}': REPO,
      '${{ matrix.project.app }}': app,
      '${{ steps.records.outputs.image }}': out.records?.image ?? '',
      "${{ github.event.inputs.reason || 'Security updates of the packages (weekly refresh)' }}":
        'Security updates of the packages (weekly refresh)',
    };
    if (!(v in values)) throw new Error(`the test does not know ${v}`);
    return values[v];
  }
  const stepEnv = (s: Step, out: Run['out'], app: string) =>
    Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, known(v, out, app)]));

  /** The job's steps; `apt`: what apt on the droplet from the listing's image answers. */
  async function refresh(o: { apt: Partial<FakeState>; app?: string }): Promise<Run> {
    const app = o.app ?? APP;
    droplet.setFake(o.apt);
    const run: Run = { ran: [], agent: false, uploads: [], out: {}, results: {}, outdatedRequests: [] };
    let agent: Awaited<ReturnType<typeof sshAgent>> | undefined;
    try {
      for (const s of steps(yaml).filter((x) => x.job === 'refresh')) {
        if (s.if && s.if !== 'always()' && !condition(s.if, run.out)) continue;
        const label = s.id ?? s.run ?? s.name ?? s.uses!;
        if (s.uses?.startsWith('actions/upload-artifact@')) run.uploads.push(String(s.with!.name));
        if (run.failed) continue; // GitHub skips the rest once a step failed (but for always())
        if (s.uses?.startsWith('webfactory/ssh-agent@')) {
          agent = await sshAgent(known(String(s.with!['ssh-private-key']), run.out, app));
          run.agent = true;
        }
        if (s.uses) continue;
        const script = s.run!.trim();
        if (script.startsWith('npm ci')) continue;
        run.ran.push(label);
        // what a step of the runner has: the action's agent, the API (here the double's address)
        const env = { ...stepEnv(s, run.out, app), ...agent?.env, DIGITALOCEAN_API_URL: api.url };
        const before = api.requests.length;
        if (script === 'make bundle') {
          const m = spawnSync(
            'make',
            ['-s', `MPIMG=${process.execPath} ${join(packageRoot(), 'bin/mpimg.js')}`, 'bundle'],
            { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir } },
          );
          expect(m.status, m.stdout + m.stderr).toBe(0);
        } else if (!script.includes('\n')) {
          // the build: in this process, with stand-ins for the SSH steps
          const [, , ...args] = words(script, {});
          const cap = captureContext({ cwd: dir, env: apiEnv(api.url, dir, env) });
          const cmd = createImageCommand({
            build,
            verify,
            clock: fastClock(),
            retry: FAST_RETRY,
            timings: FAST_TIMINGS,
          });
          const code = await runCommand(cmd, args, cap.ctx);
          if (code !== 0) run.failed = { step: label, status: code };
        } else {
          const r = await runScriptAsync(script, dir, env, { runnerHome: home, timeoutMs: 60_000 });
          run.results[label] = r;
          if (s.id) run.out[s.id] = r.out;
          expect(r.stdout + r.stderr).not.toContain(TOKEN);
          expect(r.stdout + r.stderr).not.toContain(GH_TOKEN);
          expect(r.stdout + r.stderr).not.toContain('PRIVATE KEY');
          if (r.status !== 0) run.failed = { step: label, status: r.status };
        }
        if (s.id === 'outdated') run.outdatedRequests = api.requests.slice(before);
      }
    } finally {
      agent?.stop();
    }
    return run;
  }

  /** What `mpimg outdated --json` wrote to dist/outdated.json (its stdout). */
  const outdatedJson = () =>
    JSON.parse(readFileSync(join(dir, 'dist/outdated.json'), 'utf8')) as Record<string, unknown>;

  /** The outdated step made its droplet from the listing's image and destroyed it, using no scope it does not name. */
  function checkedOnItsOwnDroplet(r: Run): void {
    const created = r.outdatedRequests.filter((q) => q.method === 'POST' && q.path === '/v2/droplets');
    expect(created.map((q) => q.body)).toMatchObject([{ image: listed, with_droplet_agent: false }]);
    expect(r.outdatedRequests.filter((q) => q.method === 'DELETE').length).toBeGreaterThanOrEqual(1);
    for (const q of r.outdatedRequests) {
      const scopes = scopesFor(q.method, q.path, new URLSearchParams(q.query), q.body);
      expect(scopes, `${q.method} ${q.path}`).toBeDefined();
      for (const x of scopes!) expect(COMMAND_SCOPES.outdated, `${q.method} ${q.path}`).toContain(x);
    }
    expect(r.results.outdated.stderr).toMatch(/droplet destroyed/);
  }

  const droplets = () => api.requests.filter((r) => r.method === 'POST' && r.path === '/v2/droplets');
  const patches = () => api.requests.filter((r) => r.method === 'PATCH');

  it('runs weekly and by hand (refresh), never together with the image job', () => {
    const wf = parsed(yaml);
    expect(wf.on.schedule).toEqual([{ cron: '17 5 * * 1' }]);
    expect((wf.on.workflow_dispatch as { inputs: Record<string, unknown> }).inputs.refresh).toMatchObject({
      type: 'boolean',
      default: false,
    });
    expect(wf.jobs.refresh.if).toBe(
      "github.event_name == 'schedule' || (github.event_name == 'workflow_dispatch' && github.event.inputs.refresh == 'true')",
    );
    expect(wf.jobs.image.if).toBe(
      "github.event_name == 'push' || (github.event_name == 'workflow_dispatch' && github.event.inputs.refresh != 'true')",
    );
    expect(wf.jobs.refresh.concurrency).toEqual(wf.jobs.image.concurrency);
    // the image job keeps the records of what it released, for the refresh to start from
    const keep = steps(yaml).filter((x) => x.with?.name === `mpimg-listing-\${{ matrix.project.app }}`);
    expect(keep.map((x) => [x.job, x.if, x.with!.path])).toEqual([
      ['image', "steps.release.outcome == 'success' && matrix.project.app != ''", '${{ matrix.project.dir }}/images/'],
      [
        'refresh',
        "steps.release.outputs.released == 'yes' || steps.outdated.outputs.rebuild == 'no'",
        '${{ matrix.project.dir }}/images/',
      ],
    ]);
  });

  it('nothing pending (0) or no security update (3): the newest unexpired records artifact gives the image, mpimg outdated checks a droplet made from it, no rebuild, green', async () => {
    for (const [apt, code, said] of [
      [APT_ANSWERS.none, 0, 'no updates pending; nothing to do'],
      [APT_ANSWERS.other, 3, 'updates pending, none for security; no rebuild'],
    ] as const) {
      const r = await refresh({ apt });
      expect(r.failed, r.results.outdated?.stderr).toBeUndefined();
      expect(r.agent).toBe(true);
      expect(r.ran).toEqual(['records', 'outdated']);
      expect(r.out.records.image).toBe(String(listed));
      expect(r.results.outdated.stdout).toContain(`::notice::image ${listed}: ${said}`);
      // stdout of `mpimg outdated --json` is its JSON alone: kept in dist/ for the run's artifact
      expect(outdatedJson()).toMatchObject({ pending: code === 0 ? 0 : 1, security: 0, image: listed });
      checkedOnItsOwnDroplet(r);
      // the records go on to the next run (an artifact lives 90 days)
      expect(r.uploads).toEqual([`mpimg-listing-\${{ matrix.project.app }}`, 'refresh-${{ strategy.job-index }}']);
      expect(droplets()).toHaveLength(1); // the check's only: no build
      expect(api.droplets.size).toBe(0);
      expect(patches()).toHaveLength(0);
      rmSync(join(dir, 'images'), { recursive: true, force: true });
      api.requests.length = 0;
    }
    expect(gh.requests.map((q) => q.path)).toContain(`/repos/${REPO}/actions/artifacts/2/zip`);
    expect(gh.requests.some((q) => /artifacts\/[134]\/zip/.test(q.path))).toBe(false);
  }, 180_000);

  it('security updates pending (4): rebuilds, verifies and releases the new image', async () => {
    const r = await refresh({ apt: APT_ANSWERS.security });
    expect(r.failed, JSON.stringify(r.results.release ?? r.results.outdated)).toBeUndefined();
    expect(r.ran).toEqual([
      'records',
      'outdated',
      'make bundle',
      './node_modules/.bin/mpimg image --all --verify',
      'release',
    ]);
    expect(r.results.outdated.stdout).toContain(`::notice::image ${listed}: security updates pending; rebuilding`);
    checkedOnItsOwnDroplet(r);
    // the bundle and the build leave the check's answer in dist/ for the run's artifact
    expect(outdatedJson()).toMatchObject({ pending: 3, security: 2, image: listed });
    expect(droplets().length).toBeGreaterThanOrEqual(3); // the check's, the build's and the verify's
    const built = JSON.parse(readFileSync(join(dir, 'dist/images.json'), 'utf8')).images[0];
    expect(built).toMatchObject({ distribution: 'debian-12-x64', ok: true, verify: 'passed' });
    expect(built.imageId).not.toBe(listed);
    expect(patches().map((p) => p.body)).toMatchObject([
      { imageId: built.imageId, reasonForUpdate: 'Security updates of the packages (weekly refresh)' },
    ]);
    expect(r.out.release.released).toBe('yes');
    expect(r.uploads).toEqual([`mpimg-listing-\${{ matrix.project.app }}`, 'refresh-${{ strategy.job-index }}']);
  }, 120_000);

  it('the listing pending or in review: release exits 75, the run ends red as "Listing pending or in review", the records stay as they were', async () => {
    api.apps.get(APP)!.status = 'in review';
    const r = await refresh({ apt: APT_ANSWERS.security });
    expect(r.failed).toEqual({ step: 'release', status: 75 });
    expect(r.ran.slice(0, 2)).toEqual(['records', 'outdated']);
    expect(r.results.release.stdout).toContain('::error title=Listing pending or in review::');
    expect(r.results.release.summary).toContain('Listing pending or in review');
    expect(r.results.release.stderr).toContain(`listing ${APP} cannot be updated now`);
    // the next run starts from the listing's image again, not from the new one
    expect(r.uploads).toEqual(['refresh-${{ strategy.job-index }}']);
    expect(patches().every((p) => p.status === 400)).toBe(true);
  }, 120_000);

  it('mpimg outdated failing (the package indexes cannot be refreshed), no records artifact, no listing: each says so', async () => {
    let r = await refresh({ apt: APT_ANSWERS.noIndexes });
    expect(r.failed).toEqual({ step: 'outdated', status: 1 });
    expect(r.results.outdated.stdout).toContain(`::error::mpimg outdated --image ${listed} failed (exit 1)`);
    expect(r.results.outdated.stderr).toMatch(/could not tell which updates are pending on .*apt-get update failed/);
    expect(readFileSync(join(dir, 'dist/outdated.json'), 'utf8')).toBe('');
    expect(api.droplets.size).toBe(0); // destroyed also when the check failed
    expect(droplets()).toHaveLength(1);
    rmSync(join(dir, 'images'), { recursive: true, force: true });

    // only an expired one of this listing, and another listing's
    gh.artifacts = gh.artifacts.filter((a) => a.id >= 3);
    r = await refresh({ apt: APT_ANSWERS.none });
    expect(r.failed).toEqual({ step: 'records', status: 1 });
    expect(r.agent).toBe(false);
    expect(r.results.records.stdout).toContain(
      `::error::no artifact mpimg-listing-${APP} (the build records of the listing's image): release once from a version tag`,
    );

    r = await refresh({ apt: APT_ANSWERS.none, app: '' });
    expect(r.failed).toBeUndefined();
    expect(r.ran).toEqual(['records']);
    expect(r.agent).toBe(false);
    expect(r.results.records.stdout).toContain('::notice::mpimg.json names no listing ($.listing.appId)');
    expect(droplets()).toHaveLength(1); // the first run's check only
  }, 120_000);
});

describe("the generated Makefile's outdated target, against the test droplet", () => {
  const make = (args: string[]) => {
    const s = droplet.sshd;
    const opts = `--ssh-config ${s.clientConfigFile} --known-hosts ${s.knownHostsFile} --wait-attempts 3`;
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(
        'make',
        [
          '-s',
          'outdated',
          `HOST=${s.host}`,
          `SSH_PORT=${s.port}`,
          `SSH_KEY=${s.identityFile}`,
          `SSH_OPTS=${opts}`,
          ...args,
        ],
        { cwd: dir, env: { PATH: process.env.PATH, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.once('error', reject);
      p.once('close', (status) => resolve({ status, stdout, stderr }));
    });
  };

  it('HOST=: the real mpimg outdated in the project (node_modules/.bin/mpimg); its 4 shows as "Error 4", nothing pending is 0', async () => {
    droplet.setFake(APT_ANSWERS.security);
    const r = await make(['JSON=1']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/outdated\] Error 4/);
    expect(JSON.parse(r.stdout)).toMatchObject({ pending: 3, security: 2, distribution: 'debian 12 (bookworm)' });
    droplet.setFake(APT_ANSWERS.none);
    const none = await make([]);
    expect(none.status, none.stderr).toBe(0);
    expect(none.stdout).toBe('debian 12 (bookworm) (apt): 0 update(s) pending, 0 of them security update(s)\n');
  }, 60_000);
});
