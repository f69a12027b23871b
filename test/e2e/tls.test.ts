import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuiltImage } from './harness/build.js';
import { baseOf, e2eContext } from './harness/context.js';
import { exampleProject, SystemdDroplet, type ExampleProject } from './harness/examples.js';
import type { Interactive } from './harness/interactive.js';
import { mountsUnder } from './harness/mounts.js';
import {
  pebble,
  pebbleRoot,
  PEBBLE_CA_FILE,
  PEBBLE_DIRECTORY,
  PEBBLE_ROOT_FILE,
  PEBBLE_UNIT,
} from './harness/pebble.js';
import { makeKeyPair, sshLogin, type KeyPair } from './harness/ssh.js';

/**
 * TLS pattern (a), certbot at first login ($.certbot), as a customer meets it: examples/static-https
 * (nginx, fail2ban, certbot) built over SSH on a bookworm build droplet with `mpimg run build`, its ACME
 * server changed in the test's copy only to pebble (the example ships Let's Encrypt's), then a droplet
 * made from the image boots with systemd as PID 1 and real cloud-init, with pebble running inside it
 * (test/e2e/harness/pebble.ts) and its /etc/hosts naming the test's domain with the droplet's own
 * address. Root logs in over SSH on a pty and answers the first login's questions; the real certbot
 * and its nginx plugin get the certificate from pebble over http-01 on port 80. Then, from inside the
 * droplet: the certificate is pebble's, the site answers over https with it and redirects http, the
 * renewal is scheduled and works against pebble as certbot.service would run it, the MOTD names the
 * https address; the command stays (a skip, Ctrl-C and a name of another machine leave the shell
 * working); fail2ban's jails answer.
 */

const SUITE = 'bookworm';
const ADDRESS = '192.0.2.41';
const DOMAIN = 'shop.e2e.test';
/** A name the droplet's /etc/hosts gives another machine's address. */
const ELSEWHERE = 'elsewhere.e2e.test';
const PROMPT = /root@[\w.-]+:~# $/m;
const TLS = '/usr/local/sbin/acme-static-tls';

let work: string;
let keys: KeyPair;
let project: ExampleProject;
let built: BuiltImage;
let droplet: SystemdDroplet;

beforeAll(async () => {
  const ctx = e2eContext();
  work = mkdtempSync(join(ctx.runRoot, 'tls-'));
  keys = await makeKeyPair(work);
  project = await exampleProject({
    name: 'static-https',
    repoRoot: ctx.repoRoot,
    dir: join(work, 'static-https'),
    edit: (_dir, m) => ({
      ...m,
      certbot: { ...m.certbot!, acme: { directory: PEBBLE_DIRECTORY, caRoot: PEBBLE_CA_FILE } },
    }),
  });
  built = await buildImage({
    work,
    base: { name: SUITE, lowers: [baseOf(SUITE)] },
    project,
    keys,
    name: 'tls-static',
  });
  process.stderr.write(
    `[e2e] tls: \`mpimg run build\` of examples/static-https took ${(built.ms / 1000).toFixed(1)} s\n`,
  );
  droplet = await SystemdDroplet.start({
    work,
    image: built.image,
    name: 'tls-static',
    slug: project.slug,
    instanceId: `i-tls-${Date.now().toString(36)}`,
    keys,
    address: `${ADDRESS}/24`,
    fixtures: [PEBBLE_UNIT],
    prepare: (d) => {
      pebble(d, { names: [DOMAIN], address: ADDRESS });
      d.write('etc/hosts', `${d.read('etc/hosts')}198.51.100.9 ${ELSEWHERE}\n`);
    },
  });
});

afterAll(async () => {
  if (droplet) expect(await droplet.close()).toBe(0);
  await built?.image.release();
  if (work) expect(mountsUnder(work)).toEqual([]);
});

