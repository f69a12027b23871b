import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../helpers/sshd.js';
import type { BuiltImage } from './build.js';
import { writeSeed } from './cloudinit.js';
import { Droplet, type Image } from './droplet.js';
import { tail } from './exec.js';
import { SystemdBoot } from './nspawn.js';
import { runTask, type Project } from './project.js';
import type { KeyPair } from './ssh.js';

/**
 * A build droplet booted with systemd as PID 1 (a DigitalOcean build droplet runs systemd, and the
 * packages' own units start, Docker Engine's among them): the nat droplet's network (slirp4netns to
 * the Debian mirror), cloud-init's first boot from its units, its own sshd on port 22 and on a free
 * port that this machine's 127.0.0.1 forwards to; then the project's `build` task over SSH, and the
 * powered-off disk becomes the image.
 */
export async function buildWithSystemd(opts: {
  work: string;
  base: Image;
  project: Project;
  keys: KeyPair;
  name: string;
  /** Docker Engine must run inside (SystemdBoot's `containers`). */
  containers?: boolean;
}): Promise<BuiltImage> {
  const d = await Droplet.create(opts.work, opts.base, `build-${opts.name}`, 'nat');
  let boot: SystemdBoot | undefined;
  try {
    writeSeed(d, { instanceId: `i-build-${opts.name}-${Date.now()}`, publicKey: opts.keys.publicKey });
    const port = await freePort();
    d.write('etc/ssh/sshd_config.d/00-e2e-build-port.conf', `Port 22\nPort ${port}\n`);
    await d.forward(port);
    // systemd-nspawn mounts /proc/sys read-only in a joined network namespace, where dockerd cannot
    // switch IP forwarding on as it does on a droplet: it is on already (dockerd writes it only when off)
    if (opts.containers) {
      const f = await d.exec('sysctl -qw net.ipv4.ip_forward=1');
      if (f.code !== 0) throw new Error(`could not switch IP forwarding on in the build droplet: ${f.stderr}`);
    }
    boot = SystemdBoot.start(d, { containers: opts.containers, netnsOf: d.pid });
    const deadline = Date.now() + 5 * 60_000;
    for (;;) {
      const r = await boot.exec('cloud-init status 2>/dev/null | sed -n "s/^status: //p"', 60_000);
      if (/^(done|error|disabled)/m.test(r.stdout)) {
        if (!/^done/m.test(r.stdout))
          throw new Error(`the build droplet's first boot ended "${r.stdout.trim()}":\n${tail(boot.console(), 30)}`);
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`the build droplet's first boot did not finish in 5 min:\n${tail(boot.console(), 30)}`);
      await new Promise((res) => setTimeout(res, 1000));
    }
    const t0 = Date.now();
    const result = await runTask(opts.project, 'build', {
      port,
      key: opts.keys.privateKey,
      knownHosts: join(d.dir, 'known_hosts'),
    });
    const ms = Date.now() - t0;
    const output = `${result.stdout}${result.stderr}`;
    if (result.code !== 0) {
      const j = await boot.exec('journalctl -b --no-pager -n 60 -u docker.service', 60_000).catch(() => undefined);
      throw new Error(
        `\`mpimg run build\` failed (exit ${result.code}) on the ${opts.name} build droplet (systemd):\n${tail(output, 80)}\n--- docker.service ---\n${j?.stdout ?? ''}`,
      );
    }
    const off = await boot.poweroff();
    boot = undefined;
    if (off !== 0) throw new Error(`the ${opts.name} build droplet did not power off cleanly (exit ${off})`);
    rmSync(d.path('etc/ssh/sshd_config.d/00-e2e-build-port.conf'));
    const image = await d.freeze(`${opts.name}-image`);
    return { image, output, result, ms };
  } catch (e) {
    if (boot) await boot.poweroff().catch(() => undefined);
    await d.destroy();
    throw e;
  }
}
