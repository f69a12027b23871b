import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootNewInstance } from './harness/cloudinit.js';
import { baseOf, e2eContext } from './harness/context.js';
import { Droplet, NAT_GUEST_IP, NAT_HOST_IP, withDroplet, type Image } from './harness/droplet.js';
import { SystemdDroplet } from './harness/examples.js';
import { mountsUnder, processesRootedIn } from './harness/mounts.js';
import {
  pebble,
  pebbleRoot,
  PEBBLE_CA_FILE,
  PEBBLE_DIRECTORY,
  PEBBLE_ROOT_FILE,
  PEBBLE_UNIT,
} from './harness/pebble.js';
import { assertPrerequisites, prerequisiteProblems } from './harness/prereq.js';
import { cacheDir, produceAtomically, tarballPath } from './harness/rootfs.js';
import { consoleLogin, makeKeyPair, sshCommand, sshOptions, startDropletSshd } from './harness/ssh.js';

// Self-test of the test bed: if these fail, no scenario result can be trusted.

const hostLinks = () =>
  execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(':')[1]?.trim())
    .filter(Boolean)
    .sort();

describe('prerequisites', () => {
  it('are all present on this machine', () => {
    expect(prerequisiteProblems()).toEqual([]);
  });

  it('refuse a non-root user with the command to use instead', () => {
    const problems = prerequisiteProblems({ uid: 1000 });
    expect(problems.join('\n')).toMatch(/not running as root[\s\S]*fix: run it as root/);
    expect(() => assertPrerequisites({ uid: 1000 })).toThrow(/never skips[\s\S]*not running as root/);
  });

  it('name each missing program and the apt package to install', () => {
    const text = prerequisiteProblems({ env: { PATH: '/nonexistent' }, uid: 0 }).join('\n');
    expect(text).toMatch(/missing programs: .*unshare/);
    expect(text).toMatch(/fix: apt-get install -y .*util-linux/);
    expect(text).toMatch(/zstd|ssh-keygen/);
  });
});

describe('root filesystem cache', () => {
  it('lives outside the repository, MPIMG_E2E_CACHE overrides it, and the recipe is in the name', () => {
    expect(cacheDir({})).toBe('/var/cache/mpimg-e2e');
    expect(cacheDir({ MPIMG_E2E_CACHE: '/srv/x' })).toBe('/srv/x');
    const p = tarballPath('trixie', '/srv/x');
    expect(p).toMatch(/^\/srv\/x\/trixie-[0-9a-f]{10}\.tar\.zst$/);
    expect(tarballPath('bookworm', '/srv/x')).not.toBe(p.replace('trixie', 'bookworm'));
    for (const r of e2eContext().rootfs) expect(r.tarball.startsWith(e2eContext().repoRoot)).toBe(false);
  });

  it('is written atomically: a failed build leaves neither a cache file nor a partial one', async () => {
    const dir = mkdtempSync(join(e2eContext().runRoot, 'cache-'));
    const dest = join(dir, 'bookworm-x.tar.zst');
    await expect(
      produceAtomically(dest, async (tmp) => {
        writeFileSync(tmp, 'half a tarball');
        throw new Error('debootstrap interrupted');
      }),
    ).rejects.toThrow(/interrupted/);
    expect(readdirSync(dir)).toEqual([]);
    await produceAtomically(dest, async (tmp) => {
      writeFileSync(tmp, 'whole');
    });
    expect(readdirSync(dir)).toEqual(['bookworm-x.tar.zst']);
    expect(readFileSync(dest, 'utf8')).toBe('whole');
  });
});

