// The standard `verify` task, run as `mpimg run verify --host ... --port ...` against a droplet made
// from the image: the test droplet of droplet-root.ts (the project's real bundle installed, its real
// first boot run, reached over a real sshd whose sessions run inside that root).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import runCommand from '../../tasks/commands/run.js';
import { packageRoot } from '../../core/paths.js';
import { keyArgs } from '../helpers/sshd-run.js';
import { TOKEN, captureContext } from './support.js';
import {
  ADMIN_PASSWORD_MARK,
  CREDENTIALS,
  DROPLET_IP,
  SLUG,
  VERIFY_MANIFEST,
  testDroplet,
  verifyProject,
  type TestDroplet,
} from './droplet-root.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function setup(
  opts: {
    manifest?: Record<string, unknown>;
    steps?: Record<string, string>;
    boot?: Parameters<typeof testDroplet>[1];
  } = {},
) {
  const project = verifyProject(opts.manifest, opts.steps);
  cleanups.push(() => rmSync(project, { recursive: true, force: true }));
  const d = await testDroplet(project, opts.boot);
  cleanups.push(() => d.stop());
  return { project, d };
}

async function verify(project: string, d: TestDroplet, extra: string[] = []) {
  const cap = captureContext({
    cwd: project,
    env: { PATH: process.env.PATH, HOME: project, DIGITALOCEAN_ACCESS_TOKEN: TOKEN },
  });
  const code = await runCommand.run(
    [
      'verify',
      ...['--host', d.sshd.host, '--port', String(d.sshd.port), ...keyArgs(d.sshd)],
      ...['--wait-attempts', '3', '--cloud-init-timeout', '5', ...extra],
    ],
    cap.ctx,
  );
  const out = cap.out();
  const all = out + cap.err();
  expect(all).not.toContain(TOKEN);
  expect(all).not.toContain(ADMIN_PASSWORD_MARK);
  const lines = out.split('\n').filter((l) => /^\[(PASS|WARN|FAIL|SKIP)\] /.test(l));
  const tag = (id: string) => lines.find((l) => l.includes(`] ${id}: `))?.slice(1, 5);
  return { code, out, err: cap.err(), lines, tag };
}

