import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuiltImage } from './harness/build.js';
import { baseOf, e2eContext } from './harness/context.js';
import type { Droplet } from './harness/droplet.js';
import {
  buildOn,
  credentialValues,
  EXAMPLES,
  exampleProject,
  expectedUfwRules,
  logsHolding,
  parseValues,
  REPOSITORY_NAME,
  repositoryProject,
  viaNat,
  SystemdDroplet,
  ufwRules,
  type ExampleName,
  type ExampleProject,
} from './harness/examples.js';
import { tail } from './harness/exec.js';
import { makeAptRepo, type AptRepo } from '../helpers/apt-repo.js';
import type { Interactive } from './harness/interactive.js';
import { managedPostgres, MANAGED_PG_PORT, MANAGED_PG_SOCKETS, MANAGED_PG_UNIT } from './harness/managed-postgres.js';
import { mountsUnder } from './harness/mounts.js';
import { mirror, pointSourcesAt, resolveMirror, tarballPath } from './harness/rootfs.js';
import { makeKeyPair, sshLogin, type KeyPair } from './harness/ssh.js';
import { buildOrder } from '../../tasks/steps/index.js';
import { imageCheckArgs } from '../../runtime/script-args.js';

/**
 * The example image projects of examples/, each as a vendor uses it: validated and bundled from its
 * folder, built over SSH on a bookworm build droplet with the project's `build` task (`make build`),
 * then a droplet made from the image boots with systemd as PID 1 and real cloud-init, and is
 * checked from inside: the app answers, runs as its user, the folders, firewall and credentials
 * are what mpimg.json says.
 */

const SUITE = 'bookworm';
const PROMPT = /root@[\w.-]+:~# $/m;
/** Every step of a build (tasks/steps/), in order. */
const BUILD_STEPS = buildOrder();

let work: string;
let keys: KeyPair;
let seq = 0;
const newId = (what: string) => `i-ex-${what}-${Date.now().toString(36)}-${++seq}`;

beforeAll(async () => {
  work = mkdtempSync(join(e2eContext().runRoot, 'examples-'));
  keys = await makeKeyPair(work);
});

afterAll(() => {
  if (work) expect(mountsUnder(work)).toEqual([]);
});

