import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sshArgs, sshdPerFile } from '../helpers/sshd-run.js';
import runCommand from '../../tasks/commands/run.js';
import { TOKEN_VARS } from '../../tasks/secrets.js';
import { Capture, connectTo } from './helpers.js';
import { makeTaskProject } from './fixture-project.js';

// Token variables must not reach any process the library or a task starts. Wrappers named ssh and tar,
// first on PATH, record the environment they were started with, then run the real programs.
const sshd = sshdPerFile();
let work: string;
let wrappers: string;
let records: string;
const ACCESS = `dop_v1_${randomBytes(16).toString('hex')}`;
const OTHER = `dop_v1_${randomBytes(16).toString('hex')}`;
const saved = { ...process.env };

function recordedEnvs(): string[] {
  return readdirSync(records).map((f) => readFileSync(join(records, f), 'utf8'));
}

function expectNoToken(text: string, what: string): void {
  for (const v of TOKEN_VARS) expect(text, `${what}: ${v}`).not.toMatch(new RegExp(`^${v}=`, 'm'));
  expect(text, what).not.toContain(ACCESS);
  expect(text, what).not.toContain(OTHER);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mpimg-tasks-env-'));
  wrappers = join(work, 'bin');
  records = join(work, 'records');
  mkdirSync(wrappers);
  mkdirSync(records);
  for (const tool of ['ssh', 'tar']) {
    const real = execFileSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    writeFileSync(join(wrappers, tool), `#!/bin/sh\nenv > '${records}/${tool}.'$$\nexec '${real}' "$@"\n`, {
      mode: 0o755,
    });
  }
});

afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  for (const f of readdirSync(records)) rmSync(join(records, f));
});

afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function armEnvironment(): void {
  process.env.PATH = `${wrappers}:${saved.PATH}`;
  process.env.DIGITALOCEAN_ACCESS_TOKEN = ACCESS;
  process.env.DIGITALOCEAN_TOKEN = OTHER;
}

describe('no API token in child processes', () => {
  it('ssh (commands, transfers, ssh -G, close) and the local tar of putDir start without it', async () => {
    armEnvironment();
    const { c } = connectTo(sshd, { stdout: null, stderr: null, sshOptions: ['ServerAliveCountMax=6'] });
    const src = join(work, 'files');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc', 'x.conf'), 'x\n');
    try {
      await c.run('true', { quiet: true });
      await c.put(join(src, 'etc', 'x.conf'), join(work, 'remote', 'x.conf'));
      await c.get(join(work, 'remote', 'x.conf'), join(work, 'back.conf'));
      await c.putDir(src, join(work, 'remote-tree'));
    } finally {
      c.close();
    }
    const envs = recordedEnvs();
    for (const e of envs) expectNoToken(e, 'a child of the library');
    const ssh = readdirSync(records).filter((f) => f.startsWith('ssh.')).length;
    // ssh -G (2: baseline and with the options), run, put, get, putDir, -O exit; tar once.
    expect(ssh).toBeGreaterThanOrEqual(7);
    expect(readdirSync(records).filter((f) => f.startsWith('tar.'))).toHaveLength(1);
    // The wrappers did run with this process's environment otherwise.
    expect(envs.every((e) => e.includes(`PATH=${wrappers}:`))).toBe(true);
    expect(process.env.DIGITALOCEAN_ACCESS_TOKEN).toBe(ACCESS);
  });

  it('mpimg run: a task spawning with the default environment does not pass it on; apiToken() still has it', async () => {
    const dir = await makeTaskProject(`import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { task, apiToken } from 'generator-mpimg/tasks';

export const probe = task('probe', 'records what a task and its children see', async (c) => {
  const local = execFileSync('env', { encoding: 'utf8' });
  const remote = (await c.run('env', { quiet: true })).stdout;
  writeFileSync(process.env.PROBE_OUT, JSON.stringify({
    local, remote, token: apiToken() ?? null, inEnv: process.env.DIGITALOCEAN_ACCESS_TOKEN ?? null,
  }));
});
`);
    try {
      armEnvironment();
      const out = join(work, 'probe.json');
      process.env.PROBE_OUT = out;
      const ctx = {
        cwd: dir,
        env: process.env,
        stdout: new Capture(),
        stderr: new Capture(),
        isTTY: false,
        signal: new AbortController().signal,
      };
      const code = await runCommand.run(['probe', ...sshArgs(sshd, 2)], ctx);
      expect(code, ctx.stderr.text).toBe(0);
      const seen = JSON.parse(readFileSync(out, 'utf8')) as {
        local: string;
        remote: string;
        token: string | null;
        inEnv: string | null;
      };
      expectNoToken(seen.local, 'env spawned by the task');
      expectNoToken(seen.remote, 'the remote command');
      expect(seen.inEnv).toBeNull();
      // The project's own copy of the library (bundled separately) reads what the CLI stashed.
      expect(seen.token).toBe(ACCESS);
      for (const e of recordedEnvs()) expectNoToken(e, 'ssh started by mpimg run');
      expectNoToken(ctx.stdout.text + ctx.stderr.text, 'the output of mpimg run');
      // Put back for the rest of this process (the API client of `mpimg image` runs after the build).
      expect(process.env.DIGITALOCEAN_ACCESS_TOKEN).toBe(ACCESS);
      expect(process.env.DIGITALOCEAN_TOKEN).toBe(OTHER);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