describe('mpimg run verify on a droplet made from the image', () => {
  it('passes every check, one line each, with a summary, exit 0, no secret in the output', async () => {
    const { project, d } = await setup();
    // first boot really ran in the droplet: the credentials file exists, holding the password
    expect(d.exec(`cat ${CREDENTIALS}`).stdout).toContain(ADMIN_PASSWORD_MARK);
    const v = await verify(project, d);
    expect(v.code, v.out + v.err).toBe(0);
    expect(v.lines.map((l) => l.replace(/: .*/, ''))).toEqual([
      '[PASS] first-boot',
      '[PASS] login-hold',
      '[PASS] motd',
      '[PASS] credentials',
      '[PASS] services',
      '[PASS] firewall',
      '[PASS] image-check',
      '[PASS] command-1',
    ]);
    expect(v.out).toContain(`[PASS] motd: the MOTD renders with the droplet's IP ${DROPLET_IP}`);
    expect(v.out).toContain(`[PASS] credentials: ${CREDENTIALS} is 0600, owned by root`);
    expect(v.out).toContain(
      '[PASS] firewall: ufw is active with exactly the rules of $.firewall (limit 22/tcp, allow 80/tcp)',
    );
    expect(v.out).toContain('[PASS] command-1: `test -s /var/lib/acme-wiki/ready` exited 0');
    expect(v.out).toMatch(/^Summary: 8 passed, 0 warnings, 0 failed, 0 skipped\nResult: PASS$/m);
    expect(v.err).toMatch(/task "verify" finished on root@127\.0\.0\.1:\d+/);
    expect(v.err).toContain('cloud-init is done');
    // --cloud-init-timeout 0 checks the droplet as it is, without asking cloud-init at all.
    const now = await verify(project, d, ['--cloud-init-timeout', '0']);
    expect(now.code, now.out + now.err).toBe(0);
    expect(now.err).not.toMatch(/cloud-init/);
    expect(now.lines).toHaveLength(8);
  });

  it("a project's own image check from before --firewall: the rules are not compared, and the firewall line says so", async () => {
    const { project, d } = await setup();
    const pkg = readFileSync(join(packageRoot(), 'templates/droplet/99-img-check.sh'), 'utf8');
    mkdirSync(join(project, 'scripts'), { recursive: true });
    writeFileSync(join(project, 'scripts/99-img-check.sh'), pkg.replaceAll('--firewall)', '--firewall-not-yet)'), {
      mode: 0o755,
    });
    const v = await verify(project, d);
    expect(v.code, v.out + v.err).toBe(0);
    expect(v.out).toContain(
      "[WARN] firewall: ufw is active; its rules were not compared with $.firewall: the project's scripts/99-img-check.sh has no --firewall option",
    );
    expect(v.out).toMatch(
      /^\[PASS\] image-check: the image check passes on the booted droplet \(\d+ checks, the project's scripts\/99-img-check\.sh\)$/m,
    );
  });

  it('fails naming first-boot when a first-boot step failed, and goes on with the other checks', async () => {
    const { project, d } = await setup({ steps: { ip: '#!/bin/sh\necho cannot configure >&2\nexit 5\n' } });
    const v = await verify(project, d);
    expect(v.code).toBe(1);
    expect(v.out).toContain(
      '[FAIL] first-boot: first-boot step(s) failed: 20-ip (exit 5): see /var/log/mpimg/acme-wiki/ on the droplet',
    );
    expect(v.tag('login-hold')).toBe('PASS');
    expect(v.lines).toHaveLength(8);
    expect(v.err).toMatch(/error: verify: 1 check\(s\) failed on root@127\.0\.0\.1:\d+: first-boot/);
    // The bundle's sh twin reads the same stage (droplets without Node).
    process.env.MPIMG_INSTALLER = 'sh';
    try {
      const sh = await verify(project, d);
      expect(sh.code).toBe(1);
      expect(sh.err).toContain('.sh -> /run/');
      expect(sh.out).toContain('[FAIL] first-boot: first-boot step(s) failed: 20-ip (exit 5)');
    } finally {
      delete process.env.MPIMG_INSTALLER;
    }
  });

  it('names each broken promise: MOTD with another IP, loose credentials, a stopped service, a missing firewall rule, a failing smoke command', async () => {
    const { project, d } = await setup({
      manifest: {
        ...VERIFY_MANIFEST,
        firewall: { limit: ['22/tcp'], allow: ['80/tcp', '443/tcp'] },
        verify: { commands: ['test -s /var/lib/acme-wiki/ready', 'echo no such page >&2; exit 22'] },
      },
    });
    d.setFake({ metadataIp: '203.0.113.99', active: [] });
    d.exec(`chmod 644 ${CREDENTIALS}`);
    const v = await verify(project, d);
    expect(v.code).toBe(1);
    expect(v.out).toContain(
      `[FAIL] motd: the MOTD does not show the droplet's IP (${DROPLET_IP}); it shows 203.0.113.99`,
    );
    expect(v.out).toContain(
      `[FAIL] credentials: ${CREDENTIALS} has mode 0644, owner root: it holds passwords and must be 0600, owned by root`,
    );
    expect(v.out).toContain('[FAIL] services: declared service(s) not active: acme-wiki.service (inactive)');
    // the image check's own comparison (--firewall from $.firewall), on the firewall line only
    expect(v.out).toMatch(
      /^\[FAIL\] firewall: ufw is active, but the firewall's rules differ from mpimg\.json's.*\n {7}- ufw \(ENABLED=yes in \/etc\/ufw\/ufw\.conf\)\n {7}- missing: allow tcp 443$/m,
    );
    // the image check (given $.credentials) names the loose credentials file too
    expect(v.out).toContain('[FAIL] image-check: the image check (--booted) failed: first-boot-secrets');
    expect(v.out).toContain(
      `- first-boot-secrets: what first boot made for this droplet's secrets is not root's alone`,
    );
    expect(v.out).toContain('[PASS] command-1:');
    expect(v.out).toContain('[FAIL] command-2: `echo no such page >&2; exit 22` exited 22');
    expect(v.err).toContain('command-2 | no such page');
    expect(v.err).toContain('failed on root@127.0.0.1');
    expect(v.err).toMatch(/motd, credentials, services, firewall, image-check, command-2/);
  });

  it('an inactive firewall, a smoke command over its bound, and what the booted image check still fails', async () => {
    const { project, d } = await setup({
      manifest: { ...VERIFY_MANIFEST, verify: { commands: ['sleep 300'], commandTimeoutSeconds: 1 } },
    });
    d.setFake({ ufw: 'Status: inactive\n' });
    // The build left its own cloud-init instance in the image.
    d.exec('mkdir -p /var/lib/cloud/instances/i-build && echo x > /var/lib/cloud/instances/i-build/user-data.txt');
    const start = Date.now();
    const v = await verify(project, d);
    expect(v.code).toBe(1);
    // (what else it names depends on the machine: firewalld may be installed there too)
    expect(v.out).toMatch(/^\[FAIL\] firewall: the firewall is not active \(ufw inactive[,)]/m);
    expect(v.out).toContain('[FAIL] command-1: `sleep 300` did not finish within 1 s');
    expect(v.out).toContain('[FAIL] image-check: the image check (--booted) failed: cloud-init-data');
    expect(v.out).toMatch(/^ {7}- cloud-init-data: cloud-init data of another droplet/m);
    // The command was stopped at its bound: far sooner than its 300 s (a wide margin, for a busy machine).
    expect(Date.now() - start).toBeLessThan(150_000);
  });

  it("no firewall declared and none running: a warning on the firewall line only, the image check's own warning about it not counted twice", async () => {
    const { firewall: _none, ...manifest } = VERIFY_MANIFEST;
    const { project, d } = await setup({ manifest });
    d.setFake({ ufw: 'Status: inactive\n' });
    d.exec("sed -i 's/^ENABLED=yes/ENABLED=no/' /etc/ufw/ufw.conf");
    const v = await verify(project, d);
    expect(v.code, v.out + v.err).toBe(0);
    expect(v.out).toContain(
      '[WARN] firewall: no firewall is active: Marketplace review rejects images without one; declare the ports in $.firewall',
    );
    expect(v.out).toMatch(/^\[PASS\] image-check: the image check passes on the booted droplet \(\d+ checks\)$/m);
    expect(v.out).toMatch(/^Summary: 7 passed, 1 warnings, 0 failed, 0 skipped\nResult: PASS with warnings$/m);
    // ufw runs now but would not come up at the next boot: still a warning, in the image check's words
    d.setFake({ ufw: 'Status: active\n' });
    const once = await verify(project, d);
    expect(once.code).toBe(0);
    expect(once.out).toMatch(
      /^\[WARN\] firewall: ufw is active now, but the image check says: no firewall is enabled at boot/m,
    );
    d.exec("sed -i 's/^ENABLED=no/ENABLED=yes/' /etc/ufw/ufw.conf");
    expect((await verify(project, d)).out).toContain(
      '[PASS] firewall: a firewall is active (ufw); $.firewall declares no rules',
    );
  });

  it("one result per service check (services[].check): the droplet's config passes, a broken one fails naming the unit with its output", async () => {
    const good = `test -s /var/lib/${SLUG}/ready`;
    const broken = 'echo "acme-wiki: unknown key \\"lisen\\" in /etc/acme-wiki.conf:3" >&2; exit 1';
    const { project, d } = await setup({
      manifest: {
        ...VERIFY_MANIFEST,
        services: [{ name: 'acme-wiki.service', check: good }],
      },
    });
    const v = await verify(project, d);
    expect(v.code, v.out + v.err).toBe(0);
    expect(v.lines.map((l) => l.replace(/: .*/, ''))).toContain('[PASS] check:acme-wiki.service');
    expect(v.out).toContain(`[PASS] check:acme-wiki.service: acme-wiki.service: its check \`${good}\` exited 0`);
    expect(v.lines).toHaveLength(9);

    // the same droplet, the check now one its config fails
    const m = JSON.parse(readFileSync(join(project, 'mpimg.json'), 'utf8'));
    m.services = [{ name: 'acme-wiki.service', check: broken }];
    writeFileSync(join(project, 'mpimg.json'), JSON.stringify(m));
    const f = await verify(project, d);
    expect(f.code).toBe(1);
    expect(f.out).toContain(
      `[FAIL] check:acme-wiki.service: acme-wiki.service: its check \`${broken}\` exited 1: the unit's configuration on the droplet is broken\n       - acme-wiki: unknown key "lisen" in /etc/acme-wiki.conf:3\n`,
    );
    expect(f.tag('services')).toBe('PASS');
    expect(f.err).toMatch(/error: verify: 1 check\(s\) failed on root@127\.0\.0\.1:\d+: check:acme-wiki\.service/);
  });

  it('a "managedDatabase": "disable" unit must be active without a hand-over and off with one', async () => {
    const { project, d } = await setup({
      manifest: {
        ...VERIFY_MANIFEST,
        services: ['acme-wiki.service', { name: 'mariadb.service', firstBoot: 'none', managedDatabase: 'disable' }],
      },
    });
    const none = await verify(project, d);
    expect(none.out).toContain('[FAIL] services: declared service(s) not active: mariadb.service (inactive)');
    d.setFake({ active: ['acme-wiki.service', 'mariadb.service'] });
    expect((await verify(project, d)).tag('services')).toBe('PASS');

    // DigitalOcean's hand-over file on the droplet: the unit must be off
    d.exec(
      `printf 'db_host="db.example.com"\\ndb_username="doadmin"\\ndb_password="S3CRET"\\n' > /root/.digitalocean_dbaas_credentials`,
    );
    // ... once first boot saw it: its services step recorded "no" when it ran without one, and that
    // decision stands (the units are as first boot left them)
    expect(d.exec(`cat /var/lib/mpimg/${SLUG}/managed-database`).stdout).toBe('no\n');
    expect((await verify(project, d)).tag('services')).toBe('PASS');
    d.exec(`printf 'yes\\n' > /var/lib/mpimg/${SLUG}/managed-database`);
    const on = await verify(project, d);
    expect(on.out).toContain(
      '[FAIL] services: active though a managed database was handed over ("managedDatabase": "disable"): mariadb.service',
    );
    expect(on.out + on.err).not.toContain('S3CRET');
    d.setFake({ active: ['acme-wiki.service'] });
    const off = await verify(project, d);
    expect(off.out).toContain(
      '[PASS] services: every declared service is active: acme-wiki.service; off, as a managed database was handed over: mariadb.service',
    );
    // The hand-over file gone after first boot: the unit first boot turned off stays expected off.
    d.exec('rm /root/.digitalocean_dbaas_credentials');
    expect((await verify(project, d)).tag('services')).toBe('PASS');
  });

  it('waits for a login hold to be released, then verifies; a hold never released is reported', async () => {
    const { project, d } = await setup({ boot: { finish: false } });
    // Held: the droplet's own sshd config makes every root session print the wait message.
    expect(d.exec('echo hi').stdout).toContain('still finishing its first boot');
    const never = await verify(project, d, ['--wait-attempts', '2']);
    expect(never.code).toBe(1);
    // (ssh answers, but every command gets the hold's message instead of running)
    expect(never.err).toMatch(/ssh on root@127\.0\.0\.1:\d+ did not answer after 2 attempts/);

    // The last first-boot step runs a few seconds later, as on a slow droplet.
    const finish = `/var/lib/cloud/scripts/per-instance/zz-${SLUG}-finish`;
    const releaser = setTimeout(() => {
      const f = join(d.root, `etc/ssh/sshd_config.d/00-${SLUG}-login-hold.conf`);
      // the finish step itself cannot be reached through a held session: run it in the root directly
      writeFileSync(join(d.root, 'release.sh'), `#!/bin/sh\n${finish}\n`, { mode: 0o755 });
      rmSync(f, { force: true });
      d.exec('/release.sh');
    }, 2500);
    cleanups.push(() => clearTimeout(releaser));
    const later = await verify(project, d, ['--wait-attempts', '10']);
    expect(later.code, later.out + later.err).toBe(0);
    expect(later.err).toMatch(
      /waiting for ssh on root@127\.0\.0\.1:\d+ \(attempt 1\/10\)[\s\S]*ssh is up \(attempt \d+\)/,
    );
    expect(readFileSync(join(d.root, `var/lib/mpimg/${SLUG}/first-boot.last`), 'utf8')).toContain('10-setup 0');
  });
});
