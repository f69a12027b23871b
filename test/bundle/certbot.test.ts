/**
 * $.certbot: the schema's errors at their $.path, the packages it adds, the plan it makes, and the
 * HTTPS command it installs (templates/droplet/tls.sh.ejs) run for real: bash, this machine's getent
 * reading the root's own /etc/hosts, the helper library's mpimg_public_ipv4 (curl on a file:// URL in
 * place of the metadata service), in a root of its own (test/helpers/host-root.ts) and a network
 * namespace of its own; the first login with a real login(1) and bash login shell on a pty. Only
 * certbot is a stand-in here (it records its arguments, one a line): the real one against a real
 * ACME server is test/e2e/tls.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { sectionPackages } from '../../runtime/section-packages.js';
import { certbotWarnings } from '../../runtime/sections/certbot.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { hostRoot, inHostRoot } from '../helpers/host-root.js';
import { addLogin } from '../helpers/login-root.js';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { put, type Run } from '../scripts/fixture-root.js';

const problems = (certbot: unknown, extra: Record<string, unknown> = {}) =>
  validateManifest({ ...MINIMAL_MANIFEST, ...extra, certbot }).problems.map((p) => `${p.path}: ${p.message}`);

describe('$.certbot at validate time', () => {
  it('takes nginx or apache, with or without an ACME server', () => {
    expect(problems({ server: 'nginx' })).toEqual([]);
    expect(problems({ server: 'apache' })).toEqual([]);
    expect(
      problems({ server: 'nginx', acme: { directory: 'https://acme-staging-v02.api.letsencrypt.org/directory' } }),
    ).toEqual([]);
    expect(
      problems({ server: 'nginx', acme: { directory: 'https://localhost:14000/dir', caRoot: '/etc/acme/ca.pem' } }),
    ).toEqual([]);
    expect(problems({ server: 'nginx' }, { firewall: { limit: ['22/tcp'], allow: ['80/tcp', '443/tcp'] } })).toEqual(
      [],
    );
    expect(problems({ server: 'nginx' }, { firewall: { limit: ['22/tcp'], allow: ['1:1000/tcp'] } })).toEqual([]);
  });

  it('refuses what certbot cannot do, at its $.path, saying what to do', () => {
    expect(problems({ server: 'caddy' })).toEqual(['$.certbot.server: certbot cannot configure "caddy"']);
    expect(problems({})[0]).toMatch(/^\$\.certbot(\.server)?: /);
    expect(problems({ server: 'nginx', email: 'me@example.com' })[0]).toMatch(/^\$\.certbot\.email: /);
    expect(problems('nginx')[0]).toMatch(/^\$\.certbot: /);
    // the shared ACME rule (runtime/sections/acme.ts), here under $.certbot.acme
    expect(problems({ server: 'nginx', acme: { directory: 'http://localhost/dir' } })).toEqual([
      '$.certbot.acme.directory: bad ACME directory "http://localhost/dir"',
    ]);
    expect(problems({ server: 'nginx', acme: { caRoot: '/etc/ca.pem' } })[0]).toMatch(/^\$\.certbot\.acme\.caRoot: /);
    for (const caRoot of ['/etc/my ca.pem', '/etc/"ca".pem', '/etc/$(id).pem'])
      expect(problems({ server: 'nginx', acme: { directory: 'https://ca.example/dir', caRoot } }), caRoot).toEqual([
        `$.certbot.acme.caRoot: the CA file ${JSON.stringify(caRoot)} has characters a systemd drop-in cannot hold as written`,
      ]);
  });

  it('refuses a firewall closed to 80 or 443, and Caddy beside it', () => {
    expect(problems({ server: 'nginx' }, { firewall: { limit: ['22/tcp'], allow: ['443/tcp'] } })).toEqual([
      '$.certbot: the firewall does not let 80/tcp in: the CA checks the domain over http (port 80), so no certificate could be issued',
    ]);
    expect(problems({ server: 'nginx' }, { firewall: { limit: ['22/tcp'], allow: ['80/udp'] } })).toHaveLength(2);
    expect(problems({ server: 'nginx' }, { caddy: {} })).toContain(
      '$.certbot: both "certbot" and "caddy" would set up HTTPS: two servers cannot both answer on ports 80 and 443',
    );
  });
});

describe("$.certbot on the dnf family (its certbot is EPEL's)", () => {
  const m = {
    ...MINIMAL_MANIFEST,
    distributions: ['debian-12-x64', 'rockylinux-9-x64'],
    certbot: { server: 'nginx' as const },
  };
  it('mpimg validate warns, naming the distributions and what to do', () => {
    expect(validateManifest(m).problems).toEqual([]);
    expect(certbotWarnings(m)).toEqual([
      '$.certbot: certbot on rockylinux-9-x64 comes from EPEL, which "certbot" does not add: build those images on an apt distribution (Debian, Ubuntu), or leave "certbot" out and install epel-release, certbot and its plugin in a build script; until then their build stops at the packages step (and `mpimg bundle` makes no Packer template for them)',
    ]);
    expect(certbotWarnings({ ...m, distributions: ['debian-12-x64'] })).toEqual([]);
  });

  it('mpimg validate warns of Apache\'s snakeoil key until "regenerate" names it (the image check fails the build)', () => {
    const apache = { ...MINIMAL_MANIFEST, certbot: { server: 'apache' as const } };
    expect(certbotWarnings(apache)).toEqual([
      '$.certbot: Apache comes with ssl-cert, whose snakeoil key would be every droplet\'s: the image check fails the build until "ssl-cert-snakeoil" is in "regenerate" (first boot then makes each droplet its own)',
    ]);
    const declared = { ...apache, regenerate: ['ssl-cert-snakeoil' as const] };
    expect(validateManifest(declared).problems).toEqual([]);
    expect(certbotWarnings(declared)).toEqual([]);
  });

  it('mpimg bundle refuses a Packer template of one (it would make an image without certbot)', () => {
    const dir = makeProject({ manifest: { distributions: ['rockylinux-9-x64'], certbot: { server: 'nginx' } } });
    const r = spawnSync(process.execPath, [join(process.cwd(), 'bin/mpimg.js'), 'bundle', '--project', dir], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toContain(
      'certbot on the dnf family (Rocky, AlmaLinux, CentOS Stream) comes from EPEL',
    );
  });
});

describe('the packages of $.certbot', () => {
  it('certbot and the plugin of its server on apt distributions; on dnf a refusal', () => {
    expect(sectionPackages({ certbot: { server: 'nginx' } }, 'apt')).toEqual(['certbot', 'python3-certbot-nginx']);
    expect(sectionPackages({ certbot: { server: 'apache' } }, 'apt')).toEqual(['certbot', 'python3-certbot-apache']);
    expect(() => sectionPackages({ certbot: { server: 'nginx' } }, 'dnf')).toThrow(/comes from EPEL/);
    expect(sectionPackages({}, 'apt')).toEqual([]);
    expect(sectionPackages({ certbot: { server: 'nginx' }, fail2ban: { jails: ['sshd'] } }, 'apt')).toEqual([
      'fail2ban',
      'python3-systemd',
      'certbot',
      'python3-certbot-nginx',
    ]);
  });
});

const PEBBLE = 'https://localhost:14000/dir';
const CA_ROOT = '/etc/acme-wiki/acme-ca.pem';

function bundleWith(certbot: Manifest['certbot'], opts: { firstLogin?: boolean } = {}) {
  const out = tempDir('mpimg-dist-');
  chmodSync(out, 0o755);
  const dir = makeProject({ manifest: { certbot, loginHold: false }, firstLogin: opts.firstLogin });
  return writeBundle(loadProject(dir), out);
}

function installed(b: ReturnType<typeof bundleWith>): string {
  const root = hostRoot('debian');
  addLogin(root);
  const r = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`install --root failed: ${r.stderr}`);
  return root;
}

describe('the plan of $.certbot', () => {
  it('lays down the command (linked onto PATH), the first-login hook even without a first-login script, the MOTD', () => {
    const b = bundleWith({ server: 'nginx' }, { firstLogin: false });
    const root = installed(b);
    expect(lstatSync(join(root, 'opt/acme/acme-wiki/tls')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(root, 'usr/local/sbin/acme-wiki-tls'))).toBe('/opt/acme/acme-wiki/tls');
    expect(existsSync(join(root, 'opt/acme/acme-wiki/first-login.sh'))).toBe(false);
    const run = readFileSync(join(root, 'opt/acme/acme-wiki/first-login-run'), 'utf8');
    expect(run).toContain('  /opt/acme/acme-wiki/tls --first-login\n');
    expect(readFileSync(join(root, 'root/.bashrc'), 'utf8')).toContain('/opt/acme/acme-wiki/first-login-run');
    const tls = readFileSync(join(root, 'opt/acme/acme-wiki/tls'), 'utf8');
    expect(tls).toContain("DIRECTORY='https://acme-v02.api.letsencrypt.org/directory'\n");
    expect(tls).toContain("CA_ROOT=''\n");
    expect(tls).toContain("PLUGIN='nginx'\n");
    expect(existsSync(join(root, 'etc/systemd/system/certbot.service.d'))).toBe(false);
    const sc = spawnSync('shellcheck', ['-S', 'style', join(root, 'opt/acme/acme-wiki/tls')], { encoding: 'utf8' });
    expect(sc.stdout).toBe('');
    const sh = [run, readFileSync(join(root, 'etc/update-motd.d/99-acme-wiki'), 'utf8')];
    for (const [i, text] of sh.entries()) {
      const r = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', '-'], { input: text, encoding: 'utf8' });
      expect(r.stdout, `script ${i}`).toBe('');
    }
    expect(spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', b.sh], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('with a private ACME server: its directory and CA in the command, and a drop-in for the renewal', () => {
    const root = installed(bundleWith({ server: 'apache', acme: { directory: PEBBLE, caRoot: CA_ROOT } }));
    const tls = readFileSync(join(root, 'opt/acme/acme-wiki/tls'), 'utf8');
    expect(tls).toContain(`DIRECTORY='${PEBBLE}'\n`);
    expect(tls).toContain(`CA_ROOT='${CA_ROOT}'\n`);
    expect(tls).toContain("PLUGIN='apache'\n");
    const dropIn = join(root, 'etc/systemd/system/certbot.service.d/acme-wiki-acme-ca.conf');
    expect(lstatSync(dropIn).mode & 0o7777).toBe(0o644);
    expect(readFileSync(dropIn, 'utf8')).toMatch(
      /^\[Service\]\nEnvironment="REQUESTS_CA_BUNDLE=\/etc\/acme-wiki\/acme-ca\.pem"\n$/m,
    );
  });
});

/**
 * A root with the bundle installed, a stand-in certbot first on PATH, /etc/hosts naming the test's
 * domains, and what the metadata service would say of this droplet's public address.
 */
