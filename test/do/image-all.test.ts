// `mpimg image --verify`, `--release` and `--all` against the API double: builds in parallel with a
// bound, one failing distribution that does not stop the others, the table, dist/images.json, a
// failed verify that keeps the snapshot, and the whole way from build to release.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createImageCommand, type ImageCommandDeps } from '../../tasks/commands/image.js';
import { runTaskBuildStep } from '../../tasks/commands/task-step.js';
import type { BuildStep, BuildStepContext } from '../../tasks/do/pipeline.js';
import { reportVerifyCheck } from '../../tasks/standard/verify-results.js';
import { MpimgError } from '../../core/errors.js';
import { TOKEN_VARS } from '../../tasks/secrets.js';
import { apiDoublePerTest } from '../helpers/do-api-project.js';
import { ADMIN_PASSWORD_MARK, VERIFY_MANIFEST, testDroplet, verifyProject, type TestDroplet } from './droplet-root.js';
import {
  FAST_RETRY,
  FAST_TIMINGS,
  MANIFEST,
  TOKEN,
  apiEnv,
  captureContext,
  fastClock,
  runCommand,
  writeManifest,
} from './support.js';

const APP = 'acme-wiki-listing';
const DISTS = ['debian-12-x64', 'ubuntu-24-04-x64', 'rockylinux-9-x64'];
const NOW = new Date('2026-03-04T05:06:07Z');

const { api, project, runner } = apiDoublePerTest({
  prefix: 'mpimg-image-all-',
  manifest: { ...MANIFEST, distributions: DISTS, listing: { appId: APP } },
  prepare: (a) => {
    a.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'laptop', public_key: 'ssh-ed25519 AAAA laptop' }];
    a.behaviour.activeAfterMs = 10;
    a.behaviour.actionMs = { shutdown: 10, snapshot: 20 };
    a.addApp({ appId: APP, name: 'Acme Wiki' });
  },
});

/** The slug the droplet was made from (the double answers it in the droplet's image). */
const distOf = (c: BuildStepContext) =>
  (c.droplet as unknown as { image: { slug: string | null } }).image.slug ?? 'snapshot';

function setup(deps: Partial<ImageCommandDeps>) {
  return runner(
    createImageCommand({ clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS, now: () => NOW, ...deps }),
  );
}

/** A verify step that reports and prints what the real task does, passing or failing as told. */
function fakeVerify(fail: (c: BuildStepContext) => boolean = () => false): BuildStep {
  return async (c) => {
    if (fail(c)) {
      const message = 'first-boot step(s) failed: 20-ip (exit 5): see /var/log/acme-wiki/ on the droplet';
      reportVerifyCheck({ id: 'first-boot', status: 'fail', message, details: [] });
      c.stdout.write(`[FAIL] first-boot: ${message}\n`);
      throw new MpimgError(`the verify task failed on ${c.ip} (exit code 1)`);
    }
    reportVerifyCheck({
      id: 'first-boot',
      status: 'pass',
      message: 'every first-boot step succeeded (first boot finished)',
      details: [],
    });
    c.stdout.write(
      '[PASS] first-boot: every first-boot step succeeded (first boot finished)\n\nSummary: 1 passed, 0 warnings, 0 failed, 0 skipped\nResult: PASS\n',
    );
  };
}

