// Issue 13 on the real bed: an image built over SSH on Debian 12, then "the droplet from the
// snapshot" booted from it with real cloud-init, and the project's verify task run against it:
// through `mpimg verify --image` (the API double creates the droplet; its address leads to the
// booted droplet's own sshd) and through the project's `mpimg run verify` command line.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifyCommand } from '../../tasks/commands/verify.js';
import { runTaskBuildStep } from '../../tasks/commands/task-step.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand } from '../do/support.js';
import { buildImage, type BuiltImage } from './harness/build.js';
import { bootNewInstance } from './harness/cloudinit.js';
import { baseOf, e2eContext } from './harness/context.js';
import { Droplet } from './harness/droplet.js';
import { run } from './harness/exec.js';
import { mountsUnder } from './harness/mounts.js';
import { createProject, FAIL_FLAG, PROJECT, type Project } from './harness/project.js';
import { makeKeyPair, proxySshConfig, startDropletSshd, type KeyPair } from './harness/ssh.js';

const S = PROJECT.slug;
/** The address a droplet made from the image has inside its own network namespace (harness/sandbox.ts). */
const DROPLET_IP = '198.51.100.10';
/** The vendor's smoke command of $.verify.commands: what the build put on the image works. */
const SMOKE = `/usr/local/bin/${S}-hello | grep -q 'hello from ${S}'`;
const CHECK_IDS = [
  'first-boot',
  'login-hold',
  'motd',
  'credentials',
  'services',
  'firewall',
  'image-check',
  'command-1',
];

/** The check lines of verify's output, by id. */
function checkLines(out: string): Map<string, string> {
  return new Map(
    out.split('\n').flatMap((l) => {
      const m = /^\[(PASS|WARN|FAIL|SKIP)\] ([a-z0-9-]+): /.exec(l);
      return m ? [[m[2], l] as [string, string]] : [];
    }),
  );
}

