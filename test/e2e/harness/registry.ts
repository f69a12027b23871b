/**
 * A container registry on this machine's 127.0.0.1 (Debian's docker-registry, the distribution
 * project's registry), which a build droplet reaches through slirp4netns as 10.0.2.2, and an image
 * pushed to it over the registry's own HTTP API: one layer holding /usr/bin/true with the two files of
 * the C library it needs, taken from this machine, so the image is made without Docker here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface Registry {
  port: number;
  /** Pushes the image (CMD /true) as NAME:TAG; returns its manifest digest. */
  push(name: string, tag: string): Promise<string>;
  stop(): Promise<void>;
}

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });

export async function startRegistry(dir: string): Promise<Registry> {
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const proc: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/v2/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 100 || proc.exitCode !== null) throw new Error(`docker-registry does not answer on ${base}: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  async function blob(name: string, body: Buffer): Promise<string> {
    const digest = sha(body);
    const up = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    if (up.status !== 202) throw new Error(`registry: upload of ${name} refused (${up.status})`);
    const loc = new URL(up.headers.get('location')!, base);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (put.status !== 201) throw new Error(`registry: blob of ${name} refused (${put.status})`);
    return digest;
  }

  return {
    port,
    async push(name, tag) {
      const root = join(dir, `layer-${name.replace(/\W/g, '_')}`);
      mkdirSync(join(root, 'lib64'), { recursive: true });
      mkdirSync(join(root, 'lib/x86_64-linux-gnu'), { recursive: true });
      copyFileSync('/usr/bin/true', join(root, 'true'));
      copyFileSync('/lib64/ld-linux-x86-64.so.2', join(root, 'lib64/ld-linux-x86-64.so.2'));
      copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', join(root, 'lib/x86_64-linux-gnu/libc.so.6'));
      const t = spawnSync('tar', ['-C', root, '--owner=0', '--group=0', '--mtime=@0', '-c', '.'], {
        maxBuffer: 64 << 20,
      });
      if (t.status !== 0) throw new Error(`tar: ${t.stderr.toString()}`);
      const tarball = t.stdout;
      const layer = gzipSync(tarball);
      const config = Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Cmd: ['/true'] },
          rootfs: { type: 'layers', diff_ids: [sha(tarball)] },
        }),
      );
      const layerDigest = await blob(name, layer);
      const configDigest = await blob(name, config);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: {
          mediaType: 'application/vnd.docker.container.image.v1+json',
          size: config.length,
          digest: configDigest,
        },
        layers: [
          { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: layerDigest },
        ],
      });
      const r = await fetch(`${base}/v2/${name}/manifests/${tag}`, {
        method: 'PUT',
        body: manifest,
        headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      if (r.status !== 201)
        throw new Error(`registry: manifest of ${name}:${tag} refused (${r.status}: ${await r.text()})`);
      return sha(manifest);
    },
    async stop() {
      // once: a second call (afterAll after the test's own) finds it gone
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