const DROPLET_IP = '203.0.113.7';
function tlsRoot(certbot: Manifest['certbot'], opts: { firstLogin?: boolean } = {}): string {
  const root = installed(bundleWith(certbot, opts));
  put(
    root,
    'etc/hosts',
    `127.0.0.1 localhost\n${DROPLET_IP} good.example.com fail.example.com v6.example.com\n198.51.100.9 other.example.com\n2001:db8::9 v6.example.com\n`,
  );
  put(root, 'mpimg-test/metadata-ip', `${DROPLET_IP}\n`);
  // root's ~/.profile as Debian's base-files ships it: a bash login shell reads ~/.bashrc through it
  put(root, 'root/.profile', readFileSync('/usr/share/base-files/dot.profile'));
  // records its arguments, one a line; "fails" for fail.example.com as an ACME server refusing would
  put(
    root,
    'mpimg-test/bin/certbot',
    `#!/bin/sh
{ echo "argc=$#"; for a in "$@"; do printf 'arg=%s\\n' "$a"; done; echo "ca=\${REQUESTS_CA_BUNDLE:-}"; } > /mpimg-test/certbot.args
if { true >&9; } 2>/dev/null; then echo open; else echo closed; fi > /mpimg-test/certbot.fd9
d=''; prev=''
for a in "$@"; do if [ "$prev" = -d ]; then d=$a; fi; prev=$a; done
case $d in fail.*) echo 'An unexpected error occurred: urn:ietf:params:acme:error:connection' >&2; exit 1 ;; esac
mkdir -p "/etc/letsencrypt/live/$d" && echo cert > "/etc/letsencrypt/live/$d/fullchain.pem"
echo "Successfully deployed certificate for $d"
`,
    0o755,
  );
  put(
    root,
    'etc/profile.d/00-mpimg-test.sh',
    'PATH=/mpimg-test/bin:$PATH\nMPIMG_METADATA_URL=file:///mpimg-test/metadata-ip\nexport PATH MPIMG_METADATA_URL\n',
  );
  return root;
}

