// Issue 23 on the real bed: a Debian 12 droplet (real apt, real cloud-init first boot) whose apt
// sources are two local signed repositories the test made: the distribution's security suite
// (bookworm-security) with newer versions of two installed packages, one of which needs a new
// dependency (so `apt-get upgrade` holds it back), and another suite with a newer version of a
// third. `mpimg outdated` over SSH, and through `--image` (the API double makes the droplet), says
// 4 while security updates are pending, 3 when only the other is, 0 after the upgrade; the image
// check's security-updates line counts the same packages.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutdatedCommand } from '../../tasks/commands/outdated.js';
import { buildDeb, makeAptSuite } from '../helpers/apt-suite.js';
import { DoApiDouble } from '../helpers/do-api-double.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand } from '../do/support.js';
import { bootNewInstance } from './harness/cloudinit.js';
import { baseOf, e2eContext } from './harness/context.js';
import { Droplet } from './harness/droplet.js';
import { run } from './harness/exec.js';
import { mountsUnder } from './harness/mounts.js';
import {
  makeKeyPair,
  proxySshConfig,
  sshCommand,
  startDropletSshd,
  type DropletSshd,
  type KeyPair,
} from './harness/ssh.js';

/** The address a droplet has inside its own network namespace (harness/sandbox.ts). */
const DROPLET_IP = '198.51.100.10';
const CHECK = join(process.cwd(), 'templates/droplet/99-img-check.sh');
const MPIMG = join(process.cwd(), 'bin/mpimg.js');

interface Outdated {
  pending: number;
  security: number;
  packages: Array<{ name: string; installed: string; candidate: string; security: boolean; source: string }>;
  distribution: string;
  checkedAt: string;
  image?: number;
}

