// `mpimg verify --image <id>` against the API double: the droplet made from the snapshot leads to
// the test droplet of droplet-root.ts (the real bundle installed and booted, behind a real sshd),
// and the real `mpimg run verify` runs the project's verify task there.
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createVerifyCommand, type VerifyCommandDeps } from '../../tasks/commands/verify.js';
import { runTaskBuildStep } from '../../tasks/commands/task-step.js';
import { pickSize } from '../../tasks/do/verify.js';
import { MpimgError } from '../../core/errors.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { ADMIN_PASSWORD_MARK, VERIFY_MANIFEST, testDroplet, verifyProject, type TestDroplet } from './droplet-root.js';
import {
  FAST_RETRY,
  FAST_TIMINGS,
  TOKEN,
  apiEnv,
  captureContext,
  fastClock,
  runCommand,
  writeManifest,
} from './support.js';

let project: string;
let good: TestDroplet;
let api: DoApiDouble;
let imageId: number;

beforeAll(async () => {
  project = verifyProject();
  good = await testDroplet(project);
});
afterAll(async () => {
  await good?.stop();
  rmSync(project, { recursive: true, force: true });
});
beforeEach(async () => {
  writeManifest(project, VERIFY_MANIFEST);
  api = await DoApiDouble.start(TOKEN);
  api.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'laptop', public_key: 'ssh-ed25519 AAAA laptop' }];
  api.behaviour.activeAfterMs = 10;
  api.behaviour.fromImageIp = good.sshd.host;
  imageId = api.addImage({
    name: 'acme-wiki-1.2.0-20260304-050607',
    regions: ['fra1', 'ams3'],
    min_disk_size: 25,
    distribution: 'Debian',
  }).id;
});
afterEach(async () => {
  await api.close();
});

/** The real `mpimg run verify` against the test droplet's sshd (its own key and config). */
function realStep(d: TestDroplet) {
  return runTaskBuildStep({
    task: 'verify',
    sshPort: d.sshd.port,
    extraArgs: [
      '--identity',
      d.sshd.identityFile,
      '--ssh-config',
      d.sshd.clientConfigFile,
      '--wait-attempts',
      '3',
      '--cloud-init-timeout',
      '5',
    ],
  });
}

function setup(deps: Partial<VerifyCommandDeps> = {}, d: TestDroplet = good) {
  const cap = captureContext({ cwd: project, env: apiEnv(api.url, project) });
  const cmd = createVerifyCommand({
    verify: realStep(d),
    clock: fastClock(),
    retry: FAST_RETRY,
    timings: FAST_TIMINGS,
    ...deps,
  });
  return { cap, run: (argv: string[]) => runCommand(cmd, argv, cap.ctx) };
}

const creates = () => api.requests.filter((r) => r.method === 'POST' && r.path === '/v2/droplets');

function clean(cap: { out: () => string; err: () => string }): void {
  for (const s of [cap.out(), cap.err()]) {
    expect(s).not.toContain(TOKEN);
    expect(s).not.toContain(ADMIN_PASSWORD_MARK);
  }
}