describe('mpimg image --all', () => {
  it('one image per distribution in parallel (bounded), one failing does not stop the others; prefixed output; one table; exit 1', async () => {
    let running = 0;
    let most = 0;
    const build: BuildStep = async (c) => {
      running++;
      most = Math.max(most, running);
      try {
        c.stdout.write(`building ${distOf(c)}\npartial line`);
        // Stay until two builds overlapped (bounded): on a busy machine a fixed pause may not be enough.
        for (const t0 = Date.now(); most < 2 && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 5));
        c.stdout.write(' ends here\n');
        if (distOf(c) === 'ubuntu-24-04-x64')
          throw new MpimgError('the build task failed on 203.0.113.9 (exit code 3)');
      } finally {
        running--;
      }
    };
    const { cap, run } = setup({ build, verify: fakeVerify() });
    expect(await run(['--all', '--verify', '--parallel', '2'])).toBe(1);
    expect(most).toBe(2);
    const out = cap.out();
    // whole lines, each with its distribution, whatever the builds wrote in between
    for (const d of DISTS) {
      expect(out).toContain(`\n[${d}] partial line ends here\n`);
      expect(out).toMatch(new RegExp(`^\\[${d}\\] building ${d}$`, 'm'));
    }
    expect(out).not.toMatch(/partial line\n/);
    expect(out).toContain('[debian-12-x64] [PASS] first-boot: every first-boot step succeeded');
    expect(cap.err()).toMatch(/^\[ubuntu-24-04-x64\] error: the build task failed on 203\.0\.113\.9 \(exit code 3\)$/m);
    expect(cap.err()).toMatch(/^\[rockylinux-9-x64\] mpimg image: \[\d\d:\d\d\] creating build droplet /m);
    // the table: every distribution, its image, its verify result, its minutes
    const table = out
      .slice(out.lastIndexOf('\nDistribution ') + 1)
      .trim()
      .split('\n');
    expect(table[0]).toMatch(/^Distribution {4,}Image ID {4,}Verify {4,}Minutes {4,}Result$/);
    const images = [...api.images.values()];
    expect(images.map((i) => i.name).sort()).toEqual([
      'acme-wiki-1.2.0-20260304-050607-debian-12',
      'acme-wiki-1.2.0-20260304-050607-rockylinux-9',
    ]);
    const id = (suffix: string) => images.find((i) => i.name.endsWith(suffix))!.id;
    expect(table[1]).toMatch(new RegExp(`^debian-12-x64 +${id('debian-12')} +passed +\\d+\\.\\d +ok$`));
    expect(table[2]).toMatch(
      /^ubuntu-24-04-x64 +- +not run +\d+\.\d +FAILED: the build task failed on 203\.0\.113\.9 \(exit code 3\)$/,
    );
    expect(table[3]).toMatch(new RegExp(`^rockylinux-9-x64 +${id('rockylinux-9')} +passed +\\d+\\.\\d +ok$`));
    // the two good ones have their list-user lines
    expect(out).toMatch(
      new RegExp(`^${id('debian-12')} {4}acme-wiki-1\\.2\\.0-20260304-050607-debian-12 {4,}snapshot`, 'm'),
    );
    expect(cap.err()).toMatch(/error: 1 of 3 distribution\(s\) failed: ubuntu-24-04-x64/);
    // every build and verify droplet was destroyed, the build droplets were made from each distribution
    expect(api.droplets.size).toBe(0);
    const made = api.requests
      .filter((r) => r.method === 'POST' && r.path === '/v2/droplets')
      .map((r) => (r.body as { image: string | number }).image);
    expect(made.filter((i) => typeof i === 'string').sort()).toEqual([...DISTS].sort());
    expect(made.filter((i) => typeof i === 'number').sort()).toEqual([id('debian-12'), id('rockylinux-9')].sort());
    const rec = JSON.parse(readFileSync(join(project.dir, 'dist/images.json'), 'utf8'));
    expect(
      rec.images.map((r: { distribution: string; ok: boolean; verify: string }) => [r.distribution, r.ok, r.verify]),
    ).toEqual([
      ['debian-12-x64', true, 'passed'],
      ['ubuntu-24-04-x64', false, 'not run'],
      ['rockylinux-9-x64', true, 'passed'],
    ]);
    expect(cap.out() + cap.err()).not.toContain(TOKEN);
  });

  it('--all --verify --release --reason runs the whole way when every distribution passes', async () => {
    const { cap, run } = setup({ build: async () => {}, verify: fakeVerify() });
    expect(await run(['--all', '--verify', '--release', '--reason', 'Acme Wiki 1.2.0'])).toBe(0);
    const patch = api.requests.find((r) => r.method === 'PATCH')!;
    const debian = [...api.images.values()].find((i) => i.name.endsWith('-debian-12'))!;
    expect(patch.body).toMatchObject({
      imageId: debian.id,
      reasonForUpdate: 'Acme Wiki 1.2.0',
      version: '1.2.0',
      osVersion: 'Debian 12 (bookworm)',
    });
    expect(cap.out()).toContain(`listing ${APP} "Acme Wiki" now points at image ${debian.id}`);
    // a failing verify of another distribution means no release
    api.requests.length = 0;
    api.apps.get(APP)!.status = 'approved';
    const again = setup({
      build: async () => {},
      verify: fakeVerify(
        (c) =>
          c.droplet.name.includes('verify') &&
          (c.droplet as unknown as { image: { name: string } }).image.name.endsWith('-rockylinux-9'),
      ),
    });
    expect(
      await again.run(['--distributions', 'debian-12-x64,rockylinux-9-x64', '--verify', '--release', '--reason', 'x']),
    ).toBe(1);
    expect(again.cap.err()).toMatch(/1 of 2 distribution\(s\) failed: rockylinux-9-x64[\s\S]*nothing was released/);
    expect(api.requests.some((r) => r.method === 'PATCH')).toBe(false);
  });

  it("as the CLI runs it (the env IS process.env), four distributions with --parallel 3 all build with the token; no build's child process inherits it", async () => {
    // A build step takes the token variables out of process.env while it runs. A distribution that
    // starts meanwhile must still have the command's token (not an emptied env, not doctl's config).
    const FOUR = ['debian-12-x64', 'ubuntu-24-04-x64', 'rockylinux-9-x64', 'almalinux-9-x64'];
    writeManifest(project.dir, { ...MANIFEST, distributions: FOUR });
    const keys = [...TOKEN_VARS, 'DIGITALOCEAN_API_URL', 'HOME', 'XDG_CONFIG_HOME'];
    const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
    const childSaw: string[] = [];
    const started: string[] = [];
    let cap!: ReturnType<typeof captureContext>;
    const fourthTried = () => started.includes(FOUR[3]) || cap.err().includes(`[${FOUR[3]}] error`);
    const build: BuildStep = async (c) => {
      started.push(distOf(c));
      // What a process the build starts with the default environment gets.
      childSaw.push(
        execFileSync('sh', ['-c', 'printf %s "${DIGITALOCEAN_ACCESS_TOKEN:-none}${DIGITALOCEAN_TOKEN:-}"'], {
          encoding: 'utf8',
        }),
      );
      // The first two builds are still running (token stashed) when the third is done and its worker takes the fourth.
      if (distOf(c) === FOUR[0] || distOf(c) === FOUR[1]) {
        for (const t0 = Date.now(); !fourthTried() && Date.now() - t0 < 60_000;)
          await new Promise((r) => setTimeout(r, 5));
      }
    };
    try {
      for (const k of TOKEN_VARS) delete process.env[k];
      process.env.DIGITALOCEAN_ACCESS_TOKEN = TOKEN;
      process.env.DIGITALOCEAN_API_URL = api.url;
      // No doctl config to fall back to: a build that lost the token fails with "no token".
      process.env.HOME = project.dir;
      process.env.XDG_CONFIG_HOME = join(project.dir, '.config');
      cap = captureContext({ cwd: project.dir, env: process.env });
      const cmd = createImageCommand({
        clock: fastClock(),
        retry: FAST_RETRY,
        timings: FAST_TIMINGS,
        now: () => NOW,
        build,
      });
      expect(await runCommand(cmd, ['--all', '--parallel', '3'], cap.ctx), cap.err()).toBe(0);
      expect(started.sort()).toEqual([...FOUR].sort());
      expect(childSaw).toEqual(['none', 'none', 'none', 'none']);
      expect(api.images.size).toBe(4);
      expect(api.requests.every((r) => r.authorized)).toBe(true);
      expect(process.env.DIGITALOCEAN_ACCESS_TOKEN).toBe(TOKEN);
      expect(cap.out() + cap.err()).not.toContain(TOKEN);
    } finally {
      for (const k of keys) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  }, 120_000);

  it('Ctrl-C stops every build and destroys every droplet (exit 130)', async () => {
    let cap!: ReturnType<typeof setup>['cap'];
    let started = 0;
    const build: BuildStep = (c) =>
      new Promise<void>((_resolve, reject) => {
        if (++started === 3) setTimeout(() => cap.abort.abort(), 10);
        c.signal!.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), {
          once: true,
        });
      });
    const s = setup({ build });
    cap = s.cap;
    expect(await s.run(['--all'])).toBe(130);
    expect(started).toBe(3);
    expect(api.droplets.size).toBe(0);
    expect(api.requests.filter((r) => r.method === 'DELETE')).toHaveLength(3);
    expect(cap.err()).toMatch(/error: aborted/);
  });

  it('refuses distributions that mpimg.json does not build, a bad --parallel, and a release that cannot happen, before any API call', async () => {
    const { cap, run } = setup({ build: async () => {} });
    expect(await run(['--distributions', 'debian-12-x64,fedora-40-x64'])).toBe(2);
    expect(cap.err()).toContain('not in $.distributions of mpimg.json: fedora-40-x64');
    expect(await run(['--all', '--parallel', '0'])).toBe(2);
    expect(await run(['--all', '--distributions', 'debian-12-x64'])).toBe(2);
    expect(await run(['--release'])).toBe(2);
    expect(cap.err()).toContain('missing --reason');
    writeManifest(project.dir, { ...MANIFEST, distributions: DISTS });
    expect(await run(['--release', '--reason', 'x'])).toBe(1);
    expect(cap.err()).toContain('--release: mpimg.json names no Marketplace listing');
    expect(api.requests).toHaveLength(0);
  });
});

