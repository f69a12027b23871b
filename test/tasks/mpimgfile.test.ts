import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTaskInRoot, sshdPerFile } from '../helpers/sshd-run.js';
import runCommand from '../../tasks/commands/run.js';
import tasksCommand from '../../tasks/commands/tasks.js';
import type { CommandContext } from '../../tasks/commands/types.js';
import { buildOrder, STEPS } from '../../tasks/steps/index.js';
import { Capture } from './helpers.js';
import { makeFixtureProject, REPO, SLUG, VENDOR, type FixtureProject } from './fixture-project.js';
import ejs from 'ejs';
import { spawnSync } from 'node:child_process';

// The generated mpimgfile.mjs, driven through `mpimg run` against a real sshd. The "droplet" is this
// machine as root, so every task is pointed at a temp root (MPIMG_TARGET_ROOT) and the package
// manager is skipped (MPIMG_SKIP_PACKAGES=1); the fixture's scripts refuse to act on /.
const sshd = sshdPerFile();
let project: FixtureProject;
const roots: string[] = [];

function newRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'mpimg-tasks-root-'));
  roots.push(r);
  return r;
}

function context(cwd: string): CommandContext & { stdout: Capture; stderr: Capture } {
  return {
    cwd,
    env: process.env,
    stdout: new Capture(),
    stderr: new Capture(),
    isTTY: false,
    signal: new AbortController().signal,
  };
}

const runTask = (name: string, root: string, env: Record<string, string> = {}) =>
  runTaskInRoot(sshd, name, root, { cwd: project.dir, env });

/** Remote scratch dirs the tasks made in /tmp (they must all be gone after a task). */
const scratch = () =>
  readdirSync('/tmp')
    .filter((n) => n.startsWith(`${SLUG}-`))
    .sort();
const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);

beforeAll(async () => {
  project = await makeFixtureProject();
});

afterAll(async () => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  if (project) rmSync(project.dir, { recursive: true, force: true });
});

describe('mpimg tasks', () => {
  it('lists the tasks of the generated mpimgfile with descriptions', async () => {
    const ctx = context(project.dir);
    expect(await tasksCommand.run(['--json'], ctx)).toBe(0);
    const list = JSON.parse(ctx.stdout.text) as Array<{ name: string; description: string }>;
    const names = list.map((t) => t.name);
    // the build steps first, in build order, described by their units; then the other tasks
    expect(names.slice(0, STEPS.length)).toEqual(buildOrder());
    expect(list.slice(0, STEPS.length).map((t) => t.description)).toEqual(STEPS.map((s) => s.summary));
    for (const n of ['build', 'testbuild', 'check-report', 'status', 'verify']) expect(names).toContain(n);
    expect(list.every((t) => t.description.length > 10)).toBe(true);
    const text = context(project.dir);
    await tasksCommand.run([], text);
    expect(text.stdout.text).toMatch(/^ {2}testbuild +build without cleanup/m);
  });

  it('the generated mpimgfile is thin: valid JavaScript, the standard tasks re-exported, no manifest value repeated', () => {
    const template = readFileSync(join(REPO, 'templates/project/mpimgfile.mjs.ejs'), 'utf8');
    const file = join(project.dir, 'render-check.mjs');
    writeFileSync(file, ejs.render(template, { slug: 'x-y', vendor: 'v', name: 'O\'Brien "Wiki"' }));
    const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    rmSync(file);
    expect(text.split('\n').length).toBeLessThanOrEqual(40);
    expect(text).toContain("export * from 'generator-mpimg/tasks/standard';");
    // the build logic is in the package: no copy of a task, no slug, no package list here
    expect(text).not.toMatch(/^[^/]*\b(c\.sudo|c\.run|readFileSync|SLUG)\b/m);
    expect(text).not.toContain('x-y');
  });

  it('says what to do outside an image project', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'mpimg-tasks-empty-'));
    roots.push(empty);
    await expect(tasksCommand.run([], context(empty))).rejects.toThrow(/no mpimgfile\.mjs/);
  });

  it('says to run npm install when generator-mpimg is missing from the project', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'mpimg-tasks-bare-'));
    roots.push(bare);
    writeFileSync(join(bare, 'mpimgfile.mjs'), readFileSync(join(project.dir, 'mpimgfile.mjs')));
    await expect(tasksCommand.run([], context(bare))).rejects.toThrow(
      /imports generator-mpimg, which is not installed/,
    );
  });
});

