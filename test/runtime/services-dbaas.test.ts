// $.services[].managedDatabase: a unit's state at first boot decided by DigitalOcean's managed
// database hand-over, without a script. Real sh runs the installed first-boot steps on a staged root
// (private mount namespace), a stand-in systemctl records what it was asked; the schema's errors.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { stagedRoot } from '../helpers/bundled.js';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { makeProject } from '../helpers/project-fixture.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';

const NO_METADATA = { MPIMG_METADATA_URL: 'http://127.0.0.1:9/none', MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' };
const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const FIRST_BOOT = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
const SERVICES_STEP = `${PER_INSTANCE}/yy-acme-wiki-services`;
const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n';
const HANDOVER = '/root/.digitalocean_dbaas_credentials';
const PASSWORD = 'pa$$w0rd-S3CRET';
const DECIDED = 'var/lib/mpimg/acme-wiki/managed-database';

const SERVICES: Manifest['services'] = [
  'apache2.service',
  { name: 'mariadb.service', firstBoot: 'none', managedDatabase: 'disable' },
  { name: 'redis-server.service', firstBoot: 'start', managedDatabase: 'disable' },
];

/** A staged Debian root the bundle was installed on, by the node executor or the sh installer. */
function installedRoot(services: Manifest['services'] = SERVICES, executor: 'node' | 'sh' = 'node'): string {
  const dir = makeProject({ manifest: { services } });
  const out = tempDir('mpimg-dist-');
  fs.chmodSync(out, 0o755);
  const b = writeBundle(loadProject(dir), out);
  const root = stagedRoot();
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/os-release'), DEBIAN);
  const [cmd, file] = executor === 'node' ? [process.execPath, b.cjs] : ['sh', b.sh];
  const r = spawnSync(cmd, [file, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return root;
}

/** A stand-in systemctl that records its calls, one line each. */
function fakeSystemctl(): { bin: string; calls: () => string } {
  const bin = tempDir('mpimg-bin-');
  const log = path.join(bin, 'calls');
  fs.writeFileSync(path.join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${log}'\nexit 0\n`, { mode: 0o755 });
  return { bin, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '') };
}

function firstBoot(root: string, script = FIRST_BOOT, env: NodeJS.ProcessEnv = {}) {
  const fake = fakeSystemctl();
  const r = runInSandbox(root, script, {
    env: { ...NO_METADATA, PATH: `${fake.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, ...env },
  });
  expect(r.stdout).not.toContain('FAILED');
  return {
    ...r,
    calls: fake.calls(),
    log: fs.readFileSync(path.join(root, 'var/log/mpimg/acme-wiki/services.log'), 'utf8'),
  };
}

const handOver = (root: string, text: string) => {
  fs.mkdirSync(path.join(root, 'root'), { recursive: true });
  fs.writeFileSync(path.join(root, HANDOVER), text, { mode: 0o600 });
};

const NO_HANDOVER_CALLS =
  'restart apache2.service\nenable mariadb.service\nenable redis-server.service\nstart redis-server.service\n';
const HANDOVER_CALLS =
  'restart apache2.service\ndisable mariadb.service\nstop mariadb.service\ndisable redis-server.service\nstop redis-server.service\n';

describe('a service whose state depends on the managed database hand-over', () => {
  it('without a hand-over: enabled, then its firstBoot action (none: enabled only)', () => {
    const root = installedRoot();
    const r = firstBoot(root);
    expect(r.calls).toBe(NO_HANDOVER_CALLS);
    expect(r.log).toContain('no managed database was handed over to this droplet');
    // the decision, recorded for verify in the root-only state folder
    expect(fs.readFileSync(path.join(root, DECIDED), 'utf8')).toBe('no\n');
  });

  it("with DigitalOcean's hand-over file: stopped and disabled; the others as usual; no secret in the log", () => {
    const root = installedRoot();
    handOver(
      root,
      `db_protocol="mysql"\ndb_username="doadmin"\ndb_password="${PASSWORD}"\ndb_host="db-mysql-nyc3-1.ondigitalocean.com"\ndb_port="25060"\ndb_database="defaultdb"\n`,
    );
    const r = firstBoot(root);
    expect(r.calls).toBe(HANDOVER_CALLS);
    expect(r.log).toContain('a managed database was handed over to this droplet');
    expect(fs.readFileSync(path.join(root, DECIDED), 'utf8')).toBe('yes\n');
    expect(`${r.stdout}${r.stderr}${r.log}`).not.toContain(PASSWORD);
  });

  it('with DATABASE_URL: stopped and disabled, the password in no output', () => {
    const r = firstBoot(installedRoot(), FIRST_BOOT, {
      DATABASE_URL: `postgresql://app:${PASSWORD}@db.example.com:25061/appdb?sslmode=require`,
    });
    expect(r.calls).toBe(HANDOVER_CALLS);
    expect(`${r.stdout}${r.stderr}${r.log}`).not.toContain(PASSWORD);
  });

  it('a hostile hand-over file runs nothing of its own; one missing db_host or db_username is no hand-over', () => {
    const root = installedRoot();
    const marker = '/root/pwned';
    handOver(
      root,
      [
        `db_host="$(touch ${marker})"`,
        `db_username="it's \`touch ${marker}\`; touch ${marker}"`,
        `db_password="it's \\"quoted\\" \\\\ $(touch ${marker})"`,
        'db_port=25060; touch /root/pwned',
        '',
      ].join('\n'),
    );
    const hostile = firstBoot(root);
    expect(fs.existsSync(path.join(root, marker))).toBe(false);
    // db_host and db_username are there (their text, never run): a hand-over
    expect(hostile.calls).toBe(HANDOVER_CALLS);

    for (const partial of [
      'db_username="doadmin"\ndb_password="x"\n',
      'db_host="db.example.com"\ndb_password="x"\n',
      'garbage\n\u2028\n',
      '',
    ]) {
      const r2 = installedRoot();
      handOver(r2, partial);
      expect(firstBoot(r2).calls, JSON.stringify(partial)).toBe(NO_HANDOVER_CALLS);
    }
  });

  it('a later first boot (a droplet made from a snapshot) without the hand-over gets the units back', () => {
    const root = installedRoot();
    handOver(root, 'db_host="db.example.com"\ndb_username="doadmin"\n');
    expect(firstBoot(root).calls).toBe(HANDOVER_CALLS);
    fs.rmSync(path.join(root, HANDOVER));
    // cloud-init runs the per-instance steps again on a new instance
    expect(firstBoot(root, SERVICES_STEP).calls).toBe(NO_HANDOVER_CALLS);
  });

  it('the sh installer lays down the same tree, and its first boot does the same', () => {
    const [a, b] = [installedRoot(SERVICES, 'node'), installedRoot(SERVICES, 'sh')];
    expect(treeDigest(b)).toEqual(treeDigest(a));
    handOver(b, 'db_host="db.example.com"\ndb_username="doadmin"\n');
    expect(firstBoot(b).calls).toBe(HANDOVER_CALLS);
  });

  it('a unit without managedDatabase is unchanged: no hand-over check is made at all', () => {
    const root = installedRoot(['apache2.service', { name: 'cron.service', firstBoot: 'none' }]);
    handOver(root, 'db_host="db.example.com"\ndb_username="doadmin"\n');
    const r = firstBoot(root);
    expect(r.calls).toBe('restart apache2.service\n');
    expect(r.log).not.toContain('managed database');
  });
});

describe('$.services[].managedDatabase at validate time', () => {
  const problems = (managedDatabase: unknown) =>
    validateManifest({ ...MINIMAL_MANIFEST, services: ['a.service', { name: 'db.service', managedDatabase }] })
      .problems;

  it('takes "disable"', () => {
    expect(problems('disable')).toEqual([]);
  });

  it('refuses anything else at its $.path, naming the value and what to write', () => {
    for (const bad of ['stop', 'Disable', '', true, null, ['disable']]) {
      const p = problems(bad);
      expect(p.length, JSON.stringify(bad)).toBeGreaterThan(0);
      expect(p[0].path, JSON.stringify(bad)).toBe('$.services[1].managedDatabase');
      if (typeof bad === 'string') {
        expect(p[0].message).toBe(`bad managedDatabase ${JSON.stringify(bad)}`);
        expect(p[0].hint).toContain('"disable"');
      }
    }
  });
});