describe('mpimg image --verify (one distribution)', () => {
  let verifyProj: string;
  let good: TestDroplet;
  beforeAll(async () => {
    verifyProj = verifyProject({ ...VERIFY_MANIFEST, listing: { appId: APP } });
    good = await testDroplet(verifyProj);
  });
  afterAll(async () => {
    await good?.stop();
    rmSync(verifyProj, { recursive: true, force: true });
  });

  it('a failed verify says so, keeps the snapshot and prints its id, not the line to submit', async () => {
    const { cap, run } = setup({ build: async () => {}, verify: fakeVerify(() => true) });
    expect(await run(['--verify'])).toBe(1);
    const image = [...api.images.values()][0];
    expect(cap.err()).toContain(
      `error: verify failed (first-boot): the snapshot ${image.id} "${image.name}" is kept, not ready to submit`,
    );
    expect(cap.err()).toContain(`doctl compute image delete ${image.id}`);
    expect(cap.out()).not.toMatch(/^ID {4,}Name/m);
    expect(api.images.has(image.id)).toBe(true);
    expect(api.droplets.size).toBe(0);
    expect(JSON.parse(readFileSync(join(project.dir, 'dist/images.json'), 'utf8')).images[0]).toMatchObject({
      imageId: image.id,
      verify: 'failed',
      ok: false,
    });
  });

  it('--verify --release --reason: build, snapshot, the real verify task on a droplet made from it, the list-user line, the release', async () => {
    api.behaviour.fromImageIp = good.sshd.host;
    // the snapshot is made in the manifest's region, where the verify droplet is made too
    const cap = captureContext({ cwd: verifyProj, env: apiEnv(api.url, verifyProj) });
    const verify = runTaskBuildStep({
      task: 'verify',
      sshPort: good.sshd.port,
      extraArgs: [
        '--identity',
        good.sshd.identityFile,
        '--ssh-config',
        good.sshd.clientConfigFile,
        '--wait-attempts',
        '3',
        '--cloud-init-timeout',
        '5',
      ],
    });
    const cmd = createImageCommand({
      build: async () => {},
      verify,
      clock: fastClock(),
      retry: FAST_RETRY,
      timings: FAST_TIMINGS,
      now: () => NOW,
    });
    expect(await runCommand(cmd, ['--verify', '--release', '--reason', 'first release'], cap.ctx), cap.err()).toBe(0);
    const image = [...api.images.values()][0];
    const out = cap.out();
    expect(out).toMatch(/^Summary: 8 passed, 0 warnings, 0 failed, 0 skipped$/m);
    expect(out.indexOf('Result: PASS')).toBeLessThan(
      out.indexOf(`${image.id}    acme-wiki-1.2.0-20260304-050607    snapshot`),
    );
    expect(out).toContain(`listing ${APP} "Acme Wiki" now points at image ${image.id}`);
    expect(api.requests.find((r) => r.method === 'PATCH')?.body).toMatchObject({
      imageId: image.id,
      reasonForUpdate: 'first release',
    });
    expect(api.droplets.size).toBe(0);
    expect(out + cap.err()).not.toContain(TOKEN);
    expect(out + cap.err()).not.toContain(ADMIN_PASSWORD_MARK);
  });

  it('through the CLI: --help names the new options', async () => {
    const cap = captureContext({ cwd: project.dir, env: { HOME: project.dir } });
    expect(await main(['image', '--help'], cap.ctx)).toBe(0);
    for (const o of ['--verify', '--release', '--reason', '--all', '--distributions', '--parallel'])
      expect(cap.out()).toContain(o);
  });
});
