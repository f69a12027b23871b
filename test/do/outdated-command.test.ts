// `mpimg outdated` against the test droplet of droplet-root.ts (a real sshd whose sessions run
// inside a root filesystem whose apt-get and apt-cache print recorded answers): its exit statuses
// (a fixed contract a workflow acts on), its --json shape, and `--image` through verify's path
// (the API double makes and destroys the droplet).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { createOutdatedCommand } from '../../tasks/commands/outdated.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { APT_ANSWERS, testDroplet, verifyProject, type TestDroplet } from './droplet-root.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand } from './support.js';

let project: string;
let d: TestDroplet;

beforeAll(async () => {
  project = verifyProject();
  d = await testDroplet(project);
});
afterAll(async () => {
  await d?.stop();
  rmSync(project, { recursive: true, force: true });
});

async function outdated(extra: string[] = []) {
  const cap = captureContext({ cwd: project, env: { PATH: process.env.PATH, HOME: project } });
  const argv = ['outdated', '--host', d.sshd.host, '--port', String(d.sshd.port), '--identity', d.sshd.identityFile];
  argv.push('--known-hosts', d.sshd.knownHostsFile, '--ssh-config', d.sshd.clientConfigFile);
  argv.push('--wait-attempts', '3', '--cloud-init-timeout', '5', ...extra);
  const code = await main(argv, cap.ctx);
  return { code, out: cap.out(), err: cap.err() };
}

describe('mpimg outdated --host', () => {
  it('security updates pending (one held back by upgrade): exit 4; --json is one object with every package', async () => {
    d.setFake(APT_ANSWERS.security);
    const r = await outdated(['--json']);
    expect(r.code, r.err).toBe(4);
    const json = JSON.parse(r.out) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['pending', 'security', 'packages', 'distribution', 'checkedAt']);
    expect(json).toMatchObject({ pending: 3, security: 2, distribution: 'debian 12 (bookworm)' });
    expect(json.packages).toEqual([
      { name: 'libfoo', installed: '1.0-1', candidate: '1.0-2', security: true, source: 'bookworm-security' },
      {
        name: 'openssl',
        installed: '3.0.11-1~deb12u1',
        candidate: '3.0.11-1~deb12u2',
        security: true,
        source: 'bookworm-security',
      },
      {
        name: 'tzdata',
        installed: '2024a-0+deb12u1',
        candidate: '2025b-0+deb12u1',
        security: false,
        source: 'bookworm-updates',
      },
    ]);
    expect(new Date(json.checkedAt as string).toISOString()).toBe(json.checkedAt);
  });

  it('without --json: one line per package and a count on stdout, progress on stderr', async () => {
    d.setFake(APT_ANSWERS.security);
    const r = await outdated();
    expect(r.code).toBe(4);
    expect(r.out.split('\n')).toEqual([
      'security  libfoo 1.0-1 -> 1.0-2  (bookworm-security)',
      'security  openssl 3.0.11-1~deb12u1 -> 3.0.11-1~deb12u2  (bookworm-security)',
      'update    tzdata 2024a-0+deb12u1 -> 2025b-0+deb12u1  (bookworm-updates)',
      'debian 12 (bookworm) (apt): 3 update(s) pending, 2 of them security update(s)',
      '',
    ]);
  });

  it('only other updates: exit 3; none: exit 0', async () => {
    d.setFake(APT_ANSWERS.other);
    const three = await outdated(['--json']);
    expect(three.code, three.err).toBe(3);
    expect(JSON.parse(three.out)).toMatchObject({ pending: 1, security: 0 });
    d.setFake(APT_ANSWERS.none);
    const zero = await outdated(['--json']);
    expect(zero.code, zero.err).toBe(0);
    expect(JSON.parse(zero.out)).toMatchObject({ pending: 0, security: 0, packages: [] });
  });

  it('indexes that cannot be refreshed: exit 1 (could not tell), nothing on stdout, the reason on stderr', async () => {
    d.setFake(APT_ANSWERS.noIndexes);
    const r = await outdated(['--json']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/could not tell which updates are pending on .*apt-get update failed/);
    d.setFake({ aptUpdateExit: 0 });
  }, 60_000);
});

describe('mpimg outdated: usage', () => {
  const usage = async (argv: string[]) => {
    const cap = captureContext({ cwd: project, env: { PATH: process.env.PATH, HOME: project } });
    return { code: await main(['outdated', ...argv], cap.ctx), out: cap.out(), err: cap.err() };
  };
  it.each([
    [[], /give --host <host> or --image <id>/],
    [['--host', 'a', '--image', '1'], /not both/],
    [['--image', 'web-1'], /--image must be an image id/],
    [['--host', 'a', '--port', '0'], /--port must be a whole number/],
    [['--image', '12', '--known-hosts', 'k'], /go with --host/],
    [['--host', 'a', '--bogus'], /--bogus/],
  ])('%j: exit 2, nothing on stdout', async (argv, msg) => {
    const r = await usage(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(msg);
  });
});

describe('mpimg outdated --image', () => {
  it("boots a droplet from the snapshot as verify does, counts there, destroys it; --json carries the image's id", async () => {
    d.setFake(APT_ANSWERS.security);
    const api = await DoApiDouble.start(TOKEN);
    try {
      api.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'laptop', public_key: 'ssh-ed25519 AAAA laptop' }];
      api.behaviour.activeAfterMs = 10;
      api.behaviour.fromImageIp = d.sshd.host;
      const imageId = api.addImage({ name: 'acme-wiki-1.2.0', regions: ['fra1'], min_disk_size: 25 }).id;
      const cap = captureContext({ cwd: project, env: apiEnv(api.url, project) });
      const cmd = createOutdatedCommand({ clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS });
      const argv = ['--image', String(imageId), '--json', '--port', String(d.sshd.port)];
      argv.push('--identity', d.sshd.identityFile, '--ssh-config', d.sshd.clientConfigFile);
      argv.push('--wait-attempts', '3', '--cloud-init-timeout', '5');
      const code = await runCommand(cmd, argv, cap.ctx);
      expect(code, cap.err()).toBe(4);
      const json = JSON.parse(cap.out()) as Record<string, unknown>;
      expect(json).toMatchObject({ pending: 3, security: 2, image: imageId });
      const created = api.requests.filter((q) => q.method === 'POST' && q.path === '/v2/droplets');
      expect(created).toHaveLength(1);
      expect(created[0].body).toMatchObject({ image: imageId, region: 'fra1', with_droplet_agent: false });
      expect(api.droplets.size).toBe(0);
      expect(cap.err()).toMatch(/droplet destroyed/);
      expect(`${cap.out()}${cap.err()}`).not.toContain(TOKEN);
    } finally {
      await api.close();
    }
  });
});
