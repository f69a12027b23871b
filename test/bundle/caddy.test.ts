/**
 * $.caddy: the schema's errors at their $.path; the generated Caddyfile read by this machine's REAL
 * Caddy (Debian's 2.6.2: `caddy validate`, `caddy adapt`), with the site files the site script
 * writes; dist/<slug>-build.sh's `caddy` step run in a root of its own (test/helpers/host-root.ts,
 * this machine's /usr read-only, so its caddy); the site script refusing hostile names and leaving
 * everything as it was. No Caddy server runs here (validate and adapt only start nothing).
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { sectionPackages } from '../../runtime/section-packages.js';
import { cleanupArgs, imageCheckArgs } from '../../runtime/script-args.js';
import { LETS_ENCRYPT_DIRECTORY } from '../../runtime/sections/acme.js';
import { caddyfile, type Caddy } from '../../runtime/sections/caddy.js';
import { projectWarnings } from '../../tasks/commands/project-warnings.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { CHECK_SCRIPT, CLEANUP_SCRIPT, link, put, type CheckReport } from '../scripts/fixture-root.js';

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests run caddy in roots of their own: run them as root');
  if (!existsSync('/usr/bin/caddy'))
    throw new Error("these tests need Debian's caddy installed (apt-get install caddy)");
});

const problems = (caddy: unknown) =>
  validateManifest({ ...MINIMAL_MANIFEST, caddy }).problems.map((p) => `${p.path}: ${p.message}`);

const PEBBLE = { directory: 'https://localhost:14000/dir', caRoot: '/etc/acme-wiki/acme-ca.pem' };

describe('$.caddy at validate time', () => {
  it('takes an app or a folder, an email and the shared acme section', () => {
    expect(problems({ reverseProxy: '127.0.0.1:3000' })).toEqual([]);
    expect(problems({ reverseProxy: '[::1]:8080', email: 'ops@example.com' })).toEqual([]);
    expect(problems({ root: '/var/www/html', ipCertificate: true, acme: PEBBLE })).toEqual([]);
  });

  it('refuses hostile or wrong values at their $.path, with what to do', () => {
    const one = (c: unknown) => [...new Set(problems(c).map((p) => p.split(':')[0]))];
    for (const bad of ['127.0.0.1:3000 {', 'a"b:80', 'x:1\nimport /etc/passwd', '$(id):80', 'http://a:80', 'a:'])
      expect(one({ reverseProxy: bad }), JSON.stringify(bad)).toEqual(['$.caddy.reverseProxy']);
    expect(problems({ reverseProxy: 'localhost:70000' })).toEqual([
      '$.caddy.reverseProxy: port 70000 is not one from 1 to 65535',
    ]);
    for (const bad of ['/var/www/my site', '/srv/{$HOME}', '/srv/a"b', '/srv/a\nb', '/srv/$(id)', '/srv/#x'])
      expect(problems({ root: bad }), JSON.stringify(bad)).toContain(
        `$.caddy.root: path "${bad}" cannot stand plainly in a Caddyfile`,
      );
    expect(problems({ root: 'www' })[0]).toMatch(/^\$\.caddy\.root: bad droplet path "www": is not absolute/);
    for (const bad of ['a b@example.com', 'ops@example.com\n}', '"x"@example.com', 'ops@localhost', '{$E}@x.com'])
      expect(one({ root: '/srv', email: bad }), JSON.stringify(bad)).toEqual(['$.caddy.email']);
    expect(problems({ root: '/srv', acme: { directory: 'https://ca.example/dir', caRoot: '/etc/a ca.pem' } })).toEqual([
      '$.caddy.acme.caRoot: path "/etc/a ca.pem" cannot stand plainly in a Caddyfile',
    ]);
    expect(one({ root: '/srv', acme: { directory: 'https://x/dir {' } })).toEqual(['$.caddy.acme.directory']);
    expect(problems({})).toEqual(['$.caddy: Caddy serves nothing']);
    expect(problems({ root: '/srv', reverseProxy: '127.0.0.1:1' })).toEqual([]);
    expect(problems({ root: '/srv', ipCertificate: true })).toEqual([
      "$.caddy.ipCertificate: Let's Encrypt issues certificates for IP addresses only under its short-lived profile, which Caddy 2.6 (Debian 12's) cannot ask for",
    ]);
    expect(
      problems({
        root: '/srv',
        ipCertificate: true,
        acme: { directory: 'https://acme-staging-v02.api.letsencrypt.org/directory' },
      }),
    ).toEqual([
      "$.caddy.ipCertificate: Let's Encrypt issues certificates for IP addresses only under its short-lived profile, which Caddy 2.6 (Debian 12's) cannot ask for",
    ]);
    expect(problems({ root: '/srv', port: 80 })[0]).toMatch(/^\$\.caddy\.port: /);
  });

  it('warns (mpimg validate) when $.firewall keeps out 80/tcp or 443/tcp, which Caddy and the ACME server need', () => {
    const dir = makeProject({});
    const warn = (firewall: Manifest['firewall'], caddy: Manifest['caddy'] = { root: '/srv' }) =>
      projectWarnings({ dir, manifest: { ...MINIMAL_MANIFEST, caddy, firewall } as Manifest }).filter((w) =>
        w.includes('$.caddy'),
      );
    expect(warn({ limit: ['22/tcp'], allow: ['80/tcp'] })).toEqual([
      '$.firewall: Caddy ($.caddy) serves ports 80 and 443, and the ACME server checks the domain through them, but the firewall does not let in "443/tcp": add "443/tcp" to "allow"',
    ]);
    expect(warn({ limit: ['22/tcp'], allow: ['443/udp'] })[0]).toContain('does not let in "80/tcp" and "443/tcp"');
    expect(warn({ limit: ['22/tcp'], allow: ['80/tcp', '443/tcp'] })).toEqual([]);
    expect(warn({ limit: ['22/tcp'], allow: ['80:443/tcp'] })).toEqual([]);
    expect(warn({ limit: ['22/tcp', '80', '443'] })).toEqual([]);
    // without $.caddy, no word of it
    expect(
      projectWarnings({ dir, manifest: { ...MINIMAL_MANIFEST, firewall: { limit: ['22/tcp'] } } as Manifest }).filter(
        (w) => w.includes('$.caddy'),
      ),
    ).toEqual([]);
  });

  it("has the packages step install Debian's caddy; the dnf family gets it from the caddy step", () => {
    expect(sectionPackages({ caddy: { root: '/srv' } } as Manifest, 'apt')).toEqual(['caddy']);
    expect(sectionPackages({ caddy: { root: '/srv' } } as Manifest, 'dnf')).toEqual([]);
    expect(sectionPackages({} as Manifest, 'apt')).toEqual([]);
  });
});

/** `caddy ARGS` on this machine (validate and adapt: they start no server). */
function caddy(args: string[]) {
  return spawnSync('caddy', args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: tempDir('mpimg-caddy-home-') },
  });
}

