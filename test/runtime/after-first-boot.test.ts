// $.services[].afterFirstBoot: a unit that must not start on a droplet booted from the image before
// first boot made its secrets and filled in its templates. Both executors lay down the same drop-in,
// which systemd's own parser (systemd-analyze verify) reads clean; real sh runs the installed
// first-boot steps on a staged root (private mount namespace) with a stand-in systemctl.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { stagedRoot } from '../helpers/bundled.js';
import { makeProject } from '../helpers/project-fixture.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';

const NO_METADATA = { MPIMG_METADATA_URL: 'http://127.0.0.1:9/none', MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' };
const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const FIRST_BOOT = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
const DROP_IN = 'etc/systemd/system/app.service.d/zz-acme-wiki-after-first-boot.conf';
const READY = 'var/lib/mpimg/acme-wiki/first-boot-ready';
const SERVICES: Manifest['services'] = [
  { name: 'app.service', afterFirstBoot: true },
  { name: 'worker.service', firstBoot: 'none', afterFirstBoot: true },
  'nginx.service',
];

/** The bundle each staged root was installed from. */
const installed = new Map<string, ReturnType<typeof writeBundle>>();

/** A staged root the bundle was installed on; with a secret template when `secret` is set. */
function installedRoot(secret: boolean, executor: 'node' | 'sh' = 'node'): string {
  const dir = tempDir('mpimg-proj-');
  if (secret) {
    fs.mkdirSync(path.join(dir, 'files/opt/app'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'files/opt/app/app.env'), 'KEY={{secret.APP_KEY}}\n', { mode: 0o600 });
  }
  makeProject({
    dir,
    manifest: {
      services: SERVICES,
      ...(secret ? { secrets: [{ name: 'APP_KEY' }], files: { dir: 'files', templates: ['/opt/app/app.env'] } } : {}),
    },
  });
  const out = tempDir('mpimg-dist-');
  fs.chmodSync(out, 0o755);
  const b = writeBundle(loadProject(dir), out);
  const root = stagedRoot();
  installed.set(root, b);
  const [cmd, file] = executor === 'node' ? [process.execPath, b.cjs] : ['sh', b.sh];
  const r = spawnSync(cmd, [file, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return root;
}

/** First boot with a stand-in systemctl that records, for each call, whether the record was there. */
function firstBoot(root: string, mounts: string[] = []) {
  const bin = tempDir('mpimg-bin-');
  const log = path.join(bin, 'calls');
  fs.writeFileSync(
    path.join(bin, 'systemctl'),
    `#!/bin/sh\nif [ -f /${READY} ]; then r=ready; else r=not-ready; fi\necho "$* ($r)" >> '${log}'\n`,
    { mode: 0o755 },
  );
  const r = runInSandbox(root, FIRST_BOOT, {
    env: { ...NO_METADATA, PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` },
    mounts,
  });
  return { ...r, calls: fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '' };
}

describe('a service marked afterFirstBoot', () => {
  it('gets a drop-in from both executors that systemd reads clean; the other units none', () => {
    const a = installedRoot(true, 'node');
    const b = installedRoot(true, 'sh');
    expect(treeDigest(b)).toEqual(treeDigest(a));
    for (const root of [a, b]) {
      const st = fs.statSync(path.join(root, DROP_IN));
      expect([st.mode & 0o7777, st.uid]).toEqual([0o644, 0]);
    }
    const text = fs.readFileSync(path.join(a, DROP_IN), 'utf8');
    expect(text).toMatch(/\n\[Unit\]\nConditionPathExists=\/var\/lib\/mpimg\/acme-wiki\/first-boot-ready\n$/);
    expect(fs.existsSync(path.join(a, 'etc/systemd/system/worker.service.d/zz-acme-wiki-after-first-boot.conf'))).toBe(
      true,
    );
    expect(fs.existsSync(path.join(a, 'etc/systemd/system/nginx.service.d'))).toBe(false);
    // systemd's parser on the unit with the drop-in beside it: no warning. A broken drop-in in the same
    // place does warn (the parser did read it).
    const units = tempDir('mpimg-units-');
    fs.writeFileSync(
      path.join(units, 'app.service'),
      '[Unit]\nDescription=app\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
    );
    fs.mkdirSync(path.join(units, 'app.service.d'));
    const dropIn = path.join(units, 'app.service.d', path.basename(DROP_IN));
    const verify = () =>
      spawnSync('systemd-analyze', ['verify', path.join(units, 'app.service')], {
        encoding: 'utf8',
        env: { ...process.env, SYSTEMD_UNIT_PATH: `${units}:` },
      });
    fs.writeFileSync(dropIn, text);
    const ok = verify();
    expect(ok.stderr + ok.stdout).toBe('');
    expect(ok.status).toBe(0);
    fs.writeFileSync(dropIn, text.replace('=/var', '=var'));
    expect(verify().stderr).toContain('ConditionPathExists= path is not absolute');
    // what holds the units (services step), takes the record away (prepare step), names them (status)
    const scripts = [
      installed.get(a)!.sh,
      ...['services', 'prepare'].map((f) => path.join(a, 'opt/acme/acme-wiki', f)),
    ];
    const sc = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', ...scripts], { encoding: 'utf8' });
    expect(sc.stdout).toBe('');
    expect(sc.status).toBe(0);
  });

  it('starts only after first boot made its record: after the prepare step filled in its templates', () => {
    const root = installedRoot(true);
    // the image: the record is not there, the template is not at its path
    expect(fs.existsSync(path.join(root, READY))).toBe(false);
    expect(fs.existsSync(path.join(root, 'opt/app/app.env'))).toBe(false);
    const r = firstBoot(root);
    expect(r.stdout).not.toContain('FAILED');
    expect(r.calls).toBe('restart app.service (ready)\nrestart nginx.service (ready)\n');
    expect(fs.readFileSync(path.join(root, 'opt/app/app.env'), 'utf8')).toMatch(/^KEY=[A-Za-z0-9]{32}\n$/);
    expect(fs.readFileSync(path.join(root, 'var/log/mpimg/acme-wiki/services.log'), 'utf8')).toContain(
      'first boot set this droplet up: units marked afterFirstBoot may start',
    );
  });

  it('stays stopped when the prepare step failed, and the services step says so', () => {
    const root = installedRoot(true);
    // a credentials line prepare cannot read back: no secret, no template, no record
    fs.writeFileSync(path.join(root, 'root/.acme-wiki-credentials'), 'APP_KEY=unquoted\n', { mode: 0o600 });
    const r = firstBoot(root);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/0-acme-wiki-prepare`);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/yy-acme-wiki-services`);
    expect(fs.existsSync(path.join(root, READY))).toBe(false);
    expect(fs.existsSync(path.join(root, 'opt/app/app.env'))).toBe(false);
    // a unit without the mark starts; the marked ones are stopped (whatever their action), as systemd
    // would skip them at a reboot
    expect(r.calls).toBe(
      'stop app.service (not-ready)\nstop worker.service (not-ready)\nrestart nginx.service (not-ready)\n',
    );
    expect(fs.readFileSync(path.join(root, 'var/log/mpimg/acme-wiki/services.log'), 'utf8')).toContain(
      'the prepare step (secrets, templates) did not finish: units marked afterFirstBoot stay stopped',
    );
  });

  // Found: on a later first boot (a droplet made from a snapshot, cloud-init run again) a failed
  // prepare step left the earlier first boot's record, so the units restarted on the earlier configs
  // while the services step said they stayed stopped.
  it('on a later first boot whose prepare step fails: the earlier record goes and the units are stopped', () => {
    const root = installedRoot(true);
    expect(firstBoot(root).stdout).not.toContain('FAILED');
    const env = path.join(root, 'opt/app/app.env');
    const earlier = fs.readFileSync(env, 'utf8');
    expect(fs.existsSync(path.join(root, READY))).toBe(true);
    fs.writeFileSync(path.join(root, 'root/.acme-wiki-credentials'), 'APP_KEY=unquoted\n', { mode: 0o600 });
    const r = firstBoot(root);
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/0-acme-wiki-prepare`);
    expect(fs.existsSync(path.join(root, READY))).toBe(false);
    expect(r.calls).toBe(
      'stop app.service (not-ready)\nstop worker.service (not-ready)\nrestart nginx.service (not-ready)\n',
    );
    const log = (id: string) => fs.readFileSync(path.join(root, `var/log/mpimg/acme-wiki/${id}.log`), 'utf8');
    expect(log('prepare')).toContain(
      'an earlier first boot had set this droplet up: units marked afterFirstBoot stay stopped until this step succeeds (/var/lib/mpimg/acme-wiki/first-boot-ready removed)',
    );
    expect(log('services')).toContain('units marked afterFirstBoot stay stopped');
    // the earlier config is not touched
    expect(fs.readFileSync(env, 'utf8')).toBe(earlier);
  });

  it('on a later first boot whose prepare step succeeds: the record is back, also for the step run alone', () => {
    const root = installedRoot(true);
    expect(firstBoot(root).stdout).not.toContain('FAILED');
    const again = firstBoot(root);
    expect(again.stdout).not.toContain('FAILED');
    expect(again.calls).toBe('restart app.service (ready)\nrestart nginx.service (ready)\n');
    // the prepare step alone (no services step after it) gives back what the earlier first boot gave
    const alone = runInSandbox(root, `${PER_INSTANCE}/0-acme-wiki-prepare || echo FAILED`, { env: NO_METADATA });
    expect(alone.stdout + alone.stderr).not.toContain('FAILED');
    expect(fs.existsSync(path.join(root, READY))).toBe(true);
  });

  // Found: status said nothing of the units first boot holds back, before or after it released them.
  it('status of both executors lists the units as held until first boot made its record, then released', () => {
    const root = installedRoot(true);
    const status = (x: 'node' | 'sh', json: boolean) => {
      const b = installed.get(root)!;
      const args = ['status', '--root', root, ...(json ? ['--json'] : [])];
      const r =
        x === 'node'
          ? spawnSync(process.execPath, [b.cjs, ...args], { encoding: 'utf8' })
          : spawnSync('sh', [b.sh, ...args], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      return json ? JSON.parse(r.stdout).afterFirstBoot : r.stdout.split('\n')[1];
    };
    const ready = '/var/lib/mpimg/acme-wiki/first-boot-ready';
    for (const x of ['node', 'sh'] as const) {
      expect(status(x, true)).toEqual({ units: ['app.service', 'worker.service'], state: 'held' });
      expect(status(x, false)).toBe(
        `  units marked afterFirstBoot, held until first boot set this droplet up (no ${ready}): app.service, worker.service`,
      );
    }
    expect(firstBoot(root).stdout).not.toContain('FAILED');
    for (const x of ['node', 'sh'] as const) {
      expect(status(x, true)).toEqual({ units: ['app.service', 'worker.service'], state: 'released' });
      expect(status(x, false)).toBe(
        `  units marked afterFirstBoot, released (first boot made ${ready}): app.service, worker.service`,
      );
    }
    // a later first boot whose prepare step failed holds them again
    fs.writeFileSync(path.join(root, 'root/.acme-wiki-credentials'), 'APP_KEY=unquoted\n', { mode: 0o600 });
    expect(firstBoot(root).stdout).toContain('FAILED');
    for (const x of ['node', 'sh'] as const) expect(status(x, true).state).toBe('held');
  });

  it('without secrets or templates: the record is made by the services step alone', () => {
    const root = installedRoot(false);
    expect(fs.existsSync(path.join(root, 'opt/acme/acme-wiki/prepare'))).toBe(false);
    const r = firstBoot(root);
    expect(r.stdout).not.toContain('FAILED');
    expect(r.calls).toBe('restart app.service (ready)\nrestart nginx.service (ready)\n');
    expect(fs.statSync(path.join(root, 'var/lib/mpimg/acme-wiki')).mode & 0o777).toBe(0o700);
  });
});