describe(`examples/static-https on ${SUITE}: HTTPS with certbot at first login, against pebble`, () => {
  it('the build installed certbot with its nginx plugin, and its image check found no failures', async () => {
    expect(built.output).toMatch(/\[check\] Summary: \d+ passed, \d+ warnings, 0 failed/);
    expect(built.output).toContain(
      '[check] [PASS] certbot: certbot and its nginx plugin installed; no certificate in the image (the customer gets one at first login)',
    );
    const out = await droplet.sh(
      `dpkg-query -W -f '\${Package} \${Status}\\n' certbot python3-certbot-nginx fail2ban
       readlink ${TLS}
       systemctl is-enabled certbot.timer`,
    );
    expect(out).toContain('certbot install ok installed');
    expect(out).toContain('python3-certbot-nginx install ok installed');
    expect(out).toContain('/opt/acme/acme-static/tls\n');
    expect(out).toMatch(/^enabled$/m);
  });

  it('first login: the domain and an email are asked, pebble issues the certificate, nginx serves it and redirects', async () => {
    const t = await droplet.ssh();
    const login: Interactive = sshLogin(t, keys.privateKey, 'static-https first login');
    let seen = await login.expect('Domain name (e.g. www.example.com; Enter to skip): ');
    expect(seen).toContain('Welcome to Acme Static 1.0.0: a static site on nginx.');
    expect(seen).toContain(
      `To set up HTTPS (a certificate from the ACME server ${PEBBLE_DIRECTORY} for your domain), run ${TLS}`,
    );
    expect(seen).toContain(`First point the domain's DNS A record at this droplet (${ADDRESS}).`);
    login.send(`${DOMAIN}\n`);
    seen = await login.expect('(Enter: none): ');
    expect(seen).toContain(`${DOMAIN} resolves to this droplet (${ADDRESS}).`);
    login.send('admin@shop.e2e.test\n');
    seen = await login.expect(PROMPT, 180_000);
    expect(seen).toContain(`HTTPS is on: https://${DOMAIN}/`);
    expect(seen).toContain('Renewal: certbot.timer renews the certificate before it expires.');
    expect(seen).toContain('Acme Static setup is complete.');
    login.send('exit 0\n');
    expect(await login.close()).toBe(0);

    await pebbleRoot(droplet);
    const out = await droplet.sh(`
      openssl x509 -in /etc/letsencrypt/live/${DOMAIN}/cert.pem -noout -issuer -ext subjectAltName
      curl -fsS --cacert ${PEBBLE_ROOT_FILE} https://${DOMAIN}/
      curl -sS -o /dev/null -w 'http=%{http_code} %{redirect_url}\\n' http://${DOMAIN}/
      echo "timer=$(systemctl is-enabled certbot.timer) $(systemctl is-active certbot.timer)"
      grep '^server = ' /etc/letsencrypt/renewal/${DOMAIN}.conf
      grep -c first-login /root/.bashrc || true
    `);
    expect(out).toMatch(/^issuer=.*Pebble Intermediate CA/m);
    expect(out).toContain(`DNS:${DOMAIN}`);
    expect(out).toContain('<h1>Acme Static is running</h1>');
    expect(out).toContain(`http=301 https://${DOMAIN}/`);
    expect(out).toContain('timer=enabled active');
    expect(out).toContain(`server = ${PEBBLE_DIRECTORY}`);
    expect(out).toMatch(/^0$/m);
    // the email reached certbot (its account), never our own logs
    expect((await droplet.sh('grep -rlF admin@shop.e2e.test /var/log/mpimg 2>/dev/null || true')).trim()).toBe('');
  });

  it('renewal: from the directory the first certificate came from, with the environment certbot.service gets', async () => {
    const env = (await droplet.sh('systemctl show -p Environment --value certbot.service')).trim();
    expect(env).toBe(`REQUESTS_CA_BUNDLE=${PEBBLE_CA_FILE}`);
    const serial = `openssl x509 -in /etc/letsencrypt/live/${DOMAIN}/cert.pem -noout -serial`;
    const before = await droplet.sh(serial);
    // certbot's dry run asks Let's Encrypt's staging unless told the server (its own rule for --dry-run)
    const dry = await droplet.sh(
      `env ${env} certbot renew --dry-run --no-random-sleep-on-renew --server ${PEBBLE_DIRECTORY} 2>&1`,
      300_000,
    );
    expect(dry).toMatch(/Congratulations, all simulated renewals succeeded/);
    // a real renewal, as certbot.timer runs it: the server is the one the renewal file recorded
    const real = await droplet.sh(`env ${env} certbot renew --force-renewal --no-random-sleep-on-renew 2>&1`, 300_000);
    expect(real).toMatch(/Congratulations, all renewals succeeded/);
    const after = await droplet.sh(`${serial}
      openssl x509 -in /etc/letsencrypt/live/${DOMAIN}/cert.pem -noout -issuer
      curl -fsS -o /dev/null -w 'https=%{http_code}\\n' --cacert ${PEBBLE_ROOT_FILE} https://${DOMAIN}/`);
    expect(after).not.toContain(before.trim());
    expect(after).toMatch(/^issuer=.*Pebble Intermediate CA/m);
    expect(after).toContain('https=200');
  });

  it('snapshotted after certbot ran (a vendor who logged in on the build droplet): the cleanup removes the ACME keys, the check refuses the image', async () => {
    const repo = e2eContext().repoRoot;
    const check = readFileSync(join(repo, 'templates/droplet/99-img-check.sh'), 'utf8');
    const cleanup = readFileSync(join(repo, 'templates/droplet/90-cleanup.sh'), 'utf8');
    // the image check as the build runs it before the snapshot (not --booted), and the cleanup's dry
    // run (each script written by a command of its own: one argument holds at most 128 KiB)
    await droplet.sh(`cat > /tmp/mpimg-check.sh <<'MPIMG_CHECK_EOF'\n${check}MPIMG_CHECK_EOF`);
    await droplet.sh(`cat > /tmp/mpimg-cleanup.sh <<'MPIMG_CLEANUP_EOF'\n${cleanup}MPIMG_CLEANUP_EOF`);
    const out = await droplet.sh(
      `bash /tmp/mpimg-check.sh --certbot nginx --json || true
bash /tmp/mpimg-cleanup.sh --dry-run --no-packages --yes-this-is-a-build-droplet 2>&1 | grep letsencrypt || true
rm -f /tmp/mpimg-check.sh /tmp/mpimg-cleanup.sh`,
      120_000,
    );
    const json = out.slice(0, out.lastIndexOf('}') + 1);
    const report = JSON.parse(json) as { checks: Array<{ id: string; status: string; evidence: string[] }> };
    const certbot = report.checks.find((c) => c.id === 'certbot');
    expect(certbot?.status).toBe('fail');
    const ev = certbot?.evidence.join('\n') ?? '';
    expect(ev).toContain('/etc/letsencrypt/live holds 1 certificate(s) with their keys');
    expect(ev).toMatch(/\/etc\/letsencrypt\/accounts holds \d+ file\(s\) .*\(the ACME account key\)/);
    // certbot --nginx put the certificate into Debian's default site (a copy of its default server)
    expect(ev).toContain('/etc/nginx/sites-available/default uses a certificate of /etc/letsencrypt/live');
    expect(ev).toContain('/root/.bashrc has no mpimg first-login hook');
    const tail = out.slice(json.length);
    for (const d of ['accounts', 'archive', 'live', 'renewal'])
      expect(tail).toContain(`would remove /etc/letsencrypt/${d} (`);
    // a dry run: the droplet's certificate is still there
    expect(await droplet.sh(`test -s /etc/letsencrypt/live/${DOMAIN}/fullchain.pem && echo kept`)).toContain('kept');
  });

  it("the MOTD names https://<domain>; the command stays: Enter skips, Ctrl-C skips, another machine's name is refused", async () => {
    const t = await droplet.ssh();
    const login = sshLogin(t, keys.privateKey, 'static-https later login');
    let seen = await login.expect(PROMPT);
    expect(seen).toContain(`HTTPS: https://${DOMAIN}/`);
    expect(seen).not.toContain('To set up HTTPS');
    expect(seen).not.toContain('Domain name');
    login.send(`${TLS}\n`);
    seen = await login.expect('Enter to skip): ');
    expect(seen).toContain(`(Set up now: https://${DOMAIN}/; a new name adds its own certificate.)`);
    login.send('\n');
    seen = await login.expect(PROMPT);
    expect(seen).toContain(`Skipped.\nHTTPS is not set up. Run ${TLS} when you are ready.`);
    login.send(`${TLS}\n`);
    await login.expect('Enter to skip): ');
    login.send('\x03');
    seen = await login.expect(PROMPT);
    expect(seen).toContain('Skipped (interrupted).');
    login.send(`${TLS}; echo "rc=$?"\n`);
    await login.expect('Enter to skip): ');
    login.send(`${ELSEWHERE}\n`);
    seen = await login.expect(/rc=\d+/);
    expect(seen).toContain(
      `${ELSEWHERE} resolves to 198.51.100.9, not to this droplet (${ADDRESS}). Point its A record at ${ADDRESS}`,
    );
    expect(seen).toContain('rc=1');
    await login.expect(PROMPT);
    login.send('echo "still here: $(id -un)"\n');
    seen = await login.expect(PROMPT);
    expect(seen).toContain('still here: root');
    login.send('exit 0\n');
    expect(await login.close()).toBe(0);
    expect((await droplet.sh(`cat /var/lib/mpimg/${project.slug}/tls-domain`)).trim()).toBe(DOMAIN);
  });

  it('fail2ban is up with the jails of mpimg.json', async () => {
    const out = await droplet.sh('fail2ban-client status sshd && fail2ban-client status nginx-http-auth');
    expect(out).toMatch(/Status for the jail: sshd/);
    expect(out).toMatch(/Status for the jail: nginx-http-auth/);
  });
});