/** The Caddyfile of `c` in a folder, with its site files; adapted to JSON by the real caddy. */
function adapted(c: Caddy, sites: Record<string, string>) {
  const dir = tempDir('mpimg-caddyfile-');
  mkdirSync(join(dir, 'sites'));
  for (const [f, text] of Object.entries(sites)) writeFileSync(join(dir, 'sites', f), text);
  writeFileSync(join(dir, 'Caddyfile'), caddyfile(c, join(dir, 'sites')));
  const v = caddy(['validate', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile']);
  const a = caddy(['adapt', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile']);
  expect(a.status, a.stderr).toBe(0);
  return { dir, validate: v, json: JSON.parse(a.stdout) };
}

describe('the Caddyfile, read by the real caddy', () => {
  it("names Let's Encrypt by default; a domain gets an ACME certificate, http redirects, the address plain HTTP", () => {
    const { validate, json } = adapted(
      { reverseProxy: '127.0.0.1:3000', email: 'ops@example.com' },
      {
        'ip.caddy': 'http://192.0.2.10 {\n\timport mpimg-app\n}\n',
        'domain.caddy': 'app.example.com {\n\timport mpimg-app\n}\n',
      },
    );
    expect(validate.status, validate.stderr).toBe(0);
    expect(validate.stdout).toContain('Valid configuration');
    expect(json.apps.tls.automation.policies).toEqual([
      {
        subjects: ['app.example.com'],
        issuers: [{ module: 'acme', ca: LETS_ENCRYPT_DIRECTORY, email: 'ops@example.com' }],
      },
    ]);
    const servers = Object.values(json.apps.http.servers) as Array<{ listen: string[]; routes: unknown[] }>;
    const text = JSON.stringify(servers);
    expect(text).toContain('"dial":"127.0.0.1:3000"');
    expect(servers.map((s) => s.listen[0]).sort()).toEqual([':443', ':80']);
    // the address on :80 serves the app; Caddy adds the domain's redirect by itself at run time
    expect(JSON.stringify(servers.find((s) => s.listen[0] === ':80'))).toContain('"host":["192.0.2.10"]');
  });

  it('asks a private directory for the address too, trusting its CA, when ipCertificate', () => {
    const dir = tempDir('mpimg-caddyfile-');
    mkdirSync(join(dir, 'sites'));
    writeFileSync(join(dir, 'sites/ip.caddy'), '192.0.2.10 {\n\ttls {\n\t\tissuer acme\n\t}\n\timport mpimg-app\n}\n');
    const ca = join(dir, 'ca.pem');
    writeFileSync(
      join(dir, 'Caddyfile'),
      caddyfile({ root: '/var/www/html', ipCertificate: true, acme: { ...PEBBLE, caRoot: ca } }, join(dir, 'sites')),
    );
    // Caddy reads the CA file when it validates: without it, no
    const missing = caddy(['validate', '--config', join(dir, 'Caddyfile')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain(ca);
    copyFileSync('/etc/ssl/certs/ca-certificates.crt', ca);
    const ok = caddy(['validate', '--config', join(dir, 'Caddyfile')]);
    expect(ok.status, ok.stderr).toBe(0);
    const a = JSON.parse(caddy(['adapt', '--config', join(dir, 'Caddyfile')]).stdout);
    expect(a.apps.tls.automation.policies).toEqual([
      { subjects: ['192.0.2.10'], issuers: [{ module: 'acme', ca: PEBBLE.directory, trusted_roots_pem_files: [ca] }] },
    ]);
    expect(JSON.stringify(a.apps.http)).toContain('"handler":"file_server"');
  });

  it('serves the files that are there and passes the rest to the app, with both', () => {
    const { validate, json } = adapted(
      { root: '/var/www/app/public', reverseProxy: '127.0.0.1:8000' },
      { 'domain.caddy': 'app.example.com {\n\timport mpimg-app\n}\n' },
    );
    expect(validate.status, validate.stderr).toBe(0);
    const text = JSON.stringify(json.apps.http);
    expect(text).toContain('"match":[{"file":{}}]');
    expect(text).toContain('"handler":"file_server"');
    expect(text).toContain('"dial":"127.0.0.1:8000"');
    expect(text).toContain('"root":"/var/www/app/public"');
  });

  it('is empty without a site (first boot writes the address)', () => {
    expect(adapted({ reverseProxy: '127.0.0.1:3000' }, {}).json).toEqual({});
  });
});

function bundleWith(c: Manifest['caddy'], extra: Partial<Manifest> = {}) {
  return writeBundle(loadProject(makeProject({ manifest: { caddy: c, ...extra } })));
}
function caddyRoot(script: string): string {
  const root = hostRoot('debian');
  put(root, 'mpimg-test/build.sh', readFileSync(script), 0o755);
  return root;
}
const SCRIPT = '/opt/acme/acme-wiki/caddy-site';
const HOOK = 'var/lib/cloud/scripts/per-instance/0-acme-wiki-caddy';

describe('the caddy step with the real caddy', () => {
  it('writes the Caddyfile, the site script and its hook, validates them with sites, enables caddy; a re-run changes nothing', () => {
    const b = bundleWith({ reverseProxy: '127.0.0.1:3000', email: 'ops@example.com' });
    const root = caddyRoot(b.build);
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh caddy');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `caddy: /etc/caddy/Caddyfile (written) validated by caddy with a site for an address and a domain, ACME directory ${LETS_ENCRYPT_DIRECTORY}; sites at first boot by /${HOOK}, domains with ${SCRIPT} DOMAIN; caddy.service enabled at boot\n`,
    );
    expect(readFileSync(join(root, 'etc/caddy/Caddyfile'), 'utf8')).toBe(
      caddyfile({ reverseProxy: '127.0.0.1:3000', email: 'ops@example.com' }),
    );
    expect(lstatSync(join(root, 'opt/acme/acme-wiki/caddy-site')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(root, HOOK), 'utf8')).toContain(`\nmpimg_run_first_boot 'caddy' '${SCRIPT}' 300\n`);
    // the scripts as shellcheck reads them (the build script's heredocs hide them from its own check)
    const sc = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', join(root, SCRIPT), join(root, HOOK)], {
      encoding: 'utf8',
    });
    expect(sc.stdout + sc.stderr, sc.stdout).toBe('');
    expect(sc.status).toBe(0);
    // the check's copies are gone; no site yet (first boot writes the address)
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(readdirSync(join(root, 'etc/caddy/sites'))).toEqual([]);
    expect(lstatSync(join(root, 'etc/systemd/system/multi-user.target.wants/caddy.service')).isSymbolicLink()).toBe(
      true,
    );
    const again = inHostRoot(root, 'sh /mpimg-test/build.sh caddy');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('/etc/caddy/Caddyfile (unchanged)');
    expect(processesIn(root)).toEqual([]);
  });

  it('takes a hostile product name into its scripts as text only', () => {
    const name = 'Acme\'s "Wiki" $(touch /pwned) `touch /pwned2` MPIMG_CADDY_SITE';
    const root = caddyRoot(bundleWith({ root: '/srv' }, { name }).build);
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh caddy');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, SCRIPT), 'utf8').split('\n')[1]).toBe(
      `# ${name}: Caddy's site names on this droplet (written by generator-mpimg).`,
    );
    expect(inHostRoot(root, `MPIMG_CADDY_IP=203.0.113.5 ${SCRIPT}`).code).toBe(0);
    expect(existsSync(join(root, 'pwned'))).toBe(false);
    expect(existsSync(join(root, 'pwned2'))).toBe(false);
  });

  it("replaces the caddy package's own Caddyfile, and refuses one of the vendor's", () => {
    const b = bundleWith({ root: '/var/www/html' });
    const pkg = caddyRoot(b.build);
    mkdirSync(join(pkg, 'var/lib/dpkg'), { recursive: true });
    copyFileSync('/var/lib/dpkg/status', join(pkg, 'var/lib/dpkg/status'));
    put(pkg, 'etc/caddy/Caddyfile', readFileSync('/etc/caddy/Caddyfile'));
    const r = inHostRoot(pkg, 'sh /mpimg-test/build.sh caddy');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(pkg, 'etc/caddy/Caddyfile'), 'utf8')).toBe(caddyfile({ root: '/var/www/html' }));

    const vendor = caddyRoot(b.build);
    put(vendor, 'etc/caddy/Caddyfile', ':80 {\n\trespond "mine"\n}\n');
    const v = inHostRoot(vendor, 'sh /mpimg-test/build.sh caddy');
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(
      "error: caddy: /etc/caddy/Caddyfile is in the way: neither mpimg's nor the caddy package's own\n",
    );
    expect(readFileSync(join(vendor, 'etc/caddy/Caddyfile'), 'utf8')).toBe(':80 {\n\trespond "mine"\n}\n');
  });

  it('refuses a link at /etc/caddy/sites (chmod would follow it out of the root), changing nothing', () => {
    const b = bundleWith({ root: '/srv' });
    const root = caddyRoot(b.build);
    mkdirSync(join(root, 'outside'), { mode: 0o700 });
    link(root, 'etc/caddy/sites', '/outside');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh caddy');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: caddy: /etc/caddy/sites is in the way: a link or not a folder\n');
    expect(statSync(join(root, 'outside')).mode & 0o777).toBe(0o700);
    expect(existsSync(join(root, 'etc/caddy/Caddyfile'))).toBe(false);
  });

  it('refuses another web server enabled at boot on port 80 or 443, and takes one on another port', () => {
    const b = bundleWith({ reverseProxy: '127.0.0.1:8080' });
    const root = caddyRoot(b.build);
    put(
      root,
      'etc/systemd/system/nginx.service',
      '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
    );
    link(root, 'etc/systemd/system/multi-user.target.wants/nginx.service', '/etc/systemd/system/nginx.service');
    put(root, 'etc/nginx/nginx.conf', 'http {\n\tinclude /etc/nginx/sites-enabled/*;\n}\n');
    // Debian's layout: the enabled site is an absolute link to sites-available
    put(root, 'etc/nginx/sites-available/default', 'server {\n\tlisten [::]:80 default_server;\n}\n');
    link(root, 'etc/nginx/sites-enabled/default', '/etc/nginx/sites-available/default');
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh caddy');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: caddy: nginx.service is enabled at boot and /etc/nginx/sites-enabled/default listens on port 80 or 443, which Caddy serves',
    );
    expect(r.stderr).toContain('have it listen elsewhere (e.g. 127.0.0.1:8080');
    expect(existsSync(join(root, 'etc/caddy/Caddyfile'))).toBe(false);
    // the app behind Caddy: nginx on loopback 8080
    put(root, 'etc/nginx/sites-available/default', 'server {\n\tlisten 127.0.0.1:8080;\n}\n');
    const ok = inHostRoot(root, 'sh /mpimg-test/build.sh caddy');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('fails the build when the CA file of a private ACME server is not in the image', () => {
    const b = bundleWith({ root: '/srv', ipCertificate: true, acme: PEBBLE });
    const root = caddyRoot(b.build);
    const r = inHostRoot(root, 'sh /mpimg-test/build.sh caddy');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: caddy: acme.caRoot /etc/acme-wiki/acme-ca.pem is not in the image\n');
    expect(existsSync(join(root, 'etc/caddy/Caddyfile'))).toBe(false);
    // with it (any PEM CA file), Caddy validates the address with an ACME issuer
    put(root, 'etc/acme-wiki/acme-ca.pem', readFileSync('/etc/ssl/certs/ca-certificates.crt'));
    const ok = inHostRoot(root, 'sh /mpimg-test/build.sh caddy');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain(`ACME directory ${PEBBLE.directory};`);
  });
});