describe('bookworm: mpimg verify on a droplet made from the built image (issue 13)', () => {
  let work: string;
  let keys: KeyPair;
  let project: Project;
  let built: BuiltImage | undefined;
  const droplets: Droplet[] = [];

  /** A droplet from the image, first boot done by real cloud-init (a new instance, the account's key), its sshd up. */
  async function bootedDroplet(name: string, opts: { before?: (d: Droplet) => void; finalCode?: number } = {}) {
    const d = await Droplet.create(work, built!.image, name);
    droplets.push(d);
    opts.before?.(d);
    const boot = await bootNewInstance(d, {
      instanceId: `i-verify-${name}-${Date.now().toString(36)}`,
      publicKey: keys.publicKey,
    });
    expect(
      boot.stages.map((s) => s.code),
      boot.result.stdout + boot.result.stderr,
    ).toEqual([0, 0, 0, opts.finalCode ?? 0]);
    const sshd = await startDropletSshd(d);
    return { d, sshd, sshConfig: proxySshConfig(d.dir, sshd) };
  }

  beforeAll(async () => {
    const ctx = e2eContext();
    work = mkdtempSync(join(ctx.runRoot, 'verify-'));
    keys = await makeKeyPair(work);
    project = await createProject({
      dir: join(work, 'project'),
      repoRoot: ctx.repoRoot,
      suite: 'bookworm',
      packages: ['hello', 'nodejs'],
    });
    // The vendor's smoke command, then the bundle again (tasks refuse a bundle older than mpimg.json).
    const file = join(project.dir, 'mpimg.json');
    // No $.firewall (new projects declare one): the bed's droplets cannot run one (no CAP_NET_ADMIN).
    const { firewall: _firewall, ...m } = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(
      file,
      `${JSON.stringify({ ...m, verify: { commands: [SMOKE], commandTimeoutSeconds: 60 } }, null, 2)}\n`,
    );
    await run('make', ['bundle'], {
      cwd: project.dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', npm_config_offline: 'true' },
      timeoutMs: 120_000,
    });
    built = await buildImage({
      work,
      base: { name: 'bookworm', lowers: [baseOf('bookworm')] },
      project,
      keys,
      name: 'verify-bookworm',
    });
    process.stderr.write(`[e2e] verify: \`mpimg run build\` took ${(built.ms / 1000).toFixed(1)} s\n`);
  });

  afterAll(async () => {
    for (const d of droplets) await d.destroy();
    await built?.image.release();
    if (work) expect(mountsUnder(work)).toEqual([]);
  });

  it('`mpimg verify --image`: the droplet from the snapshot passes every check (exit 0), one line each; the droplet is destroyed; no token in the output', async () => {
    const { sshConfig, sshd } = await bootedDroplet('good');
    const api = await DoApiDouble.start(TOKEN);
    try {
      api.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'e2e', public_key: keys.publicKey }];
      api.behaviour.activeAfterMs = 10;
      api.behaviour.fromImageIp = DROPLET_IP;
      const regions = ['nyc1', 'nyc3', 'sfo3', 'ams3', 'fra1', 'lon1', 'sgp1', 'tor1', 'blr1', 'syd1'];
      const imageId = api.addImage({ name: `${S}-1.0.0-e2e`, regions, min_disk_size: 25, distribution: 'Debian' }).id;
      const cap = captureContext({ cwd: project.dir, env: apiEnv(api.url, project.dir) });
      const cmd = createVerifyCommand({
        verify: runTaskBuildStep({
          task: 'verify',
          sshPort: sshd.port,
          extraArgs: [
            '--identity',
            keys.privateKey,
            '--ssh-config',
            sshConfig,
            '--wait-attempts',
            '20',
            '--cloud-init-timeout',
            '120',
          ],
        }),
        clock: fastClock(),
        retry: FAST_RETRY,
        timings: FAST_TIMINGS,
      });
      const code = await runCommand(cmd, ['--image', String(imageId)], cap.ctx);
      const out = cap.out();
      const err = cap.err();
      expect(code, `${out}\n${err}`).toBe(0);
      const lines = checkLines(out);
      expect([...lines.keys()]).toEqual(CHECK_IDS);
      expect(lines.get('first-boot')).toMatch(/^\[PASS\] first-boot: every first-boot step succeeded/);
      expect(lines.get('login-hold')).toMatch(/^\[PASS\] login-hold: the login hold is released/);
      // the droplet's address as DigitalOcean gives it, shown by the MOTD the customer sees
      expect(lines.get('motd')).toBe(`[PASS] motd: the MOTD renders with the droplet's IP ${DROPLET_IP}`);
      expect(lines.get('credentials')).toBe(`[PASS] credentials: /root/.${S}-credentials is 0600, owned by root`);
      expect(lines.get('services')).toMatch(/^\[PASS\] services: /);
      // The bed's droplets run without CAP_NET_ADMIN: no firewall can be active, and verify says so.
      expect(lines.get('firewall')).toMatch(/^\[WARN\] firewall: no firewall is active/);
      expect(lines.get('image-check')).toMatch(
        /^\[PASS\] image-check: the image check passes on the booted droplet \(\d+ checks\)$/,
      );
      expect(lines.get('command-1')).toBe(`[PASS] command-1: \`${SMOKE}\` exited 0`);
      expect(out).toMatch(/^Summary: 7 passed, 1 warnings, 0 failed, 0 skipped\nResult: PASS with warnings$/m);
      expect(err).toMatch(/image \d+ verified: passed with warnings, droplet destroyed/);
      expect(api.droplets.size).toBe(0);
      expect(`${out}${err}`).not.toContain(TOKEN);
      expect(`${out}${err}`).not.toContain(readFileSync(keys.privateKey, 'utf8').split('\n')[1]);
    } finally {
      await api.close();
    }
  });

  it('`mpimg run verify`: a droplet whose first-boot step failed fails verify (exit 1), naming the check and the step', async () => {
    // 30-flaky of the project exits 3 when this file is in the image (as a broken first-boot step would).
    // (cloud-init's final stage itself exits 1: a per-instance script failed)
    const { sshConfig, sshd } = await bootedDroplet('failed', {
      before: (d) => d.write(FAIL_FLAG.slice(1), 'fail\n'),
      finalCode: 1,
    });
    const r = await run(
      join(project.dir, 'node_modules/.bin/mpimg'),
      [
        'run',
        'verify',
        '--host',
        DROPLET_IP,
        '--port',
        String(sshd.port),
        '--user',
        'root',
        '--identity',
        keys.privateKey,
        '--ssh-config',
        sshConfig,
        '--known-hosts',
        join(work, 'known_hosts-failed'),
        '--wait-attempts',
        '20',
        '--cloud-init-timeout',
        '120',
      ],
      {
        cwd: project.dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' },
        allowFail: true,
        timeoutMs: 10 * 60_000,
      },
    );
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    const lines = checkLines(r.stdout);
    expect([...lines.keys()]).toEqual(CHECK_IDS);
    expect(lines.get('first-boot')).toBe(
      `[FAIL] first-boot: first-boot step(s) failed: 30-flaky (exit 3): see /var/log/mpimg/${S}/ on the droplet`,
    );
    // the hold is released anyway, and the rest is checked
    expect(lines.get('login-hold')).toMatch(/^\[PASS\] /);
    expect(lines.get('command-1')).toMatch(/^\[PASS\] /);
    expect(r.stdout).toMatch(/^Summary: \d+ passed, \d+ warnings, 1 failed, 0 skipped\nResult: FAIL$/m);
    expect(r.stderr).toMatch(
      new RegExp(
        `error: verify: 1 check\\(s\\) failed on root@${DROPLET_IP.replace(/\./g, '\\.')}:${sshd.port}: first-boot`,
      ),
    );
  });
});
