// The generated workflow as parsed YAML, and its `run:` scripts run as GitHub runs them (bash -e -o
// pipefail, $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY): shared by the workflow's tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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

/** runScript without blocking this process (the API doubles the script talks to answer from here). */
export function runScriptAsync(script: string, cwd: string, env: Record<string, string> = {}): Promise<ScriptResult> {
  const tmp = tempDir('mpimg-gh-output-');
  const outFile = join(tmp, 'output');
  const summaryFile = join(tmp, 'summary');
  writeFileSync(outFile, '');
  writeFileSync(summaryFile, '');
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', script], {
      cwd,
      env: { PATH: process.env.PATH, HOME: cwd, GITHUB_OUTPUT: outFile, GITHUB_STEP_SUMMARY: summaryFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.once('error', reject);
    p.once('close', (status) =>
      resolve({ status, out: outputs(outFile), stdout, stderr, summary: readFileSync(summaryFile, 'utf8') }),
    );
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