/**
 * The same example with Apache instead of nginx ($.certbot.server "apache", python3-certbot-apache):
 * the real `certbot --apache` gets pebble's certificate for Debian's default site (no ServerName,
 * the only *:80 virtual host) and adds its own *:443 one with a redirect. Asked without questions
 * (`<slug>-tls --domain --no-email`): the first login's questions are the nginx droplet's above.
 */
describe(`examples/static-https with Apache on ${SUITE}: certbot --apache against pebble`, () => {
  const APACHE_ADDRESS = '192.0.2.42';
  let apacheProject: ExampleProject;
  let apacheBuilt: BuiltImage;
  let apache: SystemdDroplet;

  beforeAll(async () => {
    apacheProject = await exampleProject({
      name: 'static-https',
      repoRoot: e2eContext().repoRoot,
      dir: join(work, 'static-https-apache'),
      edit: (_dir, m) => ({
        ...m,
        build: { ...m.build, packages: ['apache2', 'ufw'] },
        services: [{ name: 'apache2.service', check: 'apache2ctl configtest' }],
        fail2ban: undefined,
        // apache2 brings ssl-cert, whose snakeoil key the image check refuses to ship as it is
        regenerate: ['ssl-cert-snakeoil'],
        certbot: { server: 'apache', acme: { directory: PEBBLE_DIRECTORY, caRoot: PEBBLE_CA_FILE } },
      }),
    });
    apacheBuilt = await buildImage({
      work,
      base: { name: SUITE, lowers: [baseOf(SUITE)] },
      project: apacheProject,
      keys,
      name: 'tls-apache',
    });
    process.stderr.write(`[e2e] tls: the Apache build took ${(apacheBuilt.ms / 1000).toFixed(1)} s\n`);
    apache = await SystemdDroplet.start({
      work,
      image: apacheBuilt.image,
      name: 'tls-apache',
      slug: apacheProject.slug,
      instanceId: `i-tlsa-${Date.now().toString(36)}`,
      keys,
      address: `${APACHE_ADDRESS}/24`,
      fixtures: [PEBBLE_UNIT],
      prepare: (d) => pebble(d, { names: [DOMAIN], address: APACHE_ADDRESS }),
    });
  });

  afterAll(async () => {
    if (apache) expect(await apache.close()).toBe(0);
    await apacheBuilt?.image.release();
  });

  it('the build installed python3-certbot-apache; the command gets the certificate, Apache serves it and redirects', async () => {
    expect(apacheBuilt.output).toMatch(/\[check\] Summary: \d+ passed, \d+ warnings, 0 failed/);
    expect(apacheBuilt.output).toContain(
      '[check] [PASS] certbot: certbot and its apache plugin installed; no certificate in the image (the customer gets one at first login)',
    );
    const run = await apache.sh(`${TLS} --domain ${DOMAIN} --no-email 2>&1`, 300_000);
    expect(run).toContain(`${DOMAIN} resolves to this droplet (${APACHE_ADDRESS}).`);
    expect(run).toContain(`HTTPS is on: https://${DOMAIN}/`);
    await pebbleRoot(apache);
    const out = await apache.sh(`
      openssl x509 -in /etc/letsencrypt/live/${DOMAIN}/cert.pem -noout -issuer -ext subjectAltName
      curl -fsS --cacert ${PEBBLE_ROOT_FILE} https://${DOMAIN}/
      curl -sS -o /dev/null -w 'http=%{http_code} %{redirect_url}\\n' http://${DOMAIN}/
      ls /etc/apache2/sites-enabled
      grep -h '^ *ServerName' /etc/apache2/sites-enabled/*.conf
      apache2ctl configtest 2>&1
    `);
    expect(out).toMatch(/^issuer=.*Pebble Intermediate CA/m);
    expect(out).toContain(`DNS:${DOMAIN}`);
    expect(out).toContain('<h1>Acme Static is running</h1>');
    expect(out).toContain(`http=301 https://${DOMAIN}/`);
    // Debian's default site (no ServerName) got the name and a copy on *:443 with the certificate
    expect(out).toContain('000-default-le-ssl.conf');
    expect(out).toMatch(new RegExp(`ServerName ${DOMAIN.replaceAll('.', '\\.')}`));
    expect(out).toContain('Syntax OK');
  });
});
