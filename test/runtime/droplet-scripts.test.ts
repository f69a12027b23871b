import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';

// What install laid down, run for real by sh/bash: the staged root is bind-mounted over /opt, /root,
// /var, /etc/ssh and /etc/update-motd.d in a private mount namespace (the host's stay untouched).
const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const NO_METADATA = { MPIMG_METADATA_URL: 'http://127.0.0.1:9/none', MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' };
// cloud-init runs every per-instance script in name order and goes on after a failure.
const RUN_PARTS = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture();
});

function installed(bashrc?: string): string {
  const root = stagedRoot(bashrc);
  const r = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return root;
}

const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), 'utf8');

describe('first boot', () => {
  it('runs every step once in order, logs it, saves credentials 0600 and releases the login hold', () => {
    const root = installed();
    const r = runInSandbox(root, RUN_PARTS, { env: NO_METADATA });
    expect(r.stdout).not.toContain('FAILED');
    const log = read(root, 'var/log/mpimg/acme-wiki/10-password.log');
    expect(log).toMatch(
      /^\[\d{4}-\d\d-\d\dT[\d:]+Z\] start 10-password\npassword saved\n\[.*\] end 10-password exit=0\n$/,
    );
    expect(read(root, 'var/log/mpimg/acme-wiki/20-ip.log')).toContain('end 20-ip exit=0');
    const cred = path.join(root, 'root/.acme-wiki-credentials');
    expect(fs.statSync(cred).mode & 0o777).toBe(0o600);
    const password = /^ADMIN_PASSWORD='([A-Za-z0-9]{24})'\n$/.exec(fs.readFileSync(cred, 'utf8'))![1];
    // the secret is in the credentials file only
    expect(log).not.toContain(password);
    expect(r.stdout + r.stderr).not.toContain(password);
    expect(read(root, 'etc/ssh/sshd_config')).not.toContain('login-hold');
    expect(read(root, 'etc/ssh/sshd_config')).toBe(
      'Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n',
    );
    expect(read(root, 'var/lib/mpimg/acme-wiki/first-boot.last')).toBe('10-password 0\n20-ip 0\n');
    expect(fs.existsSync(path.join(root, 'var/lib/mpimg/acme-wiki/first-boot.failed'))).toBe(false);
  });

  it("keeps its logs and state in folders of its own: a package's /var/lib/<slug> and /var/log/<slug> stay as they are", () => {
    // the slug of a vendor of RabbitMQ or Redis is naturally the package's name: its folders exist
    const root = installed();
    for (const d of ['var/lib/acme-wiki', 'var/log/acme-wiki']) {
      fs.mkdirSync(path.join(root, d), { recursive: true });
      fs.chownSync(path.join(root, d), 4242, 4242);
      fs.chmodSync(path.join(root, d), 0o700);
      fs.writeFileSync(path.join(root, d, 'data'), "the package's\n");
    }
    const r = runInSandbox(root, RUN_PARTS, { env: NO_METADATA });
    expect(r.stdout).not.toContain('FAILED');
    for (const d of ['var/lib/acme-wiki', 'var/log/acme-wiki']) {
      const st = fs.statSync(path.join(root, d));
      expect([st.uid, st.mode & 0o7777], d).toEqual([4242, 0o700]);
      expect(fs.readdirSync(path.join(root, d)), d).toEqual(['data']);
    }
    expect(read(root, 'var/lib/mpimg/acme-wiki/first-boot.last')).toBe('10-password 0\n20-ip 0\n');
    expect(fs.readdirSync(path.join(root, 'var/log/mpimg/acme-wiki')).sort()).toEqual(['10-password.log', '20-ip.log']);
  });

  it('a failing step does not stop the others, the hold is still released and the failure is shown', () => {
    const root = installed();
    fs.writeFileSync(
      path.join(root, 'opt/acme/acme-wiki/first-boot/10-password'),
      '#!/bin/sh\necho "db setup broke" >&2\nexit 3\n',
    );
    const r = runInSandbox(root, RUN_PARTS, { env: NO_METADATA });
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/10-acme-wiki-password`);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/zz-acme-wiki-finish`);
    expect(r.stderr).toContain(
      'first-boot step 10-password failed (exit 3); see /var/log/mpimg/acme-wiki/10-password.log',
    );
    expect(read(root, 'var/log/mpimg/acme-wiki/10-password.log')).toContain('db setup broke\n');
    expect(read(root, 'var/log/mpimg/acme-wiki/20-ip.log')).toContain('exit=0');
    expect(read(root, 'etc/ssh/sshd_config')).not.toContain('ForceCommand');
    expect(read(root, 'var/lib/mpimg/acme-wiki/first-boot.failed')).toBe('10-password 3\n');
    const motd = runInSandbox(root, '/etc/update-motd.d/99-acme-wiki', { env: NO_METADATA });
    expect(motd.stdout).toContain('WARNING: first-boot steps failed; see /var/log/mpimg/acme-wiki:\n  10-password 3');
  });

  it('a new instance starts with a clean record', () => {
    const root = installed();
    fs.writeFileSync(path.join(root, 'opt/acme/acme-wiki/first-boot/20-ip'), '#!/bin/sh\nexit 1\n');
    runInSandbox(root, RUN_PARTS, { env: NO_METADATA });
    expect(read(root, 'var/lib/mpimg/acme-wiki/first-boot.failed')).toBe('20-ip 1\n');
    fs.writeFileSync(path.join(root, 'opt/acme/acme-wiki/first-boot/20-ip'), '#!/bin/sh\nexit 0\n');
    runInSandbox(root, RUN_PARTS, { env: NO_METADATA });
    expect(fs.existsSync(path.join(root, 'var/lib/mpimg/acme-wiki/first-boot.failed'))).toBe(false);
  });
});