describe('the site script', () => {
  const built = () => {
    const root = caddyRoot(bundleWith({ reverseProxy: '127.0.0.1:3000' }).build);
    expect(inHostRoot(root, 'sh /mpimg-test/build.sh caddy').code).toBe(0);
    return root;
  };
  const site = (root: string, args: string, ip = '203.0.113.5') =>
    inHostRoot(root, `MPIMG_CADDY_IP=${ip} ${SCRIPT} ${args}`);
  const sites = (root: string) =>
    Object.fromEntries(
      readdirSync(join(root, 'etc/caddy/sites')).map((f) => [
        f,
        readFileSync(join(root, 'etc/caddy/sites', f), 'utf8'),
      ]),
    );

  it('writes the address, then a domain (lower-cased), each validated by caddy; again is the same', () => {
    const root = built();
    const a = site(root, '');
    expect(a.stderr).toBe('');
    expect(a.stdout).toBe('caddy-site: 203.0.113.5 in /etc/caddy/sites/ip.caddy, validated by Caddy\n');
    const d = site(root, 'App.Example.COM');
    expect(d.stdout).toBe('caddy-site: app.example.com in /etc/caddy/sites/domain.caddy, validated by Caddy\n');
    const want = {
      'ip.caddy': 'http://203.0.113.5 {\n\timport mpimg-app\n}\n',
      'domain.caddy': 'app.example.com {\n\timport mpimg-app\n}\n',
    };
    expect(sites(root)).toEqual(want);
    expect(site(root, 'app.example.com').code).toBe(0);
    expect(sites(root)).toEqual(want);
    const json = caddy(['adapt', '--config', join(root, 'etc/caddy/Caddyfile')]);
    // (the Caddyfile imports /etc/caddy/sites: read here through the root's path it is empty)
    expect(json.status).toBe(0);
  });

  it('refuses hostile names and addresses, changing nothing', () => {
    const root = built();
    expect(site(root, 'good.example.org').code).toBe(0);
    const before = sites(root);
    for (const bad of [
      "'a$(touch /pwned).example.com'",
      "'x.example.com {'",
      "'x.example.com\nimport /etc/shadow'",
      "'a b.example.com'",
      '\'"q".example.com\'',
      '-x.example.com',
      'example',
      'a..example.com',
      "''",
      'a.example.com b.example.com',
      `${'a'.repeat(64)}.example.com`,
    ]) {
      const r = site(root, bad);
      expect(r.code, bad).not.toBe(0);
      expect(r.stderr, bad).toMatch(/^caddy-site: (not a domain name|usage)/);
    }
    for (const ip of ["'1.2.3.4\n}'", "'$(id)'", '1.2.3.256', "'1.2.3.4 5.6.7.8'"]) {
      const r = site(root, '', ip);
      expect(r.code, ip).toBe(1);
      expect(r.stderr, ip).toMatch(/^caddy-site: not an IPv4 address/);
    }
    expect(existsSync(join(root, 'pwned'))).toBe(false);
    expect(sites(root)).toEqual(before);
  });

  it('runs one at a time: another run holding the folder makes it wait, then refuse, changing nothing', () => {
    const root = built();
    expect(site(root, 'first.example.com').code).toBe(0);
    const r = inHostRoot(
      root,
      `exec 8</etc/caddy/sites; flock 8; MPIMG_CADDY_LOCK_WAIT=0 MPIMG_CADDY_IP=203.0.113.5 ${SCRIPT} second.example.com`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'caddy-site: another caddy-site is still running (it holds /etc/caddy/sites): run this one again when it has finished\n',
    );
    expect(sites(root)).toEqual({ 'domain.caddy': 'first.example.com {\n\timport mpimg-app\n}\n' });
  });

  it('takes the DNS form with a trailing dot; says what to give for an international name or an address', () => {
    const root = built();
    const d = site(root, 'Shop.Example.COM.');
    expect(d.stdout).toBe('caddy-site: shop.example.com in /etc/caddy/sites/domain.caddy, validated by Caddy\n');
    expect(sites(root)).toEqual({ 'domain.caddy': 'shop.example.com {\n\timport mpimg-app\n}\n' });
    const idn = site(root, 'bücher.example');
    expect(idn.code).toBe(2);
    expect(idn.stderr).toBe(
      'caddy-site: not a domain name: give an international name in its ASCII form (xn--..., e.g. from idn2), e.g. xn--bcher-kva.example\n',
    );
    const ip = site(root, '192.0.2.1.');
    expect(ip.code).toBe(2);
    expect(ip.stderr).toBe(
      "caddy-site: 192.0.2.1 is an address, not a domain name: the droplet's address is served already (caddy-site with no name writes it); give a domain whose DNS points here\n",
    );
    expect(site(root, 'xn--bcher-kva.example').code).toBe(0);
    expect(sites(root)).toEqual({ 'domain.caddy': 'xn--bcher-kva.example {\n\timport mpimg-app\n}\n' });
  });

  it('interrupted while Caddy validates (the first-boot timeout TERMs it), puts the old site back and leaves no temporary file', () => {
    const root = built();
    expect(site(root, 'first.example.com').code).toBe(0);
    // a caddy that is slow enough: the signal arrives while it runs
    put(root, 'fake/caddy', '#!/bin/sh\nkill -TERM "$PPID"\nexit 0\n', 0o755);
    const r = inHostRoot(root, `PATH=/fake:$PATH MPIMG_CADDY_IP=203.0.113.5 ${SCRIPT} second.example.com`);
    expect(r.code).toBe(143);
    expect(sites(root)).toEqual({ 'domain.caddy': 'first.example.com {\n\timport mpimg-app\n}\n' });
    const ip = inHostRoot(root, `PATH=/fake:$PATH MPIMG_CADDY_IP=203.0.113.5 ${SCRIPT}`);
    expect(ip.code).toBe(143);
    expect(sites(root)).toEqual({ 'domain.caddy': 'first.example.com {\n\timport mpimg-app\n}\n' });
  });

  it('puts the old site back when Caddy refuses the configuration with the new one', () => {
    const root = built();
    expect(site(root, 'first.example.com').code).toBe(0);
    // a Caddyfile another hand broke: Caddy refuses it with any site
    const file = join(root, 'etc/caddy/Caddyfile');
    writeFileSync(file, readFileSync(file, 'utf8').replace('reverse_proxy', 'no_such_directive'));
    const r = site(root, 'second.example.com');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no_such_directive');
    expect(r.stderr).toContain(
      'caddy-site: Caddy refuses its configuration with second.example.com (caddy validate, above): nothing changed\n',
    );
    expect(sites(root)).toEqual({ 'domain.caddy': 'first.example.com {\n\timport mpimg-app\n}\n' });
  });
});

