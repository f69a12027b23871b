import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createImageCommand, type ImageCommandDeps } from '../../tasks/commands/image.js';
import type { Command } from '../../tasks/commands/types.js';
import { runTaskBuildStep } from '../../tasks/commands/task-step.js';
import type { BuildStep, BuildStepContext } from '../../tasks/do/pipeline.js';
import { MpimgError } from '../../core/errors.js';
import { TOKEN_VARS } from '../../tasks/secrets.js';
import { apiDoublePerTest } from '../helpers/do-api-project.js';
import { FAST_RETRY, FAST_TIMINGS, MANIFEST, TOKEN, captureContext, fastClock, writeManifest } from './support.js';

const { api, project, runner } = apiDoublePerTest({
  prefix: 'mpimg-image-',
  prepare: (a) => {
    a.sshKeys = [
      {
        id: 11,
        fingerprint: '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa',
        name: 'laptop',
        public_key: 'ssh-ed25519 AAAA laptop',
      },
      {
        id: 12,
        fingerprint: '4c:27:c0:f5:9c:11:9c:c9:6a:9d:ba:e4:01:2a:56:0b',
        name: 'ci',
        public_key: 'ssh-ed25519 AAAA ci',
      },
    ];
    a.behaviour.activeAfterMs = 20;
    a.behaviour.actionMs = { shutdown: 10, snapshot: 20 };
  },
});

const NOW = new Date('2026-03-04T05:06:07Z');

function setup(
  build: BuildStep,
  opts: { isTTY?: boolean; env?: NodeJS.ProcessEnv; deps?: Partial<ImageCommandDeps> } = {},
) {
  const cmd = createImageCommand({
    build,
    clock: fastClock(),
    retry: FAST_RETRY,
    timings: FAST_TIMINGS,
    now: () => NOW,
    ...opts.deps,
  });
  return runner(cmd, opts);
}

const RUN_TAG_RE = /^mpimg-run:[0-9a-f]{12}$/;

function creates() {
  return api.requests.filter((r) => r.method === 'POST' && r.path === '/v2/droplets');
}

/** A build step that records what it saw and what the API had done when it ran. */
function recordingBuild(effect?: (ctx: BuildStepContext) => Promise<void>) {
  const seen: Array<{ ip: string; status: string; callsBefore: string[]; cwd: string }> = [];
  const step: BuildStep = async (ctx) => {
    seen.push({ ip: ctx.ip, status: ctx.droplet.status, callsBefore: api.calls(), cwd: ctx.cwd });
    ctx.stdout.write('build: all steps done\n');
    if (effect) await effect(ctx);
  };
  return { seen, step };
}

function noTokenAnywhere(cap: { out: () => string; err: () => string }): void {
  expect(cap.out()).not.toContain(TOKEN);
  expect(cap.err()).not.toContain(TOKEN);
}