describe('MOTD', () => {
  it('prints the text with name, version and the droplet IP from the fallback', () => {
    const root = installed();
    const r = runInSandbox(root, '/etc/update-motd.d/99-acme-wiki', { env: NO_METADATA });
    expect(r.status).toBe(0);
    const ip = spawnSync('sh', ['-c', "hostname -I | awk '{print $1}'"], { encoding: 'utf8' }).stdout.trim();
    expect(r.stdout).toBe(`Welcome to Acme Wiki 1.2.3!\nOpen http://${ip || 'this droplet'}/ in a browser.\n`);
  });

  it('takes the address from the metadata service when it answers', async () => {
    const http = await import('node:http');
    const server = http.createServer((_req, res) => res.end('203.0.113.7'));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as { port: number }).port;
    const root = installed();
    const r = await new Promise<string>((ok) => {
      const child = spawn('unshare', [
        '--mount',
        '--propagation',
        'private',
        'bash',
        '-c',
        `mount --bind ${root}/opt /opt && . /opt/acme/acme-wiki/lib.sh && MPIMG_METADATA_URL=http://127.0.0.1:${port}/ mpimg_public_ipv4`,
      ]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('close', () => ok(out));
    });
    server.close();
    expect(r).toBe('203.0.113.7\n');
  });
});

describe('first-login hook in /root/.bashrc', () => {
  const USER_BASHRC = '# user content\nalias ll="ls -l"\nexport EDITOR=vi\n';
  // `script` gives bash a real terminal, as an SSH or console login does.
  const interactive = (input: string) => `printf '${input}' | script -qec 'bash -i' /dev/null`;

  it('runs in an interactive shell, removes itself on success and leaves the rest byte-identical', () => {
    const root = installed(USER_BASHRC);
    const r = runInSandbox(root, interactive('example.com\\nexit\\n'), { env: NO_METADATA });
    expect(r.stdout).toContain('Acme Wiki setup is complete.');
    expect(read(root, 'root/domain.txt')).toBe('domain=example.com\n');
    expect(read(root, 'root/.bashrc')).toBe(USER_BASHRC);
    // second login: nothing runs
    const again = runInSandbox(root, interactive('exit\\n'), { env: NO_METADATA });
    expect(again.stdout).not.toContain('Domain:');
  });

  it('stays after a failure and says it will run again', () => {
    const root = installed(USER_BASHRC);
    fs.writeFileSync(
      path.join(root, 'opt/acme/acme-wiki/first-login.sh'),
      '#!/bin/sh\necho "certbot failed"\nexit 4\n',
    );
    const r = runInSandbox(root, interactive('exit\\n'), { env: NO_METADATA });
    expect(r.stdout).toContain('Acme Wiki setup did not finish (exit 4). It will run again at your next login.');
    expect(read(root, 'root/.bashrc')).toContain('# >>> mpimg:acme-wiki first-login >>>');
    const again = runInSandbox(root, interactive('exit\\n'), { env: NO_METADATA });
    expect(again.stdout).toContain('certbot failed');
  });

  it('stays after Ctrl-C and says it will run again', () => {
    const root = installed(USER_BASHRC);
    const r = runInSandbox(
      root,
      `(sleep 1; printf '\\003'; sleep 1; printf 'exit\\n') | script -qec 'bash -i' /dev/null`,
      { env: NO_METADATA },
    );
    expect(r.stdout).toContain('Acme Wiki setup did not finish (interrupted). It will run again at your next login.');
    expect(read(root, 'root/.bashrc')).toContain('# >>> mpimg:acme-wiki first-login >>>');
    expect(fs.existsSync(path.join(root, 'root/domain.txt'))).toBe(false);
  });

  it('never runs for non-interactive shells (ssh host cmd, bash -lc, scp)', () => {
    const root = installed(USER_BASHRC);
    for (const cmd of [
      'bash -c "source /root/.bashrc; echo done"',
      'bash -lc "echo done"',
      'printf "" | script -qec "bash -c \\". /root/.bashrc; echo done\\"" /dev/null',
    ]) {
      const r = runInSandbox(root, cmd, { env: NO_METADATA });
      expect(r.stdout).toContain('done');
      expect(r.stdout).not.toContain('Domain:');
    }
    expect(read(root, 'root/.bashrc')).toContain('# >>> mpimg:acme-wiki first-login >>>');
  });
});
