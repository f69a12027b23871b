import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createSnapshotCommand, type Prompt } from '../../tasks/commands/snapshot.js';
import { apiDoublePerTest } from '../helpers/do-api-project.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand, tempDir } from './support.js';

const { api, project, runner } = apiDoublePerTest({
  prefix: 'mpimg-snap-',
  prepare: (a) => {
    a.behaviour.actionMs = { shutdown: 10, snapshot: 15 };
  },
});

const NOW = new Date('2026-03-04T05:06:07Z');

function setup(opts: { env?: NodeJS.ProcessEnv; isTTY?: boolean; prompt?: Prompt } = {}) {
  const cmd = createSnapshotCommand({
    clock: fastClock(),
    retry: FAST_RETRY,
    timings: FAST_TIMINGS,
    now: () => NOW,
    prompt: opts.prompt,
  });
  return runner(cmd, opts);
}

/** A build droplet as `mpimg image --keep` leaves it: tagged, so no confirmation is needed. */
const BUILD = { tags: ['mpimg-build'] };

/** A prompt that records its questions and gives a fixed answer. */
function answering(answer: string): Prompt & { questions: string[] } {
  const questions: string[] = [];
  return Object.assign(
    async (q: string) => {
      questions.push(q);
      return answer;
    },
    { questions },
  );
}

function clean(cap: { out: () => string; err: () => string }): void {
  expect(cap.out()).not.toContain(TOKEN);
  expect(cap.err()).not.toContain(TOKEN);
}

