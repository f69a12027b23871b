import { join } from 'node:path';
import { bootNewInstance } from './cloudinit.js';
import { Droplet, type FrozenImage, type Image } from './droplet.js';
import { tail, type RunResult } from './exec.js';
import { runTask, type Project } from './project.js';
import { startDropletSshd, type KeyPair } from './ssh.js';

export interface BuiltImage {
  image: FrozenImage;
  /** Output of `mpimg run build` (stdout + stderr). */
  output: string;
  result: RunResult;
  ms: number;
}

/**
 * A build droplet as DigitalOcean makes one: a first boot that gives root the builder's key, its own
 * sshd; then the project's `build` task over SSH. The droplet's disk becomes the image.
 */
export async function buildImage(opts: {
  work: string;
  base: Image;
  project: Project;
  keys: KeyPair;
  name: string;
}): Promise<BuiltImage> {
  const d = await Droplet.create(opts.work, opts.base, `build-${opts.name}`, 'nat');
  try {
    const boot = await bootNewInstance(d, {
      instanceId: `i-build-${opts.name}-${Date.now()}`,
      publicKey: opts.keys.publicKey,
    });
    if (boot.stages.some((s) => s.code !== 0))
      throw new Error(
        `build droplet did not boot: ${JSON.stringify(boot.stages)}\n${tail(boot.result.stdout)}\n${tail(boot.result.stderr)}`,
      );
    const sshd = await startDropletSshd(d);
    const t0 = Date.now();
    const result = await runTask(opts.project, 'build', {
      port: sshd.port,
      key: opts.keys.privateKey,
      knownHosts: join(d.dir, 'known_hosts'),
    });
    const ms = Date.now() - t0;
    const output = `${result.stdout}${result.stderr}`;
    if (result.code !== 0) {
      // The [FAIL] lines and their evidence first: the tail alone often cuts them off.
      const lines = output.split('\n');
      const failed = lines
        .flatMap((l, i) => {
          if (!l.includes('[FAIL]')) return [];
          const evidence = lines.slice(i + 1).findIndex((e) => !/^\[\w[\w-]*\] {6,}- /.test(e));
          return lines.slice(i, i + 1 + (evidence < 0 ? 0 : evidence));
        })
        .join('\n');
      throw new Error(
        `\`mpimg run build\` failed (exit ${result.code}) on the ${opts.name} build droplet:\n${failed}\n${tail(output, 80)}\n--- droplet sshd ---\n${tail(sshd.log(), 20)}`,
      );
    }
    const image = await d.freeze(`${opts.name}-image`);
    return { image, output, result, ms };
  } catch (e) {
    await d.destroy();
    throw e;
  }
}