describe('mpimg run', () => {
  it('rejects a missing --host and an unknown task with a usage error', async () => {
    await expect(runCommand.run(['build'], context(project.dir))).rejects.toThrow(/--host is missing/);
    await expect(runCommand.run(['nope', '--host', '127.0.0.1'], context(project.dir))).rejects.toThrow(
      /no task "nope"[\s\S]*/,
    );
  });

  it('testbuild: files, build scripts in order, bundle install under the temp root, no cleanup, one connection', async () => {
    const root = newRoot();
    const before = scratch();
    const accepted = sshd.acceptedConnections();
    const r = await runTask('testbuild', root);
    expect(r.code, r.err).toBe(0);
    expect(sshd.acceptedConnections() - accepted).toBe(1);

    // progress, prefixes and timings
    expect(r.err).toContain('[packages] MPIMG_SKIP_PACKAGES=1: not installing acme-not-a-real-package');
    expect(r.err).toMatch(/\[files\] done in/);
    expect(r.err).toMatch(/timings:\n {2}testbuild +[\d.]+m?s +ok\n {4}wait-boot +\d/);
    expect(r.err).toMatch(/task "testbuild" finished on root@127\.0\.0\.1:\d+ in/);

    // files/ mirrored under the root with modes, placeholders left out
    expect(readFileSync(join(root, 'etc/acme-test/app.conf'), 'utf8')).toBe('listen=127.0.0.1\n');
    expect(mode(join(root, 'etc/acme-test/app.conf'))).toBe('640');
    expect(mode(join(root, 'usr/local/bin/acme-hello'))).toBe('755');
    expect(existsSync(join(root, '.gitkeep'))).toBe(false);

    // build scripts: in order, after files/, with a clean env that names the root
    expect(readFileSync(join(root, 'var/lib/acme-build/order'), 'utf8')).toBe('10\n20\n');
    const env = readFileSync(join(root, 'var/lib/acme-build/env'), 'utf8');
    expect(env).toContain(`MPIMG_ROOT=${root}\n`);
    expect(env).toContain('DEBIAN_FRONTEND=noninteractive\n');
    expect(env).toContain(`MPIMG_SLUG=${SLUG}\n`);

    // the bundle ran with node (this host has Node 18+), under --root, and removed itself
    expect(r.err).toContain(`node ${process.versions.node.split('.')[0]} found: using dist/${SLUG}.cjs`);
    if (project.realBundle) {
      const wrapper = join(root, `var/lib/cloud/scripts/per-instance/10-${SLUG}-setup`);
      expect(mode(wrapper)).toBe('755');
      expect(existsSync(join(root, `opt/${VENDOR}/${SLUG}/first-boot/10-setup`))).toBe(true);
      expect(mode(join(root, `etc/update-motd.d/99-${SLUG}`))).toBe('755');
    } else {
      expect(readFileSync(join(root, 'stand-in-node-args'), 'utf8')).toBe(`install --root ${root} --remove-self\n`);
    }

    // no cleanup in testbuild; the check only reported
    expect(existsSync(join(root, 'cleanup-args'))).toBe(false);
    expect(r.out).toContain(`[check-report] [PASS] checked root ${root}`);

    // every remote scratch copy (scripts, bundle) is gone
    expect(scratch()).toEqual(before);
  });

  it('testbuild with the sh installer twin (droplets without Node 18+), re-runnable', async () => {
    const root = newRoot();
    const first = await runTask('testbuild', root, { MPIMG_INSTALLER: 'sh' });
    expect(first.code, first.err).toBe(0);
    expect(first.err).toContain(`using dist/${SLUG}-install.sh (MPIMG_INSTALLER=sh)`);
    if (project.realBundle) {
      expect(mode(join(root, `var/lib/cloud/scripts/per-instance/10-${SLUG}-setup`))).toBe('755');
    } else {
      expect(readFileSync(join(root, 'stand-in-sh-args'), 'utf8')).toBe(`install --root ${root} --remove-self\n`);
    }
    const again = await runTask('testbuild', root, { MPIMG_INSTALLER: 'sh' });
    expect(again.code, again.err).toBe(0);
    // the build scripts ran once more (they append), nothing else broke
    expect(readFileSync(join(root, 'var/lib/acme-build/order'), 'utf8')).toBe('10\n20\n10\n20\n');
  });

  it('build: the testbuild steps, then cleanup, then the check that decides the result', async () => {
    const root = newRoot();
    const r = await runTask('build', root);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(root, 'var/lib/acme-build/order'), 'utf8')).toBe('10\n20\n');
    expect(readFileSync(join(root, 'cleanup-args'), 'utf8')).toBe(`--root ${root} --lock-root-password\n`);
    expect(r.out).toContain('[check] 0 failures');
    const order = [...r.err.matchAll(/^ {4}([a-z0-9-]+) /gm)].map((m) => m[1]);
    expect(order).toEqual(buildOrder());

    const failing = newRoot();
    writeFileSync(join(failing, 'fail-marker'), '');
    const bad = await runTask('build', failing);
    expect(bad.code).toBe(1);
    expect(existsSync(join(failing, 'cleanup-args'))).toBe(true);
    expect(bad.err).toContain('error: the image check found failures');
  });

  it('cleanup passes --root and the manifest options, never --zero-fill for a staged root', async () => {
    const root = newRoot();
    const r = await runTask('cleanup', root);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(root, 'cleanup-args'), 'utf8')).toBe(`--root ${root} --lock-root-password\n`);
    expect(r.err).toContain('cleanup.zeroFill is on, but not for a staged root: skipped');
    expect(r.out).toContain('[cleanup] [cleanup] done');
  });

  it('check prints the report and fails the task on failures', async () => {
    const root = newRoot();
    const ok = await runTask('check', root);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('[check] 0 failures');
    writeFileSync(join(root, 'fail-marker'), '');
    const bad = await runTask('check', root);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('[check] [FAIL] fail-marker present');
    expect(bad.err).toMatch(/error: the image check found failures[\s\S]*fix: /);
    expect(bad.err).toMatch(/ {2}check +[\d.]+m?s +FAILED/);
  });

  it("check gives the check mpimg.json's firewall (only when the script has --firewall); an older copy is named", async () => {
    const manifestFile = join(project.dir, 'mpimg.json');
    const checkFile = join(project.dir, 'scripts/99-img-check.sh');
    const [manifest, script] = [readFileSync(manifestFile, 'utf8'), readFileSync(checkFile, 'utf8')];
    try {
      writeFileSync(
        manifestFile,
        JSON.stringify({ ...JSON.parse(manifest), firewall: { limit: ['22/tcp'], allow: ['443/tcp'] } }),
      );
      const root = newRoot();
      const old = await runTask('check', root);
      expect(old.code, old.err).toBe(0);
      expect(old.err).toContain(
        'scripts/99-img-check.sh has no --firewall or --credentials option, so what mpimg.json says there is not checked',
      );
      writeFileSync(
        checkFile,
        `#!/usr/bin/env bash
# knows: --firewall) RULES
echo "$*" > "\${4:?}/check-args"
echo "0 failures"
`,
      );
      const r = await runTask('check', root);
      expect(r.code, r.err).toBe(0);
      // it knows --firewall now; --credentials it still lacks
      expect(r.err).toContain('scripts/99-img-check.sh has no --credentials option');
      // The rules first, then --root, so the script's own argument parsing sees both.
      expect(readFileSync(join(root, 'check-args'), 'utf8')).toBe(
        `--firewall limit:22/tcp allow:443/tcp --root ${root}\n`,
      );
    } finally {
      writeFileSync(manifestFile, manifest);
      writeFileSync(checkFile, script, { mode: 0o755 });
    }
  });

  it('a failing build script stops the build with the command, exit code and last lines', async () => {
    const root = newRoot();
    mkdirSync(join(root, 'var/lib/acme-build'), { recursive: true });
    // A build step between 10- and 20- that fails: 20- and the install must not run.
    const script = join(project.dir, 'scripts/15-break.sh');
    writeFileSync(script, '#!/bin/sh\necho "about to break"\necho "details on stderr" >&2\nexit 5\n', { mode: 0o755 });
    try {
      const before = scratch();
      const r = await runTask('testbuild', root);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/error: remote command failed with exit code 5 in task "scripts"/);
      expect(r.err).toMatch(/command: .*15-break\.sh/);
      expect(r.err).toContain('exit code: 5');
      expect(r.err).toContain('| about to break');
      expect(r.err).toContain('| details on stderr');
      expect(r.err).toContain('fix: fix scripts/15-break.sh and run the task again');
      expect(readFileSync(join(root, 'var/lib/acme-build/order'), 'utf8')).toBe('10\n');
      expect(existsSync(join(root, 'stand-in-node-args'))).toBe(false);
      expect(existsSync(join(root, `var/lib/cloud/scripts/per-instance/10-${SLUG}-setup`))).toBe(false);
      expect(scratch()).toEqual(before);
    } finally {
      rmSync(script);
    }
  });

  it('scripts and check refuse a build script or a script folder that leads outside the project; nothing runs', async () => {
    const root = newRoot();
    const outside = mkdtempSync(join(tmpdir(), 'mpimg-outside-'));
    roots.push(outside);
    mkdirSync(join(root, 'var/lib/acme-build'), { recursive: true });
    writeFileSync(join(outside, '15-elsewhere.sh'), '#!/bin/sh\ntouch "$MPIMG_ROOT/ran-outside"\n', { mode: 0o755 });
    const link = join(project.dir, 'scripts/15-elsewhere.sh');
    symlinkSync(join(outside, '15-elsewhere.sh'), link);
    try {
      const r = await runTask('scripts', root);
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        `error: scripts/15-elsewhere.sh leads outside the project (${realpathSync(outside)}/15-elsewhere.sh)`,
      );
      expect(r.err).toContain('fix: keep scripts/15-elsewhere.sh inside the project folder');
      expect(existsSync(join(root, 'ran-outside'))).toBe(false);
      expect(existsSync(join(root, 'var/lib/acme-build/order'))).toBe(false);
    } finally {
      rmSync(link);
    }
    // the project's own check, in a folder linked from outside
    const checkAt = join(project.dir, 'scripts/99-img-check.sh');
    const saved = readFileSync(checkAt);
    renameSync(checkAt, join(outside, '99-img-check.sh'));
    const scriptsDir = join(project.dir, 'own');
    symlinkSync(outside, scriptsDir);
    const m = readFileSync(join(project.dir, 'mpimg.json'), 'utf8');
    writeFileSync(
      join(project.dir, 'mpimg.json'),
      JSON.stringify({ ...JSON.parse(m), check: { script: 'own/99-img-check.sh' } }),
    );
    try {
      const r = await runTask('check', root);
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        `error: own/99-img-check.sh leads outside the project (${realpathSync(outside)}/99-img-check.sh)`,
      );
    } finally {
      rmSync(scriptsDir);
      writeFileSync(join(project.dir, 'mpimg.json'), m);
      writeFileSync(checkAt, saved, { mode: 0o755 });
    }
  });

  it('status runs the bundle the droplet can run: the sh twin where there is no Node 18+', async () => {
    const root = newRoot();
    expect((await runTask('testbuild', root, { MPIMG_INSTALLER: 'sh' })).code).toBe(0);
    const r = await runTask('status', root, { MPIMG_INSTALLER: 'sh' });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`using dist/${SLUG}-install.sh (MPIMG_INSTALLER=sh)`);
    if (project.realBundle)
      expect(r.out).toMatch(/\[status\] Acme Test 1\.2\.3: built, first boot not run here yet; \d+ items as planned/);
  });

  it('status runs the bundle status against the root', async () => {
    const root = newRoot();
    expect((await runTask('testbuild', root)).code).toBe(0);
    const r = await runTask('status', root);
    expect(r.code, r.err).toBe(0);
    if (!project.realBundle)
      expect(readFileSync(join(root, 'stand-in-node-args'), 'utf8')).toBe(`status --root ${root}\n`);
  });
});