/**
 * The namespace's network with a global (private) address besides loopback's, as a droplet has:
 * getaddrinfo (getent ahostsv4) answers only where an IPv4 address other than 127.x is configured.
 * On loopback itself, so no kernel module (dummy, veth) is needed. The public address is the
 * metadata service's, which differs from it, as on DigitalOcean.
 */
const NET = 'ip link set lo up && ip addr add 10.10.0.5/16 dev lo || exit 96';

const TEST_ENV = {
  PATH: '/mpimg-test/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  MPIMG_METADATA_URL: 'file:///mpimg-test/metadata-ip',
};

/** Runs the command in the root with `args` (as separate words, never through a shell) and `input` on stdin. */
function tls(root: string, args: string[], input = '', before = ''): Run {
  put(root, 'mpimg-test/input', input);
  put(root, 'mpimg-test/args', args.map((a) => `${a}\0`).join(''));
  // each argument one word, whatever it holds (NUL-separated, read by bash's mapfile)
  const run = `${NET}
rm -f /mpimg-test/certbot.args
${before}
exec bash -c 'mapfile -d "" a < /mpimg-test/args; exec /opt/acme/acme-wiki/tls "\${a[@]}" < /mpimg-test/input'`;
  return inHostRoot(root, run, {
    net: true,
    timeoutMs: 60_000,
    env: TEST_ENV,
  });
}