describe('mpimg image', () => {
  it('creates the build droplet as the guide asks, builds, snapshots, destroys it and prints the list-user line', async () => {
    const b = recordingBuild();
    const { cap, run } = setup(b.step);
    expect(await run()).toBe(0);

    const create = api.requests.find((r) => r.method === 'POST' && r.path === '/v2/droplets')!;
    const body = create.body as { name: string; tags: string[] };
    // The name carries this run's id, and so does the run's own tag.
    const runId = /^acme-wiki-build-20260304-050607-([0-9a-f]{12})$/.exec(body.name)?.[1];
    expect(runId).toBeDefined();
    expect(create.body).toEqual({
      name: `acme-wiki-build-20260304-050607-${runId}`,
      region: 'fra1',
      size: 's-1vcpu-512mb-10gb',
      image: 'debian-12-x64',
      ssh_keys: api.sshKeys.map((k) => k.fingerprint),
      tags: ['mpimg-build', `mpimg-run:${runId}`],
      with_droplet_agent: false,
      monitoring: false,
      ipv6: false,
    });
    // Build ran once, on the droplet's public IPv4, after it was active, before any power action.
    expect(b.seen).toHaveLength(1);
    expect(b.seen[0].status).toBe('active');
    expect(b.seen[0].ip).toMatch(/^203\.0\.113\.\d+$/);
    expect(b.seen[0].cwd).toBe(project.dir);
    expect(b.seen[0].callsBefore.some((c) => c.includes('/actions'))).toBe(false);

    const calls = api.calls();
    const order = ['POST /v2/droplets', 'shutdown', 'snapshot', 'DELETE /v2/droplets/'];
    const idx = order.map((k) => calls.findIndex((c) => c.includes(k)));
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect([...idx].sort((x, y) => x - y)).toEqual(idx);
    expect(api.droplets.size).toBe(0);

    const image = [...api.images.values()][0];
    expect(image.name).toBe('acme-wiki-1.2.0-20260304-050607');
    const [header, row] = cap.out().trim().split('\n').slice(-2);
    expect(header).toMatch(/^ID {4,}Name {4,}Type {4,}Distribution {4,}Slug {4,}Public {4,}Min Disk {4,}Created$/);
    expect(row.startsWith(`${image.id}    acme-wiki-1.2.0-20260304-050607    snapshot    Debian`)).toBe(true);
    expect(cap.out()).toContain('build: all steps done');
    expect(cap.err()).toMatch(/mpimg image: \[\d\d:\d\d\] creating build droplet/);
    expect(cap.err()).toMatch(/destroying build droplet \d+/);
    noTokenAnywhere(cap);
  });

  it('destroys the build droplet when the build fails, and reports the build error', async () => {
    const b = recordingBuild(async () => {
      throw new MpimgError('the build task failed on 203.0.113.9 (exit code 3)');
    });
    const { cap, run } = setup(b.step);
    expect(await run()).toBe(1);
    expect(cap.err()).toContain('the build task failed');
    const calls = api.calls();
    expect(calls.some((c) => c.includes('/actions'))).toBe(false);
    expect(calls[calls.length - 1]).toMatch(/^DELETE \/v2\/droplets\/\d+$/);
    expect(api.droplets.size).toBe(0);
    expect(api.images.size).toBe(0);
    noTokenAnywhere(cap);
  });

  it('destroys the build droplet when the snapshot action errors', async () => {
    api.behaviour.erroredActions.add('snapshot');
    const { cap, run } = setup(recordingBuild().step);
    expect(await run()).toBe(1);
    expect(cap.err()).toMatch(/ended as "errored"/);
    expect(api.droplets.size).toBe(0);
  });

  it('destroys the build droplet on Ctrl-C during the build (exit 130) and stops there', async () => {
    let cap!: ReturnType<typeof setup>['cap'];
    const b = recordingBuild(async (ctx) => {
      // Like the real build step: the abort signal ends it.
      await new Promise<void>((_resolve, reject) => {
        ctx.signal!.addEventListener(
          'abort',
          () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
          { once: true },
        );
        setTimeout(() => cap.abort.abort(), 5);
      });
    });
    const s = setup(b.step);
    cap = s.cap;
    const code = await s.run();
    expect(code).toBe(130);
    expect(cap.err()).toMatch(/error: aborted; build droplet \d+ destroyed/);
    expect(api.droplets.size).toBe(0);
    expect(api.calls().some((c) => c.includes('/actions'))).toBe(false);
    expect(cap.err()).toMatch(/destroying build droplet/);
  });

  it('destroys the droplet on Ctrl-C while waiting for it to become active', async () => {
    api.behaviour.activeAfterMs = 60_000;
    const b = recordingBuild();
    const s = setup(b.step);
    // Ctrl-C once the droplet exists (and is still coming up).
    const poll = setInterval(() => {
      if (api.droplets.size > 0) {
        clearInterval(poll);
        s.cap.abort.abort();
      }
    }, 2);
    expect(await s.run()).toBe(130);
    expect(b.seen).toHaveLength(0);
    expect(api.requests.some((r) => r.method === 'DELETE')).toBe(true);
    expect(api.droplets.size).toBe(0);
  });

  it('--keep leaves the droplet (also after a failure) and says how to delete it', async () => {
    const { cap, run } = setup(
      recordingBuild(async () => {
        throw new MpimgError('build broke');
      }).step,
    );
    expect(await run(['--keep'])).toBe(1);
    expect(api.droplets.size).toBe(1);
    const id = [...api.droplets.keys()][0];
    expect(cap.err()).toContain(`doctl compute droplet delete ${id}`);
    expect(api.requests.some((r) => r.method === 'DELETE')).toBe(false);
  });

  it('--json prints only the image object on stdout (build output goes to stderr)', async () => {
    const { cap, run } = setup(recordingBuild().step);
    expect(await run(['--json'])).toBe(0);
    const img = JSON.parse(cap.out());
    expect(img).toMatchObject({ name: 'acme-wiki-1.2.0-20260304-050607', type: 'snapshot', public: false });
    expect(cap.err()).toContain('build: all steps done');
    noTokenAnywhere(cap);
  });

  it("uses the manifest's ssh keys, image, size and tags when given", async () => {
    writeManifest(project.dir, {
      ...MANIFEST,
      droplet: {
        region: 'ams3',
        size: 's-1vcpu-1gb',
        image: 'ubuntu-24-04-x64',
        tags: ['acme', 'mpimg-build'],
        sshKeys: ['3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa'],
      },
    });
    const { run } = setup(recordingBuild().step);
    expect(await run()).toBe(0);
    expect(api.requests.some((r) => r.path === '/v2/account/keys')).toBe(false);
    const create = api.requests.find((r) => r.method === 'POST' && r.path === '/v2/droplets')!.body as Record<
      string,
      unknown
    >;
    expect(create).toMatchObject({
      region: 'ams3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      ssh_keys: ['3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa'],
    });
    const tags = create.tags as string[];
    expect(tags).toHaveLength(3);
    expect(tags[0]).toBe('mpimg-build');
    expect(tags[1]).toMatch(RUN_TAG_RE);
    expect(tags[2]).toBe('acme');
  });

  it('refuses to create a droplet when the account has no SSH keys', async () => {
    api.sshKeys = [];
    const { cap, run } = setup(recordingBuild().step);
    expect(await run()).toBe(1);
    expect(cap.err()).toMatch(/no SSH keys[\s\S]*fix: .*doctl compute ssh-key import/);
    expect(api.requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('a create whose answer was lost (503 after the droplet was made) is looked up by the run tag, not sent again', async () => {
    api.inject({ method: 'POST', path: '/v2/droplets', status: 503, afterHandling: true });
    const b = recordingBuild();
    const { cap, run } = setup(b.step);
    expect(await run()).toBe(0);
    expect(creates().map((r) => r.status)).toEqual([503]);
    const tag = (creates()[0].body as { tags: string[] }).tags[1];
    expect(tag).toMatch(RUN_TAG_RE);
    const lookup = api.requests.findIndex(
      (r) => r.method === 'GET' && r.path === '/v2/droplets' && r.query.tag_name === tag,
    );
    expect(lookup).toBeGreaterThan(api.requests.indexOf(creates()[0]));
    // The one droplet made was found, built on, snapshotted and destroyed.
    expect(b.seen).toHaveLength(1);
    expect(api.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect(api.droplets.size).toBe(0);
    expect(api.images.size).toBe(1);
    noTokenAnywhere(cap);
  });

  it('a create that the API refused with 503 before acting is sent again (one droplet)', async () => {
    api.inject({ method: 'POST', path: '/v2/droplets', status: 503 });
    const b = recordingBuild();
    const { run } = setup(b.step);
    expect(await run()).toBe(0);
    expect(creates().map((r) => r.status)).toEqual([503, 202]);
    expect(b.seen).toHaveLength(1);
    expect(api.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect(api.droplets.size).toBe(0);
  });

  it('a create whose connection dropped after the droplet was made, or whose answer came too late, makes one droplet', async () => {
    for (const fault of [{ drop: true }, { delayMs: 400 }]) {
      api.requests.length = 0;
      api.inject({ method: 'POST', path: '/v2/droplets', afterHandling: true, ...fault });
      const b = recordingBuild();
      const { run } = setup(b.step, { deps: { retry: { ...FAST_RETRY, requestTimeoutMs: 150 } } });
      expect(await run()).toBe(0);
      expect(creates()).toHaveLength(1);
      expect(b.seen).toHaveLength(1);
      expect(api.droplets.size).toBe(0);
    }
    expect(api.images.size).toBe(2);
  });

  it('two runs of one project in the same second: a failing one destroys only its own droplet', async () => {
    const ctxs: Record<string, BuildStepContext> = {};
    let bothBuilding!: () => void;
    const both = new Promise<void>((r) => {
      bothBuilding = r;
    });
    const arrive = (k: string, c: BuildStepContext) => {
      ctxs[k] = c;
      if (ctxs.a && ctxs.b) bothBuilding();
    };
    let aDone!: () => void;
    const aFinished = new Promise<void>((r) => {
      aDone = r;
    });
    let bAliveAfterA: boolean | undefined;
    const a = setup(async (c) => {
      arrive('a', c);
      await both;
      throw new MpimgError('build broke');
    });
    const b = setup(async (c) => {
      arrive('b', c);
      await both;
      await aFinished;
      bAliveAfterA = api.droplets.has(c.droplet.id);
    });
    const pa = a.run().finally(() => aDone());
    const pb = b.run();
    expect(await pa).toBe(1);
    expect(await pb).toBe(0);

    const idA = ctxs.a.droplet.id;
    const idB = ctxs.b.droplet.id;
    expect(idA).not.toBe(idB);
    expect(ctxs.a.droplet.name).not.toBe(ctxs.b.droplet.name);
    expect(ctxs.a.droplet.name.startsWith('acme-wiki-build-20260304-050607-')).toBe(true);
    expect(bAliveAfterA).toBe(true);
    const runTags = [ctxs.a, ctxs.b].map((c) => (c.droplet.tags ?? []).filter((t) => RUN_TAG_RE.test(t)));
    expect(runTags[0]).toHaveLength(1);
    expect(runTags[1]).toHaveLength(1);
    expect(runTags[0][0]).not.toBe(runTags[1][0]);
    // Each droplet deleted once, by its own run; B's snapshot was taken.
    expect(
      api.requests
        .filter((r) => r.method === 'DELETE')
        .map((r) => r.path)
        .sort(),
    ).toEqual([`/v2/droplets/${idA}`, `/v2/droplets/${idB}`].sort());
    expect(a.cap.err()).toContain('build broke');
    expect(a.cap.err()).not.toContain(`destroying build droplet ${idB}`);
    expect([...api.images.values()].map((i) => i.droplet_id)).toEqual([idB]);
    expect(api.droplets.size).toBe(0);
  });

  it('the build gets a known_hosts file of its own, in a private dir removed afterwards (also after a failure)', async () => {
    for (const fails of [false, true]) {
      const seen: Array<{ file: string; dirMode: number; fileMode: number; content: string }> = [];
      const { run } = setup(async (c) => {
        const file = c.knownHostsFile!;
        seen.push({
          file,
          dirMode: statSync(dirname(file)).mode & 0o777,
          fileMode: statSync(file).mode & 0o777,
          content: readFileSync(file, 'utf8'),
        });
        if (fails) throw new MpimgError('build broke');
      });
      expect(await run()).toBe(fails ? 1 : 0);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ dirMode: 0o700, fileMode: 0o600, content: '' });
      expect(existsSync(dirname(seen[0].file))).toBe(false);
    }
  });

  it('keeps the API token away from the build (process.env and its env) and restores it afterwards; the API calls carry it', async () => {
    const keys = [...TOKEN_VARS, 'DIGITALOCEAN_API_URL'];
    const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
    const tokensIn = (env: NodeJS.ProcessEnv) =>
      TOKEN_VARS.filter((k) => env[k] !== undefined).concat(
        Object.values(env).some((v) => v?.includes(TOKEN)) ? ['(value)'] : [],
      );
    const seen: Array<{ where: string; found: string[] }> = [];
    // The real `mpimg run` command is replaced by one that records what the vendor's task would see.
    const fakeRun: Command = {
      name: 'run',
      summary: '',
      usage: '',
      run: async (_argv, c) => {
        seen.push(
          { where: 'run: process.env', found: tokensIn(process.env) },
          { where: 'run: ctx.env', found: tokensIn(c.env) },
        );
        return 0;
      },
    };
    const inner = runTaskBuildStep({ load: async () => ({ default: fakeRun }) });
    const build: BuildStep = async (c) => {
      seen.push(
        { where: 'step: process.env', found: tokensIn(process.env) },
        { where: 'step: ctx.env', found: tokensIn(c.env) },
      );
      await inner(c);
    };
    try {
      // Like the CLI: the command's env IS process.env, holding the token under several names.
      for (const k of TOKEN_VARS) process.env[k] = TOKEN;
      process.env.DIGITALOCEAN_API_URL = api.url;
      const { cap, run } = setup(build, { env: process.env });
      expect(await run()).toBe(0);
      expect(seen).toEqual([
        { where: 'step: process.env', found: [] },
        { where: 'step: ctx.env', found: [] },
        { where: 'run: process.env', found: [] },
        { where: 'run: ctx.env', found: [] },
      ]);
      for (const k of TOKEN_VARS) expect(process.env[k]).toBe(TOKEN);
      // Calls before and after the build were authorised with the token.
      expect(api.requests.length).toBeGreaterThan(5);
      expect(api.requests.every((r) => r.authorized)).toBe(true);
      expect(api.calls().some((c) => c.endsWith('snapshot'))).toBe(true);
      noTokenAnywhere(cap);
    } finally {
      for (const k of keys) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it('Ctrl-C while a slow create is under way still destroys the droplet it made', async () => {
    // The API takes its time to make the droplet; the user gives up before the answer comes.
    api.inject({ method: 'POST', path: '/v2/droplets', delayMs: 1500 });
    const b = recordingBuild();
    const s = setup(b.step);
    // Ctrl-C once the create has reached the API (the double records a request when it arrives).
    const poll = setInterval(() => {
      if (creates().length) {
        clearInterval(poll);
        setTimeout(() => s.cap.abort.abort(), 20);
      }
    }, 2);
    expect(await s.run()).toBe(130);
    await new Promise((r) => setTimeout(r, 250));
    expect(creates()).toHaveLength(1);
    expect(b.seen).toHaveLength(0);
    expect(api.droplets.size).toBe(0);
    expect(s.cap.err()).toMatch(/error: aborted; build droplet \d+ destroyed/);
  });

  it('Ctrl-C during the snapshot destroys the droplet and says the snapshot may still appear', async () => {
    api.behaviour.actionMs = { shutdown: 10, snapshot: 60_000 };
    const s = setup(recordingBuild().step);
    const poll = setInterval(() => {
      if (api.calls().some((c) => c.endsWith('snapshot'))) {
        clearInterval(poll);
        s.cap.abort.abort();
      }
    }, 2);
    expect(await s.run()).toBe(130);
    expect(api.droplets.size).toBe(0);
    expect(s.cap.err()).toMatch(
      /error: aborted; build droplet \d+ destroyed; a snapshot "acme-wiki-1\.2\.0-20260304-050607" had been started and may still appear: check `doctl compute image list-user`/,
    );
  });

  it('Ctrl-C while a build step ignores the signal: cleanup goes ahead after a grace period', async () => {
    const b = recordingBuild(
      () =>
        new Promise<void>(() => {
          /* stuck, deaf to Ctrl-C */
        }),
    );
    const s = setup(b.step, { deps: { timings: { ...FAST_TIMINGS, abortGraceMs: 50 } } });
    const poll = setInterval(() => {
      if (b.seen.length) {
        clearInterval(poll);
        s.cap.abort.abort();
      }
    }, 2);
    expect(await s.run()).toBe(130);
    expect(api.droplets.size).toBe(0);
    expect(s.cap.err()).toContain('the build step did not stop within 50 ms of Ctrl-C; cleaning up without it');
    expect(s.cap.err()).toMatch(/error: aborted; build droplet \d+ destroyed/);
  }, 10_000);

  it('refuses a manifest tag DigitalOcean would not take, before creating anything', async () => {
    writeManifest(project.dir, { ...MANIFEST, droplet: { tags: ['acme', 'has space'] } });
    const { cap, run } = setup(recordingBuild().step);
    expect(await run()).toBe(1);
    // the one schema refuses it (mpimg validate says the same), before any API call
    expect(cap.err()).toMatch(
      /\$\.droplet\.tags\[1\]: bad tag "has space"\n\s+fix: DigitalOcean tags are 1-255 letters/,
    );
    expect(api.requests).toHaveLength(0);
  });

  it('a droplet that never gets a public IPv4: bounded wait, clear error, droplet destroyed', async () => {
    api.behaviour.noPublicIp = true;
    const b = recordingBuild();
    const { cap, run } = setup(b.step, { deps: { timings: { ...FAST_TIMINGS, activeTimeoutMs: 80 } } });
    expect(await run()).toBe(1);
    expect(cap.err()).toMatch(
      /did not become active with a public IPv4 within 80 ms \(status active, no public IPv4\)/,
    );
    expect(b.seen).toHaveLength(0);
    expect(api.droplets.size).toBe(0);
  });

  it('a token revoked mid-run (401): reports it and how to delete the droplet left behind', async () => {
    const b = recordingBuild(async () => {
      api.token = 'revoked';
    });
    const { cap, run } = setup(b.step);
    expect(await run()).toBe(1);
    const id = [...api.droplets.keys()][0];
    expect(cap.err()).toMatch(
      /refused GET \/v2\/droplets\/\d+ with 401[\s\S]*the token \(from DIGITALOCEAN_ACCESS_TOKEN\) was rejected/,
    );
    expect(cap.err()).toContain(`doctl compute droplet delete ${id}`);
    expect(api.calls().some((c) => c.includes('/actions'))).toBe(false);
    noTokenAnywhere(cap);
  });

  it('still destroys the droplet through a 429 and 5xx on the delete', async () => {
    api.rateLimit({ method: 'DELETE', path: /^\/v2\/droplets\/\d+$/, retryAfter: 0 });
    api.inject({ method: 'DELETE', path: /^\/v2\/droplets\/\d+$/, status: 502 });
    const { run } = setup(recordingBuild().step);
    expect(await run()).toBe(0);
    expect(api.droplets.size).toBe(0);
    expect(api.requests.filter((r) => r.method === 'DELETE').map((r) => r.status)).toEqual([429, 502, 204]);
  });

  it('fails with exit 1 and a manual delete hint when the droplet cannot be destroyed', async () => {
    api.inject({
      method: 'DELETE',
      path: /^\/v2\/droplets\/\d+$/,
      status: 403,
      body: { id: 'forbidden', message: 'You do not have access for the attempted action.' },
    });
    const { cap, run } = setup(recordingBuild().step);
    expect(await run()).toBe(1);
    const id = [...api.droplets.keys()][0];
    expect(cap.err()).toContain(`could not destroy build droplet(s) ${id}`);
    expect(cap.err()).toContain(`doctl compute droplet delete ${id}`);
    // The image was made all the same: its line to submit is not lost.
    const image = [...api.images.values()][0];
    expect(cap.out()).toMatch(new RegExp(`^${image.id} {4}acme-wiki-1\\.2\\.0-20260304-050607 {4}snapshot`, 'm'));
  });

  it('through the CLI: --help, bad flags (exit 2) and a missing token (exit 1) without API calls', async () => {
    const cap = captureContext({
      cwd: project.dir,
      env: { HOME: project.dir, XDG_CONFIG_HOME: project.dir, DIGITALOCEAN_API_URL: api.url },
    });
    expect(await main(['image', '--help'], cap.ctx)).toBe(0);
    expect(cap.out()).toContain(
      'Usage: mpimg image [--verify] [--release --reason "<text>"] [--all | --distributions a,b] [--parallel N] [--keep] [--dry-run] [--json]',
    );
    expect(await main(['image', '--kep'], cap.ctx)).toBe(2);
    expect(cap.err()).toMatch(/--kep/);
    expect(await main(['image'], cap.ctx)).toBe(1);
    expect(cap.err()).toMatch(/no DigitalOcean API token found/);
    expect(api.requests).toHaveLength(0);
  });

  it('$.droplet.sshKeys takes ids as numbers or strings and sends ids as integers, fingerprints as strings', async () => {
    const fp = api.sshKeys[1].fingerprint;
    writeManifest(project.dir, { ...MANIFEST, droplet: { region: 'fra1', sshKeys: [11, '12', fp] } });
    const { cap, run } = setup(recordingBuild().step);
    expect(await run(), cap.err()).toBe(0);
    expect((creates()[0].body as { ssh_keys: unknown[] }).ssh_keys).toEqual([11, 12, fp]);
    expect(api.requests.some((r) => r.path === '/v2/account/keys')).toBe(false);
  });

  it("a lost create answer is looked up by the run's name too: a droplet not tagged yet is found, not made twice", async () => {
    // The API tags a droplet after making it: for a while a tag listing does not show it.
    api.behaviour.tagsAfterMs = 60_000;
    api.inject({ method: 'POST', path: '/v2/droplets', status: 503, afterHandling: true });
    const b = recordingBuild();
    const { cap, run } = setup(b.step);
    expect(await run(), cap.err()).toBe(0);
    expect(creates().map((r) => r.status)).toEqual([503]);
    const name = (creates()[0].body as { name: string }).name;
    expect(api.requests.some((r) => r.path === '/v2/droplets' && r.query.name === name)).toBe(true);
    expect(b.seen).toHaveLength(1);
    expect(api.droplets.size).toBe(0);
  });

  it('a lost create answer is looked up for a bounded time: a droplet listed only a while later is found, not made twice', async () => {
    api.behaviour.listedAfterMs = 400;
    api.inject({ method: 'POST', path: '/v2/droplets', status: 503, afterHandling: true });
    const b = recordingBuild();
    // real waits between the looks (capped at 50 ms each), up to 40 looks
    const { cap, run } = setup(b.step, {
      deps: { clock: fastClock(50), retry: { ...FAST_RETRY, lookupTries: 40, lookupPollMs: 50 } },
    });
    expect(await run(), cap.err()).toBe(0);
    expect(creates()).toHaveLength(1);
    expect(b.seen).toHaveLength(1);
    expect(api.droplets.size).toBe(0);
    expect(api.images.size).toBe(1);
  });

  it('a GPU size: a lost create answer and the cleanup find the droplet among GPU droplets (type=gpus)', async () => {
    writeManifest(project.dir, { ...MANIFEST, droplet: { region: 'nyc3', size: 'gpu-h100x1-80gb' } });
    api.inject({ method: 'POST', path: '/v2/droplets', status: 503, afterHandling: true });
    const b = recordingBuild(async () => {
      throw new MpimgError('build broke');
    });
    const { cap, run } = setup(b.step);
    expect(await run()).toBe(1);
    expect(cap.err()).toContain('build broke');
    // one droplet made, found, built on and destroyed
    expect(creates()).toHaveLength(1);
    expect(b.seen).toHaveLength(1);
    expect(api.droplets.size).toBe(0);
    const lists = api.requests.filter((r) => r.method === 'GET' && r.path === '/v2/droplets');
    expect(lists.length).toBeGreaterThan(0);
    expect(lists.every((r) => r.query.type === 'gpus' && r.query.tag_name === undefined)).toBe(true);
  });

  it("Ctrl-C after a create whose answer never came: the droplet that shows up later is found by the run's tag and destroyed", async () => {
    // The API makes the droplet late; the client has given up on the answer; the user presses Ctrl-C.
    api.inject({ method: 'POST', path: '/v2/droplets', delayMs: 300 });
    const b = recordingBuild();
    const s = setup(b.step, {
      deps: {
        clock: fastClock(50),
        retry: { ...FAST_RETRY, requestTimeoutMs: 100, lookupTries: 40, lookupPollMs: 50 },
      },
    });
    const poll = setInterval(() => {
      if (creates().length) {
        clearInterval(poll);
        setTimeout(() => s.cap.abort.abort(), 20);
      }
    }, 2);
    expect(await s.run()).toBe(130);
    expect(creates()).toHaveLength(1);
    expect(b.seen).toHaveLength(0);
    expect(api.droplets.size).toBe(0);
    expect(api.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect(s.cap.err()).toMatch(
      /error: aborted; build droplet \d+ of this run, made by a create whose answer was lost, found and destroyed/,
    );
  });

  it('a create whose answer was lost and whose droplet never shows up: says which tag to check, never "nothing left"', async () => {
    // The connection drops every time, before anything is made: the client cannot know that.
    api.inject({ method: 'POST', path: '/v2/droplets', drop: true, times: 100 });
    const { cap, run } = setup(recordingBuild().step, {
      deps: { retry: { ...FAST_RETRY, maxRetries: 1, lookupTries: 3, lookupPollMs: 10 } },
    });
    expect(await run()).toBe(1);
    const tag = (creates()[0].body as { tags: string[] }).tags[1];
    expect(cap.err()).toContain(
      `note: the answer to the create request was lost, so a droplet tagged ${tag} (named ${(creates()[0].body as { name: string }).name}) may exist: none showed up within 30 ms; check \`doctl compute droplet list --tag-name ${tag}\` in a few minutes and delete what it lists`,
    );
    expect(cap.err()).toMatch(
      /error: POST \/v2\/droplets failed .* it is not known whether DigitalOcean carried it out/,
    );
  });

  it('--dry-run needs no token: the exact requests (as a run sends them) and the steps, nothing sent', async () => {
    writeManifest(project.dir, {
      ...MANIFEST,
      listing: { appId: 'acme-app', software: [{ name: 'Acme Wiki', version: '1.2.0' }] },
    });
    const env = { HOME: project.dir, XDG_CONFIG_HOME: join(project.dir, '.config'), PATH: process.env.PATH };
    const dry = captureContext({ cwd: project.dir, env });
    expect(
      await main(['image', '--dry-run', '--verify', '--release', '--reason', 'first', '--json'], dry.ctx),
      dry.err(),
    ).toBe(0);
    const [plan] = JSON.parse(dry.out()) as Array<{
      distribution: string;
      requests: Array<{ kind: string; method?: string; url?: string; body?: Record<string, unknown>; text?: string }>;
    }>;
    expect(plan.distribution).toBe('debian-12-x64');
    const lines = plan.requests.map((r) =>
      r.kind === 'request' ? `${r.method} ${r.url!.replace('https://api.digitalocean.com', '')}` : 'step',
    );
    expect(lines).toEqual([
      'GET /v2/account/keys',
      'POST /v2/droplets',
      'GET /v2/droplets/{droplet_id}',
      'step',
      'POST /v2/droplets/{droplet_id}/actions',
      'GET /v2/droplets/{droplet_id}',
      'POST /v2/droplets/{droplet_id}/actions',
      'GET /v2/actions/{action_id}',
      'GET /v2/droplets/{droplet_id}/snapshots',
      'GET /v2/images/{image_id}',
      'DELETE /v2/droplets/{droplet_id}',
      'GET /v2/images/{image_id}',
      'GET /v2/account/keys',
      'POST /v2/droplets',
      'GET /v2/droplets/{droplet_id}',
      'step',
      'DELETE /v2/droplets/{droplet_id}',
      'GET /v2/images/{image_id}',
      'PATCH /api/v1/vendor-portal/apps/acme-app',
    ]);
    // The bodies are those of a real run (up to the run id and the values the API answers).
    const b = recordingBuild();
    const { run } = setup(b.step, {
      deps: {
        verify: async (c) => {
          c.stdout.write('[PASS] first-boot: ok\nResult: PASS\n');
        },
      },
    });
    api.addApp({ appId: 'acme-app' });
    expect(await run(['--verify', '--release', '--reason', 'first'])).toBe(0);
    const sent = api.requests.filter((r) => r.body !== undefined).map((r) => r.body as Record<string, unknown>);
    const planned = plan.requests.filter((r) => r.body !== undefined).map((r) => r.body!);
    // (the dry run went through the CLI, at the real time)
    const runIds = (x: unknown) =>
      JSON.stringify(x)
        .replace(/[0-9a-f]{12}/g, '<run>')
        .replace(/\d{8}-\d{6}/g, '<time>')
        .replace(/"(image|imageId)":\d+/g, '"$1":"{image_id}"')
        .replace(/"ssh_keys":\[[^\]]*\]/g, '"ssh_keys":[keys]');
    expect(planned.map(runIds)).toEqual(
      sent
        .filter((x) => x.type !== 'shutdown' || sent.indexOf(x) === sent.findIndex((y) => y.type === 'shutdown'))
        .map(runIds),
    );
    expect(plan.requests.find((r) => r.method === 'POST' && r.url!.endsWith('/v2/droplets'))!.body!.ssh_keys).toEqual([
      '{fingerprint of every SSH key of the account}',
    ]);
    // The text form, for people: each request line and its JSON body.
    const text = captureContext({ cwd: project.dir, env });
    expect(await main(['image', '--dry-run'], text.ctx)).toBe(0);
    expect(text.out()).toMatch(
      /^POST https:\/\/api\.digitalocean\.com\/v2\/droplets\n\{\n {2}"name": "acme-wiki-build-20\d{6}-\d{6}-[0-9a-f]{12}",\n {2}"region": "fra1",/m,
    );
    expect(text.out()).toContain('# on the droplet: `mpimg run build --host {droplet_ip} --user root');
    expect(text.err()).toBe('');
  });

  it("an SSH key that is neither an id nor an MD5 fingerprint (ssh-keygen's SHA256 form, a key name) is refused before touching the API", async () => {
    for (const bad of ['SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8', 'laptop', '0']) {
      writeManifest(project.dir, { ...MANIFEST, droplet: { sshKeys: [7, bad] } });
      const { cap, run } = setup(recordingBuild().step);
      expect(await run(), bad).toBe(1);
      expect(cap.err()).toContain(
        `$.droplet.sshKeys[1]: SSH key ${JSON.stringify(bad)} is neither a key id nor an MD5 fingerprint`,
      );
      expect(cap.err()).toContain('doctl compute ssh-key list');
    }
    expect(api.requests).toHaveLength(0);
  });

  it('reports a bad mpimg.json before touching the API', async () => {
    writeManifest(project.dir, { ...MANIFEST, slug: 'Bad Slug' });
    const { cap, run } = setup(recordingBuild().step);
    expect(await run()).toBe(1);
    expect(cap.err()).toMatch(/\$\.slug: bad slug/);
    expect(api.requests).toHaveLength(0);
  });
});
