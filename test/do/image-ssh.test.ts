import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createImageCommand } from '../../tasks/commands/image.js';
import { runTaskBuildStep } from '../../tasks/commands/task-step.js';
import { apiDoublePerTest } from '../helpers/do-api-project.js';
import { keyArgs, sshdPerFile } from '../helpers/sshd-run.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { FAST_RETRY, FAST_TIMINGS, TOKEN, apiEnv, captureContext, fastClock, runCommand, tempDir } from './support.js';

// `mpimg image` end to end on this side of the API: the double plays DigitalOcean and hands out a
// droplet at 127.0.0.1, a real sshd plays the droplet, and the real `mpimg run build` runs the
// project's build task over SSH. The task only writes inside the test's temp dir.
const sshd = sshdPerFile();
const { api, project } = apiDoublePerTest({
  prefix: 'mpimg-image-ssh-',
  prepare: (a) => {
    a.sshKeys = [{ id: 7, fingerprint: 'aa:bb', name: 'test', public_key: 'ssh-ed25519 AAAA test' }];
    a.behaviour.createdIp = sshd.host;
    a.behaviour.actionMs = { shutdown: 10, snapshot: 20 };
  },
});

/** A task file without imports: a task is a function carrying the library's shared marker. */
function writeTaskFile(body: string): void {
  writeFileSync(
    join(project.dir, 'mpimgfile.mjs'),
    `const mark = Symbol.for('generator-mpimg.task');
const task = (name, fn) => Object.assign(fn, { taskName: name, description: name, [mark]: true });
export const build = task('build', async (c) => { ${body} });
`,
  );
}

function command() {
  const build = runTaskBuildStep({
    sshPort: sshd.port,
    extraArgs: [...keyArgs(sshd), '--wait-attempts', '3'],
  });
  return createImageCommand({ build, clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS });
}

describe('mpimg image with the real `mpimg run build` over SSH', () => {
  it('runs the build task on the droplet before shutting it down, then snapshots and destroys it', async () => {
    const marker = join(project.dir, 'built-on-droplet');
    writeTaskFile(`await c.run("date +%s%3N > ${marker}");`);
    const cap = captureContext({ cwd: project.dir, env: apiEnv(api.url, project.dir) });
    expect(await runCommand(command(), [], cap.ctx)).toBe(0);
    expect(existsSync(marker)).toBe(true);
    const builtAt = Number(readFileSync(marker, 'utf8').trim());
    const shutdown = api.requests.find((r) => (r.body as { type?: string })?.type === 'shutdown')!;
    expect(builtAt).toBeLessThanOrEqual(shutdown.at);
    expect(api.droplets.size).toBe(0);
    expect(api.images.size).toBe(1);
    expect(cap.out()).toMatch(/^\d+ {4}acme-wiki-1\.2\.0-\d{8}-\d{6} {4}snapshot/m);
    expect(cap.out() + cap.err()).not.toContain(TOKEN);
  });

  it('destroys the droplet when the build task fails on the droplet', async () => {
    writeTaskFile('await c.run("echo step broke >&2; exit 3");');
    const cap = captureContext({ cwd: project.dir, env: apiEnv(api.url, project.dir) });
    expect(await runCommand(command(), [], cap.ctx)).toBe(1);
    expect(cap.err()).toContain('step broke');
    expect(cap.err()).toMatch(/the build task failed on 127\.0\.0\.1 \(exit code \d+\)/);
    expect(api.requests.some((r) => r.path.endsWith('/actions'))).toBe(false);
    expect(api.droplets.size).toBe(0);
    expect(api.images.size).toBe(0);
  });

  it('two runs on droplets at one address with different host keys both succeed, without using ~/.ssh', async () => {
    // A stand-in for ~/.ssh/known_hosts, named by the client config the way a user's default would be:
    // a run that fell back to the user's known_hosts would record the first key there and then fail
    // on the second ("host key CHANGED"). The real ~/.ssh is only looked at, never written.
    const home = tempDir('mpimg-image-home-');
    const userKnownHosts = join(home.dir, 'user-known_hosts');
    writeFileSync(userKnownHosts, '');
    const sshConfig = join(home.dir, 'ssh_config');
    writeFileSync(sshConfig, `UserKnownHostsFile ${userKnownHosts}\n`);
    const realSsh = join(userInfo().homedir, '.ssh');
    const look = () =>
      existsSync(realSsh)
        ? readdirSync(realSsh)
            .map((f) => `${f}:${statSync(join(realSsh, f)).mtimeMs}`)
            .sort()
        : null;
    const realBefore = look();

    const first = await startSshd();
    let second: Sshd | undefined;
    const run = async (port: number) => {
      const build = runTaskBuildStep({
        sshPort: port,
        extraArgs: ['--identity', first.identityFile, '--ssh-config', sshConfig, '--wait-attempts', '3'],
      });
      const cmd = createImageCommand({ build, clock: fastClock(), retry: FAST_RETRY, timings: FAST_TIMINGS });
      const cap = captureContext({ cwd: project.dir, env: apiEnv(api.url, home.dir) });
      return { code: await runCommand(cmd, [], cap.ctx), cap };
    };
    try {
      writeTaskFile('await c.run("true");');
      api.behaviour.createdIp = first.host;
      const one = await run(first.port);
      expect(one.code, one.cap.err()).toBe(0);
      // The address is handed out again, to a droplet with a new host key.
      await first.halt();
      second = await startSshd({ port: first.port, identityFile: first.identityFile });
      expect(second.hostPublicKey).not.toBe(first.hostPublicKey);
      const two = await run(second.port);
      expect(two.code, two.cap.err()).toBe(0);
      expect(second.acceptedConnections()).toBeGreaterThan(0);
      expect(api.images.size).toBe(2);
      expect(api.droplets.size).toBe(0);
      expect(readFileSync(userKnownHosts, 'utf8')).toBe('');
      expect(existsSync(join(home.dir, '.ssh'))).toBe(false);
      expect(look()).toEqual(realBefore);
      for (const r of [one, two]) expect(r.cap.out() + r.cap.err()).not.toContain(TOKEN);
    } finally {
      await second?.stop();
      await first.stop();
      home.cleanup();
    }
  });
});