describe("the package owns the build; the project holds the vendor's choices", () => {
  /** A fixture project with its own mpimgfile.mjs. */
  async function withTaskFile(text: string): Promise<FixtureProject> {
    const p = await makeFixtureProject();
    writeFileSync(join(p.dir, 'mpimgfile.mjs'), text);
    return p;
  }
  async function runIn(p: FixtureProject, name: string, root: string) {
    const saved = project;
    project = p;
    try {
      return await runTask(name, root);
    } finally {
      project = saved;
    }
  }
  const order = (err: string) => [...err.matchAll(/^ {4}([a-z0-9-]+) /gm)].map((m) => m[1]);

  it('a change of a standard task inside the package reaches the project with no regeneration', async () => {
    const p = await makeFixtureProject();
    const generated = readFileSync(join(p.dir, 'mpimgfile.mjs'), 'utf8');
    // As if `npm update` brought a package whose build runs the build scripts before files/.
    const pkg = join(p.dir, 'node_modules/generator-mpimg');
    let patched = 0;
    for (const f of readdirSync(pkg).filter((n) => n.endsWith('.js'))) {
      const js = readFileSync(join(pkg, f), 'utf8');
      // the one list of build steps (tasks/steps/index.ts), with the scripts unit moved before files
      const next = js.replace(/(STEPS = Object\.freeze\(\[)([^\]]*)\]/, (_, head: string, list: string) => {
        const units = list.split(',').map((u) => u.trim());
        const scriptsUnit = units.find((u) => /^scripts/.test(u))!;
        const rest = units.filter((u) => u !== scriptsUnit);
        rest.splice(
          rest.findIndex((u) => /^files/.test(u)),
          0,
          scriptsUnit,
        );
        return `${head}${rest.join(', ')}]`;
      });
      if (next !== js) {
        writeFileSync(join(pkg, f), next);
        patched++;
      }
    }
    expect(patched).toBe(1);
    // the build script that needs files/ now fails: proof the package's order ran
    const r = await runIn(p, 'build', newRoot());
    expect(readFileSync(join(p.dir, 'mpimgfile.mjs'), 'utf8')).toBe(generated);
    const moved = buildOrder().filter((n) => n !== 'scripts');
    moved.splice(moved.indexOf('files'), 0, 'scripts');
    expect(order(r.err).slice(0, moved.indexOf('scripts') + 1)).toEqual(moved.slice(0, moved.indexOf('scripts') + 1));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/in task "scripts"/);
  });

  it('a vendor task of a standard name replaces it everywhere; build.with() inserts a step; an exported series is a task', async () => {
    const p = await withTaskFile(`export * from 'generator-mpimg/tasks/standard';
import { task, series } from 'generator-mpimg/tasks';
import { build as standardBuild } from 'generator-mpimg/tasks/standard';
export const scripts = task('scripts', "the vendor's own build steps", async (c) => {
  await c.run('mkdir -p "$R/var/lib/acme-build" && echo vendor-scripts >> "$R/var/lib/acme-build/order"', { env: { R: process.env.MPIMG_TARGET_ROOT } });
});
export const smoke = task('smoke', "the vendor's smoke test", async (c) => {
  await c.run('echo smoke >> "$R/var/lib/acme-build/order"', { env: { R: process.env.MPIMG_TARGET_ROOT } });
});
export const build = standardBuild.with({ after: 'scripts', run: smoke });
export const both = series(smoke, smoke);
`);
    const root = newRoot();
    const r = await runIn(p, 'build', root);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(root, 'var/lib/acme-build/order'), 'utf8')).toBe('vendor-scripts\nsmoke\n');
    const withSmoke = buildOrder();
    withSmoke.splice(withSmoke.indexOf('scripts') + 1, 0, 'smoke');
    expect(order(r.err)).toEqual(withSmoke);
    // testbuild (not changed by the vendor) runs the vendor's scripts too: steps go by name
    const t = newRoot();
    expect((await runIn(p, 'testbuild', t)).code).toBe(0);
    expect(readFileSync(join(t, 'var/lib/acme-build/order'), 'utf8')).toBe('vendor-scripts\n');
    // the exported series runs as a task named after its export
    const s2 = newRoot();
    mkdirSync(join(s2, 'var/lib/acme-build'), { recursive: true });
    expect((await runIn(p, 'both', s2)).code).toBe(0);
    expect(readFileSync(join(s2, 'var/lib/acme-build/order'), 'utf8')).toBe('smoke\nsmoke\n');
    // mpimg tasks lists standard and vendor tasks alike
    const ctx = context(p.dir);
    await tasksCommand.run(['--json'], ctx);
    const list = JSON.parse(ctx.stdout.text) as Array<{ name: string; standard: boolean; description: string }>;
    expect(list.find((x) => x.name === 'scripts')).toMatchObject({
      standard: false,
      description: "the vendor's own build steps",
    });
    expect(list.find((x) => x.name === 'build')).toMatchObject({ standard: false });
    expect(list.find((x) => x.name === 'both')).toMatchObject({ standard: false, description: 'series: smoke, smoke' });
    expect(list.find((x) => x.name === 'cleanup')).toMatchObject({ standard: true });
    const text = context(p.dir);
    await tasksCommand.run([], text);
    expect(text.stdout.text).toMatch(
      /This project's own tasks \(mpimgfile\.mjs\):\n(.*\n)*  smoke +the vendor's smoke test/,
    );
    rmSync(p.dir, { recursive: true, force: true });
  });

  it('a mistaken pipeline change names the steps there are', async () => {
    const p = await withTaskFile(`export * from 'generator-mpimg/tasks/standard';
import { build as b } from 'generator-mpimg/tasks/standard';
export const build = b.with({ after: 'pakages', run: async () => {} });
`);
    const ctx = context(p.dir);
    await expect(tasksCommand.run([], ctx)).rejects.toMatchObject({
      message: expect.stringContaining('build.with: no step "pakages"'),
      hint: expect.stringContaining(buildOrder().join(', ')),
    });
    rmSync(p.dir, { recursive: true, force: true });
  });
});
