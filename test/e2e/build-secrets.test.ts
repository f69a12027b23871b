// Issue 20, build-time secrets on the real bed: a Debian 12 image built over SSH with a licence key
// used by a build script and a private apt repository (basic auth, served here on 127.0.0.1) that
// needs a token. Both values reach the build (the script's hash of the key, the package installed,
// the server saw the credentials) and neither is in the image, the bundle, dist/ or any log.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  mkdtempSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAptRepo, type AptRepo } from '../helpers/apt-repo.js';
import { bootNewInstance } from './harness/cloudinit.js';
import { baseOf, e2eContext } from './harness/context.js';
import { Droplet, NAT_HOST_IP, type FrozenImage } from './harness/droplet.js';
import { run, tail, type RunResult } from './harness/exec.js';
import { mountsUnder } from './harness/mounts.js';
import { createProject, hostEnv, runTask, type Project } from './harness/project.js';
import { makeKeyPair, startDropletSshd, type KeyPair } from './harness/ssh.js';

const LICENSE = 'ACME-LIC-4f8c2d1e9b7a-e2e';
const TOKEN = 'repo-token-93b1c7e5d2a4';
const USER = 'acme-builder';

/** The repository's folder over HTTP on 127.0.0.1, only with the right basic-auth credentials. */
function serveWithAuth(dir: string): Promise<{ server: Server; port: number; authorized: () => number }> {
  const root = realpathSync(dir);
  const expected = `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`;
  let ok = 0;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="acme"' });
      return res.end();
    }
    const file = join(root, normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!file.startsWith(root + sep)) return res.writeHead(403).end();
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      return res.writeHead(404).end();
    }
    ok++;
    res.writeHead(200, { 'content-length': size });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port, authorized: () => ok }),
    ),
  );
}

/** Files under `dirs` holding either value (grep -F, every byte, no link followed). */
function holders(dirs: string[]): string {
  const r = spawnSync('grep', ['-rlaF', '-e', LICENSE, '-e', TOKEN, '--', ...dirs], { encoding: 'utf8' });
  if (r.status === 2) throw new Error(`grep failed: ${r.stderr}`);
  return r.stdout;
}

describe('bookworm: build secrets stay out of the image, the bundle and the logs (issue 20)', () => {
  let work: string;
  let keys: KeyPair;
  let project: Project;
  let repo: AptRepo;
  let served: Awaited<ReturnType<typeof serveWithAuth>>;
  let image: FrozenImage | undefined;
  let result: RunResult;
  let sshdLog = '';

  beforeAll(async () => {
    const ctx = e2eContext();
    work = mkdtempSync(join(ctx.runRoot, 'build-secrets-'));
    keys = await makeKeyPair(work);
    repo = await makeAptRepo({ package: 'acme-private-hello' });
    served = await serveWithAuth(repo.dir);
    project = await createProject({
      dir: join(work, 'project'),
      repoRoot: ctx.repoRoot,
      suite: 'bookworm',
      packages: [repo.package],
    });
    copyFileSync(repo.keyFile, join(project.dir, 'acme-repo.asc'));
    const file = join(project.dir, 'mpimg.json');
    // No $.firewall: the bed's droplets cannot run one (no CAP_NET_ADMIN).
    const { firewall: _firewall, ...m } = JSON.parse(readFileSync(file, 'utf8'));
    m.build.secrets = [{ name: 'LICENSE_KEY', description: 'the Acme licence' }, { name: 'REPO_TOKEN' }];
    m.build.repositories = [
      {
        name: 'acme-private',
        // this machine's 127.0.0.1 as the build droplet reaches it
        uris: `http://${NAT_HOST_IP}:${served.port}`,
        suites: [repo.suite],
        components: [repo.component],
        key: { file: 'acme-repo.asc' },
        auth: { username: USER, password: '{{build.secret.REPO_TOKEN}}' },
      },
    ];
    writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`);
    // A vendor's build script using the key: prints it (masked in the log), keeps only its hash.
    writeFileSync(
      join(project.dir, 'scripts/30-licence.sh'),
      `#!/bin/sh
set -eu
echo "registering licence $LICENSE_KEY"
mkdir -p /var/lib/acme
printf '%s' "$LICENSE_KEY" | sha256sum | cut -d' ' -f1 > /var/lib/acme/licence.sha256
`,
      { mode: 0o755 },
    );
    writeFileSync(join(work, 'license.txt'), `${LICENSE}\n`, { mode: 0o600 });
    await run('make', ['bundle'], { cwd: project.dir, env: hostEnv(), timeoutMs: 120_000 });

    const d = await Droplet.create(work, { name: 'bookworm', lowers: [baseOf('bookworm')] }, 'build-secrets', 'nat');
    try {
      const boot = await bootNewInstance(d, { instanceId: `i-build-secrets-${Date.now()}`, publicKey: keys.publicKey });
      if (boot.stages.some((s) => s.code !== 0))
        throw new Error(`build droplet did not boot: ${tail(boot.result.stderr)}`);
      const sshd = await startDropletSshd(d);
      // one value from a file (--secret would do the same), one from the environment: the env rule
      result = await runTask(
        project,
        'build',
        { port: sshd.port, key: keys.privateKey, knownHosts: join(d.dir, 'known_hosts') },
        { MPIMG_BUILD_SECRET_LICENSE_KEY: LICENSE, MPIMG_BUILD_SECRET_REPO_TOKEN: TOKEN },
      );
      sshdLog = sshd.log();
      if (result.code !== 0)
        throw new Error(
          `mpimg run build failed (exit ${result.code}):\n${tail(`${result.stdout}${result.stderr}`, 80)}`,
        );
      image = await d.freeze('build-secrets-image');
    } catch (e) {
      await d.destroy();
      throw e;
    }
  });

  afterAll(async () => {
    await image?.release();
    await new Promise((r) => served?.server.close(r));
    await repo?.close();
    if (work) expect(mountsUnder(work)).toEqual([]);
  });

  it('the values reached the build: the script had the key, apt fetched the private package with the token', () => {
    const [upper] = image!.lowers;
    expect(readFileSync(join(upper, 'var/lib/acme/licence.sha256'), 'utf8').trim()).toBe(
      createHash('sha256').update(LICENSE).digest('hex'),
    );
    expect(readFileSync(join(upper, repo.installedFile.slice(1)), 'utf8')).toContain('hello from acme-private-hello');
    expect(served.authorized()).toBeGreaterThan(0);
    const out = `${result.stdout}${result.stderr}`;
    expect(out).toContain('registering licence ***');
    expect(out).toContain('credentials of repository acme-private removed');
    expect(out).toMatch(/\[PASS\] no value of the 2 build secret\(s\) in the image/);
  });

  it('neither value is in the image, the bundle, dist/ (its logs too), the output or the droplet sshd log', () => {
    expect(holders(image!.lowers.slice(0, 1))).toBe('');
    expect(holders([project.dir])).toBe('');
    const out = `${result.stdout}${result.stderr}${sshdLog}`;
    expect(out).not.toContain(LICENSE);
    expect(out).not.toContain(TOKEN);
    // the run wrote its log in dist/logs (searched above with the project): it exists
    expect(spawnSync('sh', ['-c', `ls ${project.dir}/dist/logs/build-*.log`]).status).toBe(0);
  });
});
