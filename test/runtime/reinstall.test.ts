// A reinstall with a newer bundle on the same droplet (testbuild, edit the project, build again):
// what the project no longer has must not stay in the image, for both executors.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { stagedRoot } from '../helpers/bundled.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';

type Bundle = ReturnType<typeof writeBundle>;
let older: Bundle;
let newer: Bundle;

const bundle = (project: string): Bundle => {
  const out = tempDir('mpimg-dist-');
  fs.chmodSync(out, 0o755);
  return writeBundle(loadProject(project), out);
};

beforeAll(() => {
  const project = makeProject();
  fs.writeFileSync(path.join(project, 'first-boot/30-extra.sh'), '#!/bin/sh\necho extra\n', { mode: 0o755 });
  fs.mkdirSync(path.join(project, 'files/usr/bin'), { recursive: true });
  fs.writeFileSync(path.join(project, 'files/usr/bin/acme-extra'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  fs.writeFileSync(path.join(project, 'files/etc/issue'), 'Acme Wiki image\n');
  older = bundle(project);
  // The vendor's edit: the step and both files are gone from the project.
  fs.rmSync(path.join(project, 'first-boot/30-extra.sh'));
  fs.rmSync(path.join(project, 'files/usr/bin'), { recursive: true });
  fs.rmSync(path.join(project, 'files/etc/issue'));
  newer = bundle(project);
});

type Runner = (b: Bundle, args: string[]) => SpawnSyncReturns<string>;
const EXECUTORS: Array<[string, Runner]> = [
  ['node', (b, args) => spawnSync(process.execPath, [b.cjs, ...args], { encoding: 'utf8', cwd: os.tmpdir() })],
  ['sh', (b, args) => spawnSync('sh', [b.sh, ...args], { encoding: 'utf8', cwd: os.tmpdir() })],
];

const STEP = 'var/lib/cloud/scripts/per-instance/30-acme-wiki-extra';

/** A root whose /etc/issue was there before any install (install keeps a copy of it). */
function rootWithIssue(): string {
  const root = stagedRoot();
  fs.writeFileSync(path.join(root, 'etc/issue'), 'Debian GNU/Linux 12\n', { mode: 0o644 });
  return root;
}

describe.each(EXECUTORS)('%s executor, reinstall with a newer bundle', (_name, run) => {
  const ok = (r: SpawnSyncReturns<string>) => {
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r;
  };

  it('removes the first-boot step and the files the project no longer has, puts back what they replaced; uninstall then leaves the root as it was', () => {
    const root = rootWithIssue();
    const pristine = treeDigest(root);
    ok(run(older, ['install', '--root', root]));
    expect(fs.existsSync(path.join(root, STEP))).toBe(true);
    expect(fs.readFileSync(path.join(root, 'etc/issue'), 'utf8')).toBe('Acme Wiki image\n');
    const r = ok(run(newer, ['install', '--root', root]));
    expect(r.stdout).toContain(`removed  /${STEP} (no longer in the plan)`);
    expect(r.stdout).toContain('removed  /usr/bin/acme-extra (no longer in the plan)');
    expect(r.stdout).toContain(
      'restored /etc/issue (no longer in the plan: the file that was there before install is back)',
    );
    expect(fs.existsSync(path.join(root, STEP))).toBe(false);
    expect(fs.existsSync(path.join(root, 'opt/acme/acme-wiki/first-boot/30-extra'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'usr/bin/acme-extra'))).toBe(false);
    expect(fs.readFileSync(path.join(root, 'etc/issue'), 'utf8')).toBe('Debian GNU/Linux 12\n');
    expect(ok(run(newer, ['status', '--root', root])).stdout).toMatch(/items as planned/);
    // Re-running changes nothing.
    expect(ok(run(newer, ['install', '--root', root])).stdout).toBe('install: nothing to change\n');
    ok(run(newer, ['uninstall', '--root', root]));
    expect(treeDigest(root)).toEqual(pristine);
  });

  it('keeps a removed file that was changed on the droplet, says so, and `uninstall --force` removes it', () => {
    const root = stagedRoot();
    const pristine = treeDigest(root);
    ok(run(older, ['install', '--root', root]));
    fs.writeFileSync(path.join(root, 'usr/bin/acme-extra'), '#!/bin/sh\necho edited here\n');
    const r = ok(run(newer, ['install', '--root', root]));
    expect(r.stdout).toContain(
      'kept     /usr/bin/acme-extra (no longer in the plan, but changed since it was laid down; `uninstall --force` removes it)',
    );
    expect(r.stdout).toContain('install: kept 1 file(s) changed since install; `uninstall --force` removes them');
    expect(fs.readFileSync(path.join(root, 'usr/bin/acme-extra'), 'utf8')).toBe('#!/bin/sh\necho edited here\n');
    expect(fs.existsSync(path.join(root, STEP))).toBe(false);
    const un = ok(run(newer, ['uninstall', '--root', root]));
    expect(un.stdout).toContain('uninstall: kept 1 file(s) changed since install');
    expect(fs.existsSync(path.join(root, 'usr/bin/acme-extra'))).toBe(true);
    ok(run(newer, ['uninstall', '--force', '--root', root]));
    expect(treeDigest(root)).toEqual(pristine);
  });

  it('uninstall with the newer bundle also removes what the older one installed', () => {
    const root = rootWithIssue();
    const pristine = treeDigest(root);
    ok(run(older, ['install', '--root', root]));
    const r = ok(run(newer, ['uninstall', '--root', root]));
    expect(r.stdout).toContain(`removed  /${STEP} (no longer in the plan)`);
    expect(treeDigest(root)).toEqual(pristine);
  });

  it('after a first login on the build droplet, install again starts the image with its first login to come', () => {
    const root = stagedRoot();
    ok(run(newer, ['install', '--root', root]));
    // What the first-login setup leaves when it ran (first-login-run): its record, and no hook.
    const done = path.join(root, 'var/lib/mpimg/acme-wiki/first-login.done');
    fs.mkdirSync(path.dirname(done), { recursive: true });
    fs.writeFileSync(done, '2026-12-01T10:00:00Z\n');
    fs.writeFileSync(
      path.join(root, 'root/.bashrc'),
      fs
        .readFileSync(path.join(root, 'root/.bashrc'), 'utf8')
        .replace(/# >>> mpimg:acme-wiki first-login >>>[\s\S]*?# <<< mpimg:acme-wiki first-login <<<\n/, ''),
    );
    const r = ok(run(newer, ['install', '--root', root]));
    expect(r.stdout).toContain(
      'removed  /var/lib/mpimg/acme-wiki/first-login.done (a first login on this build droplet: the image starts with its first login to come)',
    );
    expect(fs.existsSync(done)).toBe(false);
    expect(fs.readFileSync(path.join(root, 'root/.bashrc'), 'utf8')).toContain('# >>> mpimg:acme-wiki first-login >>>');
    expect(ok(run(newer, ['status', '--root', root])).stdout).toContain('first login pending');
  });

  it('a files/ entry a build script removed after `install --only seeded` is not laid down again, and status expects it gone', () => {
    const root = stagedRoot();
    ok(run(newer, ['install', '--only', 'seeded', '--root', root]));
    fs.rmSync(path.join(root, 'etc/acme-wiki/wiki.conf'));
    const r = ok(run(newer, ['install', '--root', root]));
    expect(r.stdout).toContain('kept     /etc/acme-wiki/wiki.conf (seeded: removed here since it was laid down)');
    expect(fs.existsSync(path.join(root, 'etc/acme-wiki/wiki.conf'))).toBe(false);
    const st = ok(run(newer, ['status', '--root', root]));
    expect(st.stdout).toContain('items as planned; 1 seeded file(s) changed here (expected)');
    // A fresh root still gets it: only what was laid down and then removed stays away.
    const fresh = stagedRoot();
    ok(run(newer, ['install', '--root', fresh]));
    expect(fs.existsSync(path.join(fresh, 'etc/acme-wiki/wiki.conf'))).toBe(true);
  });

  it('install --only seeded (before the build scripts) removes nothing', () => {
    const root = stagedRoot();
    ok(run(older, ['install', '--root', root]));
    ok(run(newer, ['install', '--only', 'seeded', '--root', root]));
    expect(fs.existsSync(path.join(root, STEP))).toBe(true);
    expect(fs.existsSync(path.join(root, 'usr/bin/acme-extra'))).toBe(true);
  });
});

it('both executors leave byte-identical trees after a reinstall with a newer bundle', () => {
  const a = rootWithIssue();
  const c = rootWithIssue();
  for (const [, run] of EXECUTORS) run(older, ['install', '--root', run === EXECUTORS[0][1] ? a : c]);
  fs.writeFileSync(path.join(a, 'usr/bin/acme-extra'), 'changed\n');
  fs.writeFileSync(path.join(c, 'usr/bin/acme-extra'), 'changed\n');
  expect(EXECUTORS[0][1](newer, ['install', '--root', a]).status).toBe(0);
  expect(EXECUTORS[1][1](newer, ['install', '--root', c]).status).toBe(0);
  expect(treeDigest(c)).toEqual(treeDigest(a));
  const ja = JSON.parse(EXECUTORS[0][1](newer, ['uninstall', '--json', '--root', a]).stdout).changes;
  const jc = JSON.parse(EXECUTORS[1][1](newer, ['uninstall', '--json', '--root', c]).stdout).changes;
  expect(jc).toEqual(ja);
  expect(treeDigest(c)).toEqual(treeDigest(a));
});
