// The generated workflow as parsed YAML, and its `run:` scripts run as GitHub runs them (bash -e -o
// pipefail, $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY): shared by the workflow's tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { tempDir } from '../generators/support.js';

export interface Step {
  job: string;
  id?: string;
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  env: Record<string, string>;
  with?: Record<string, unknown>;
}
export interface Job {
  'runs-on': string;
  if?: string;
  permissions?: Record<string, string>;
  needs?: string;
  env?: unknown;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  strategy?: { matrix: Record<string, string> };
  defaults?: { run: { 'working-directory': string } };
  steps: Array<Omit<Step, 'job'>>;
}
export interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  env?: unknown;
  jobs: Record<string, Job>;
}

export const parsed = (text: string) => parseYaml(text) as Workflow;

/** Every step of every job, as parsed YAML. */
export function steps(text: string): Step[] {
  return Object.entries(parsed(text).jobs).flatMap(([job, j]) =>
    j.steps.map((st) => ({ job, ...st, env: st.env ?? {} })),
  );
}

/** Shell words of a run line: plain words, "double quoted" words with $VAR from env. */
export function words(line: string, env: Record<string, string>): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) =>
    (m[1] ?? m[2]).replace(/\$([A-Z_]+)/g, (_w, k: string) => env[k] ?? ''),
  );
}

/**
 * Runs a multi-line `run:` script as GitHub does (bash -e -o pipefail), with env and $GITHUB_OUTPUT; returns its
 * outputs.
 */
export function runScript(
  script: string,
  cwd: string,
  env: Record<string, string> = {},
): { status: number | null; out: Record<string, string>; stdout: string; stderr: string } {
  const outFile = join(tempDir('mpimg-gh-output-'), 'output');
  writeFileSync(outFile, '');
  const r = spawnSync('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', script], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: cwd, GITHUB_OUTPUT: outFile, ...env },
  });
  const out = Object.fromEntries(
    readFileSync(outFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { status: r.status, out, stdout: r.stdout, stderr: r.stderr };
}

export const git = (cwd: string, args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8' });

export interface ScriptResult {
  status: number | null;
  out: Record<string, string>;
  stdout: string;
  stderr: string;
  summary: string;
}

/**
 * runScript without blocking this process (the API doubles the script talks to answer from here).
 * `runnerHome`: the runner user's home as ssh sees it (see runnerHome()). `timeoutMs`: as a job's
 * timeout, the step's process group is stopped (TERM, KILL 20 s later), so a step that hangs ends
 * the test with what it printed instead of outliving it.
 */
export function runScriptAsync(
  script: string,
  cwd: string,
  env: Record<string, string> = {},
  opts: { runnerHome?: RunnerHome; timeoutMs?: number } = {},
): Promise<ScriptResult> {
  const tmp = tempDir('mpimg-gh-output-');
  const outFile = join(tmp, 'output');
  const summaryFile = join(tmp, 'summary');
  writeFileSync(outFile, '');
  writeFileSync(summaryFile, '');
  const bash = ['bash', '--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', script];
  const argv = opts.runnerHome ? opts.runnerHome.wrap(bash) : bash;
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0], argv.slice(1), {
      cwd,
      env: { PATH: process.env.PATH, HOME: cwd, GITHUB_OUTPUT: outFile, GITHUB_STEP_SUMMARY: summaryFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    const stopGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-p.pid!, signal);
      } catch {
        // already gone
      }
    };
    let kill: NodeJS.Timeout | undefined;
    const term =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n[test: the step ran over ${opts.timeoutMs} ms and was stopped]\n`;
            stopGroup('SIGTERM');
            kill = setTimeout(() => stopGroup('SIGKILL'), 20_000);
          }, opts.timeoutMs);
    p.once('error', reject);
    p.once('close', (status) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ status, out: outputs(outFile), stdout, stderr, summary: readFileSync(summaryFile, 'utf8') });
    });
  });
}

function outputs(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/**
 * The home of the runner's user as ssh reads it: ssh takes ~ from the password database, never from
 * $HOME, so a step runs in a private mount namespace where a temp folder is bound over this machine's
 * ~/.ssh (or the home itself when it has no ~/.ssh): nothing of this machine's own is read or written.
 * Its ~/.ssh/config is the test's network: the droplet's address leads to a loopback sshd's port
 * (ProxyCommand through a relay), as on a runner port 22 of the droplet's address would.
 */
export interface RunnerHome {
  dir: string;
  /** argv that runs `argv` with this home in place. */
  wrap(argv: string[]): string[];
}

export function runnerHome(route: { address: string; port: number }): RunnerHome {
  const dir = tempDir('mpimg-runner-home-');
  const ssh = join(dir, '.ssh');
  mkdirSync(ssh, { mode: 0o700 });
  const relay = join(dir, 'relay.cjs');
  writeFileSync(
    relay,
    "const s = require('net').connect(Number(process.argv[2]), '127.0.0.1');\n" +
      "s.on('error', (e) => { process.stderr.write(`relay: ${e.message}\\n`); process.exit(1); });\n" +
      "process.stdin.pipe(s); s.pipe(process.stdout); s.on('close', () => process.exit(0));\n",
  );
  if (!/^127\.\d+\.\d+\.\d+$/.test(route.address)) throw new Error(`not a loopback address: ${route.address}`);
  writeFileSync(
    join(ssh, 'config'),
    `Host ${route.address}\n  ProxyCommand ${process.execPath} ${relay} ${route.port}\n`,
    { mode: 0o600 },
  );
  const home = userInfo().homedir;
  const target = existsSync(join(home, '.ssh')) ? join(home, '.ssh') : home;
  if (target === home && process.execPath.startsWith(`${home}/`))
    throw new Error(`node runs from ${home}, which has no .ssh to bind over: the test cannot hide this home`);
  const source = target === home ? dir : ssh;
  return {
    dir,
    wrap: (argv) => [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$1" "$2" && shift 2 && exec "$@"',
      'runner-home',
      source,
      target,
      ...argv,
    ],
  };
}

/**
 * What webfactory/ssh-agent does for the later steps of a job: a real ssh-agent holding the key
 * (given as its text, as the secret is), SSH_AUTH_SOCK and SSH_AGENT_PID for their env.
 */
export async function sshAgent(privateKey: string): Promise<{ env: Record<string, string>; stop(): void }> {
  const dir = tempDir('mpimg-agent-');
  const sock = join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  const stop = () => {
    agent.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 500 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
  const add = spawnSync('ssh-add', ['-'], {
    input: privateKey,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, SSH_AUTH_SOCK: sock },
  });
  if (add.status !== 0) {
    stop();
    throw new Error(`ssh-add: ${add.stderr}`);
  }
  return { env: { SSH_AUTH_SOCK: sock, SSH_AGENT_PID: String(agent.pid) }, stop };
}