describe('the image check of $.caddy (--caddy)', () => {
  const checkArgs = (m: Partial<Manifest>) =>
    imageCheckArgs({ slug: 'acme-wiki', vendor: 'acme', ...m }, readFileSync(CHECK_SCRIPT, 'utf8'));
  /** The check run inside the root as on the droplet (no --root). */
  function liveCheck(root: string, args: string[]): CheckReport {
    const r = inHostRoot(root, `bash /mpimg-test/99-img-check.sh --json ${args.join(' ')}`);
    expect(r.stdout, r.stderr).toMatch(/^\{/);
    return JSON.parse(r.stdout) as CheckReport;
  }
  const pick = (report: CheckReport) => {
    const c = report.checks.find((x) => x.id === 'caddy');
    return c && { status: c.status, message: c.message, evidence: c.evidence };
  };

  it('is passed from mpimg.json; passes what the step left, as caddy validate reads it; fails it broken or off', () => {
    expect(checkArgs({ caddy: { root: '/srv' } })).toContain('--caddy');
    expect(checkArgs({})).not.toContain('--caddy');
    const root = caddyRoot(bundleWith({ reverseProxy: '127.0.0.1:3000' }).build);
    put(root, 'mpimg-test/99-img-check.sh', readFileSync(CHECK_SCRIPT), 0o755);
    expect(inHostRoot(root, 'sh /mpimg-test/build.sh caddy').code).toBe(0);
    expect(pick(liveCheck(root, ['--caddy']))).toMatchObject({
      status: 'pass',
      message: "Caddy's configuration of mpimg.json is valid (caddy validate), caddy.service enabled at boot",
    });
    expect(pick(liveCheck(root, []))).toBeUndefined();
    // a site (as first boot writes it), then a Caddyfile another hand broke: Caddy reads the app's
    // snippet only where a site imports it
    expect(inHostRoot(root, `MPIMG_CADDY_IP=203.0.113.5 ${SCRIPT}`).code).toBe(0);
    const file = join(root, 'etc/caddy/Caddyfile');
    writeFileSync(file, readFileSync(file, 'utf8').replace('reverse_proxy', 'no_such_directive'));
    inHostRoot(root, 'rm /etc/systemd/system/multi-user.target.wants/caddy.service');
    const broken = pick(liveCheck(root, ['--caddy']));
    expect(broken?.status).toBe('fail');
    expect(broken?.evidence.join('\n')).toMatch(/caddy validate refuses \/etc\/caddy\/Caddyfile: .*no_such_directive/);
    expect(broken?.evidence).toContain('caddy.service is not enabled at boot');
  });
});

describe("Caddy's storage: one droplet's keys and certificates never ship in the image", () => {
  const STORE = 'var/lib/caddy/.local/share/caddy';
  /** Caddy's storage as a build droplet's Caddy leaves it (the postinst starts it; a test asked for certificates). */
  function stored(root: string) {
    put(root, `${STORE}/instance.uuid`, '0f1e2d3c-0000-4000-8000-000000000000\n');
    put(root, `${STORE}/acme/acme-v02.api.letsencrypt.org-directory/users/ops@example.com/ops.key`, 'KEY', 0o600);
    put(root, `${STORE}/certificates/x/app.example.com/app.example.com.key`, 'KEY', 0o600);
    put(root, `${STORE}/pki/authorities/local/root.key`, 'KEY', 0o600);
    put(root, 'var/lib/caddy/.config/caddy/autosave.json', '{}');
    put(root, 'root/.local/share/caddy/instance.uuid', 'x\n');
  }

  it("the cleanup removes it from every home (links as links), and with --caddy the build droplet's sites", () => {
    const root = tempDir('mpimg-caddy-clean-');
    put(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\ncaddy:x:999:999:Caddy:/var/lib/caddy:/usr/sbin/nologin\n');
    stored(root);
    put(root, 'var/lib/caddy/keep.txt', "the vendor's\n");
    put(root, 'etc/caddy/Caddyfile', 'mine\n');
    mkdirSync(join(root, 'home/app/.local/share'), { recursive: true });
    link(root, 'home/app/.local/share/caddy', '/etc/caddy');
    put(root, 'etc/caddy/sites/ip.caddy', 'http://192.0.2.7 {\n\timport mpimg-app\n}\n');
    put(root, 'etc/caddy/sites/domain.caddy', 'test.vendor.example {\n\timport mpimg-app\n}\n');
    put(root, 'etc/caddy/sites/.caddy-site.AbC123', 'half');
    put(root, 'etc/caddy/sites/vendor.caddy', "the vendor's own\n");
    const r = spawnSync('bash', [CLEANUP_SCRIPT, '--root', root, '--no-packages'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('remove /var/lib/caddy/.local/share/caddy (');
    expect(existsSync(join(root, STORE))).toBe(false);
    expect(existsSync(join(root, 'var/lib/caddy/.config/caddy/autosave.json'))).toBe(false);
    expect(existsSync(join(root, 'root/.local/share/caddy'))).toBe(false);
    expect(existsSync(join(root, 'home/app/.local/share/caddy'))).toBe(false);
    expect(readFileSync(join(root, 'etc/caddy/Caddyfile'), 'utf8')).toBe('mine\n');
    expect(readFileSync(join(root, 'var/lib/caddy/keep.txt'), 'utf8')).toBe("the vendor's\n");
    // the sites only when mpimg.json has $.caddy (as the build passes it)
    expect(readdirSync(join(root, 'etc/caddy/sites')).sort()).toEqual([
      '.caddy-site.AbC123',
      'domain.caddy',
      'ip.caddy',
      'vendor.caddy',
    ]);
    const args = cleanupArgs(
      { slug: 'acme-wiki', vendor: 'acme', caddy: { root: '/srv' } },
      readFileSync(CLEANUP_SCRIPT, 'utf8'),
    );
    expect(args).toContain('--caddy');
    expect(cleanupArgs({ slug: 'acme-wiki', vendor: 'acme' }, readFileSync(CLEANUP_SCRIPT, 'utf8'))).not.toContain(
      '--caddy',
    );
    const sites = spawnSync('bash', [CLEANUP_SCRIPT, '--root', root, '--no-packages', ...args], { encoding: 'utf8' });
    expect(sites.status, sites.stderr).toBe(0);
    expect(readdirSync(join(root, 'etc/caddy/sites'))).toEqual(['vendor.caddy']);
    const again = spawnSync('bash', [CLEANUP_SCRIPT, '--root', root, '--no-packages', ...args], { encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^Summary: 12 steps, 0 change\(s\)/m);
  });

  it('the image check fails an image that carries it; a booted droplet has its own', () => {
    const root = caddyRoot(bundleWith({ reverseProxy: '127.0.0.1:3000' }).build);
    put(root, 'mpimg-test/99-img-check.sh', readFileSync(CHECK_SCRIPT), 0o755);
    expect(inHostRoot(root, 'sh /mpimg-test/build.sh caddy').code).toBe(0);
    stored(root);
    put(root, 'etc/caddy/sites/domain.caddy', 'test.vendor.example {\n\timport mpimg-app\n}\n');
    const r = inHostRoot(root, 'bash /mpimg-test/99-img-check.sh --json --caddy');
    const c = (JSON.parse(r.stdout) as CheckReport).checks.find((x) => x.id === 'caddy');
    expect(c?.status).toBe('fail');
    expect(c?.evidence).toEqual([
      "/var/lib/caddy/.local/share/caddy is in the image (Caddy's certificates, keys and ACME account of the build droplet): run the cleanup (90-cleanup.sh) again",
      "/root/.local/share/caddy is in the image (Caddy's certificates, keys and ACME account of the build droplet): run the cleanup (90-cleanup.sh) again",
      '/etc/caddy/sites/domain.caddy is in the image (a site of the build droplet, which every droplet would serve and ask certificates for): run the cleanup (90-cleanup.sh) again',
    ]);
    const booted = inHostRoot(root, 'bash /mpimg-test/99-img-check.sh --json --caddy --booted');
    const b = (JSON.parse(booted.stdout) as CheckReport).checks.find((x) => x.id === 'caddy');
    expect(b?.evidence.join('\n')).not.toContain('is in the image');
  });
});
