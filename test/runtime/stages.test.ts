// Every command right for the stage the droplet is in: built (not booted), first boot done, first
// login done; seeded files that build scripts and customers change are left to them. Both executors.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';

const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const NO_METADATA = { MPIMG_METADATA_URL: 'http://127.0.0.1:9/none', MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' };
const FIRST_BOOT = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
const CONF = 'etc/acme-wiki/wiki.conf';

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture();
});

type Run = (args: string[]) => SpawnSyncReturns<string>;
const node: Run = (args) => spawnSync(process.execPath, [b.cjs, ...args], { encoding: 'utf8', cwd: os.tmpdir() });
const sh: Run = (args) => spawnSync('sh', [b.sh, ...args], { encoding: 'utf8', cwd: os.tmpdir() });

describe.each([
  ['node', () => node],
  ['sh', () => sh],
] as const)('%s executor', (_n, get) => {
  const run: Run = (args) => get()(args);

  it('after first boot: status exits 0 with the stage; install refuses; --force never puts the hook back', () => {
    const root = stagedRoot();
    expect(run(['install', '--root', root]).status).toBe(0);
    const built = JSON.parse(run(['status', '--root', root, '--json']).stdout);
    expect(built).toMatchObject({ ok: true, stage: 'built', failedSteps: [], firstLogin: 'pending' });

    fs.writeFileSync(path.join(root, 'opt/acme/acme-wiki/first-boot/20-ip'), '#!/bin/sh\nexit 5\n');
    runInSandbox(root, FIRST_BOOT, { env: NO_METADATA });
    const booted = run(['status', '--root', root, '--json']);
    expect(booted.status, booted.stdout).toBe(1); // the step we broke is drift of a managed file
    expect(JSON.parse(booted.stdout)).toMatchObject({
      stage: 'first-boot-finished',
      failedSteps: ['20-ip 5'],
      firstLogin: 'pending',
    });
    expect(run(['status', '--root', root]).stdout).not.toContain('run install again');
    // put the step back as the image has it (force: install refuses on a booted droplet)
    expect(run(['install', '--root', root, '--force']).status).toBe(0);

    // the first login removes its hook: that is the design, not drift
    const login = runInSandbox(root, "printf 'Domain: x\\n' | /opt/acme/acme-wiki/first-login-run", {
      env: NO_METADATA,
    });
    expect(login.stdout).toContain('setup is complete');
    const after = run(['status', '--root', root]);
    expect(after.status, after.stdout).toBe(0);
    expect(after.stdout).toMatch(
      /^Acme Wiki 1\.2\.3: first boot finished \(failed: 20-ip\), first login done; \d+ items as planned\n$/,
    );

    const again = run(['install', '--root', root]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(
      /^error: install refused: this droplet already ran its first boot \(first boot finished\)/,
    );
    expect(again.stderr).toContain('`install --force --root');
    const forced = run(['install', '--root', root, '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('kept     /root/.bashrc (first boot ran: the first-login hook is not put back)');
    expect(fs.readFileSync(path.join(root, 'root/.bashrc'), 'utf8')).not.toContain('mpimg:acme-wiki first-login');
    expect(run(['status', '--root', root]).status).toBe(0);
  });

  it('a droplet an older bundle made (its state in /var/lib/<slug>): status and install know its stage', () => {
    const root = stagedRoot();
    expect(run(['install', '--root', root]).status).toBe(0);
    // a login on the build droplet, recorded where bundles before the namespaced folders did
    const old = path.join(root, 'var/lib/acme-wiki');
    fs.mkdirSync(old, { recursive: true });
    fs.writeFileSync(path.join(old, 'first-login.done'), '2026-01-01T00:00:00Z\n');
    const inst = run(['install', '--root', root]);
    expect(inst.status, inst.stderr).toBe(0);
    expect(inst.stdout).toContain(
      'removed  /var/lib/acme-wiki/first-login.done (a first login on this build droplet: the image starts with its first login to come)',
    );
    expect(fs.existsSync(path.join(old, 'first-login.done'))).toBe(false);
    // its first boot, as the older bundle's helper library recorded it
    fs.writeFileSync(path.join(old, 'first-boot.last'), '10-password 0\n20-ip 4\n');
    fs.writeFileSync(path.join(old, 'first-boot.failed'), '20-ip 4\n');
    expect(JSON.parse(run(['status', '--root', root, '--json']).stdout)).toMatchObject({
      stage: 'first-boot-finished',
      failedSteps: ['20-ip 4'],
    });
    const again = run(['install', '--root', root]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(
      /^error: install refused: this droplet already ran its first boot \(first boot finished\)/,
    );
    // where this bundle keeps it wins
    fs.mkdirSync(path.join(root, 'var/lib/mpimg/acme-wiki'), { recursive: true });
    fs.writeFileSync(path.join(root, 'var/lib/mpimg/acme-wiki/first-boot.status'), '10-password 0\n');
    expect(JSON.parse(run(['status', '--root', root, '--json']).stdout)).toMatchObject({
      stage: 'first-boot-running',
      failedSteps: [],
    });
  });

  it('seeded files/ are laid down before the build scripts; what a script made of them survives install', () => {
    const root = stagedRoot();
    const only = run(['install', '--root', root, '--only', 'seeded']);
    expect(only.status, only.stderr).toBe(0);
    expect(fs.readFileSync(path.join(root, CONF), 'utf8')).toBe('port = 8080\n');
    // nothing but folders and seeded files yet
    expect(fs.existsSync(path.join(root, 'opt/acme/acme-wiki/lib.sh'))).toBe(false);
    expect(fs.existsSync(path.join(root, `${PER_INSTANCE.slice(1)}/zz-acme-wiki-finish`))).toBe(false);
    // a build script edits the config and gives it to its service user
    fs.writeFileSync(path.join(root, CONF), 'port = 9090\n');
    fs.chownSync(path.join(root, CONF), 4321, 4321);
    expect(run(['install', '--root', root]).status).toBe(0);
    expect(fs.readFileSync(path.join(root, CONF), 'utf8')).toBe('port = 9090\n');
    expect(fs.statSync(path.join(root, CONF)).uid).toBe(4321);
    const st = run(['status', '--root', root, '--json']);
    expect(st.status, st.stdout).toBe(0);
    expect(JSON.parse(st.stdout).seeded).toEqual([{ path: '/etc/acme-wiki/wiki.conf', state: 'changed' }]);
    expect(run(['status', '--root', root]).stdout).toContain('1 seeded file(s) changed here (expected)');
    // uninstall keeps what was changed
    run(['uninstall', '--root', root]);
    expect(fs.readFileSync(path.join(root, CONF), 'utf8')).toBe('port = 9090\n');
  });
});

describe('a rebuild with a changed files/', () => {
  it('updates a seeded file nobody touched on the droplet, keeps one that was changed there', () => {
    const project = bundledFixture().project;
    fs.writeFileSync(path.join(project, 'files/etc/acme-wiki/other.conf'), 'a = 1\n');
    const v1 = writeBundle(loadProject(project), tempDir('mpimg-dist-'));
    const root = stagedRoot();
    expect(spawnSync('sh', [v1.sh, 'install', '--root', root]).status).toBe(0);
    fs.writeFileSync(path.join(root, CONF), 'port = 9999\n'); // changed on the droplet
    fs.writeFileSync(path.join(project, 'files/etc/acme-wiki/wiki.conf'), 'port = 7000\n');
    fs.writeFileSync(path.join(project, 'files/etc/acme-wiki/other.conf'), 'a = 2\n');
    const v2 = writeBundle(loadProject(project), tempDir('mpimg-dist-'));
    for (const exe of [
      [process.execPath, v2.cjs],
      ['sh', v2.sh],
    ]) {
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'mpimg-rebuild-'));
      fs.cpSync(root, copy, { recursive: true, verbatimSymlinks: true });
      const r = spawnSync(exe[0], [exe[1], 'install', '--root', copy, '--only', 'seeded'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(fs.readFileSync(path.join(copy, 'etc/acme-wiki/other.conf'), 'utf8')).toBe('a = 2\n');
      expect(fs.readFileSync(path.join(copy, CONF), 'utf8')).toBe('port = 9999\n');
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('the sh twin takes the commands and flags of the .cjs', () => {
  it('with no command it installs', () => {
    const a = stagedRoot();
    const c = stagedRoot();
    expect(node(['install', '--root', a]).status).toBe(0);
    const r = sh(['--root', c]);
    expect(r.status, r.stderr).toBe(0);
    expect(treeDigest(c)).toEqual(treeDigest(a));
  });

  it('answers --json like the node runtime (status, install, uninstall, plan)', () => {
    const a = stagedRoot();
    const c = stagedRoot();
    const ni = JSON.parse(node(['install', '--root', a, '--json']).stdout);
    const si = JSON.parse(sh(['install', '--root', c, '--json']).stdout);
    expect({ ...si, root: '' }).toEqual({ ...ni, root: '' });
    fs.chmodSync(path.join(a, 'etc/update-motd.d/99-acme-wiki'), 0o600);
    fs.chmodSync(path.join(c, 'etc/update-motd.d/99-acme-wiki'), 0o600);
    const ns = JSON.parse(node(['status', '--root', a, '--json']).stdout);
    const ss = JSON.parse(sh(['status', '--root', c, '--json']).stdout);
    expect({ ...ss, root: '' }).toEqual({ ...ns, root: '' });
    expect(ss.drift).toEqual([
      { path: '/etc/update-motd.d/99-acme-wiki', problem: 'wrong mode', detail: '600 instead of 755' },
    ]);
    expect(sh(['plan', '--json']).stdout).toBe(node(['plan', '--json']).stdout);
    const nu = JSON.parse(node(['uninstall', '--root', a, '--json']).stdout);
    const su = JSON.parse(sh(['uninstall', '--root', c, '--json']).stdout);
    expect({ ...su, root: '' }).toEqual({ ...nu, root: '' });
  });

  it('runs the embedded cleanup and check with their arguments and exit codes, leaving no copy', () => {
    expect(sh(['cleanup', '--dry-run', '--root', '/x']).stdout).toBe('cleanup args: --dry-run --root /x\n');
    expect(sh(['check', '--json']).stdout).toBe('check args: --json\n');
    expect(sh(['--help']).stdout).toMatch(/cleanup .*\n.*check /);
  });

  it('refuses an unknown flag and a missing --root folder, saying how to fix it', () => {
    const u = sh(['install', '--frob']);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain("error: Unknown option '--frob'");
    const m = sh(['install', '--root', '/nonexistent/mpimg-x']);
    expect(m.status).toBe(2);
    expect(m.stderr).toContain(
      '--root /nonexistent/mpimg-x does not exist\n  fix: create it (mkdir -p /nonexistent/mpimg-x)',
    );
  });
});

describe('which files are seeded', () => {
  it('files/ is seeded unless $.files.managed says so; $.seeded marks more, globs with * and **', () => {
    const project = bundledFixture({
      manifest: { files: { dir: 'files', managed: ['/usr/local/bin/**'] }, seeded: ['/etc/update-motd.d/*'] },
    }).project;
    const r = writeBundle(loadProject(project), tempDir('mpimg-dist-'));
    const plan = JSON.parse(
      spawnSync(process.execPath, [r.cjs, 'plan', '--json'], { encoding: 'utf8' }).stdout,
    ) as Array<{ path: string; seed?: boolean }>;
    const seed = (p: string) => plan.find((o) => o.path === p)?.seed === true;
    expect(seed('/etc/acme-wiki/wiki.conf')).toBe(true);
    expect(seed('/usr/local/bin/acme-wiki-hello')).toBe(false);
    expect(seed('/etc/update-motd.d/99-acme-wiki')).toBe(true);
    expect(seed('/opt/acme/acme-wiki/lib.sh')).toBe(false);
    const root = stagedRoot();
    expect(spawnSync(process.execPath, [r.cjs, 'install', '--root', root]).status).toBe(0);
    // a managed file changed is drift; a seeded one is not
    fs.appendFileSync(path.join(root, 'etc/update-motd.d/99-acme-wiki'), 'echo "set up by the customer"\n');
    expect(spawnSync(process.execPath, [r.cjs, 'status', '--root', root]).status).toBe(0);
    fs.appendFileSync(path.join(root, 'usr/local/bin/acme-wiki-hello'), 'echo changed\n');
    const st = JSON.parse(
      spawnSync(process.execPath, [r.cjs, 'status', '--root', root, '--json'], { encoding: 'utf8' }).stdout,
    );
    expect(st.drift).toEqual([{ path: '/usr/local/bin/acme-wiki-hello', problem: 'changed content' }]);
    expect(st.seeded).toEqual([{ path: '/etc/update-motd.d/99-acme-wiki', state: 'changed' }]);
  });

  it('a bad glob is a schema error naming the field', () => {
    const dir = bundledFixture().project;
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'mpimg.json'), 'utf8'));
    m.seeded = ['etc/relative'];
    fs.writeFileSync(path.join(dir, 'mpimg.json'), JSON.stringify(m));
    expect(() => loadProject(dir)).toThrow(/\$\.seeded\[0\]: bad path glob "etc\/relative"/);
  });
});
