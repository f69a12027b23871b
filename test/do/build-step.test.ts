import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTaskBuildStep } from '../../tasks/commands/task-step.js';
import { findMpimgBin, spawnBuildStep } from '../../tasks/do/build-step.js';
import type { Command, CommandContext } from '../../tasks/commands/types.js';
import type { BuildStepContext } from '../../tasks/do/pipeline.js';
import type { Droplet } from '../../tasks/do/types.js';
import { MpimgError } from '../../core/errors.js';
import { TOKEN_VARS } from '../../tasks/secrets.js';
import { TOKEN, fastClock, tempDir } from './support.js';

let dir: ReturnType<typeof tempDir>;
let sshd: Server | undefined;
beforeEach(() => {
  dir = tempDir('mpimg-build-step-');
});
afterEach(async () => {
  if (sshd) await new Promise<void>((r) => sshd!.close(() => r()));
  sshd = undefined;
  dir.cleanup();
});

/** A stand-in for bin/mpimg.js: records how it was called, prints a line, exits as told. */
function fakeBin(): { bin: string; record: string } {
  const record = join(dir.dir, 'record.json');
  const bin = join(dir.dir, 'fake-mpimg.mjs');
  writeFileSync(
    bin,
    `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), env: process.env }));
process.stdout.write('fake build output\\n');
if (process.env.FAKE_SLEEP) setTimeout(() => process.exit(0), 30000);
else process.exit(Number(process.env.FAKE_EXIT ?? 0));
`,
  );
  return { bin, record };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function ctx(
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
  knownHostsFile?: string,
): { c: BuildStepContext; out: () => string } {
  const stdout = new PassThrough();
  let o = '';
  stdout.on('data', (b: Buffer) => {
    o += b.toString();
  });
  const droplet = { id: 1 } as Droplet;
  return {
    c: { ip: '127.0.0.1', droplet, cwd: dir.dir, env, stdout, stderr: new PassThrough(), signal, knownHostsFile },
    out: () => o,
  };
}

/** Every variable that may hold the token, set to it. */
function tokenEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(TOKEN_VARS.map((k) => [k, TOKEN]));
}