describe('mpimg verify --image', () => {
  it('makes a droplet from the snapshot as the guide asks, verifies it over SSH, destroys it, exit 0', async () => {
    const { cap, run } = setup();
    expect(await run(['--image', String(imageId)]), cap.err()).toBe(0);
    const body = creates()[0].body as Record<string, unknown>;
    const runId = /^acme-wiki-verify-\d{8}-\d{6}-([0-9a-f]{12})$/.exec(String(body.name))?.[1];
    expect(runId).toBeDefined();
    expect(body).toEqual({
      name: body.name,
      region: 'fra1',
      size: 's-1vcpu-1gb',
      image: imageId,
      ssh_keys: ['aa:bb'],
      tags: ['mpimg-verify', `mpimg-run:${runId}`],
      with_droplet_agent: false,
      monitoring: false,
      ipv6: false,
    });
    expect(cap.out()).toMatch(/^\[PASS\] first-boot: every first-boot step succeeded/m);
    expect(cap.out()).toMatch(/^Summary: 8 passed, 0 warnings, 0 failed, 0 skipped$/m);
    expect(cap.err()).toMatch(/mpimg verify: \[\d\d:\d\d\] destroying verify droplet \d+/);
    expect(cap.err()).toMatch(/image \d+ verified: passed, droplet destroyed/);
    expect(api.droplets.size).toBe(0);
    clean(cap);
  });

  it('--json: one JSON document on stdout with every check; the lines go to stderr', async () => {
    const { cap, run } = setup();
    expect(await run(['--image', String(imageId), '--json'])).toBe(0);
    const doc = JSON.parse(cap.out());
    expect(doc).toMatchObject({
      image: imageId,
      result: 'pass',
      summary: { pass: 8, warn: 0, fail: 0, skip: 0 },
      droplet: { size: 's-1vcpu-1gb', destroyed: true },
    });
    expect(doc.checks.map((c: { id: string }) => c.id)).toEqual([
      'first-boot',
      'login-hold',
      'motd',
      'credentials',
      'services',
      'firewall',
      'image-check',
      'command-1',
    ]);
    expect(cap.err()).toMatch(/^\[PASS\] motd: /m);
    clean(cap);
  });

  it('fails (exit 1) naming the check when a first-boot step failed, and still destroys the droplet', async () => {
    const broken = verifyProject(VERIFY_MANIFEST, { ip: '#!/bin/sh\nexit 5\n' });
    const d = await testDroplet(broken);
    try {
      api.behaviour.fromImageIp = d.sshd.host;
      const cap = captureContext({ cwd: broken, env: apiEnv(api.url, broken) });
      const cmd = createVerifyCommand({
        verify: realStep(d),
        clock: fastClock(),
        retry: FAST_RETRY,
        timings: FAST_TIMINGS,
      });
      expect(await runCommand(cmd, ['--image', String(imageId), '--json'], cap.ctx)).toBe(1);
      const doc = JSON.parse(cap.out());
      expect(doc.result).toBe('fail');
      expect(doc.checks.find((c: { id: string }) => c.id === 'first-boot')).toMatchObject({
        status: 'fail',
        message: expect.stringContaining('20-ip (exit 5)'),
      });
      expect(cap.err()).toMatch(/error: the verify task failed on 127\.0\.0\.1 \(exit code 1\)/);
      expect(api.droplets.size).toBe(0);
      clean(cap);
    } finally {
      await d.stop();
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('Ctrl-C during the checks destroys the droplet (exit 130)', async () => {
    let cap!: ReturnType<typeof setup>['cap'];
    const inner = realStep(good);
    const s = setup({
      verify: async (b) => {
        setTimeout(() => cap.abort.abort(), 300);
        await inner(b);
      },
    });
    cap = s.cap;
    expect(await s.run(['--image', String(imageId)])).toBe(130);
    expect(cap.err()).toMatch(/error: aborted; verify droplet \d+ destroyed/);
    expect(api.droplets.size).toBe(0);
  });

  it('--keep keeps the droplet after a failure and says how to delete it', async () => {
    const { cap, run } = setup({
      verify: async () => {
        throw new MpimgError('the verify task failed on 127.0.0.1 (exit code 1)');
      },
    });
    expect(await run(['--image', String(imageId), '--keep'])).toBe(1);
    expect(api.droplets.size).toBe(1);
    const id = [...api.droplets.keys()][0];
    expect(cap.err()).toContain(
      `keeping verify droplet ${id} (127.0.0.1): delete it with \`doctl compute droplet delete ${id}\``,
    );
    expect(api.requests.some((r) => r.method === 'DELETE')).toBe(false);
  });

  it('$.droplet.size is used when its disk fits the image, else the smallest size that does', async () => {
    expect(pickSize(25, 's-2vcpu-4gb')).toEqual({ size: 's-2vcpu-4gb' });
    expect(pickSize(10)).toEqual({ size: 's-1vcpu-512mb-10gb' });
    expect(pickSize(26)).toEqual({ size: 's-1vcpu-2gb' });
    expect(() => pickSize(5000)).toThrow(/no droplet size known here has a disk of 5000 GB/);
    writeManifest(project, { ...VERIFY_MANIFEST, droplet: { region: 'fra1', size: 's-1vcpu-512mb-10gb' } });
    const { cap, run } = setup({ verify: async () => {} });
    expect(await run(['--image', String(imageId)])).toBe(0);
    expect((creates()[0].body as { size: string }).size).toBe('s-1vcpu-1gb');
    expect(cap.err()).toContain(
      "$.droplet.size s-1vcpu-512mb-10gb has a 10 GB disk, too small for the image's 25 GB: using s-1vcpu-1gb",
    );
  });

  it('refuses an unknown, unfinished or elsewhere image before creating anything', async () => {
    const pending = api.addImage({ status: 'pending', regions: ['fra1'] }).id;
    const away = api.addImage({ regions: ['sfo3'] }).id;
    for (const [id, why] of [
      [999_999, /image 999999 was not found in this account/],
      [pending, /is pending, not available/],
      [away, /is not in region fra1 \(it is in sfo3\)[\s\S]*doctl compute image-action transfer/],
    ] as const) {
      const { cap, run } = setup({ verify: async () => {} });
      expect(await run(['--image', String(id)])).toBe(1);
      expect(cap.err()).toMatch(why);
    }
    expect(creates()).toHaveLength(0);
  });

  it('through the CLI: --help, a missing or bad --image (exit 2), no token (exit 1), without API calls', async () => {
    const cap = captureContext({
      cwd: project,
      env: { HOME: project, XDG_CONFIG_HOME: project, DIGITALOCEAN_API_URL: api.url },
    });
    expect(await main(['verify', '--help'], cap.ctx)).toBe(0);
    expect(cap.out()).toContain('Usage: mpimg verify --image <id> [--keep] [--json]');
    expect(cap.out()).toContain('mpimg run verify --host <ip> [--port N]');
    expect(await main(['verify'], cap.ctx)).toBe(2);
    expect(cap.err()).toContain('missing --image <id>');
    expect(await main(['verify', '--image', 'my-snapshot'], cap.ctx)).toBe(2);
    expect(await main(['verify', '--image', '5'], cap.ctx)).toBe(1);
    expect(cap.err()).toMatch(/no DigitalOcean API token found/);
    expect(api.requests).toHaveLength(0);
  });
});
