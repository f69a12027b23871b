#!/usr/bin/env node
// Benchmark of the SSH task library (tasks/ssh) against a real sshd on 127.0.0.1:
//   (a) 50 small commands through one library Connection vs the same 50 as separate plain `ssh` runs
//       target: ratio < 0.3 (connection sharing must show)
//   (b) the same 50 through ONE Fabric 2 Connection (Debian's python3-fabric, /usr/bin/python3)
//       target: ratio <= 1.0 (no slower than the tool vendors used before)
// Connection setup is inside every measurement; interpreter start-up is not.
// Prints PASS/MISS per target; with --results FILE also one JSON line per target there (what
// `npm run bench` sums up and exits non-zero on). Exits 0 itself when the measuring worked.
// The test sshd sets SHLVL=1 so the remote bash does not read THIS machine's ~/.bashrc (a droplet's
// default one costs ~nothing; a dev box's may run pyenv/nvm init on every command). All three clients
// pay the same remote shell start-up either way; --with-host-bashrc measures with it.
// Usage: node scripts/bench-ssh.mjs [--count N] [--with-host-bashrc] [--results FILE]
import { build } from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '50' },
    'with-host-bashrc': { type: 'boolean' },
    results: { type: 'string' },
  },
});
/** One target: its PASS/MISS line here, and a JSON line for `npm run bench`. */
function target(name, value, goal, ok) {
  console.log(`${ok ? 'PASS' : 'MISS'} ${name} ${value} (target ${goal})`);
  if (values.results) appendFileSync(values.results, `${JSON.stringify({ name, value, target: goal, ok })}\n`);
}
const COUNT = Number(values.count);
if (!Number.isInteger(COUNT) || COUNT < 1) {
  console.error('error: --count must be a positive whole number');
  process.exit(2);
}
const PYTHON = '/usr/bin/python3';

// The library and the sshd harness are TypeScript: bundle them for this run (no `npm run build` needed).
const work = mkdtempSync(join(tmpdir(), 'mpimg-bench-'));
await build({
  absWorkingDir: root,
  entryPoints: { tasks: 'tasks/library.ts', sshd: 'test/helpers/sshd.ts' },
  outdir: work,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
const { Connection } = await import(pathToFileURL(join(work, 'tasks.mjs')).href);
const { startSshd } = await import(pathToFileURL(join(work, 'sshd.mjs')).href);

const sshd = await startSshd({ loginRc: Boolean(values['with-host-bashrc']) });
const common = [
  '-F',
  sshd.clientConfigFile,
  '-i',
  sshd.identityFile,
  '-p',
  String(sshd.port),
  '-l',
  sshd.user,
  '-o',
  'BatchMode=yes',
  '-o',
  'StrictHostKeyChecking=accept-new',
  '-o',
  `UserKnownHostsFile=${sshd.knownHostsFile}`,
];
const cmd = (i) => `echo bench-${i}`;

function plainSsh(i) {
  return new Promise((resolve, reject) => {
    const p = spawn('ssh', [...common, '-T', '--', sshd.host, cmd(i)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.once('error', reject);
    p.once('close', (code) =>
      code === 0 && out.trim() === `bench-${i}` ? resolve() : reject(new Error(`plain ssh #${i} failed (${code})`)),
    );
  });
}

async function benchLibrary() {
  const t0 = performance.now();
  const c = new Connection({
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    sshConfigFile: sshd.clientConfigFile,
    stdout: null,
    stderr: null,
  });
  try {
    for (let i = 0; i < COUNT; i++) {
      const r = await c.run(cmd(i), { quiet: true, echo: false });
      if (r.stdout.trim() !== `bench-${i}`)
        throw new Error(`library #${i}: unexpected output ${JSON.stringify(r.stdout)}`);
    }
    return performance.now() - t0;
  } finally {
    c.close();
  }
}

async function benchPlain() {
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) await plainSsh(i);
  return performance.now() - t0;
}

// Fabric measures itself (after imports) and prints milliseconds.
const FABRIC = `
import sys, time
from fabric import Connection
host, port, user, key, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
t0 = time.perf_counter()
c = Connection(host, user=user, port=port, connect_kwargs={"key_filename": key, "look_for_keys": False, "allow_agent": False})
for i in range(count):
    r = c.run("echo bench-%d" % i, hide=True, in_stream=False)
    assert r.stdout.strip() == "bench-%d" % i, r.stdout
c.close()
print((time.perf_counter() - t0) * 1000)
`;

function benchFabric() {
  if (!existsSync(PYTHON)) return { skipped: `${PYTHON} not found` };
  const r = spawnSync(
    PYTHON,
    ['-c', FABRIC, sshd.host, String(sshd.port), sshd.user, sshd.identityFile, String(COUNT)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) return { skipped: `fabric failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}` };
  return { ms: Number(r.stdout.trim().split('\n').pop()) };
}

const fmt = (ms) => `${(ms / 1000).toFixed(2)}s (${(ms / COUNT).toFixed(1)} ms/command)`;
let exitNote = '';
try {
  // One warm-up each, so the first-use costs of ssh (key loading, known_hosts) do not skew one side.
  await plainSsh(-1).catch(() => undefined);
  const lib = await benchLibrary();
  const plain = await benchPlain();
  const fabric = benchFabric();
  console.log(
    `SSH benchmark: ${COUNT} small commands against sshd on 127.0.0.1:${sshd.port}${values['with-host-bashrc'] ? ' (remote shell reads ~/.bashrc)' : ''}`,
  );
  console.log(`  task library (one shared connection): ${fmt(lib)}`);
  console.log(`  plain ssh (one connection each):      ${fmt(plain)}`);
  if ('ms' in fabric) console.log(`  Fabric 2 (one Connection):            ${fmt(fabric.ms)}`);
  else console.log(`  Fabric 2:                             not measured: ${fabric.skipped}`);
  const r1 = lib / plain;
  target('library/plain-ssh ratio', r1.toFixed(3), '< 0.3', r1 < 0.3);
  if ('ms' in fabric) {
    const r2 = lib / fabric.ms;
    target('library/Fabric ratio', r2.toFixed(3), '<= 1.0', r2 <= 1.0);
  } else target('library/Fabric ratio', 'not measured: Fabric could not run (install python3-fabric)', '<= 1.0', false);
} catch (err) {
  exitNote = `benchmark error: ${err?.stack ?? err}`;
  target('ssh benchmark', 'failed to run', 'runs', false);
} finally {
  await sshd.stop();
  rmSync(work, { recursive: true, force: true });
}
if (exitNote) console.log(exitNote);