const certbotArgs = (root: string): string[] | undefined => {
  const f = join(root, 'mpimg-test/certbot.args');
  return existsSync(f) ? readFileSync(f, 'utf8').trimEnd().split('\n') : undefined;
};

const HOSTILE = [
  '$(touch /tmp/pwned)',
  '`touch /tmp/pwned`.example.com',
  'x.com"; touch /tmp/pwned; "',
  "x.com'; touch /tmp/pwned; '",
  'exa\u2028mple.com',
  '-d evil.example.com',
  'good.example.com --server https://evil.example/dir',
  '*.example.com',
  '203.0.113.7',
  '\u001b[2Jgood.example.com',
];

describe('the HTTPS command, run for real (stand-in certbot)', () => {
  let root: string;
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('these tests run in namespaces of their own: run them as root');
    root = tlsRoot({ server: 'nginx', acme: { directory: PEBBLE, caRoot: CA_ROOT } });
  }, 120_000);

  it('never runs what is typed as a name: each hostile answer is refused, certbot is not called, nothing runs', () => {
    for (let i = 0; i < HOSTILE.length; i += 3) {
      const typed = [...HOSTILE.slice(i, i + 3), 'not a name', 'not a name'].slice(0, 3);
      const r = tls(root, [], `${typed.join('\n')}\n`);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toContain('is not a domain name like www.example.com');
      expect(r.stdout).toContain(
        'No domain name.\nHTTPS is not set up. Run /usr/local/sbin/acme-wiki-tls when you are ready.',
      );
      expect(r.stdout).not.toContain('\u001b');
      expect(certbotArgs(root)).toBeUndefined();
    }
    for (const d of HOSTILE) {
      const r = tls(root, ['--domain', d, '--no-email']);
      expect(r.code, d).toBe(1);
      expect(r.stdout, d).toContain('is not a domain name like www.example.com');
      expect(certbotArgs(root)).toBeUndefined();
    }
    for (const e of ['a@b.example.com --server https://evil.example/dir', '$(touch /tmp/pwned)@x.com', 'me@x.com\nx']) {
      const r = tls(root, ['--domain', 'good.example.com', '--email', e]);
      expect(r.code, e).toBe(1);
      expect(r.stdout, e).toContain('is not an email address');
      expect(certbotArgs(root)).toBeUndefined();
    }
    expect(existsSync(join(root, 'tmp/pwned'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/mpimg/acme-wiki/tls-domain'))).toBe(false);
  });

  it('an empty answer, "skip" or the end of input skips (exit 0); bad usage is refused', () => {
    for (const input of ['\n', 'skip\n', '', 'SKIP\n']) {
      const r = tls(root, [], input);
      expect(r.code, JSON.stringify(input)).toBe(0);
      expect(r.stdout).toContain(
        'Skipped.\nHTTPS is not set up. Run /usr/local/sbin/acme-wiki-tls when you are ready.',
      );
      expect(certbotArgs(root)).toBeUndefined();
    }
    expect(tls(root, ['--domain', 'good.example.com']).code).toBe(2);
    expect(tls(root, ['--frobnicate']).code).toBe(2);
  });

  it('refuses a name that does not resolve, or resolves elsewhere, saying what to do', () => {
    let r = tls(root, ['--domain', 'nowhere.example.com', '--no-email']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `nowhere.example.com does not resolve (no DNS A record found). Point its A record at ${DROPLET_IP}`,
    );
    r = tls(root, [], 'other.example.com\n');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `other.example.com resolves to 198.51.100.9, not to this droplet (${DROPLET_IP}). Point its A record at ${DROPLET_IP}`,
    );
    expect(certbotArgs(root)).toBeUndefined();
  });

  it('a name of this droplet: certbot gets exactly these words, the CA of the ACME server; the MOTD names https://', () => {
    const motd = () => inHostRoot(root, `${NET}\n/etc/update-motd.d/99-acme-wiki`, { net: true, env: TEST_ENV }).stdout;
    expect(motd()).toContain(
      `To set up HTTPS (a certificate from the ACME server ${PEBBLE} for your domain), run /usr/local/sbin/acme-wiki-tls`,
    );
    const r = tls(root, [], 'Good.Example.com.\nnot an email\nme+tls@example.com\n');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`good.example.com resolves to this droplet (${DROPLET_IP}).`);
    expect(r.stdout).toContain('That is not an email address like you@example.com.');
    expect(r.stdout).toContain('HTTPS is on: https://good.example.com/');
    expect(certbotArgs(root)).toEqual([
      'argc=12',
      'arg=--nginx',
      'arg=--non-interactive',
      'arg=--agree-tos',
      'arg=--server',
      `arg=${PEBBLE}`,
      'arg=--cert-name',
      'arg=good.example.com',
      'arg=-d',
      'arg=good.example.com',
      'arg=--redirect',
      'arg=--keep-until-expiring',
      'arg=--email=me+tls@example.com',
      `ca=${CA_ROOT}`,
    ]);
    expect(readFileSync(join(root, 'var/lib/mpimg/acme-wiki/tls-domain'), 'utf8')).toBe('good.example.com\n');
    expect(motd()).toContain('HTTPS: https://good.example.com/\n');
    expect(motd()).not.toContain('To set up HTTPS');

    // again, without an email: certbot registers without one
    const again = tls(root, ['--domain', 'good.example.com', '--no-email']);
    expect(again.code).toBe(0);
    expect(certbotArgs(root)?.slice(-2)).toEqual(['arg=--register-unsafely-without-email', `ca=${CA_ROOT}`]);
    // an address that starts with "-" stays the value of --email (certbot's argparse would take it for an option)
    const dash = tls(root, ['--domain', 'good.example.com', '--email', '-me@example.com']);
    expect(dash.code, dash.stdout + dash.stderr).toBe(0);
    expect(certbotArgs(root)?.slice(-2)).toEqual(['arg=--email=-me@example.com', `ca=${CA_ROOT}`]);
  });

  it('an ACME error: what to do, exit 1, the recorded domain unchanged', () => {
    const r = tls(root, ['--domain', 'fail.example.com', '--email', 'me@example.com']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'certbot could not get or install a certificate for fail.example.com (its reasons are above; its log is /var/log/letsencrypt/letsencrypt.log).\nHTTPS is not set up. Run /usr/local/sbin/acme-wiki-tls when you are ready.',
    );
    expect(r.stderr).toContain('urn:ietf:params:acme:error:connection');
    // the email reaches certbot alone: our own output never repeats it
    expect(r.stdout).not.toContain('me@example.com');
    expect(existsSync(join(root, 'etc/letsencrypt/live/fail.example.com'))).toBe(false);
  });

  it('refuses a name whose AAAA record is another machine (the CA would check there), though its A record is right', () => {
    // this droplet has no IPv6 address (as by default on DigitalOcean): the AAAA record is still seen
    const r = tls(root, ['--domain', 'v6.example.com', '--no-email']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain(
      'v6.example.com also has an IPv6 (AAAA) record, 2001:db8::9, which is not this droplet: the CA checks it too. Remove that AAAA record',
    );
    expect(certbotArgs(root)).toBeUndefined();
    // with that address on this droplet, the name is this droplet's
    const here = tls(
      root,
      ['--domain', 'v6.example.com', '--no-email'],
      '',
      'ip addr add 2001:db8::9/64 dev lo nodad || exit 95',
    );
    expect(here.code, here.stdout + here.stderr).toBe(0);
    expect(certbotArgs(root)).toContain('arg=v6.example.com');
  });

  it('one run at a time: while another holds the lock (a second login), it says so and does not call certbot', () => {
    const hold =
      'mkdir -p /var/lib/mpimg/acme-wiki && exec 8> /var/lib/mpimg/acme-wiki/tls.lock && flock -n 8 || exit 95';
    const r = tls(root, ['--domain', 'good.example.com', '--no-email'], '', hold);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain(
      'Another run of /usr/local/sbin/acme-wiki-tls is setting up HTTPS right now (another login?): let it finish, then run /usr/local/sbin/acme-wiki-tls again if HTTPS is still not on.',
    );
    expect(certbotArgs(root)).toBeUndefined();
    // certbot never holds the lock (a web server it starts would keep it): its descriptor 9 is closed
    const ok = tls(root, ['--domain', 'good.example.com', '--no-email']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(readFileSync(join(root, 'mpimg-test/certbot.fd9'), 'utf8')).toBe('closed\n');
  });
});

/** A console login as root (login(1), bash, a pty) with a global address on an interface, typing `typed`. */
function loginTyping(root: string, typed: string): Run {
  const script = `${NET}
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts || exit 97
printf '%s' "$TYPED" | script -qec 'login -f root' /dev/null`;
  const r = inHostRoot(root, script, { net: true, timeoutMs: 60_000, env: { TYPED: typed } });
  return { ...r, stdout: r.stdout.replace(/\r\n/g, '\n') };
}

describe('the first login with $.certbot (real login, bash, pty)', () => {
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('these tests log in for real in namespaces: run them as root');
  });

  it('skipped with an empty answer: the login goes on, the vendor script runs, the hook goes, the command stays', () => {
    const root = tlsRoot({ server: 'nginx' });
    // the vendor's first-login script (project-fixture) reads the first line, the HTTPS step the next
    const r = loginTyping(root, 'wiki.example.com\n\necho "typed: $(id -un)"\nexit\n');
    expect(r.stdout).toContain("HTTPS for Acme Wiki: a free certificate from Let's Encrypt for your domain.");
    expect(r.stdout).toContain(`First point the domain's DNS A record at this droplet (${DROPLET_IP}).`);
    expect(r.stdout).toContain('Skipped.\nHTTPS is not set up. Run /usr/local/sbin/acme-wiki-tls when you are ready.');
    expect(r.stdout).toContain('Acme Wiki setup is complete.');
    expect(r.stdout).toContain('typed: root');
    expect(readFileSync(join(root, 'root/domain.txt'), 'utf8')).toBe('domain=wiki.example.com\n');
    expect(readFileSync(join(root, 'root/.bashrc'), 'utf8')).not.toContain('first-login');
    expect(certbotArgs(root)).toBeUndefined();
    // re-runnable later
    const later = tls(root, ['--domain', 'good.example.com', '--no-email']);
    expect(later.code, later.stdout).toBe(0);
    expect(later.stdout).toContain('HTTPS is on: https://good.example.com/');
  });

  it('a failure at first login leaves the login usable, and the setup complete (the command stays for later)', () => {
    const root = tlsRoot({ server: 'nginx' }, { firstLogin: false });
    const r = loginTyping(root, 'other.example.com\necho "typed: $(id -un)"\nexit\n');
    expect(r.stdout).toContain('other.example.com resolves to 198.51.100.9, not to this droplet');
    expect(r.stdout).toContain('HTTPS is not set up. Run /usr/local/sbin/acme-wiki-tls when you are ready.');
    expect(r.stdout).toContain('Acme Wiki setup is complete.');
    expect(r.stdout).toContain('typed: root');
  });

  it('answered: the certificate is asked for at first login, and the MOTD names it', () => {
    const root = tlsRoot({ server: 'nginx' }, { firstLogin: false });
    const r = loginTyping(root, 'good.example.com\n\necho "typed: $(id -un)"\nexit\n');
    expect(r.stdout).toContain('HTTPS is on: https://good.example.com/');
    expect(r.stdout).toContain('typed: root');
    expect(certbotArgs(root)).toContain('arg=--register-unsafely-without-email');
    expect(certbotArgs(root)).toContain('arg=https://acme-v02.api.letsencrypt.org/directory');
  });
});
