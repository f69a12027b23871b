import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createImageCommand } from '../../tasks/commands/image.js';
import type { BuildStep, BuildStepContext } from '../../tasks/do/pipeline.js';
import { MpimgError } from '../../tasks/errors.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { FAST_RETRY, FAST_TIMINGS, MANIFEST, TOKEN, apiEnv, captureContext, fastClock, runCommand, tempDir, writeManifest } from './support.js';

let api: DoApiDouble;
let project: ReturnType<typeof tempDir>;
beforeEach(async () => {
  api = await DoApiDouble.start(TOKEN);
  api.sshKeys = [
    { id: 11, fingerprint: '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa', name: 'laptop', public_key: 'ssh-ed25519 AAAA laptop' },
    { id: 12, fingerprint: '4c:27:c0:f5:9c:11:9c:c9:6a:9d:ba:e4:01:2a:56:0b', name: 'ci', public_key: 'ssh-ed25519 AAAA ci' },
  ];
  api.behaviour.activeAfterMs = 20;
  api.behaviour.actionMs = { shutdown: 10, snapshot: 20 };
  project = tempDir('mpimg-image-');
  writeManifest(project.dir);
});
afterEach(async () => {
  await api.close();
  project.cleanup();
});

const NOW = new Date('2026-03-04T05:06:07Z');

function setup(build: BuildStep, opts: { isTTY?: boolean } = {}) {
  const cap = captureContext({ cwd: project.dir, env: apiEnv(api.url, project.dir), isTTY: opts.isTTY });
  const cmd = createImageCommand({ build, clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS, now: () => NOW });
  return { cap, run: (argv: string[] = []) => runCommand(cmd, argv, cap.ctx) };
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
    expect(create.body).toEqual({
      name: 'acme-wiki-build-20260304-050607', region: 'fra1', size: 's-1vcpu-512mb-10gb', image: 'debian-12-x64',
      ssh_keys: api.sshKeys.map((k) => k.fingerprint), tags: ['mpimg-build'],
      with_droplet_agent: false, monitoring: false, ipv6: false,
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
    const b = recordingBuild(async () => { throw new MpimgError('the build task failed on 203.0.113.9 (exit code 3)'); });
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
        ctx.signal!.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true });
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
    const poll = setInterval(() => { if (api.droplets.size > 0) { clearInterval(poll); s.cap.abort.abort(); } }, 2);
    expect(await s.run()).toBe(130);
    expect(b.seen).toHaveLength(0);
    expect(api.requests.some((r) => r.method === 'DELETE')).toBe(true);
    expect(api.droplets.size).toBe(0);
  });

  it('--keep leaves the droplet (also after a failure) and says how to delete it', async () => {
    const { cap, run } = setup(recordingBuild(async () => { throw new MpimgError('build broke'); }).step);
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

  it('uses the manifest\'s ssh keys, image, size and tags when given', async () => {
    writeManifest(project.dir, { ...MANIFEST, droplet: { region: 'ams3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['acme', 'mpimg-build'], sshKeys: ['3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa'] } });
    const { run } = setup(recordingBuild().step);
    expect(await run()).toBe(0);
    expect(api.requests.some((r) => r.path === '/v2/account/keys')).toBe(false);
    const create = api.requests.find((r) => r.method === 'POST' && r.path === '/v2/droplets')!.body as Record<string, unknown>;
    expect(create).toMatchObject({ region: 'ams3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['mpimg-build', 'acme'], ssh_keys: ['3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa'] });
  });

  it('refuses to create a droplet when the account has no SSH keys', async () => {
    api.sshKeys = [];
    const { cap, run } = setup(recordingBuild().step);
    expect(await run()).toBe(1);
    expect(cap.err()).toMatch(/no SSH keys[\s\S]*fix: .*doctl compute ssh-key import/);
    expect(api.requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('cleans up a droplet whose create answer was lost (5xx after the droplet was made)', async () => {
    // The API makes a droplet but the answer is a 500; the client's retry makes a second one.
    api.inject({ method: 'POST', path: '/v2/droplets', status: 500, afterHandling: true });
    const { run } = setup(recordingBuild(async () => { throw new MpimgError('build broke'); }).step);
    expect(await run()).toBe(1);
    expect(api.requests.filter((r) => r.method === 'POST' && r.path === '/v2/droplets').map((r) => r.status)).toEqual([500, 202]);
    expect(api.requests.filter((r) => r.method === 'DELETE')).toHaveLength(2);
    expect(api.droplets.size).toBe(0);
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
    api.inject({ method: 'DELETE', path: /^\/v2\/droplets\/\d+$/, status: 403, body: { id: 'forbidden', message: 'You do not have access for the attempted action.' } });
    const { cap, run } = setup(recordingBuild().step);
    expect(await run()).toBe(1);
    const id = [...api.droplets.keys()][0];
    expect(cap.err()).toContain(`could not destroy build droplet(s) ${id}`);
    expect(cap.err()).toContain(`doctl compute droplet delete ${id}`);
  });

  it('through the CLI: --help, bad flags (exit 2) and a missing token (exit 1) without API calls', async () => {
    const cap = captureContext({ cwd: project.dir, env: { HOME: project.dir, XDG_CONFIG_HOME: project.dir, DIGITALOCEAN_API_URL: api.url } });
    expect(await main(['image', '--help'], cap.ctx)).toBe(0);
    expect(cap.out()).toContain('Usage: mpimg image [--keep] [--json]');
    expect(await main(['image', '--kep'], cap.ctx)).toBe(2);
    expect(cap.err()).toMatch(/--kep/);
    expect(await main(['image'], cap.ctx)).toBe(1);
    expect(cap.err()).toMatch(/no DigitalOcean API token found/);
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