/** One example: its project copy, its image and one droplet booted from it with systemd. */
function exampleImage(name: ExampleName, opts: { vars?: Record<string, string>; address: string }) {
  const s: { project?: ExampleProject; built?: BuiltImage; droplet?: SystemdDroplet } = {};
  beforeAll(async () => {
    const ctx = e2eContext();
    s.project = await exampleProject({ name, repoRoot: ctx.repoRoot, dir: join(work, name), vars: opts.vars });
    s.built = await buildImage({
      work,
      base: { name: SUITE, lowers: [baseOf(SUITE)] },
      project: s.project,
      keys,
      name: `ex-${name}`,
    });
    process.stderr.write(`[e2e] examples/${name}: \`mpimg run build\` took ${(s.built.ms / 1000).toFixed(1)} s\n`);
    const t0 = Date.now();
    s.droplet = await SystemdDroplet.start({
      work,
      image: s.built.image,
      name: `ex-${name}`,
      slug: s.project.slug,
      instanceId: newId(name),
      keys,
      address: opts.address,
    });
    process.stderr.write(
      `[e2e] examples/${name}: first boot with systemd took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  });
  afterAll(async () => {
    if (s.droplet) expect(await s.droplet.close()).toBe(0);
    await s.built?.image.release();
  });
  return s as Required<typeof s>;
}

/** The layers of the image that hold `p` as a regular file (its mode), none when the image has no such file. */
function inImage(built: BuiltImage, p: string): number[] {
  return built.image.lowers.flatMap((l) => {
    try {
      const st = lstatSync(join(l, p));
      return st.isFile() ? [st.mode & 0o7777] : [];
    } catch {
      return [];
    }
  });
}

/**
 * A template that holds a secret is not in the image at its path; only its unfilled copy, root's
 * alone, in mpimg's folder; the unit that reads it has the drop-in that holds it back until first boot.
 */
function expectHeldBack(built: BuiltImage, project: ExampleProject, template: string, unit: string): void {
  expect(inImage(built, template)).toEqual([]);
  const home = `/opt/acme/${project.slug}`;
  expect(inImage(built, `${home}/templates${template}`)).toContain(0o600);
  const dropIn = `/etc/systemd/system/${unit}.d/zz-${project.slug}-after-first-boot.conf`;
  expect(inImage(built, dropIn)).toContain(0o644);
  const text = built.image.lowers.map((l) => join(l, dropIn)).find((f) => existsSync(f));
  expect(readFileSync(text!, 'utf8')).toContain(
    `ConditionPathExists=/var/lib/mpimg/${project.slug}/first-boot-ready\n`,
  );
}

/** The build ran every standard step and its image check found no failures. */
function expectCleanBuild(built: BuiltImage, project: ExampleProject): void {
  const out = built.output;
  for (const t of BUILD_STEPS) expect(out).toContain(`[${t}] > ${t}:`);
  expect(out).toMatch(/\[check\] Summary: \d+ passed, \d+ warnings, 0 failed/);
  expect(out).not.toMatch(/^\[check\] \[FAIL\]/m);
  expect(project.validate).toMatch(/mpimg\.json: ok/);
  expect(out).not.toContain(readFileSync(keys.privateKey, 'utf8').split('\n')[1]);
}

/** The firewall is up (ufw, started by systemd at boot) with exactly the rules of mpimg.json. */
async function expectFirewall(d: SystemdDroplet, project: ExampleProject): Promise<void> {
  const st = await d.sh('systemctl is-active ufw.service; ufw status');
  expect(st.split('\n')[0]).toBe('active');
  expect(ufwRules(st)).toEqual(expectedUfwRules(project.manifest.firewall!));
}

/** The credentials file is root's alone and none of its values is in any log of the droplet. */
async function expectSecretCredentials(
  d: SystemdDroplet,
  project: ExampleProject,
  keysOf: string[],
): Promise<Record<string, string>> {
  const file = project.manifest.credentials?.file ?? `/root/.${project.slug}-credentials`;
  expect((await d.sh(`stat -c '%a %U %G' ${file}`)).trim()).toBe('600 root root');
  const values = parseValues(await d.sh(credentialValues(file, keysOf)));
  for (const k of keysOf) {
    expect(values[k], k).toMatch(/^[A-Za-z0-9]{24,}$/);
    expect((await d.sh(logsHolding(values[k]))).trim(), `${k} found in these logs`).toBe('');
  }
  return values;
}

/**
 * A "managed database" for a droplet made from the LAMP image, as DigitalOcean attaches one: a second
 * MariaDB server (the image's own binaries) on 127.0.0.1:3307 that takes TLS connections only, started
 * by systemd before cloud-init's final stage, and DigitalOcean's hand-over file naming it.
 */
const MANAGED_SOCK = '/run/mpimg-e2e-managed-db/mariadbd.sock';
const MANAGED_UNIT = 'mpimg-e2e-managed-db.service';
function managedDatabase(d: Droplet, password: string): void {
  const dir = '/var/lib/mpimg-e2e-managed-db';
  // Its own scratch folder (--tmpdir), never the shared /tmp: the image's own MariaDB, starting at the
  // same time, deletes every "#sql*" file in /tmp at its start, the bootstrap's temporary tables too.
  const tmp = `${dir}-tmp`;
  d.write(
    'etc/mpimg-e2e/managed-db/init.sh',
    `set -eu
mkdir -p ${dir}-tls
install -d -m 0700 -o mysql -g mysql ${tmp}
if [ ! -f ${dir}-tls/key.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=managed-db.e2e -keyout ${dir}-tls/key.pem -out ${dir}-tls/cert.pem 2>/dev/null
  chown mysql ${dir}-tls/key.pem
fi
if [ ! -d ${dir}/mysql ]; then
  mariadb-install-db --no-defaults --user=mysql --datadir=${dir} --tmpdir=${tmp} --auth-root-authentication-method=socket --skip-test-db > /dev/null
fi
`,
  );
  d.write(
    'etc/mpimg-e2e/managed-db/users.sql',
    `CREATE DATABASE IF NOT EXISTS defaultdb;
CREATE OR REPLACE USER 'doadmin'@'%' IDENTIFIED BY '${password}' REQUIRE SSL;
GRANT ALL PRIVILEGES ON defaultdb.* TO 'doadmin'@'%';
`,
    0o600,
  );
  d.write(
    `etc/systemd/system/${MANAGED_UNIT}`,
    `[Unit]
Description=e2e test bed: a managed database (MariaDB on 127.0.0.1:3307, TLS only)
# After the boot's own file system setup; before the first-boot steps that use it.
After=network.target local-fs.target systemd-tmpfiles-setup.service
Before=cloud-final.service

[Service]
Type=notify
User=mysql
RuntimeDirectory=mpimg-e2e-managed-db
# "+": as root (the data folder, and root's socket login for the users)
ExecStartPre=+/bin/sh /etc/mpimg-e2e/managed-db/init.sh
ExecStart=/usr/sbin/mariadbd --no-defaults --datadir=${dir} --tmpdir=${tmp} --port=3307 --bind-address=127.0.0.1 --skip-name-resolve --socket=${MANAGED_SOCK} --pid-file=/run/mpimg-e2e-managed-db/mariadbd.pid --ssl-cert=${dir}-tls/cert.pem --ssl-key=${dir}-tls/key.pem
ExecStartPost=+/bin/sh -c 'mariadb --no-defaults -S ${MANAGED_SOCK} -u root < /etc/mpimg-e2e/managed-db/users.sql'

[Install]
WantedBy=multi-user.target
`,
  );
  const wants = d.path('etc/systemd/system/multi-user.target.wants');
  mkdirSync(wants, { recursive: true });
  symlinkSync(`/etc/systemd/system/${MANAGED_UNIT}`, join(wants, MANAGED_UNIT));
  d.write(
    'root/.digitalocean_dbaas_credentials',
    `db_protocol="mysql"\ndb_username="doadmin"\ndb_password="${password}"\ndb_host="127.0.0.1"\ndb_port="3307"\ndb_database="defaultdb"\n`,
    0o600,
  );
}

/** User of the main process of a systemd unit. */
const unitUser = (unit: string) => `ps -o user= -p "$(systemctl show -p MainPID --value ${unit})"`;

describe(`examples on ${SUITE}: built over SSH with \`mpimg run build\`, booted with systemd as PID 1`, () => {
  describe("examples/webapp: Node.js app as a system user's service behind nginx", () => {
    const APP_VERSION = '2.0.0-e2e';
    const s = exampleImage('webapp', { vars: { APP_VERSION }, address: '192.0.2.21/24' });

    it('validates and bundles from its folder (`--var APP_VERSION=...`); the build ran every step and the image check found 0 failures', () => {
      expectCleanBuild(s.built, s.project);
      expect(s.project.log).toContain('dist/acme-webapp.cjs');
    });

    it('the image holds no webapp.env (only its template, root-only), and webapp.service waits for first boot', () => {
      expectHeldBack(s.built, s.project, '/etc/webapp/webapp.env', 'webapp.service');
    });

    it('answers HTTP 200 on :80 through nginx, from the app on 127.0.0.1:3000 running as webapp', async () => {
      const out = await s.droplet.sh(`
        curl -sS -o /tmp/page -w 'page=%{http_code}\\n' http://127.0.0.1/
        curl -sS -w '\\nhealth=%{http_code}\\n' http://127.0.0.1/healthz
        curl -sS -o /dev/null -w 'direct=%{http_code}\\n' http://127.0.0.1:3000/healthz
        grep -o 'Hello from your Acme Web App droplet!' /tmp/page
        systemctl is-active webapp.service nginx.service
        echo "user=$(${unitUser('webapp.service')})"
        ss -Hltn 'sport = :3000' | awk '{ print "listen=" $4 }'
        readlink /etc/nginx/sites-enabled/webapp; ls /etc/nginx/sites-enabled
      `);
      expect(out).toContain('page=200');
      expect(out).toContain('health=200');
      expect(out).toContain('direct=200');
      expect(out).toContain('Hello from your Acme Web App droplet!');
      expect(out).toContain('active\nactive\n');
      expect(out).toContain('user=webapp');
      expect(out).toContain('listen=127.0.0.1:3000');
      expect(JSON.parse(/^\{.*\}$/m.exec(out)![0])).toEqual({ status: 'ok', version: APP_VERSION, user: 'webapp' });
      expect(out).toContain('../sites-available/webapp\nwebapp\n');
    });

    it('the user and the folders are those of mpimg.json; the app writes its data folder', async () => {
      const out = await s.droplet.sh(`
        getent passwd webapp | awk -F: '{ print "uid=" ($3 < 1000 ? "system" : $3) " home=" $6 " shell=" $7 }'
        stat -c '%a %U %G %n' /etc/webapp /var/lib/webapp /etc/webapp/settings.json /etc/webapp/webapp.env /var/lib/webapp/visits /opt/webapp/server.js
      `);
      expect(out).toContain('uid=system home=/var/lib/webapp shell=/usr/sbin/nologin');
      expect(out).toContain('750 root webapp /etc/webapp\n');
      expect(out).toContain('750 webapp webapp /var/lib/webapp\n');
      expect(out).toContain('644 root root /etc/webapp/settings.json\n');
      // a template of files/ (git keeps 0644): the mode of $.files.owners, others kept out
      expect(out).toContain('640 root webapp /etc/webapp/webapp.env\n');
      expect(out).toMatch(/\n?6[04]4 webapp webapp \/var\/lib\/webapp\/visits\n/);
      expect(out).toContain('644 root root /opt/webapp/server.js\n');
    });

    it('the firewall lets in only what mpimg.json says (22/tcp limited, 80 and 443)', async () => {
      await expectFirewall(s.droplet, s.project);
    });

    it('the MOTD shows the variable given to the bundle; the first boot logged no secret', async () => {
      const motd = await s.droplet.sh('/etc/update-motd.d/99-acme-webapp');
      expect(motd).toContain(`Welcome to Acme Web App 1.0.0 (app ${APP_VERSION})`);
      expect(motd).toContain('http://192.0.2.21/');
      const env = await s.droplet.sh('cat /etc/webapp/webapp.env');
      // the template filled in at first boot: the variable, the droplet's address, the secret
      expect(env).toContain(`APP_VERSION=${APP_VERSION}\nPUBLIC_URL=http://192.0.2.21/\n`);
      const secret = /^SESSION_SECRET=(\S+)$/m.exec(env)?.[1];
      expect(secret).toMatch(/^[A-Za-z0-9]{48}$/);
      expect((await s.droplet.sh(logsHolding(secret!))).trim()).toBe('');
    });
  });

  describe('examples/lamp: Apache, PHP and MariaDB; passwords at first boot; the domain at first login', () => {
    const s = exampleImage('lamp', { address: '192.0.2.22/24' });

    it('validates and bundles from its folder; the build ran every step and the image check found 0 failures', () => {
      expectCleanBuild(s.built, s.project);
    });

    it('first boot: the passwords are in /root/.digitalocean_passwords (0600, in no log) and work; the PHP page reached the database', async () => {
      const v = await expectSecretCredentials(s.droplet, s.project, ['MARIADB_ROOT_PASSWORD', 'APP_DB_PASSWORD']);
      const out = await s.droplet.sh(`
        curl -sS -o /tmp/page -w 'page=%{http_code}\\n' http://127.0.0.1/
        curl -sS -o /dev/null -w 'again=%{http_code}\\n' http://127.0.0.1/
        cat /tmp/page
        stat -c '%a %U %G %n' /etc/acme-lamp /etc/acme-lamp/database.php
        systemctl is-active apache2.service mariadb.service
        # Not as root: root's socket login would need no password.
        as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
        MYSQL_PWD='${v.MARIADB_ROOT_PASSWORD}' as_nobody mariadb -u root -N -e 'SELECT CONCAT("root=", CURRENT_USER())'
        MYSQL_PWD='${v.APP_DB_PASSWORD}' as_nobody mariadb -u app -N app -e 'SELECT CONCAT("visits=", COUNT(*)) FROM visits'
        MYSQL_PWD=wrong as_nobody mariadb -u app -N app -e 'SELECT 1' 2>&1 | sed 's/^/wrong: /' || true
        mariadb -N -e "SELECT CONCAT('anonymous=', COUNT(*)) FROM mysql.global_priv WHERE User = ''"
      `);
      expect(out).toContain('page=200');
      expect(out).toContain('again=200');
      expect(out).toMatch(/Database OK: local database <code>app<\/code> on localhost, server 10\.11\.\d+-MariaDB/);
      expect(out).toContain('750 root www-data /etc/acme-lamp\n');
      expect(out).toContain('640 root www-data /etc/acme-lamp/database.php\n');
      expect(out).toContain('active\nactive\n');
      expect(out).toContain('root=root@localhost');
      expect(out).toMatch(/visits=[2-9]/);
      expect(out).toMatch(/wrong: ERROR 1045/);
      expect(out).toContain('anonymous=0');
      // the site's password is in its config, and nowhere in Apache's logs
      expect(await s.droplet.sh('cat /etc/acme-lamp/database.php')).toContain(`'password' => '${v.APP_DB_PASSWORD}'`);
    });

    it('the firewall lets in only what mpimg.json says (22/tcp limited, 80 and 443)', async () => {
      await expectFirewall(s.droplet, s.project);
    });

    it('first boot gives the droplet its own TLS key ($.regenerate: the image ships none)', async () => {
      const key = 'etc/ssl/private/ssl-cert-snakeoil.key';
      // the ssl-cert package made one at build time; the cleanup removed it, with its cert
      expect(existsSync(join(s.built.image.lowers[0], key))).toBe(false);
      expect(existsSync(join(s.built.image.lowers[0], 'etc/ssl/certs/ssl-cert-snakeoil.pem'))).toBe(false);
      const out = await s.droplet.sh(
        `stat -c '%a %U %G' /${key}; openssl x509 -noout -checkend 86400 -in /etc/ssl/certs/ssl-cert-snakeoil.pem`,
      );
      expect(out).toContain('640 root ssl-cert\n');
      expect(out).toContain('Certificate will not expire');
    });

    it(
      "with a managed database attached (DigitalOcean's hand-over file), the site uses it over TLS and the local MariaDB is stopped and disabled",
      async () => {
        const password = randomBytes(18).toString('base64url');
        const managed = await SystemdDroplet.start({
          work,
          image: s.built.image,
          name: 'ex-lamp-dbaas',
          slug: s.project.slug,
          instanceId: newId('lamp-dbaas'),
          keys,
          address: '192.0.2.24/24',
          prepare: (d) => managedDatabase(d, password),
          fixtures: [MANAGED_UNIT],
        });
        try {
          const out = await managed.sh(`
          curl -sS -o /tmp/page -w 'page=%{http_code}\\n' http://127.0.0.1/
          cat /tmp/page
          echo "local=$(systemctl is-active mariadb.service || true) $(systemctl is-enabled mariadb.service || true)"
          mariadb --no-defaults -S ${MANAGED_SOCK} -u root -N -e 'SELECT CONCAT("visits=", COUNT(*)) FROM defaultdb.visits'
          mariadb --no-defaults -S ${MANAGED_SOCK} -u root -N -e "SELECT CONCAT('tls=', ssl_type) FROM mysql.user WHERE User = 'doadmin'"
          grep -c "'ssl' => true" /etc/acme-lamp/database.php
          grep -c -F '${password}' /root/.digitalocean_passwords || true
        `);
          expect(out).toContain('page=200');
          expect(out).toContain('Database OK: managed database <code>defaultdb</code> on 127.0.0.1');
          expect(out).toContain('local=inactive disabled');
          expect(out).toMatch(/visits=[1-9]/);
          expect(out).toContain('tls=ANY');
          // the managed database's password is not copied into the credentials file
          expect(out).toMatch(/^0$/m);
          expect((await managed.sh(logsHolding(password))).trim()).toBe('');
        } finally {
          expect(await managed.close()).toBe(0);
        }
      },
      12 * 60_000,
    );

    it('first login asks for the domain (again after a bad one), writes it into the Apache site; then the MOTD changes', async () => {
      const t = await s.droplet.ssh();
      let login: Interactive = sshLogin(t, keys.privateKey, 'lamp first login');
      let seen = await login.expect('Domain name of your site');
      expect(seen).toContain('Welcome to Acme LAMP 1.0.0: Apache, PHP and MariaDB.');
      expect(seen).toContain(
        "Database passwords (MariaDB root, the site's user): /root/.digitalocean_passwords (root only).",
      );
      expect(seen).toContain('http://192.0.2.22/');
      login.send('not a domain\n');
      seen = await login.expect('Domain name of your site');
      expect(seen).toContain('"not a domain" is not a domain name');
      login.send('shop.example.com\n');
      seen = await login.expect(PROMPT);
      expect(seen).toContain('Syntax OK');
      expect(seen).toContain('The setup is complete.');
      login.send('exit 0\n');
      expect(await login.close()).toBe(0);

      const out = await s.droplet.sh(`
        grep -n 'ServerName' /etc/apache2/sites-available/000-default.conf
        ls /etc/apache2/sites-available
        curl -sS -o /dev/null -w 'named=%{http_code}\\n' -H 'Host: shop.example.com' http://127.0.0.1/
        apache2ctl -S 2>&1 | sed 's/^/S: /'
      `);
      expect(out).toMatch(/^\d+:\s+ServerName shop\.example\.com$/m);
      expect(out).not.toMatch(/#ServerName/);
      expect(out).not.toContain('before-first-login');
      expect(out).toContain('named=200');
      expect(out).toMatch(/^S: \*:80 +shop\.example\.com /m);

      login = sshLogin(t, keys.privateKey, 'lamp second login');
      seen = await login.expect(PROMPT);
      expect(seen).toContain('Your site is set up');
      expect(seen).not.toContain('A question about your domain follows');
      expect(seen).not.toContain('Domain name of your site');
      login.send('exit 0\n');
      expect(await login.close()).toBe(0);
    });
  });

  describe('examples/redis: Redis with its own user and folders, a password made at first boot', () => {
    const s = exampleImage('redis', { address: '192.0.2.23/24' });

    it('validates and bundles from its folder; the build ran every step and the image check found 0 failures', () => {
      expectCleanBuild(s.built, s.project);
    });

    it('the image holds no password.conf (only its template, root-only), and redis-server waits for first boot', () => {
      expectHeldBack(s.built, s.project, '/etc/acme-redis/password.conf', 'redis-server.service');
    });

    it('PING with the generated password answers PONG (the service was restarted after the password was set); without it NOAUTH', async () => {
      const v = await expectSecretCredentials(s.droplet, s.project, ['REDIS_PASSWORD']);
      expect(v.REDIS_PASSWORD).toMatch(/^[A-Za-z0-9]{40}$/);
      const out = await s.droplet.sh(`
        echo "auth=$(REDISCLI_AUTH='${v.REDIS_PASSWORD}' redis-cli -h 127.0.0.1 PING)"
        echo "noauth=$(redis-cli -h 127.0.0.1 PING 2>&1)"
        systemctl is-active redis-server.service
        echo "user=$(${unitUser('redis-server.service')})"
        ss -Hltn 'sport = :6379' | awk '{ print "listen=" $4 }'
      `);
      expect(out).toContain('auth=PONG');
      expect(out).toMatch(/noauth=NOAUTH/);
      expect(out).toContain('active\n');
      expect(out).toContain('user=redis');
      expect(out).toContain('listen=127.0.0.1:6379');
    });

    it('the user, the folders and the owner of redis.conf (files.owners) are those of mpimg.json; the password file is for the group redis only', async () => {
      const out = await s.droplet.sh(`
        getent passwd redis | awk -F: '{ print "uid=" ($3 < 1000 ? "system" : $3) " home=" $6 " shell=" $7 }'
        stat -c '%a %U %G %n' /var/lib/redis /var/log/redis /etc/acme-redis /etc/acme-redis/password.conf /etc/redis/redis.conf
      `);
      expect(out).toContain('uid=system home=/var/lib/redis shell=/usr/sbin/nologin');
      expect(out).toContain('750 redis redis /var/lib/redis\n');
      expect(out).toContain('2750 redis adm /var/log/redis\n');
      expect(out).toContain('750 root redis /etc/acme-redis\n');
      // a template of files/ (git keeps 0644): the mode of $.files.owners, others kept out
      expect(out).toContain('640 root redis /etc/acme-redis/password.conf\n');
      expect(out).toContain('644 redis redis /etc/redis/redis.conf\n');
    });

    it('the firewall lets in only what mpimg.json says (22/tcp limited, 6379/tcp)', async () => {
      await expectFirewall(s.droplet, s.project);
    });
  });
});

describe(`examples/lemp on ${SUITE}: nginx, PHP-FPM and MariaDB from mpimg.json alone (no build script)`, () => {
  const IP = '192.0.2.25';
  const s = exampleImage('lemp', { address: `${IP}/24` });

  it("the build removed what build.remove lists and ran the services' checks (nginx -t); the image check found 0 failures", () => {
    expectCleanBuild(s.built, s.project);
    expect(s.built.output).toMatch(/\/etc\/nginx\/sites-enabled\/default: removed \(a link; what it points to stays\)/);
    expect(s.built.output).toMatch(/\/var\/www\/html\/index\.nginx-debian\.html: removed \(a file\)/);
    expect(s.built.output).toContain('service nginx.service: check passed: nginx -t');
    expect(s.built.output).toContain('service php8.2-fpm.service: check passed: php-fpm8.2 -t');
    // the image ships the address template unfilled at its path (nginx -t read it); the one with the
    // password is not at its path, only in mpimg's root-only folder: each droplet's own at first boot
    const lower = s.built.image.lowers[0];
    expect(readFileSync(join(lower, 'etc/nginx/sites-available/acme-lemp'), 'utf8')).toContain('server_name "{{ip}}";');
    expect(inImage(s.built, '/etc/acme-lemp/database.php')).toEqual([]);
    expect(readFileSync(join(lower, 'opt/acme/acme-lemp/templates/etc/acme-lemp/database.php'), 'utf8')).toContain(
      "'{{secret.APP_DB_PASSWORD}}'",
    );
  });

  it("first boot: nginx's server_name is the droplet's own address, Debian's defaults are gone, nginx -t passes", async () => {
    const out = await s.droplet.sh(`
      grep -h 'server_name' /etc/nginx/sites-enabled/*
      nginx -T 2>/dev/null | grep -c '{{' || true
      ls /etc/nginx/sites-enabled /etc/nginx/sites-available /var/www/html
      nginx -t 2>&1 && echo nginx-t=ok
      stat -c '%a %U %G %n' /etc/nginx/sites-available/acme-lemp
    `);
    expect(out.match(/^\s*server_name .*$/gm)).toEqual([`  server_name "${IP}";`]);
    expect(out).toMatch(/^0$/m);
    expect(out).toContain('/etc/nginx/sites-enabled:\nacme-lemp\n');
    expect(out).toContain('/etc/nginx/sites-available:\nacme-lemp\n');
    expect(out).toContain('/var/www/html:\nindex.php\n');
    expect(out).toContain('syntax is ok');
    expect(out).toContain('nginx-t=ok');
    expect(out).toContain('644 root root /etc/nginx/sites-available/acme-lemp\n');
  });

  it("the PHP page answers through nginx (by the droplet's address and by 127.0.0.1) and reached the database with the password made at first boot (0600, in no log)", async () => {
    const v = await expectSecretCredentials(s.droplet, s.project, ['APP_DB_PASSWORD']);
    expect(v.APP_DB_PASSWORD).toMatch(/^[A-Za-z0-9]{32}$/);
    const out = await s.droplet.sh(`
      curl -sS -o /tmp/page -w 'page=%{http_code}\\n' -H 'Host: ${IP}' http://127.0.0.1/
      curl -sS -o /dev/null -w 'again=%{http_code}\\n' http://127.0.0.1/index.php
      cat /tmp/page
      systemctl is-active nginx.service php8.2-fpm.service mariadb.service
      stat -c '%a %U %G %n' /etc/acme-lemp /etc/acme-lemp/database.php
      as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
      as_nobody cat /etc/acme-lemp/database.php 2>&1 | sed 's/^/nobody: /' || true
      MYSQL_PWD='${v.APP_DB_PASSWORD}' as_nobody mariadb -u app -N app -e 'SELECT CONCAT("visits=", COUNT(*)) FROM visits'
      MYSQL_PWD=wrong as_nobody mariadb -u app -N app -e 'SELECT 1' 2>&1 | sed 's/^/wrong: /' || true
    `);
    expect(out).toContain('page=200');
    expect(out).toContain('again=200');
    expect(out).toContain('Hello from your Acme LEMP droplet!');
    expect(out).toMatch(/PHP 8\.2\.\d+ through nginx\. Database OK: <code>app<\/code>, server 10\.11\.\d+-MariaDB/);
    expect(out).toContain('active\nactive\nactive\n');
    expect(out).toContain('750 root www-data /etc/acme-lemp\n');
    expect(out).toContain('644 root root /etc/acme-lemp/database.php\n');
    expect(out).toMatch(/nobody: cat: \/etc\/acme-lemp\/database\.php: Permission denied/);
    expect(out).toMatch(/visits=[2-9]/);
    expect(out).toMatch(/wrong: ERROR 1045/);
    expect(await s.droplet.sh('cat /etc/acme-lemp/database.php')).toContain(`'password' => '${v.APP_DB_PASSWORD}'`);
  });

  it('the firewall lets in only what mpimg.json says (22/tcp limited, 80 and 443)', async () => {
    await expectFirewall(s.droplet, s.project);
  });

  it('fail2ban runs the jails of mpimg.json (sshd from the journal); automatic updates take the security archive only; the booted check agrees', async () => {
    expect(s.built.output).toContain(
      'fail2ban: jails nginx-http-auth sshd enabled in /etc/fail2ban/jail.d/acme-lemp.local (written), tested with fail2ban-client -t; fail2ban.service enabled at boot',
    );
    expect(s.built.output).toContain('autoupdates: unattended-upgrades: security updates daily, reboot never');
    const out = await s.droplet.sh(`
      systemctl is-active fail2ban.service apt-daily-upgrade.timer
      fail2ban-client status
      fail2ban-client status sshd
      fail2ban-client status nginx-http-auth
      apt-config dump | grep -E '^Unattended-Upgrade::(Origins-Pattern|Allowed-Origins)::'
    `);
    expect(out).toContain('active\nactive\n');
    expect(out).toMatch(/Number of jail:\s+2\n/);
    expect(out).toMatch(/Jail list:\s+nginx-http-auth, sshd\n/);
    expect(out).toMatch(/Journal matches:\s+_SYSTEMD_UNIT=sshd\.service \+ _COMM=sshd/);
    expect(out).toMatch(/File list:\s+\/var\/log\/nginx\/error\.log/);
    expect(out.match(/^Unattended-Upgrade::.*$/gm)).toEqual([
      'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";',
    ]);
    // the image check as `mpimg verify` runs it on a droplet made from the image
    const check = readFileSync(join(e2eContext().repoRoot, 'templates/droplet/99-img-check.sh'), 'utf8');
    const args = imageCheckArgs(s.project.manifest, check);
    const words = [...args, '--booted', '--json'].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const report = JSON.parse(
      await s.droplet.sh(
        `cat > /tmp/mpimg-check.sh <<'MPIMG_CHECK_EOF'\n${check}MPIMG_CHECK_EOF\nbash /tmp/mpimg-check.sh ${words} || true; rm -f /tmp/mpimg-check.sh`,
      ),
    ) as { checks: Array<{ id: string; status: string; message: string }> };
    const ours = report.checks.filter((c) => c.id === 'fail2ban' || c.id === 'auto-updates');
    expect(ours.map((c) => `${c.id} ${c.status}: ${c.message}`)).toEqual([
      'fail2ban pass: fail2ban enabled at boot with the jails of mpimg.json (sshd nginx-http-auth), each answering fail2ban-client status',
      'auto-updates pass: unattended-upgrades installs security updates only, daily, reboot: never',
    ]);
  });
});

describe(`examples/django on ${SUITE}: Django, gunicorn, PostgreSQL and nginx; settings filled in at first boot`, () => {
  const IP = '192.0.2.26';
  const s = exampleImage('django', { address: `${IP}/24` });
  const SECRETS = ['DJANGO_SECRET_KEY', 'DJANGO_DB_PASSWORD', 'DJANGO_ADMIN_PASSWORD'];

  it("the build removed nginx's default site, ran nginx -t; the image holds the settings unfilled; 0 failures", () => {
    expectCleanBuild(s.built, s.project);
    expect(s.built.output).toMatch(/\/etc\/nginx\/sites-enabled\/default: removed \(a link; what it points to stays\)/);
    expect(s.built.output).toContain('service nginx.service: check passed: nginx -t');
    // not at its path: only in mpimg's root-only folder; the app waits for first boot (afterFirstBoot)
    expectHeldBack(s.built, s.project, '/etc/acme-django/settings.py', 'acme-django.service');
    const settings = readFileSync(
      join(s.built.image.lowers[0], 'opt/acme/acme-django/templates/etc/acme-django/settings.py'),
      'utf8',
    );
    expect(settings).toContain("SECRET_KEY = '{{secret.DJANGO_SECRET_KEY}}'");
    expect(settings).toContain("'PASSWORD': '{{secret.DJANGO_DB_PASSWORD}}'");
  });

  it("first boot filled in the settings from the secrets (0600 credentials, in no log) and the droplet's address; only root and the app read them", async () => {
    const file = s.project.manifest.credentials!.file!;
    expect((await s.droplet.sh(`stat -c '%a %U %G' ${file}`)).trim()).toBe('600 root root');
    const v = parseValues(await s.droplet.sh(credentialValues(file, SECRETS)));
    expect(v.DJANGO_SECRET_KEY).toMatch(/^[A-Za-z0-9_-]{50}$/);
    expect(v.DJANGO_DB_PASSWORD).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(v.DJANGO_ADMIN_PASSWORD).toMatch(/^[A-Za-z0-9]{24}$/);
    for (const k of SECRETS)
      expect((await s.droplet.sh(logsHolding(v[k]))).trim(), `${k} found in these logs`).toBe('');
    const settings = await s.droplet.sh('cat /etc/acme-django/settings.py');
    expect(settings).toContain(`SECRET_KEY = '${v.DJANGO_SECRET_KEY}'\n`);
    expect(settings).toContain(`ALLOWED_HOSTS = ['${IP}', 'localhost', '127.0.0.1']\n`);
    expect(settings).toContain(`'PASSWORD': '${v.DJANGO_DB_PASSWORD}',\n`);
    expect(settings).not.toContain('{{');
    const out = await s.droplet.sh(`
      stat -c '%a %U %G %n' /etc/acme-django /etc/acme-django/settings.py
      setpriv --reuid=nobody --regid=nogroup --clear-groups cat /etc/acme-django/settings.py 2>&1 | sed 's/^/nobody: /' || true
      test ! -e /etc/acme-django/managed-database.json && echo no-managed-database
    `);
    expect(out).toContain('750 root django /etc/acme-django\n');
    expect(out).toContain('644 root root /etc/acme-django/settings.py\n');
    expect(out).toMatch(/nobody: cat: \/etc\/acme-django\/settings\.py: Permission denied/);
    expect(out).toContain('no-managed-database');
  });

  it("the app answers through nginx (server_name and ALLOWED_HOSTS: the droplet's address) from the local PostgreSQL, run by gunicorn as django", async () => {
    const v = parseValues(await s.droplet.sh(credentialValues(s.project.manifest.credentials!.file!, SECRETS)));
    const out = await s.droplet.sh(`
      curl -sS -o /tmp/page -w 'page=%{http_code}\\n' -H 'Host: ${IP}' http://127.0.0.1/
      curl -sS -o /dev/null -w 'foreign=%{http_code}\\n' -H 'Host: evil.example' http://127.0.0.1/
      curl -sS -o /dev/null -w 'static=%{http_code}\\n' http://127.0.0.1/static/admin/css/base.css
      cat /tmp/page
      grep -h 'server_name' /etc/nginx/sites-enabled/*
      ls /etc/nginx/sites-enabled
      systemctl is-active acme-django.service nginx.service postgresql.service
      echo "user=$(${unitUser('acme-django.service')})"
      ss -Hltn 'sport = :8000' | awk '{ print "listen=" $4 }'
      PGPASSWORD='${v.DJANGO_DB_PASSWORD}' setpriv --reuid=nobody --regid=nogroup --clear-groups psql -h 127.0.0.1 -U django -d acme_django -Atc "SELECT 'admins=' || count(*) FROM auth_user WHERE is_superuser"
      PGPASSWORD=wrong setpriv --reuid=nobody --regid=nogroup --clear-groups psql -h 127.0.0.1 -U django -d acme_django -Atc 'SELECT 1' 2>&1 | sed 's/^/wrong: /' || true
    `);
    expect(out).toContain('page=200');
    expect(out).toContain('foreign=400');
    expect(out).toContain('static=200');
    expect(out).toContain('Hello from your Acme Django droplet!');
    expect(out).toMatch(
      /Database OK: PostgreSQL 15\.\d+[^,]*, database <code>acme_django<\/code> on 127\.0\.0\.1, 1 admin user\(s\)/,
    );
    expect(out.match(/^\s*server_name .*$/gm)).toEqual([`  server_name "${IP}";`]);
    expect(out).toContain('\nacme-django\nactive\nactive\nactive\n');
    expect(out).toContain('user=django');
    expect(out).toContain('listen=127.0.0.1:8000');
    expect(out).toContain('admins=1');
    expect(out).toMatch(/wrong: .*password authentication failed for user "django"/);
  });

  it('the admin user logs in to /admin/ with the password of the credentials file, not with another', async () => {
    const v = parseValues(await s.droplet.sh(credentialValues(s.project.manifest.credentials!.file!, SECRETS)));
    const login = (password: string) => `
      rm -f /tmp/jar
      curl -sS -c /tmp/jar -b /tmp/jar -H 'Host: ${IP}' -o /tmp/login http://127.0.0.1/admin/login/
      tok=$(sed -n 's/.*name="csrfmiddlewaretoken" value="\\([^"]*\\)".*/\\1/p' /tmp/login | head -n 1)
      printf 'csrfmiddlewaretoken=%s&username=admin&password=%s&next=/admin/' "$tok" '${password}' |
        curl -sS -c /tmp/jar -b /tmp/jar -H 'Host: ${IP}' --data-binary @- -o /dev/null -w 'login=%{http_code} %{redirect_url}\\n' http://127.0.0.1/admin/login/
      curl -sS -b /tmp/jar -H 'Host: ${IP}' -o /tmp/admin -w 'admin=%{http_code}\\n' http://127.0.0.1/admin/
      grep -o 'Site administration' /tmp/admin || true
    `;
    const ok = await s.droplet.sh(login(v.DJANGO_ADMIN_PASSWORD));
    expect(ok).toMatch(/login=302 http:\/\/127\.0\.0\.1\/admin\/\n/);
    expect(ok).toContain('admin=200');
    expect(ok).toContain('Site administration');
    const wrong = await s.droplet.sh(login('not-the-password'));
    expect(wrong).toContain('login=200');
    expect(wrong).toMatch(/admin=302/);
  });

  it('the firewall lets in only what mpimg.json says (22/tcp limited, 80 and 443)', async () => {
    await expectFirewall(s.droplet, s.project);
  });

  it(
    'a second droplet of the same image with a managed PostgreSQL handed over: migrations and the admin go there (over TLS), the local PostgreSQL is stopped and disabled',
    async () => {
      const password = randomBytes(18).toString('base64url');
      const managed = await SystemdDroplet.start({
        work,
        image: s.built.image,
        name: 'ex-django-dbaas',
        slug: s.project.slug,
        instanceId: newId('django-dbaas'),
        keys,
        address: '192.0.2.27/24',
        prepare: (d) => managedPostgres(d, password),
        fixtures: [MANAGED_PG_UNIT],
      });
      try {
        const psql = `runuser -u postgres -- psql -h ${MANAGED_PG_SOCKETS} -p ${MANAGED_PG_PORT} -d defaultdb -At`;
        const out = await managed.sh(`
          curl -sS -o /tmp/page -w 'page=%{http_code}\\n' http://127.0.0.1/
          cat /tmp/page
          echo "local=$(systemctl is-active postgresql.service || true) $(systemctl is-enabled postgresql.service || true)"
          echo "cluster=$(systemctl is-active 'postgresql@*-main.service' || true)"
          ss -Hltn 'sport = :5432' | awk '{ print "listen5432=" $4 }'
          ${psql} -c "SELECT 'admins=' || count(*) FROM auth_user WHERE is_superuser AND username = 'admin'"
          # the managed database takes TLS only: the app's connections were TLS
          PGPASSWORD='${password}' PGSSLMODE=disable psql -h 127.0.0.1 -p ${MANAGED_PG_PORT} -U doadmin -d defaultdb -Atc 'SELECT 1' 2>&1 | sed 's/^/plain: /' || true
          PGPASSWORD='${password}' PGSSLMODE=require psql -h 127.0.0.1 -p ${MANAGED_PG_PORT} -U doadmin -d defaultdb -Atc "SELECT 'tls=' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
          stat -c '%a %U %G %n' /etc/acme-django/managed-database.json
          systemctl is-active acme-django.service
        `);
        expect(out).toContain('page=200');
        expect(out).toMatch(
          /Database OK: PostgreSQL 15\.\d+[^,]*, database <code>defaultdb<\/code> on 127\.0\.0\.1, 1 admin user\(s\)/,
        );
        expect(out).toContain('local=inactive disabled');
        expect(out).toMatch(/cluster=(inactive|unknown)?\n/);
        expect(out).not.toContain('listen5432=');
        expect(out).toContain('admins=1');
        expect(out).toMatch(/plain: .*no encryption/);
        expect(out).toContain('tls=true');
        expect(out).toContain('640 root django /etc/acme-django/managed-database.json\n');
        expect((await managed.sh(logsHolding(password))).trim()).toBe('');
      } finally {
        expect(await managed.close()).toBe(0);
      }
    },
    12 * 60_000,
  );
});

describe(`build.repositories on ${SUITE}: a package from a signed apt repository on 127.0.0.1 (test/helpers/apt-repo.ts)`, () => {
  let repo: AptRepo;
  const base = () => ({ name: SUITE, lowers: [baseOf(SUITE)] });
  beforeAll(async () => {
    repo = await makeAptRepo({ package: 'acme-tools-hello' });
  });
  afterAll(async () => {
    await repo?.close();
  });

  it('the build adds the repository with its key checked against the fingerprint, installs its package, and the image check finds 0 failures', async () => {
    const project = await repositoryProject({
      repoRoot: e2eContext().repoRoot,
      dir: join(work, 'repo-ok'),
      repo,
      fingerprint: repo.fingerprint,
    });
    const b = await buildOn({ work, base: base(), project, keys, name: 'ex-repo-ok' });
    try {
      expect(b.result.code, tail(b.output, 60)).toBe(0);
      expect(b.output).toContain('[repositories] > repositories:');
      expect(b.output).toContain(`repository ${REPOSITORY_NAME}: key ${repo.fingerprint} checked`);
      expect(b.output).toMatch(/\[check\] Summary: \d+ passed, \d+ warnings, 0 failed/);
      const sources = b.droplet.read(`etc/apt/sources.list.d/${REPOSITORY_NAME}.sources`);
      expect(sources).toContain(`URIs: ${viaNat(repo.url)}\n`);
      expect(sources).toContain(`Signed-By: /etc/apt/keyrings/${REPOSITORY_NAME}.gpg\n`);
      expect(b.droplet.read(repo.installedFile.slice(1))).toBe(`hello from ${repo.package} ${repo.version}\n`);
      expect(b.droplet.read('var/lib/dpkg/status')).toContain(
        `Package: ${repo.package}\nStatus: install ok installed\n`,
      );
    } finally {
      await b.droplet.destroy();
    }
  });

  it('a wrong fingerprint stops the build at the repository step, naming the repository; nothing of it is written, no package installed', async () => {
    const wrong = repo.fingerprint.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    const project = await repositoryProject({
      repoRoot: e2eContext().repoRoot,
      dir: join(work, 'repo-wrong'),
      repo,
      fingerprint: wrong,
    });
    const b = await buildOn({ work, base: base(), project, keys, name: 'ex-repo-wrong' });
    try {
      expect(b.result.code).not.toBe(0);
      expect(b.output).toContain(
        `repository ${REPOSITORY_NAME}: the key at ${viaNat(repo.keyUrl)} has the fingerprint ${repo.fingerprint}, not the expected ${wrong}`,
      );
      expect(b.output).not.toContain('[packages] > packages:');
      expect(b.output).not.toContain(`key ${repo.fingerprint} checked`);
      expect(existsSync(b.droplet.path(`etc/apt/sources.list.d/${REPOSITORY_NAME}.sources`))).toBe(false);
      expect(existsSync(b.droplet.path(`etc/apt/keyrings/${REPOSITORY_NAME}.gpg`))).toBe(false);
      expect(existsSync(b.droplet.path(repo.installedFile.slice(1)))).toBe(false);
    } finally {
      await b.droplet.destroy();
    }
  });
});

describe("the bed's Debian mirror: this machine's own apt sources, MPIMG_E2E_MIRROR overrides", () => {
  const fixture = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(e2eContext().runRoot, 'apt-'));
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), text);
    }
    return dir;
  };
  const DEBIAN = 'ID=debian\nVERSION_CODENAME=bookworm\n';

  it('takes the first Debian release entry of sources.list.d/*.sources (not -security, not disabled, not other files)', () => {
    const etc = fixture({
      'sources.list.d/a-security.sources':
        'Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
      'sources.list.d/b-off.sources':
        'Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\n',
      'sources.list.d/c-vendor.list.disabled-by-farm': 'deb http://other.example/debian bookworm main\n',
      'sources.list.d/debian.sources':
        '# http://snapshot.debian.org/archive/debian/20250520T000000Z\nTypes: deb\n# a comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
    });
    expect(resolveMirror({ env: {}, etcApt: etc, osRelease: DEBIAN })).toEqual({
      mirror: 'http://mirror.example/debian',
      from: join(etc, 'sources.list.d/debian.sources'),
    });
  });

  it('reads the one-line format (with [options]) of sources.list first; MPIMG_E2E_MIRROR wins over both', () => {
    const etc = fixture({
      'sources.list':
        '#deb http://commented.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] https://list.example/debian bookworm main contrib\n',
      'sources.list.d/debian.sources':
        'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n',
    });
    expect(resolveMirror({ env: {}, etcApt: etc, osRelease: DEBIAN }).mirror).toBe('https://list.example/debian');
    expect(
      resolveMirror({ env: { MPIMG_E2E_MIRROR: 'http://override.example/debian/' }, etcApt: etc, osRelease: DEBIAN }),
    ).toEqual({ mirror: 'http://override.example/debian', from: 'MPIMG_E2E_MIRROR' });
  });

  it('names no host of its own: without a Debian mirror in the sources it says to set MPIMG_E2E_MIRROR', () => {
    const etc = fixture({
      'sources.list.d/ubuntu.sources':
        'Types: deb\nURIs: http://archive.ubuntu.com/ubuntu\nSuites: noble\nComponents: main\n',
    });
    expect(() => resolveMirror({ env: {}, etcApt: etc, osRelease: 'ID=ubuntu\nID_LIKE=debian\n' })).toThrow(
      /not Debian[\s\S]*fix: set MPIMG_E2E_MIRROR/,
    );
    const empty = fixture({
      'sources.list.d/debian.sources':
        'Types: deb\nURIs: http://x.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
    });
    expect(() => resolveMirror({ env: {}, etcApt: empty, osRelease: DEBIAN })).toThrow(
      /none of .*debian\.sources names one[\s\S]*MPIMG_E2E_MIRROR/,
    );
    const src = readFileSync(new URL('./harness/rootfs.ts', import.meta.url), 'utf8');
    expect(src).not.toMatch(/deb\.debian\.org/);
  });

  it('this run: the extracted root filesystems point apt at the mirror of this machine (or MPIMG_E2E_MIRROR); the cache name does not depend on it', () => {
    const want = process.env.MPIMG_E2E_MIRROR
      ? process.env.MPIMG_E2E_MIRROR.replace(/\/+$/, '')
      : resolveMirror({ env: {} }).mirror;
    expect(mirror().mirror).toBe(want);
    for (const base of Object.values(e2eContext().bases)) {
      const lines = readFileSync(join(base!, 'etc/apt/sources.list'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('deb'));
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l.split(/\s+/)[1]).toBe(want);
    }
    expect(
      pointSourcesAt(
        'deb http://a.example/debian bookworm main\ndeb [arch=amd64] http://b.example/d trixie main\n# deb http://c/ x\n',
        'http://m/debian',
      ),
    ).toBe('deb http://m/debian bookworm main\ndeb [arch=amd64] http://m/debian trixie main\n# deb http://c/ x\n');
    const saved = process.env.MPIMG_E2E_MIRROR;
    try {
      const before = tarballPath('bookworm', '/x');
      process.env.MPIMG_E2E_MIRROR = 'http://elsewhere.example/debian';
      expect(tarballPath('bookworm', '/x')).toBe(before);
    } finally {
      if (saved === undefined) delete process.env.MPIMG_E2E_MIRROR;
      else process.env.MPIMG_E2E_MIRROR = saved;
    }
  });
});

it('covers every project of examples/', () => {
  const dir = join(e2eContext().repoRoot, 'examples');
  const projects = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  expect(projects).toEqual([...EXAMPLES].sort());
});
