/** Shared by the generator suites: run the TypeScript generators with yeoman-test, read trees. */
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import helpers, { type RunResult } from 'yeoman-test';
import AppGenerator from '../../generators/app/index.js';
import FirstBootGenerator from '../../generators/first-boot/index.js';
import FirstLoginGenerator from '../../generators/first-login/index.js';
import MotdGenerator from '../../generators/motd/index.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const gen = (name: string) => join(REPO, 'generators', name, 'index.ts');

/** Node 20 cannot import .ts itself, so the class is passed in and `resolved` names its file. */
export const GENERATORS = {
  app: { Generator: AppGenerator, resolved: gen('app'), namespace: 'mpimg:app' },
  'first-boot': { Generator: FirstBootGenerator, resolved: gen('first-boot'), namespace: 'mpimg:first-boot' },
  'first-login': { Generator: FirstLoginGenerator, resolved: gen('first-login'), namespace: 'mpimg:first-login' },
  motd: { Generator: MotdGenerator, resolved: gen('motd'), namespace: 'mpimg:motd' },
} as const;

/** A yeoman-test run of one of our generators inside `dir` (kept between runs: re-run tests). */
/** The part of yeoman-test's RunContext used here, with free-form options (they are CLI flags). */
export interface GenRun extends PromiseLike<RunResult> {
  withOptions(options: Record<string, unknown>): GenRun;
  withAnswers(answers: Record<string, unknown>, options?: { throwOnMissingAnswer?: boolean }): GenRun;
  withArguments(args: string[]): GenRun;
}

export function runIn<K extends keyof typeof GENERATORS>(which: K, dir: string): GenRun {
  const g = GENERATORS[which];
  return (
    helpers
      .run(g.Generator as never, {
        resolved: g.resolved,
        namespace: g.namespace,
        tmpdir: false,
        cwd: dir,
        autoCleanup: false,
      })
      // yeoman-test passes force: true by default; the generators' conflict policy must be seen.
      .withOptions({ localConfigOnly: true, skipInstall: true, force: false } as Record<string, unknown>)
      .withAdapterOptions({ throwOnMissingAnswer: true }) as unknown as GenRun
  );
}

export function tempDir(prefix = 'mpimg-gen-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every file under dir as "mode path" lines, sorted: the shape of a generated project. */
export function tree(dir: string, skip: string[] = ['node_modules']): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      if (skip.includes(name)) continue;
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else out.push(`${(st.mode & 0o777).toString(8).padStart(4, '0')} ${r}`);
    }
  };
  walk('');
  return out.sort((a, b) => (a.slice(5) < b.slice(5) ? -1 : a.slice(5) > b.slice(5) ? 1 : 0));
}

export const FULL_ANSWERS = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  distro: 'debian-12-x64',
  packages: 'nginx,curl',
  ports: '80/tcp,443/tcp',
  firstLogin: true,
  loginHold: true,
  motd: 'Hello from {{name}} {{version}}',
  region: 'ams3',
  size: 's-1vcpu-1gb',
};
