import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  readlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sshdPerFile } from '../helpers/sshd-run.js';
import { CommandError } from '../../tasks/ssh/errors.js';
import type { MpimgError } from '../../core/errors.js';
import type { Connection } from '../../tasks/ssh/connection.js';
import { connectTo, type Capture } from './helpers.js';

// Every remote path below lives in `work`, a temp dir: the "remote" is this machine, as root.
const sshd = sshdPerFile();
let work: string;
let c: Connection;
let out: Capture;
let err: Capture;

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mpimg-tasks-conn-'));
  ({ c, out, err } = connectTo(sshd));
});

afterAll(async () => {
  c?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('Connection.run', () => {
  it('runs a command, captures and streams its output with the task prefix', async () => {
    c.prefix = 'demo';
    try {
      const r = await c.run(`printf 'one\\ntwo\\n'; echo oops >&2; echo "$0"`);
      expect(r.exitCode).toBe(0);
      expect(r.ok).toBe(true);
      expect(r.stdout).toBe('one\ntwo\n/bin/sh\n');
      expect(r.stderr).toContain('oops');
      expect(out.text).toContain('[demo] one\n[demo] two\n');
      expect(err.text).toContain('[demo] oops\n');
      expect(err.text).toContain(`[demo] $ printf`);
    } finally {
      c.prefix = '';
    }
  });

  it('gives every command the same clean, explicit environment', async () => {
    const r = await c.run('env | sort', { quiet: true, env: { EXTRA_ONE: 'a b $c' } });
    const env = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env.DEBIAN_FRONTEND).toBe('noninteractive');
    expect(env.LC_ALL).toBe('C.UTF-8');
    expect(env.PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(env.EXTRA_ONE).toBe('a b $c');
    expect(env.HOME).toBe('/root');
    expect(env.USER).toBe('root');
    // Nothing from sshd's session (SSH_CONNECTION, MAIL, ...) or the login shell's rc files leaks in.
    expect(Object.keys(env).filter((k) => k.startsWith('SSH_') || k === 'MAIL' || k === 'PYENV_ROOT')).toEqual([]);
  });

  it('keeps cd and export within one command, and forgets them in the next', async () => {
    const dir = join(work, 'cd target');
    mkdirSync(dir);
    const r1 = await c.run(`cd '${dir}' && export MPIMG_MARK=set-in-first && pwd && echo "$MPIMG_MARK"`, {
      quiet: true,
    });
    expect(r1.stdout).toBe(`${dir}\nset-in-first\n`);
    const r2 = await c.run('pwd; echo "mark=${MPIMG_MARK:-unset}"', { quiet: true });
    expect(r2.stdout).toBe('/root\nmark=unset\n');
    const r3 = await c.run('pwd', { quiet: true, cwd: dir });
    expect(r3.stdout).toBe(`${dir}\n`);
  });

  it('reports a failing command with its exit code, the command and its last lines', async () => {
    // The pause orders the two pipes: lines are kept in arrival order, and stdout and stderr race.
    const cmd = 'for i in $(seq 1 30); do echo "line $i"; done; sleep 0.2; echo "bad thing" >&2; exit 7';
    const e = await c.run(cmd, { quiet: true }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(CommandError);
    const ce = e as CommandError;
    expect(ce.remoteExitCode).toBe(7);
    expect(ce.command).toBe(cmd);
    expect(ce.lastLines.at(-1)).toBe('bad thing');
    expect(ce.lastLines).toContain('line 30');
    expect(ce.lastLines).not.toContain('line 5');
    const text = ce.format();
    expect(text).toContain('exit code: 7');
    expect(text).toContain(`command: ${cmd}`);
    expect(text).toContain('| line 30');
    expect(text).toContain('| bad thing');
    // check: false hands the exit code back instead.
    const r = await c.run('exit 3', { quiet: true, check: false });
    expect(r.exitCode).toBe(3);
    expect(r.ok).toBe(false);
  });

  it('feeds stdin from input', async () => {
    const r = await c.run('tr a-z A-Z', { quiet: true, input: 'hello\n' });
    expect(r.stdout).toBe('HELLO\n');
  });

  it('refuses to switch host-key checking off and bad env names', () => {
    expect(() => connectTo(sshd, { sshOptions: ['StrictHostKeyChecking=no'] })).toThrow(/managed by mpimg/);
    expect(() => connectTo(sshd, { sshOptions: ['UserKnownHostsFile=/dev/null'] })).toThrow(/managed by mpimg/);
    let policyError: unknown;
    try {
      connectTo(sshd, { hostKeys: 'off' as never });
    } catch (e) {
      policyError = e;
    }
    expect((policyError as MpimgError).format()).toMatch(/unknown host-key policy "off"[\s\S]*cannot be turned off/);
    return expect(c.run('true', { env: { 'A;rm': 'x' } })).rejects.toThrow(/bad environment variable name/);
  });
});

describe('Connection.sudo', () => {
  it("runs directly as root, and through `sudo -n` with root's identity for another user", async () => {
    const r = await c.sudo('id -u', { quiet: true });
    expect(r.stdout).toBe('0\n');
    // No second account exists on the test machine (and tests must not add one): check the command line.
    const { c: other } = connectTo(sshd, { user: 'deploy' });
    const line = other.wrap('id -u', { sudo: true });
    expect(line.startsWith('exec sudo -n -- env -i HOME=/root USER=root LOGNAME=root ')).toBe(true);
    expect(line.endsWith("/bin/sh -c 'id -u'")).toBe(true);
    expect(other.wrap('id -u').startsWith('exec env -i HOME="$HOME" ')).toBe(true);
    other.close();
  });
});

describe('Connection file transfer', () => {
  it('put copies a file with the given or the local mode, creating parent folders', async () => {
    const src = join(work, 'src.sh');
    writeFileSync(src, '#!/bin/sh\necho hi\n');
    chmodSync(src, 0o750);
    const dest = join(work, 'remote', 'deep', 'a.sh');
    await c.put(src, dest);
    expect(readFileSync(dest, 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(mode(dest)).toBe('750');
    await c.put(src, dest, { mode: 0o600 });
    expect(mode(dest)).toBe('600');
    expect(mode(join(work, 'remote', 'deep'))).toBe('755');
    expect(await c.exists(dest)).toBe(true);
    expect(await c.exists(join(work, 'remote', 'nope'))).toBe(false);
  });

  it('put of binary content is byte exact', async () => {
    const src = join(work, 'bin.dat');
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131) % 256;
    writeFileSync(src, bytes);
    const dest = join(work, 'remote', 'bin.dat');
    await c.put(src, dest);
    expect(readFileSync(dest).equals(bytes)).toBe(true);
  });

  it('get copies a file back with its remote mode', async () => {
    const remote = join(work, 'remote-secret');
    writeFileSync(remote, 'secret-ish\n');
    chmodSync(remote, 0o640);
    const local = join(work, 'fetched', 'copy');
    await c.get(remote, local);
    expect(readFileSync(local, 'utf8')).toBe('secret-ish\n');
    expect(mode(local)).toBe('640');
    await expect(c.get(join(work, 'missing'), join(work, 'x'))).rejects.toBeInstanceOf(CommandError);
  });

  it('putDir mirrors a tree with modes and links, leaving existing folders alone', async () => {
    const src = join(work, 'files');
    mkdirSync(join(src, 'etc', 'app'), { recursive: true });
    mkdirSync(join(src, 'opt', 'private'), { recursive: true });
    chmodSync(join(src, 'opt', 'private'), 0o700);
    writeFileSync(join(src, 'etc', 'app', 'app.conf'), 'key=value\n');
    chmodSync(join(src, 'etc', 'app', 'app.conf'), 0o640);
    writeFileSync(join(src, 'opt', 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(src, 'opt', 'run.sh'), 0o755);
    symlinkSync('run.sh', join(src, 'opt', 'link.sh'));
    chmodSync(src, 0o700);
    chmodSync(join(src, 'etc'), 0o700);

    // The destination and its etc/ exist with their own modes (like / and /etc on a droplet).
    const dest = join(work, 'root');
    mkdirSync(join(dest, 'etc'), { recursive: true });
    chmodSync(dest, 0o755);
    chmodSync(join(dest, 'etc'), 0o751);
    writeFileSync(join(dest, 'etc', 'other'), 'untouched\n');

    await c.putDir(src, dest);
    expect(readFileSync(join(dest, 'etc', 'app', 'app.conf'), 'utf8')).toBe('key=value\n');
    expect(mode(join(dest, 'etc', 'app', 'app.conf'))).toBe('640');
    expect(mode(join(dest, 'opt', 'run.sh'))).toBe('755');
    expect(mode(join(dest, 'opt', 'private'))).toBe('700');
    expect(readlinkSync(join(dest, 'opt', 'link.sh'))).toBe('run.sh');
    expect(mode(dest)).toBe('755');
    expect(mode(join(dest, 'etc'))).toBe('751');
    expect(readFileSync(join(dest, 'etc', 'other'), 'utf8')).toBe('untouched\n');
    expect(statSync(join(dest, 'opt', 'run.sh')).uid).toBe(0);
    // Re-running is safe and gives the same tree.
    await c.putDir(src, dest);
    expect(mode(join(dest, 'etc', 'app', 'app.conf'))).toBe('640');
  });
});