describe('sandbox (namespaces + chroot) on bookworm', () => {
  let work: string;
  let image: Image;
  beforeAll(() => {
    work = mkdtempSync(join(e2eContext().runRoot, 'harness-'));
    image = { name: 'bookworm', lowers: [baseOf('bookworm')] };
  });
  afterAll(() => {
    expect(mountsUnder(work)).toEqual([]);
  });

  it('cannot change the host hostname, network or reach a disk; /sys is read-only; /proc is its own', async () => {
    const linksBefore = hostLinks();
    const hostName = hostHostname();
    await withDroplet(work, image, async (d) => {
      const r = await d.exec(
        `
        hostname evil-droplet; echo "name=$(hostname)"
        ip link add mpimge2e0 type dummy 2>&1 && echo NETADMIN-OK || echo netadmin-refused
        mknod /root/disk b 8 0 2>&1 && echo MKNOD-OK || echo mknod-refused
        touch /sys/kernel/x 2>/dev/null && echo SYS-RW || echo sys-ro
        echo "pid1=$(cat /proc/1/comm) procs=$(ls -d /proc/[0-9]* | wc -l)"
        find /dev -type b | sed 's/^/blockdev=/'
        ls /dev | tr '\\n' ' '; echo
        grep CapBnd /proc/self/status
      `,
        { allowFail: true },
      );
      const out = r.stdout;
      expect(out).toContain('name=evil-droplet');
      expect(out).toContain('netadmin-refused');
      expect(out).toContain('mknod-refused');
      expect(out).toContain('sys-ro');
      expect(out).toMatch(/pid1=sh procs=[1-9]\b/);
      expect(out).not.toContain('blockdev=');
      expect(out).toContain('fd full null ptmx pts random shm stderr stdin stdout tty urandom zero');
      const capBnd = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(out)![1]}`);
      expect(capBnd & (1n << 12n)).toBe(0n); // CAP_NET_ADMIN
    });
    expect(hostHostname()).toBe(hostName);
    expect(hostLinks()).toEqual(linksBefore);
  });

  it("a build droplet (nat) has a network of its own: netfilter changes stay inside, this machine's 127.0.0.1 is 10.0.2.2 from it, its sshd is reached on 127.0.0.1 here", async () => {
    const server = createServer((_req, res) => res.end('from the host\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const linksBefore = hostLinks();
    const d = await Droplet.create(work, image, 'nat', 'nat');
    try {
      const r = await d.exec(
        `
        iptables -N mpimg-e2e-probe && iptables -S mpimg-e2e-probe && echo NETFILTER-OWN
        ip -4 -o addr show tap0 | awk '{print "addr=" $4}'
        curl -sS --max-time 10 http://${NAT_HOST_IP}:${port}/
      `,
        { allowFail: true },
      );
      expect(r.stdout).toContain('NETFILTER-OWN');
      expect(r.stdout).toContain(`addr=${NAT_GUEST_IP}/24`);
      expect(r.stdout).toContain('from the host');
      expect(readlinkSync(d.netns())).not.toBe(readlinkSync('/proc/self/ns/net'));
      expect(hostLinks()).toEqual(linksBefore);
      const keys = await makeKeyPair(work, 'id_nat');
      d.write('root/.ssh/authorized_keys', keys.publicKey, 0o600);
      const sshd = await startDropletSshd(d);
      expect(sshd.netns).toBeUndefined();
      const out = execFileSync('ssh', [...sshOptions(sshd.port, keys.privateKey), 'root@127.0.0.1', 'hostname -I'], {
        encoding: 'utf8',
      });
      expect(out.trim().split(/\s+/)).toContain(NAT_GUEST_IP);
    } finally {
      await d.destroy();
      server.close();
    }
    expect(hostLinks()).toEqual(linksBefore);
  });

  it('gives each droplet a fresh writable layer over an untouched base', async () => {
    const a = await Droplet.create(work, image, 'a');
    try {
      await a.exec('echo from-a > /root/layer-test && rm /etc/motd');
      expect(a.read('root/layer-test')).toBe('from-a\n');
      await withDroplet(work, image, async (b) => {
        expect(existsSync(b.path('root/layer-test'))).toBe(false);
        expect(existsSync(b.path('etc/motd'))).toBe(true);
      });
      expect(existsSync(join(baseOf('bookworm'), 'root/layer-test'))).toBe(false);
      expect(existsSync(join(baseOf('bookworm'), 'etc/motd'))).toBe(true);
    } finally {
      await a.destroy();
    }
  });

  it('tears everything down after a failing test: no mount, no process, no folder left', async () => {
    let dir = '';
    let pids: number[] = [];
    await expect(
      withDroplet(work, image, async (d) => {
        dir = d.dir;
        const sleeper = d.spawn('sleep 600');
        await startDropletSshd(d);
        pids = [sleeper.child.pid!];
        expect(mountsUnder(d.dir).length).toBeGreaterThanOrEqual(3);
        expect(processesRootedIn(d.dir).length).toBeGreaterThanOrEqual(3); // PID 1, sleep, sshd
        throw new Error('scenario failed');
      }),
    ).rejects.toThrow('scenario failed');
    expect(mountsUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(processesRootedIn(dir)).toEqual([]);
  });

  it(
    'a fixture unit that fails ends the wait for first boot at once, naming it with its journal (not after the bound)',
    async () => {
      const keys = await makeKeyPair(mkdtempSync(join(work, 'keys-')));
      const enable = (d: Droplet, unit: string, text: string) => {
        d.write(`etc/systemd/system/${unit}`, text);
        mkdirSync(d.path('etc/systemd/system/multi-user.target.wants'), { recursive: true });
        symlinkSync(`/etc/systemd/system/${unit}`, d.path(`etc/systemd/system/multi-user.target.wants/${unit}`));
      };
      const t0 = Date.now();
      const err = await SystemdDroplet.start({
        work,
        image,
        name: 'harness-fixture',
        slug: 'harness',
        instanceId: 'i-harness-fixture',
        keys,
        address: '192.0.2.30/24',
        fixtures: ['mpimg-e2e-broken.service'],
        prepare: (d) => {
          // cloud-init's last stage waits 10 minutes for one unit (as a first-boot step waits for a
          // database that never comes); the fixture it would need fails at once.
          enable(
            d,
            'mpimg-e2e-slow.service',
            '[Unit]\nBefore=cloud-final.service\n[Service]\nType=oneshot\nExecStart=/bin/sleep 600\n[Install]\nWantedBy=multi-user.target\n',
          );
          enable(
            d,
            'mpimg-e2e-broken.service',
            '[Unit]\nBefore=cloud-final.service\n[Service]\nType=oneshot\nExecStart=/bin/sh -c "echo the fixture broke >&2; exit 3"\n[Install]\nWantedBy=multi-user.target\n',
          );
        },
      }).then(
        () => new Error('the boot was taken as finished'),
        (e: Error) => e,
      );
      expect(err.message).toContain("the test's fixture mpimg-e2e-broken.service failed during the first boot");
      expect(err.message).toContain('the fixture broke');
      // The first boot would have taken 10 minutes (the bound is 8): seconds to a couple of minutes here.
      expect(Date.now() - t0).toBeLessThan(4 * 60_000);
      expect(mountsUnder(work)).toEqual([]);
    },
    10 * 60_000,
  );

  it(
    'the pebble fixture: a local ACME directory up before first boot ends, the test names resolving to the droplet, its issuing root at hand',
    async () => {
      const keys = await makeKeyPair(mkdtempSync(join(work, 'keys-')));
      const s = await SystemdDroplet.start({
        work,
        image,
        name: 'harness-pebble',
        slug: 'harness',
        instanceId: 'i-harness-pebble',
        keys,
        address: '192.0.2.31/24',
        fixtures: [PEBBLE_UNIT],
        prepare: (d) => pebble(d, { names: ['shop.e2e.test', 'www.shop.e2e.test'], address: '192.0.2.31' }),
      });
      try {
        const dir = JSON.parse(await s.sh(`curl -fsS --cacert ${PEBBLE_CA_FILE} ${PEBBLE_DIRECTORY}`)) as Record<
          string,
          string
        >;
        expect(dir.newOrder).toMatch(/^https:\/\/localhost:14000\//);
        // Without the fixture's CA the directory is not trusted: what caRoot is for.
        expect((await s.exec(`curl -fsS -o /dev/null ${PEBBLE_DIRECTORY}`)).code).not.toBe(0);
        expect(await s.sh('getent hosts shop.e2e.test www.shop.e2e.test')).toMatch(
          /^192\.0\.2\.31\s+shop\.e2e\.test[\s\S]*\n192\.0\.2\.31\s+/,
        );
        expect(await pebbleRoot(s)).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
        expect(await s.sh(`head -c 27 ${PEBBLE_ROOT_FILE}`)).toBe('-----BEGIN CERTIFICATE-----');
      } finally {
        await s.close();
      }
      expect(mountsUnder(work)).toEqual([]);
    },
    10 * 60_000,
  );

  it('boots a new droplet with cloud-init (NoCloud seed), serves ssh with the seed key and a pty console login', async () => {
    const keys = await makeKeyPair(mkdtempSync(join(work, 'keys-')));
    await withDroplet(work, image, async (d) => {
      const boot = await bootNewInstance(d, {
        instanceId: 'i-harness-1',
        publicKey: keys.publicKey,
        hostname: 'harness-drop',
      });
      expect(boot.stages.map((s) => s.code)).toEqual([0, 0, 0, 0]);
      const status = await d.exec('cloud-init status --long', { allowFail: true });
      expect(status.stdout).toMatch(/status: done/);
      expect(d.read('root/.ssh/authorized_keys')).toContain(keys.publicKey);
      const sshd = await startDropletSshd(d);
      const r = await sshCommand(sshd, keys.privateKey, 'hostname; readlink /proc/1/root; cat /proc/1/comm');
      expect(r.stdout).toBe('harness-drop\n/\nsh\n'); // PID 1 is the droplet's own shell, in its root
      const login = consoleLogin(d);
      await login.expect(/root@harness-drop:~# $/m, 30_000);
      login.send('tty; exit\n');
      expect(await login.close()).toBe(0);
      expect(login.output()).toContain('Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY');
      expect(login.output()).toMatch(/\/dev\/pts\/\d+/);
    });
  });
});