describe('mpimg snapshot', () => {
  it("snapshots a droplet by id with the manifest's default name and prints the list-user line", async () => {
    const d = api.addDroplet({ name: 'build-1', ...BUILD });
    const { cap, run } = setup();
    expect(await run(['--droplet', String(d.id)])).toBe(0);
    const img = [...api.images.values()][0];
    expect(img.name).toBe('acme-wiki-1.2.0-20260304-050607');
    const lines = cap.out().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ID {4,}Name {4,}Type {4,}Distribution {4,}Slug {4,}Public {4,}Min Disk {4,}Created$/);
    expect(lines[1]).toBe(
      `${img.id}    acme-wiki-1.2.0-20260304-050607    snapshot    Debian${' '.repeat(18)}false     10          ${img.created_at}`,
    );
    // Plain progress lines off a terminal: phase and elapsed time, no carriage returns.
    expect(cap.err()).toMatch(/^mpimg snapshot: \[00:00\] looking up droplet \d+$/m);
    expect(cap.err()).toMatch(/^mpimg snapshot: \[\d\d:\d\d\] shutting down droplet \d+$/m);
    expect(cap.err()).not.toContain('\r');
    clean(cap);
  });

  it('finds the droplet by name, uses --name, and --json prints the image object only', async () => {
    api.addDroplet({ name: 'build-2', status: 'off', ...BUILD });
    const { cap, run } = setup();
    expect(await run(['--droplet', 'build-2', '--name', 'acme custom', '--json'])).toBe(0);
    const img = JSON.parse(cap.out());
    expect(img).toMatchObject({ name: 'acme custom', type: 'snapshot', slug: null, public: false, regions: ['nyc3'] });
    expect(typeof img.id).toBe('number');
    clean(cap);
  });

  it('finds a GPU droplet by name too (a plain listing never holds GPU droplets)', async () => {
    const d = api.addDroplet({ name: 'gpu-build', size: 'gpu-h100x1-80gb', status: 'off', ...BUILD });
    const { cap, run } = setup();
    expect(await run(['--droplet', 'gpu-build', '--name', 'gpu snap', '--json']), cap.err()).toBe(0);
    expect(JSON.parse(cap.out())).toMatchObject({ name: 'gpu snap', type: 'snapshot' });
    expect(api.images.get(JSON.parse(cap.out()).id)?.droplet_id).toBe(d.id);
    expect(api.requests.filter((r) => r.path === '/v2/droplets').map((r) => r.query.type ?? 'plain')).toEqual([
      'plain',
      'gpus',
    ]);
    clean(cap);
  });

  it("takes doctl's config file from DIGITALOCEAN_CONFIG, and the API endpoint from its api-url", async () => {
    const d = api.addDroplet({ status: 'off', ...BUILD });
    const file = join(project.dir, 'team-b.yaml');
    writeFileSync(file, `access-token: ${TOKEN}\napi-url: ${api.url}\n`);
    // No token variable and no DIGITALOCEAN_API_URL: both come from the file DIGITALOCEAN_CONFIG names.
    const env = { HOME: project.dir, XDG_CONFIG_HOME: join(project.dir, '.config'), DIGITALOCEAN_CONFIG: file };
    const { cap, run } = setup({ env });
    expect(await run(['--droplet', String(d.id), '--json']), cap.err()).toBe(0);
    expect(api.requests.every((r) => r.authorized)).toBe(true);
    // DIGITALOCEAN_API_URL still wins over the file's api-url, as with doctl.
    const other = setup({ env: { ...env, DIGITALOCEAN_API_URL: 'http://127.0.0.1:9' } });
    expect(await other.run(['--droplet', String(d.id)])).toBe(1);
    expect(other.cap.err()).toMatch(
      /cannot reach the DigitalOcean API[\s\S]*where: GET \/v2\/droplets\/\d+ \(http:\/\/127\.0\.0\.1:9\)[\s\S]*DIGITALOCEAN_API_URL points at the API/,
    );
    clean(cap);
  });

  it('works outside a project when --name is given, and needs mpimg.json otherwise', async () => {
    const d = api.addDroplet({ status: 'off', ...BUILD });
    const empty = tempDir('mpimg-empty-');
    try {
      const cap = captureContext({ cwd: empty.dir, env: apiEnv(api.url, empty.dir) });
      const cmd = createSnapshotCommand({ clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS });
      expect(await runCommand(cmd, ['--droplet', String(d.id)], cap.ctx)).toBe(1);
      expect(cap.err()).toMatch(/no mpimg.json in this folder/);
      expect(api.requests).toHaveLength(0);
      expect(await runCommand(cmd, ['--droplet', String(d.id), '--name', 'x'], cap.ctx)).toBe(0);
    } finally {
      empty.cleanup();
    }
  });

  it('shows phase and ticking elapsed time on a terminal', async () => {
    const d = api.addDroplet(BUILD);
    const { cap, run } = setup({ isTTY: true });
    expect(await run(['--droplet', String(d.id)])).toBe(0);
    expect(cap.err()).toMatch(/\r\x1b\[2K\[00:00\] shutting down droplet \d+ \(00:00\)/);
    expect(cap.err()).toMatch(/snapshot \d+ "acme-wiki-1\.2\.0-20260304-050607" ready\n/);
  });

  it('fails fast on a rejected token without printing it', async () => {
    const d = api.addDroplet();
    api.token = 'another-token';
    const { cap, run } = setup();
    expect(await run(['--droplet', String(d.id)])).toBe(1);
    expect(cap.err()).toMatch(
      /refused GET \/v2\/droplets\/\d+ with 401[\s\S]*fix: the token \(from DIGITALOCEAN_ACCESS_TOKEN\) was rejected/,
    );
    expect(api.requests).toHaveLength(1);
    clean(cap);
  });

  it("reads the token from doctl's config under the HOME passed in, and never prints it", async () => {
    const d = api.addDroplet({ status: 'off', ...BUILD });
    const cfg = join(project.dir, '.config', 'doctl');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'config.yaml'), `access-token: ${TOKEN}\ncontext: default\n`);
    const env = apiEnv(api.url, project.dir, { DIGITALOCEAN_ACCESS_TOKEN: undefined });
    const { cap, run } = setup({ env });
    expect(await run(['--droplet', String(d.id), '--json'])).toBe(0);
    clean(cap);
  });

  it('unknown droplet: 404 with where and fix', async () => {
    const { cap, run } = setup();
    expect(await run(['--droplet', '4242'])).toBe(1);
    expect(cap.err()).toMatch(/error: droplet 4242 not found\n {2}where: --droplet\n {2}fix: /);
  });

  it('through the CLI: usage errors exit 2, a missing token names all three sources', async () => {
    const cap = captureContext({ cwd: project.dir, env: { HOME: project.dir, DIGITALOCEAN_API_URL: api.url } });
    expect(await main(['snapshot'], cap.ctx)).toBe(2);
    expect(cap.err()).toMatch(/missing --droplet/);
    expect(await main(['snapshot', '--droplet', '1', '--bogus'], cap.ctx)).toBe(2);
    expect(await main(['snapshot', '--droplet', '1'], cap.ctx)).toBe(1);
    expect(cap.err()).toMatch(
      /no DigitalOcean API token found[\s\S]*DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN and .*doctl\/config\.yaml/,
    );
    expect(api.requests).toHaveLength(0);
    expect(await main(['snapshot', '--help'], cap.ctx)).toBe(0);
    expect(cap.out()).toContain('Usage: mpimg snapshot --droplet <id|name>');
  });

  describe('a droplet that is not a build droplet (no tag mpimg-build)', () => {
    function noActionsSent(): void {
      expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    }

    it('without a terminal and without --yes: refuses, says which droplet and how, and sends nothing', async () => {
      const d = api.addDroplet({ name: 'shop-prod', tags: ['web', 'prod'], status: 'active' });
      const { cap, run } = setup();
      expect(await run(['--droplet', String(d.id)])).toBe(1);
      expect(cap.err()).toContain(
        `error: refusing to shut down and snapshot droplet ${d.id} "shop-prod" (tags: web, prod; public IPv4: ${d.ip}; status: active) without confirmation`,
      );
      expect(cap.err()).toContain(`where: --droplet ${d.id}`);
      expect(cap.err()).toMatch(/fix: .*not tagged mpimg-build.*run again with --yes/);
      noActionsSent();
      expect(api.droplets.get(d.id)!.status).toBe('active');
      expect(api.images.size).toBe(0);
    });

    it('also when given by name', async () => {
      api.addDroplet({ name: 'shop-prod' });
      const { cap, run } = setup();
      expect(await run(['--droplet', 'shop-prod'])).toBe(1);
      expect(cap.err()).toMatch(/refusing to shut down and snapshot droplet \d+ "shop-prod" \(tags: none;/);
      noActionsSent();
    });

    it('on a terminal: shows name, tags and IP and asks; anything but yes leaves the droplet alone', async () => {
      const d = api.addDroplet({ name: 'shop-prod', tags: ['prod'] });
      for (const answer of ['', 'n', 'no', 'yess']) {
        const prompt = answering(answer);
        const { cap, run } = setup({ isTTY: true, prompt });
        expect(await run(['--droplet', String(d.id)])).toBe(1);
        expect(prompt.questions).toHaveLength(1);
        expect(prompt.questions[0]).toContain(
          `droplet ${d.id} "shop-prod" (tags: prod; public IPv4: ${d.ip}; status: active)`,
        );
        expect(prompt.questions[0]).toMatch(/\[y\/N\] $/);
        expect(cap.err()).toContain(`error: not confirmed: droplet ${d.id} was left as it is`);
      }
      noActionsSent();
    });

    it('on a terminal: "y" goes on', async () => {
      const d = api.addDroplet({ name: 'shop-prod' });
      const prompt = answering('y\n');
      const { cap, run } = setup({ isTTY: true, prompt });
      expect(await run(['--droplet', String(d.id)])).toBe(0);
      expect(prompt.questions).toHaveLength(1);
      expect(api.images.size).toBe(1);
      clean(cap);
    });

    it('--yes goes on without asking, also without a terminal', async () => {
      const d = api.addDroplet({ name: 'shop-prod' });
      const prompt = answering('n');
      const { run } = setup({ prompt });
      expect(await run(['--droplet', String(d.id), '--yes'])).toBe(0);
      expect(prompt.questions).toEqual([]);
      expect(
        api
          .calls()
          .filter((c) => c.startsWith('POST'))
          .map((c) => c.split(' ').pop()),
      ).toContain('snapshot');
    });

    it('a build droplet (tag mpimg-build) is not asked about', async () => {
      const d = api.addDroplet({ tags: ['acme', 'mpimg-build'] });
      const prompt = answering('n');
      const { cap, run } = setup({ isTTY: true, prompt });
      expect(await run(['--droplet', String(d.id)])).toBe(0);
      expect(prompt.questions).toEqual([]);
      expect(cap.err()).toMatch(/found droplet \d+ "droplet-\d+" \(tags: acme, mpimg-build;/);
    });

    it('names from the API cannot put terminal control sequences on the screen', async () => {
      const d = api.addDroplet({ name: 'x\u001b]0;pwned\u0007y' });
      const { cap, run } = setup();
      expect(await run(['--droplet', String(d.id)])).toBe(1);
      expect(cap.err()).toContain('"x?]0;pwned?y"');
      expect(cap.err()).not.toContain('\u001b');
    });
  });

  it('after a failed snapshot of a running droplet, says it may be left off and how to power it on', async () => {
    const d = api.addDroplet(BUILD);
    api.behaviour.erroredActions.add('snapshot');
    const { cap, run } = setup();
    expect(await run(['--droplet', String(d.id)])).toBe(1);
    expect(cap.err()).toMatch(/snapshot action \d+ ended as "errored"/);
    expect(cap.err()).toContain(
      `note: droplet ${d.id} was running and may now be off: power it on with \`doctl compute droplet-action power-on ${d.id}\``,
    );
    expect(cap.err()).not.toContain('may still appear');
  });

  it('Ctrl-C while the snapshot runs: exit 130, and says the snapshot may still appear', async () => {
    const d = api.addDroplet({ ...BUILD, status: 'off' });
    api.behaviour.actionMs = { snapshot: 60_000 };
    const { cap, run } = setup();
    const poll = setInterval(() => {
      if (api.calls().some((c) => c.endsWith('snapshot'))) {
        clearInterval(poll);
        cap.abort.abort();
      }
    }, 2);
    expect(await run(['--droplet', String(d.id)])).toBe(130);
    expect(cap.err()).toContain(
      `note: a snapshot "acme-wiki-1.2.0-20260304-050607" of droplet ${d.id} was started and may still appear: check \`doctl compute image list-user\``,
    );
    expect(cap.err()).not.toContain('may now be off');
  });
});
