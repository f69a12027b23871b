/** Running `mpimg import` (and validate, bundle) as a vendor does, on copies of the fixtures. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/temp.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES = path.join(root, 'test/fixtures/import');
export const MP = path.join(FIXTURES, 'marketplace-partners');
export const D1C = path.join(FIXTURES, 'droplet-1-clicks');

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function mpimg(args: string[], cwd = root, env: NodeJS.ProcessEnv = process.env): Run {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), ...args], {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Imported {
  run: Run;
  /** The new project's folder. */
  dir: string;
  /** The report (--json). */
  report: any;
  manifest: any;
  read(rel: string): string;
  mode(rel: string): number;
  exists(rel: string): boolean;
  /** Every file of the project (relative paths, sorted), without node_modules and dist. */
  files(): string[];
}

/** `mpimg import SRC <temp>/project --json [extra]`; fails the test unless it exits 0. */
export function importFixture(
  src: string,
  extra: string[] = [],
  opts: { allowFail?: boolean; cwd?: string } = {},
): Imported {
  const dir = path.join(tempDir('mpimg-import-'), 'project');
  const run = mpimg(['import', src, dir, '--json', ...extra], opts.cwd ?? root);
  if (run.status !== 0 && !opts.allowFail)
    throw new Error(`mpimg import ${src} exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
  const report = run.status === 0 ? JSON.parse(run.stdout) : undefined;
  return {
    run,
    dir,
    report,
    manifest:
      run.status !== 0
        ? undefined
        : extra.includes('--dry-run')
          ? report.manifest
          : JSON.parse(fs.readFileSync(path.join(dir, 'mpimg.json'), 'utf8')),
    read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'),
    mode: (rel) => fs.statSync(path.join(dir, rel)).mode & 0o7777,
    exists: (rel) => fs.existsSync(path.join(dir, rel)),
    files: () => listFiles(dir),
  };
}

export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .filter((p) => !p.startsWith('node_modules') && !p.startsWith('dist/'))
    .sort();
}

/** One original file's entry of the report. */
export function entry(report: any, origin: string): any {
  const e = report.files.find((f: any) => f.origin === origin);
  if (!e) throw new Error(`no report entry for ${origin}: ${report.files.map((f: any) => f.origin).join(', ')}`);
  return e;
}

/** The real `mpimg validate` and `mpimg bundle` on the project: both must pass. */
export function validateAndBundle(dir: string): { validate: Run; bundle: Run } {
  const validate = mpimg(['validate', dir]);
  const bundle = mpimg(['bundle', '--project', dir]);
  return { validate, bundle };
}