describe('bookworm: mpimg outdated against the distribution security suite (issue 23)', () => {
  let work: string;
  let keys: KeyPair;
  let d: Droplet;
  let sshd: DropletSshd;
  let sshConfig: string;

  /** `mpimg outdated --host <the droplet> --json`, as a user runs it. */
  async function outdated(): Promise<{ code: number; json: Outdated; stderr: string }> {
    const r = await run(
      process.execPath,
      [
        MPIMG,
        'outdated',
        '--host',
        DROPLET_IP,
        '--port',
        String(sshd.port),
        '--identity',
        keys.privateKey,
        '--ssh-config',
        sshConfig,
        '--known-hosts',
        join(work, 'known_hosts'),
        '--cloud-init-timeout',
        '120',
        '--json',
      ],
      {
        cwd: work,
        env: { PATH: process.env.PATH, HOME: work, LANG: 'C.UTF-8' },
        allowFail: true,
        timeoutMs: 5 * 60_000,
      },
    );
    let json: Outdated;
    try {
      json = JSON.parse(r.stdout) as Outdated;
    } catch {
      throw new Error(`stdout is not one JSON object (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    return { code: r.code ?? -1, json, stderr: r.stderr };
  }

  /** The image check's security-updates line, run on the droplet over SSH. */
  async function imageCheckLine() {
    d.write('root/img-check.sh', readFileSync(CHECK, 'utf8'), 0o755);
    const r = await sshCommand(sshd, keys.privateKey, 'bash /root/img-check.sh --json; rm -f /root/img-check.sh');
    const report = JSON.parse(r.stdout) as { checks: Array<{ id: string; status: string; evidence: string[] }> };
    return report.checks.find((c) => c.id === 'security-updates');
  }

  const names = (o: Outdated, security: boolean) =>
    o.packages
      .filter((p) => p.security === security)
      .map((p) => p.name)
      .sort();

  beforeAll(async () => {
    const ctx = e2eContext();
    work = mkdtempSync(join(ctx.runRoot, 'outdated-'));
    keys = await makeKeyPair(work);
    // Installed: version 1.0 of three packages. The security suite: 1.1 of two (held's new version
    // needs a package that is not installed), the other suite: 1.1 of the third.
    const old = join(work, 'old');
    for (const name of ['mpimg-sec', 'mpimg-held', 'mpimg-plain']) buildDeb({ name, version: '1.0' }, old);
    const sec = makeAptSuite('bookworm-security', [
      { name: 'mpimg-sec', version: '1.1' },
      { name: 'mpimg-held', version: '1.1', depends: 'mpimg-newdep' },
      { name: 'mpimg-newdep', version: '1.0' },
    ]);
    const extra = makeAptSuite('mpimg-extra', [{ name: 'mpimg-plain', version: '1.1' }]);

    d = await Droplet.create(work, { name: 'bookworm', lowers: [baseOf('bookworm')] }, 'outdated');
    cpSync(sec.dir, d.path('srv/sec'), { recursive: true });
    cpSync(extra.dir, d.path('srv/extra'), { recursive: true });
    cpSync(old, d.path('srv/old'), { recursive: true });
    d.write('etc/apt/keyrings/mpimg-sec.asc', sec.keyArmored);
    d.write('etc/apt/keyrings/mpimg-extra.asc', extra.keyArmored);
    // Only the local suites: the droplet reaches no mirror.
    d.write(
      'etc/apt/sources.list',
      'deb [signed-by=/etc/apt/keyrings/mpimg-sec.asc] file:/srv/sec bookworm-security main\n' +
        'deb [signed-by=/etc/apt/keyrings/mpimg-extra.asc] file:/srv/extra mpimg-extra main\n',
    );
    await d.exec('rm -f /etc/apt/sources.list.d/*; dpkg -i /srv/old/*.deb');
    const boot = await bootNewInstance(d, {
      instanceId: `i-outdated-${Date.now().toString(36)}`,
      publicKey: keys.publicKey,
    });
    expect(
      boot.stages.map((s) => s.code),
      boot.result.stdout + boot.result.stderr,
    ).toEqual([0, 0, 0, 0]);
    sshd = await startDropletSshd(d);
    sshConfig = proxySshConfig(d.dir, sshd);
  });

  afterAll(async () => {
    await d?.destroy();
    if (work) expect(mountsUnder(work)).toEqual([]);
  });

  it('security updates pending, one held back by `upgrade` for a new dependency: exit 4, both named in --json; the image check counts the same', async () => {
    const { code, json, stderr } = await outdated();
    expect(code, stderr).toBe(4);
    expect(json.pending).toBe(3);
    expect(json.security).toBe(2);
    expect(names(json, true)).toEqual(['mpimg-held', 'mpimg-sec']);
    expect(names(json, false)).toEqual(['mpimg-plain']);
    expect(json.packages.find((p) => p.name === 'mpimg-held')).toEqual({
      name: 'mpimg-held',
      installed: '1.0',
      candidate: '1.1',
      security: true,
      source: 'bookworm-security',
    });
    expect(json.packages.find((p) => p.name === 'mpimg-plain')?.source).toBe('mpimg-extra');
    expect(json.distribution).toBe('debian 12 (bookworm)');
    expect(Number.isNaN(Date.parse(json.checkedAt))).toBe(false);
    expect(json.image).toBeUndefined();
    // The counting only simulated: nothing was installed.
    expect(d.read('usr/share/mpimg-sec/version')).toBe('1.0\n');
    expect((await d.exec('dpkg -s mpimg-newdep', { allowFail: true })).code).not.toBe(0);

    const entry = await imageCheckLine();
    expect(entry?.status).toBe('fail');
    expect(entry?.evidence).toEqual(['mpimg-held', 'mpimg-sec']);
  });

  it('`--image`: the droplet from the snapshot is made and destroyed as by verify; the same answer, with the image id', async () => {
    const api = await DoApiDouble.start(TOKEN);
    const project = mkdtempSync(join(work, 'project-'));
    writeFileSync(
      join(project, 'mpimg.json'),
      JSON.stringify({
        name: 'Acme Wiki',
        slug: 'acme-wiki',
        vendor: 'acme',
        version: '1.0.0',
        distributions: ['debian-12-x64'],
      }),
    );
    try {
      api.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'e2e', public_key: keys.publicKey }];
      api.behaviour.activeAfterMs = 10;
      api.behaviour.fromImageIp = DROPLET_IP;
      const imageId = api.addImage({
        name: 'acme-wiki-e2e',
        regions: ['nyc3'],
        min_disk_size: 25,
        distribution: 'Debian',
      }).id;
      const cap = captureContext({ cwd: project, env: apiEnv(api.url, project) });
      const cmd = createOutdatedCommand({ clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS });
      const argv = ['--image', String(imageId), '--json', '--port', String(sshd.port), '--identity', keys.privateKey];
      argv.push('--ssh-config', sshConfig, '--wait-attempts', '20', '--cloud-init-timeout', '120');
      const code = await runCommand(cmd, argv, cap.ctx);
      expect(code, cap.err()).toBe(4);
      const json = JSON.parse(cap.out()) as Outdated;
      expect(json.image).toBe(imageId);
      expect(names(json, true)).toEqual(['mpimg-held', 'mpimg-sec']);
      expect(api.droplets.size).toBe(0);
      expect(`${cap.out()}${cap.err()}`).not.toContain(TOKEN);
    } finally {
      await api.close();
    }
  });

  it('only a non-security update left: exit 3 (the image check passes); after the upgrade: exit 0', async () => {
    // The security fixes only (held's new dependency comes with it).
    const up = await sshCommand(
      sshd,
      keys.privateKey,
      'DEBIAN_FRONTEND=noninteractive apt-get install -y mpimg-sec mpimg-held',
    );
    expect(up.code, up.stderr).toBe(0);
    const three = await outdated();
    expect(three.code, three.stderr).toBe(3);
    expect(three.json.pending).toBe(1);
    expect(three.json.security).toBe(0);
    expect(names(three.json, false)).toEqual(['mpimg-plain']);
    expect((await imageCheckLine())?.status).toBe('pass');

    const all = await sshCommand(sshd, keys.privateKey, 'DEBIAN_FRONTEND=noninteractive apt-get dist-upgrade -y');
    expect(all.code, all.stderr).toBe(0);
    const zero = await outdated();
    expect(zero.code, zero.stderr).toBe(0);
    expect(zero.json).toMatchObject({ pending: 0, security: 0, packages: [] });
  });
});