describe('default build step: `mpimg run build` in this process', () => {
  it('calls the run command with the droplet as host, root as user, in the project folder', async () => {
    const seen: Array<{ argv: string[]; ctx: CommandContext }> = [];
    let exit = 0;
    const fake: Command = {
      name: 'run',
      summary: '',
      usage: '',
      run: async (argv, c) => {
        seen.push({ argv, ctx: c });
        return exit;
      },
    };
    const step = runTaskBuildStep({ load: async () => ({ default: fake }) });
    const { c } = ctx({ A: '1' });
    await step(c);
    expect(seen[0].argv).toEqual(['build', '--host', '127.0.0.1', '--user', 'root']);
    expect(seen[0].ctx.cwd).toBe(dir.dir);
    expect(seen[0].ctx.stdout).toBe(c.stdout);
    exit = 4;
    await expect(step(c)).rejects.toThrow('the build task failed on 127.0.0.1 (exit code 4)');
  });

  it("passes the run's known_hosts file (an explicit --known-hosts in extraArgs comes later and wins)", async () => {
    const seen: string[][] = [];
    const fake: Command = {
      name: 'run',
      summary: '',
      usage: '',
      run: async (argv) => {
        seen.push(argv);
        return 0;
      },
    };
    const kh = join(dir.dir, 'known_hosts');
    await runTaskBuildStep({ load: async () => ({ default: fake }) })(ctx({}, undefined, kh).c);
    expect(seen[0]).toEqual(['build', '--host', '127.0.0.1', '--user', 'root', '--known-hosts', kh]);
    await runTaskBuildStep({ load: async () => ({ default: fake }), extraArgs: ['--known-hosts', '/x'] })(
      ctx({}, undefined, kh).c,
    );
    expect(seen[1].slice(-4)).toEqual(['--known-hosts', kh, '--known-hosts', '/x']);
  });

  it('runs the command with no token in its env nor in process.env, and puts process.env back afterwards', async () => {
    const saved = Object.fromEntries(TOKEN_VARS.map((k) => [k, process.env[k]]));
    let during: { proc: string[]; ctx: string[] } | undefined;
    const fake: Command = {
      name: 'run',
      summary: '',
      usage: '',
      run: async (_argv, c) => {
        during = {
          proc: TOKEN_VARS.filter((k) => process.env[k] !== undefined),
          ctx: TOKEN_VARS.filter((k) => c.env[k] !== undefined),
        };
        return 0;
      },
    };
    try {
      Object.assign(process.env, tokenEnv());
      await runTaskBuildStep({ load: async () => ({ default: fake }) })(ctx({ ...tokenEnv(), KEEP_ME: '1' }).c);
      expect(during).toEqual({ proc: [], ctx: [] });
      for (const k of TOKEN_VARS) expect(process.env[k]).toBe(TOKEN);
    } finally {
      for (const k of TOKEN_VARS) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});

describe('build step in a child process (node bin/mpimg.js run build)', () => {
  it('waits for the SSH port, then runs `mpimg run build --host <ip> --user root` in the project without the API token', async () => {
    const { bin, record } = fakeBin();
    const port = await freePort();
    // sshd comes up a little after the droplet is active.
    setTimeout(() => {
      sshd = createServer((s) => s.end());
      sshd.listen(port, '127.0.0.1');
    }, 40);
    const clock = fastClock(5);
    const step = spawnBuildStep({ bin, sshPort: port, sshWait: { timeoutMs: 5000, pollMs: 5 }, clock });
    const kh = join(dir.dir, 'known_hosts');
    const { c, out } = ctx({ PATH: process.env.PATH, ...tokenEnv(), KEEP_ME: '1' }, undefined, kh);
    await step(c);
    const rec = JSON.parse(readFileSync(record, 'utf8'));
    expect(rec.argv).toEqual([
      'run',
      'build',
      '--host',
      '127.0.0.1',
      '--user',
      'root',
      '--port',
      String(port),
      '--known-hosts',
      kh,
    ]);
    for (const k of TOKEN_VARS) expect(rec.env[k]).toBeUndefined();
    expect(rec.cwd).toBe(dir.dir);
    expect(rec.env.KEEP_ME).toBe('1');
    expect(JSON.stringify(rec.env)).not.toContain(TOKEN);
    expect(out()).toBe('fake build output\n');
    expect(clock.sleeps.length).toBeGreaterThan(0);
  });

  it('turns a failing build into a clear error', async () => {
    const { bin } = fakeBin();
    sshd = createServer((s) => s.end());
    await new Promise<void>((r) => sshd!.listen(0, '127.0.0.1', r));
    const step = spawnBuildStep({
      bin,
      sshPort: (sshd.address() as { port: number }).port,
      sshWait: { timeoutMs: 1000, pollMs: 5 },
    });
    const err = await step(ctx({ PATH: process.env.PATH, FAKE_EXIT: '3' }).c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpimgError);
    expect((err as MpimgError).message).toBe('the build task failed on 127.0.0.1 (exit code 3)');
  });

  it('gives up when SSH never answers, and stops the build on abort', async () => {
    const { bin } = fakeBin();
    const port = await freePort();
    const step = spawnBuildStep({ bin, sshPort: port, sshWait: { timeoutMs: 50, pollMs: 5 }, clock: fastClock(5) });
    await expect(step(ctx({ PATH: process.env.PATH }).c)).rejects.toThrow(`nothing answers on 127.0.0.1:${port}`);

    sshd = createServer((s) => s.end());
    await new Promise<void>((r) => sshd!.listen(port, '127.0.0.1', r));
    const ac = new AbortController();
    const slow = spawnBuildStep({ bin, sshPort: port, sshWait: { timeoutMs: 1000, pollMs: 5 } });
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    const err = await slow(ctx({ PATH: process.env.PATH, FAKE_SLEEP: '1' }, ac.signal).c).catch((e: unknown) => e);
    expect((err as MpimgError).exitCode).toBe(130);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("finds the package's bin/mpimg.js", () => {
    expect(findMpimgBin()).toBe(fileURLToPath(new URL('../../bin/mpimg.js', import.meta.url)));
  });
});
