// What DigitalOcean's own catalog images need on the droplet, declared in mpimg.json: services
// (re)started after the first-boot steps, a credentials file read back exactly, variables and a
// second MOTD text, a managed database hand-over, the login hold's message, and the RHEL family's
// MOTD through profile.d. Real sh, staged roots, private mount namespaces.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { readManifest } from '../../core/manifest-file.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { variableOverrides } from '../../tasks/bundle/variables.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { stagedRoot } from '../helpers/bundled.js';
import { makeProject } from '../helpers/project-fixture.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';

const NO_METADATA = { MPIMG_METADATA_URL: 'http://127.0.0.1:9/none', MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' };
const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const FIRST_BOOT = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';
const ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n';

function bundle(manifest: Partial<Manifest>, edit?: (dir: string) => void, vars?: Record<string, string>) {
  const dir = makeProject({ manifest });
  edit?.(dir);
  const out = tempDir('mpimg-dist-');
  fs.chmodSync(out, 0o755);
  return { dir, ...writeBundle(loadProject(dir, { overrides: vars }), out) };
}

function installedRoot(cjs: string, osRelease = DEBIAN): string {
  const root = stagedRoot();
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/os-release'), osRelease);
  const r = spawnSync(process.execPath, [cjs, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return root;
}

/** A stand-in systemctl that records its calls and fails for units named fail-*. */
function fakeSystemctl(): { bin: string; log: string } {
  const bin = tempDir('mpimg-bin-');
  const log = path.join(bin, 'calls');
  fs.writeFileSync(
    path.join(bin, 'systemctl'),
    `#!/bin/sh\necho "$*" >> ${log}\ncase "$2" in fail-*) echo "Job for $2 failed." >&2; exit 1 ;; esac\nexit 0\n`,
    { mode: 0o755 },
  );
  return { bin, log };
}

describe('services after the first-boot steps', () => {
  it('are (re)started once the steps ran, before the finish; the units of this distribution only', () => {
    const b = bundle({
      distributions: ['debian-12-x64', 'rockylinux-9-x64'],
      services: {
        all: ['app.service'],
        apt: [
          { name: 'nginx.service', firstBoot: 'start' },
          { name: 'cron.service', firstBoot: 'none' },
        ],
        dnf: ['httpd.service'],
      },
    });
    const root = installedRoot(b.cjs);
    const fake = fakeSystemctl();
    const r = runInSandbox(root, FIRST_BOOT, {
      env: { ...NO_METADATA, PATH: `${fake.bin}:/usr/sbin:/usr/bin:/sbin:/bin` },
    });
    expect(r.stdout).not.toContain('FAILED');
    expect(fs.readFileSync(fake.log, 'utf8')).toBe('restart app.service\nstart nginx.service\n');
    // after the vendor's steps, before the finish (its record lists it last among the steps)
    expect(fs.readFileSync(path.join(root, 'var/lib/mpimg/acme-wiki/first-boot.last'), 'utf8')).toBe(
      '10-password 0\n20-ip 0\nservices 0\n',
    );
  });

  it('a unit that does not start is a first-boot failure, shown at login', () => {
    const b = bundle({ services: ['fail-app.service'] });
    const root = installedRoot(b.cjs);
    const fake = fakeSystemctl();
    const r = runInSandbox(root, FIRST_BOOT, {
      env: { ...NO_METADATA, PATH: `${fake.bin}:/usr/sbin:/usr/bin:/sbin:/bin` },
    });
    expect(r.stdout).toContain(`FAILED ${PER_INSTANCE}/yy-acme-wiki-services`);
    expect(fs.readFileSync(path.join(root, 'var/lib/mpimg/acme-wiki/first-boot.failed'), 'utf8')).toBe('services 1\n');
    expect(fs.readFileSync(path.join(root, 'var/log/mpimg/acme-wiki/services.log'), 'utf8')).toContain(
      'fail-app.service did not restart',
    );
    const motd = runInSandbox(root, '/etc/update-motd.d/99-acme-wiki', { env: NO_METADATA });
    expect(motd.stdout).toContain('WARNING: first-boot steps failed; see /var/log/mpimg/acme-wiki:\n  services 1');
  });
});

describe('the credentials file', () => {
  it('is where $.credentials.file says, 0600, and `. file` reads every value back exactly', () => {
    const b = bundle({ credentials: { file: '/root/.digitalocean_passwords' } });
    const root = installedRoot(b.cjs);
    const values = ["it's", 'two words', 'dollar $HOME and `cmd` $(id)', 'back\\slash & <>"', ''];
    const script = [
      '. /opt/acme/acme-wiki/lib.sh',
      ...values.map(
        (v, i) => `mpimg_save_credential K${i} ${JSON.stringify(v).replace(/\$/g, '\\$').replace(/`/g, '\\`')}`,
      ),
      'mpimg_save_credential K0 "$(printf "%s" "it\'s")"',
      '. /root/.digitalocean_passwords',
      ...values.map((_, i) => `printf '%s|' "$K${i}"`),
    ].join('\n');
    const r = runInSandbox(root, script);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${values.join('|')}|`);
    const file = path.join(root, 'root/.digitalocean_passwords');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8').match(/^K0=/gm)).toHaveLength(1);
    expect(fs.existsSync(path.join(root, 'root/.acme-wiki-credentials'))).toBe(false);
  });
});

describe('variables and the MOTD', () => {
  it('reach the helper library and the MOTD ({{NAME}}, {{credentials}}); --var and MPIMG_VAR_ override the default', () => {
    const manifest: Partial<Manifest> = {
      variables: { APP_VERSION: '2.4.1', CHANNEL: { default: 'stable', description: 'release channel' } },
      credentials: { file: '/root/.digitalocean_passwords' },
    };
    const edit = (dir: string) =>
      fs.writeFileSync(
        path.join(dir, 'motd.txt'),
        'App {{APP_VERSION}} ({{CHANNEL}}) at {{ip}}\nPasswords: {{credentials}}\n',
      );
    const b = bundle(manifest, edit, { APP_VERSION: '2.5.0' });
    const root = installedRoot(b.cjs);
    const lib = runInSandbox(root, '. /opt/acme/acme-wiki/lib.sh && printf "%s %s" "$APP_VERSION" "$CHANNEL"');
    expect(lib.stdout).toBe('2.5.0 stable');
    const motd = runInSandbox(root, '/etc/update-motd.d/99-acme-wiki', { env: NO_METADATA });
    expect(motd.stdout).toMatch(/^App 2\.5\.0 \(stable\) at \S+\nPasswords: \/root\/\.digitalocean_passwords\n$/);
    // the environment overrides the default, --var the environment
    const dir = makeProject({ manifest });
    edit(dir);
    const m = readManifest(dir);
    const env = { MPIMG_VAR_CHANNEL: 'beta' };
    expect(loadProject(dir, { overrides: variableOverrides(m, [], env) }).variables).toEqual({
      APP_VERSION: '2.4.1',
      CHANNEL: 'beta',
    });
    expect(loadProject(dir, { overrides: variableOverrides(m, ['CHANNEL=rc'], env) }).variables.CHANNEL).toBe('rc');
    expect(() => variableOverrides(m, ['NOPE=x'])).toThrow(/--var NOPE: mpimg.json has no variable "NOPE"/);
    expect(() => loadProject(dir, { overrides: { NOPE: 'x' } })).toThrow(
      /variable "NOPE": mpimg.json has no such variable/,
    );
  });

  it('an unknown placeholder is an error naming file and line', () => {
    const dir = makeProject();
    fs.writeFileSync(path.join(dir, 'motd.txt'), 'Hello\nVersion {{APP_VERSON}}\n');
    expect(() => loadProject(dir)).toThrow(/motd\.txt:2: unknown placeholder \{\{APP_VERSON\}\}/);
  });

  it('a second text replaces the first once the first-login setup has finished', () => {
    const b = bundle({ motd: { file: 'motd.txt', afterFirstLogin: 'motd-ready.txt' } }, (dir) => {
      fs.writeFileSync(path.join(dir, 'motd.txt'), 'Log in as root to finish the setup of {{name}}.\n');
      fs.writeFileSync(path.join(dir, 'motd-ready.txt'), '{{name}} is ready at http://{{ip}}/\n');
    });
    const root = installedRoot(b.cjs);
    expect(runInSandbox(root, '/etc/update-motd.d/99-acme-wiki', { env: NO_METADATA }).stdout).toBe(
      'Log in as root to finish the setup of Acme Wiki.\n',
    );
    const login = runInSandbox(root, "printf 'Domain: x\\n' | /opt/acme/acme-wiki/first-login-run", {
      env: NO_METADATA,
    });
    expect(login.stdout).toContain('setup is complete');
    expect(runInSandbox(root, '/etc/update-motd.d/99-acme-wiki', { env: NO_METADATA }).stdout).toMatch(
      /^Acme Wiki is ready at http:\/\/\S+\/\n$/,
    );
  });
});

describe('the RHEL family', () => {
  it('gets the MOTD through profile.d (it runs no update-motd.d); one bundle, both families, both executors', () => {
    const b = bundle({ distributions: ['debian-12-x64', 'rockylinux-9-x64'] });
    const rocky = installedRoot(b.cjs, ROCKY);
    expect(fs.existsSync(path.join(rocky, 'etc/update-motd.d/99-acme-wiki'))).toBe(false);
    expect(fs.statSync(path.join(rocky, 'opt/acme/acme-wiki/motd')).mode & 0o777).toBe(0o755);
    const snippet = path.join(rocky, 'etc/profile.d/zz-acme-wiki-motd.sh');
    expect(spawnSync('sh', ['-n', snippet]).status).toBe(0);
    // an interactive login shell shows it (with the failures of first boot), a script does not
    const shown = runInSandbox(rocky, `sh -ic '. ${snippet}; . ${snippet}' 2>/dev/null`, { env: NO_METADATA });
    expect(shown.stdout.match(/Welcome to Acme Wiki 1\.2\.3!/g)).toHaveLength(1);
    expect(runInSandbox(rocky, `sh -c '. ${snippet}'`, { env: NO_METADATA }).stdout).toBe('');
    const debian = installedRoot(b.cjs, DEBIAN);
    expect(fs.existsSync(path.join(debian, 'etc/profile.d/zz-acme-wiki-motd.sh'))).toBe(false);
    expect(fs.existsSync(path.join(debian, 'etc/update-motd.d/99-acme-wiki'))).toBe(true);
    for (const root of [rocky, debian])
      expect(spawnSync(process.execPath, [b.cjs, 'status', '--root', root]).status).toBe(0);
    // the sh twin does the same for each family
    for (const osr of [ROCKY, DEBIAN]) {
      const a = installedRoot(b.cjs, osr);
      const c = stagedRoot();
      fs.mkdirSync(path.join(c, 'etc'), { recursive: true });
      fs.writeFileSync(path.join(c, 'etc/os-release'), osr);
      expect(spawnSync('sh', [b.sh, 'install', '--root', c]).status).toBe(0);
      expect(treeDigest(c)).toEqual(treeDigest(a));
      expect(spawnSync('sh', [b.sh, 'status', '--root', c]).status).toBe(0);
    }
    expect(spawnSync(process.execPath, [b.cjs, 'plan'], { encoding: 'utf8' }).stdout).toContain(
      '/etc/profile.d/zz-acme-wiki-motd.sh (',
    );
  });
});

describe('the login hold', () => {
  it('says what $.loginHold.message says', () => {
    const b = bundle({ loginHold: { message: 'Acme is setting up your "wiki"; try again in 2 minutes & thanks.' } });
    const root = installedRoot(b.cjs);
    expect(runInSandbox(root, '/opt/acme/acme-wiki/login-hold wait').stdout).toBe(
      'Acme is setting up your "wiki"; try again in 2 minutes & thanks.\n',
    );
  });
});

describe('a managed database handed over by DigitalOcean', () => {
  const lib = () => path.join(installedRoot(bundle({}).cjs), 'opt/acme/acme-wiki/lib.sh');
  const run = (libFile: string, env: NodeJS.ProcessEnv) =>
    spawnSync(
      'sh',
      [
        '-c',
        `. '${libFile}'; if mpimg_dbaas; then printf '%s|%s|%s|%s|%s|%s' "$DB_PROTOCOL" "$DB_HOST" "$DB_PORT" "$DB_USER" "$DB_PASSWORD" "$DB_NAME"; else echo none; fi`,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } },
    );

  it('is read from its hand-over file, or from DATABASE_URL; none is "none"', () => {
    const file = path.join(tempDir('mpimg-dbaas-'), 'creds');
    fs.writeFileSync(
      file,
      'db_protocol="mysql"\ndb_username="doadmin"\ndb_password="p@ss:w0rd"\ndb_host="db-mysql-nyc3-1.ondigitalocean.com"\ndb_port="25060"\ndb_database="defaultdb"\n',
    );
    const l = lib();
    expect(run(l, { MPIMG_DBAAS_FILE: file }).stdout).toBe(
      'mysql|db-mysql-nyc3-1.ondigitalocean.com|25060|doadmin|p@ss:w0rd|defaultdb',
    );
    expect(
      run(l, {
        MPIMG_DBAAS_FILE: '/nonexistent',
        DATABASE_URL: 'postgresql://app:s3cret@db.example.com:25061/appdb?sslmode=require',
      }).stdout,
    ).toBe('postgresql|db.example.com|25061|app|s3cret|appdb');
    expect(run(l, { MPIMG_DBAAS_FILE: path.join(os.tmpdir(), 'nonexistent-dbaas') }).stdout).toBe('none\n');
  });
});

describe('the firewall in the image check', () => {
  const usePackageCheck = (dir: string) => fs.rmSync(path.join(dir, 'scripts/99-img-check.sh'));
  function firewallOf(run: { stdout: string }) {
    const report = JSON.parse(run.stdout) as { checks: Array<{ id: string; status: string; evidence: string[] }> };
    return report.checks.find((c) => c.id === 'firewall')!;
  }

  it("`check` of the bundle and of its sh twin compares the image with mpimg.json's $.firewall", () => {
    const b = bundle({ firewall: { limit: ['22/tcp'], allow: ['80/tcp', '53'] } }, usePackageCheck);
    const root = installedRoot(b.cjs);
    for (const argv of [
      [process.execPath, b.cjs],
      ['sh', b.sh],
    ]) {
      const r = spawnSync(argv[0], [...argv.slice(1), 'check', '--root', root, '--json'], { encoding: 'utf8' });
      const fw = firewallOf(r);
      // The staged root has no firewall at all: declared, so a failure (not the usual warning).
      expect(fw.status, argv.join(' ')).toBe('fail');
      expect(fw.evidence).toContain('mpimg.json: limit:22/tcp allow:80/tcp allow:53');
      expect(r.status).toBe(1);
    }
    const plain = bundle({}, usePackageCheck);
    const r = spawnSync(process.execPath, [plain.cjs, 'check', '--root', root, '--json'], { encoding: 'utf8' });
    expect(firewallOf(r).status).toBe('warn');
  });

  it("a vendor's own check is given --firewall only when it has the option; their arguments come last", () => {
    const withFlag = (dir: string) =>
      fs.writeFileSync(
        path.join(dir, 'scripts/99-img-check.sh'),
        '#!/bin/bash\n# handles: --firewall) ...\nprintf "check args:"; printf " [%s]" "$@"; echo\n',
        { mode: 0o755 },
      );
    const knows = bundle({ firewall: { limit: ['22/tcp'] } }, withFlag);
    // The project fixture's check echoes its arguments and has no --firewall option (as 0.1.0's copy).
    const old = bundle({ firewall: { limit: ['22/tcp'] } });
    for (const [b, expected] of [
      [knows, 'check args: [--firewall] [limit:22/tcp] [--json]'],
      [old, 'check args: --json'],
    ] as const) {
      for (const argv of [
        [process.execPath, b.cjs],
        ['sh', b.sh],
      ]) {
        const r = spawnSync(argv[0], [...argv.slice(1), 'check', '--json'], { encoding: 'utf8' });
        expect(r.stdout.trim(), argv.join(' ')).toBe(expected);
      }
    }
  });
});
