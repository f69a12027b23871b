import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSshd, freePort, type Sshd } from '../helpers/sshd.js';
import { HostKeyError } from '../../tasks/ssh/errors.js';
import { waitForSsh } from '../../tasks/ssh/wait.js';
import { connect } from '../../tasks/ssh/connect.js';
import { connectTo } from './helpers.js';
import type { MpimgError } from '../../core/errors.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function server(opts: { port?: number; identityFile?: string; start?: boolean } = {}): Promise<Sshd> {
  const s = await createSshd({ port: opts.port, identityFile: opts.identityFile });
  cleanups.push(() => s.stop());
  if (opts.start !== false) await s.start();
  return s;
}

describe('host keys', () => {
  it('accept-new (the default) records a new host key, then keeps using it', async () => {
    const s = await server();
    expect(readFileSync(s.knownHostsFile, 'utf8')).toBe('');
    const { c } = connectTo(s);
    cleanups.push(() => c.close());
    await c.run('true', { quiet: true });
    const recorded = readFileSync(s.knownHostsFile, 'utf8');
    expect(recorded).toContain(s.hostPublicKey.split(' ')[1]);
    expect(recorded).toContain(`[127.0.0.1]:${s.port}`);
  });

  it('strict refuses a host that is not in known_hosts, without retrying', async () => {
    const s = await server();
    const { c, err } = connectTo(s, { hostKeys: 'strict' });
    cleanups.push(() => c.close());
    const e = await waitForSsh(c, { attempts: 5, delayMs: 2000 }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(HostKeyError);
    expect((e as MpimgError).format()).toMatch(/not known and strict host-key checking is on/);
    expect(err.text).not.toMatch(/waiting for ssh/);
    expect(readFileSync(s.knownHostsFile, 'utf8')).toBe('');
    expect(s.acceptedConnections()).toBe(0);
  });

  it('strict connects once the key is in known_hosts', async () => {
    const s = await server();
    writeFileSync(s.knownHostsFile, `[127.0.0.1]:${s.port} ${s.hostPublicKey}\n`);
    const { c } = connectTo(s, { hostKeys: 'strict' });
    cleanups.push(() => c.close());
    expect((await c.run('echo ok', { quiet: true })).stdout).toBe('ok\n');
  });

  it('refuses a changed host key, in both modes', async () => {
    const first = await server();
    const { c: c1 } = connectTo(first);
    await c1.run('true', { quiet: true });
    c1.close();
    const known = readFileSync(first.knownHostsFile, 'utf8');
    await first.halt();

    // Same address and port, new host key: what a man in the middle (or a rebuilt droplet) looks like.
    const second = await server({ port: first.port, identityFile: first.identityFile });
    writeFileSync(second.knownHostsFile, known);
    for (const hostKeys of ['accept-new', 'strict'] as const) {
      const { c } = connectTo(second, { hostKeys });
      cleanups.push(() => c.close());
      const e = await c.run('true', { quiet: true }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(HostKeyError);
      expect((e as MpimgError).format()).toMatch(/CHANGED[\s\S]*ssh-keygen -R/);
    }
    expect(second.acceptedConnections()).toBe(0);
    expect(readFileSync(second.knownHostsFile, 'utf8')).toBe(known);
  });
});

describe('waitForSsh', () => {
  it('retries until sshd comes up, then connects', async () => {
    const port = await freePort();
    const s = await server({ port, start: false });
    const { c, err } = connectTo(s, { connectTimeout: 2 });
    cleanups.push(() => c.close());
    const started = new Promise<void>((resolve, reject) => {
      setTimeout(() => s.start().then(resolve, reject), 1500);
    });
    await waitForSsh(c, { attempts: 20, delayMs: 300 });
    await started;
    expect(err.text).toMatch(/waiting for ssh on root@127\.0\.0\.1:\d+ \(attempt 1\/20\)/);
    expect(err.text).toMatch(/ssh is up \(attempt \d+\)/);
    expect((await c.run('echo up', { quiet: true })).stdout).toBe('up\n');
    expect(s.acceptedConnections()).toBe(1);
  });

  it('connect() waits for ssh and hands back an open connection', async () => {
    const s = await server();
    const c = await connect({
      host: s.host,
      port: s.port,
      user: s.user,
      identityFile: s.identityFile,
      knownHostsFile: s.knownHostsFile,
      sshConfigFile: s.clientConfigFile,
      stdout: null,
      stderr: null,
      wait: { attempts: 2, delayMs: 100 },
    });
    cleanups.push(() => c.close());
    expect((await c.run('echo ready', { quiet: true })).stdout).toBe('ready\n');
    expect(s.acceptedConnections()).toBe(1);
  });

  it('gives up after the bounded number of attempts with a clear error', async () => {
    const port = await freePort();
    const s = await server({ port, start: false });
    const { c } = connectTo(s, { connectTimeout: 1 });
    cleanups.push(() => c.close());
    const t0 = Date.now();
    const e = await waitForSsh(c, { attempts: 3, delayMs: 100 }).then(
      () => null,
      (x: unknown) => x,
    );
    expect((e as MpimgError).format()).toMatch(/did not answer after 3 attempts[\s\S]*Connection refused/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});

describe('the sshd harness', () => {
  it('keeps its files in its own temp dir and removes them on stop', async () => {
    const s = await createSshd();
    expect(s.dir.startsWith(tmpdir())).toBe(true);
    await s.start();
    const dir = s.dir;
    await s.stop();
    expect(() => readFileSync(join(dir, 'sshd_config'))).toThrow();
  });
});
