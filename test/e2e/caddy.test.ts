// Issue 21, TLS pattern (b), on the real bed: a bookworm image with $.caddy (a static site, the
// droplet's address with a certificate too) built over SSH, then a droplet made from it booted with
// systemd and a local ACME server (the pebble fixture) as its directory. First boot gives Caddy the
// droplet's address; the customer's command adds a domain that resolves to the droplet. Caddy gets
// both certificates from pebble, the site answers over HTTPS with them, http redirects to https,
// and the certificates are in Caddy's managed storage under the directory's name. Checked from
// inside the droplet, with curl trusting only pebble's issuing root.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { imageCheckArgs } from '../../runtime/script-args.js';
import { CADDY_CERTIFICATES } from '../../runtime/sections/caddy.js';
import { buildImage, type BuiltImage } from './harness/build.js';
import { baseOf, e2eContext } from './harness/context.js';
import { SystemdDroplet } from './harness/examples.js';
import { run } from './harness/exec.js';
import { mountsUnder } from './harness/mounts.js';
import {
  pebble,
  PEBBLE_CA_FILE,
  PEBBLE_DIRECTORY,
  PEBBLE_ROOT_FILE,
  PEBBLE_UNIT,
  pebbleRoot,
} from './harness/pebble.js';
import { createProject, hostEnv, type Project } from './harness/project.js';
import { makeKeyPair, type KeyPair } from './harness/ssh.js';

const ADDRESS = '192.0.2.41';
const DOMAIN = 'shop.caddy.e2e.test';
const SLUG = 'e2e-wiki';
const SITE_ROOT = `/var/www/${SLUG}`;
const PAGE = 'hello from the caddy e2e site\n';
const SCRIPT = `/opt/acme/${SLUG}/caddy-site`;
/** Caddy's storage of pebble's certificates: certificates/<the directory's host, port and path>/<name>/. */
const STORE = `${CADDY_CERTIFICATES}/localhost-14000-dir`;

describe('bookworm: Caddy with automatic HTTPS from a local ACME directory (issue 21, pattern b)', () => {
  let work: string;
  let keys: KeyPair;
  let project: Project;
  let manifest: Manifest;
  let built: BuiltImage | undefined;
  let droplet: SystemdDroplet | undefined;

  beforeAll(async () => {
    const ctx = e2eContext();
    work = mkdtempSync(join(ctx.runRoot, 'caddy-'));
    keys = await makeKeyPair(work);
    project = await createProject({
      dir: join(work, 'project'),
      repoRoot: ctx.repoRoot,
      suite: 'bookworm',
      packages: ['curl'],
    });
    const file = join(project.dir, 'mpimg.json');
    // No $.firewall: the bed's droplets cannot run one (no CAP_NET_ADMIN).
    const { firewall: _firewall, ...m } = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    manifest = {
      ...m,
      caddy: {
        root: SITE_ROOT,
        ipCertificate: true,
        email: 'ops@e2e.test',
        acme: { directory: PEBBLE_DIRECTORY, caRoot: PEBBLE_CA_FILE },
      },
    };
    writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
    const put = (rel: string, text: string | Buffer) => {
      mkdirSync(dirname(join(project.dir, 'files', rel)), { recursive: true });
      writeFileSync(join(project.dir, 'files', rel), text);
    };
    put(`${SITE_ROOT.slice(1)}/index.html`, PAGE);
    // The vendor ships the CA of its ACME server's HTTPS; here a stand-in PEM at the fixture's path,
    // which the fixture writes over in the droplet with the CA it made (the build needs the file).
    put(PEBBLE_CA_FILE.slice(1), readFileSync('/etc/ssl/certs/ca-certificates.crt'));
    await run('make', ['bundle'], { cwd: project.dir, env: hostEnv(), timeoutMs: 120_000 });
    built = await buildImage({
      work,
      base: { name: 'bookworm', lowers: [baseOf('bookworm')] },
      project,
      keys,
      name: 'caddy',
    });
    droplet = await SystemdDroplet.start({
      work,
      image: built.image,
      name: 'caddy',
      slug: SLUG,
      instanceId: `i-caddy-${Date.now().toString(36)}`,
      keys,
      address: `${ADDRESS}/24`,
      prepare: (d) => pebble(d, { names: [DOMAIN], address: ADDRESS }),
      fixtures: [PEBBLE_UNIT],
    });
  });

  afterAll(async () => {
    if (droplet) expect(await droplet.close()).toBe(0);
    await built?.image.release();
    if (work) expect(mountsUnder(work)).toEqual([]);
  });

  /** Until Caddy has stored the certificate of `name` (it asks pebble in the background), bounded. */
  const stored = (name: string) =>
    droplet!.sh(
      `for i in $(seq 1 90); do [ -s ${STORE}/${name}/${name}.crt ] && exit 0; sleep 1; done
       echo "no certificate for ${name} after 90 s" >&2; journalctl -u caddy.service --no-pager -n 40 >&2; exit 1`,
      150_000,
    );

  it('the build wrote and validated the Caddyfile with the directory, and enabled caddy', () => {
    expect(built!.output).toContain(
      `caddy: /etc/caddy/Caddyfile (written) validated by caddy with a site for an address and a domain, ACME directory ${PEBBLE_DIRECTORY}; sites at first boot by /var/lib/cloud/scripts/per-instance/0-${SLUG}-caddy, domains with ${SCRIPT} DOMAIN; caddy.service enabled at boot`,
    );
    expect(built!.output).toMatch(/\[check\] Summary: \d+ passed, \d+ warnings, 0 failed/);
    expect(built!.output).toMatch(/^\[check\] .*\[PASS\].*Caddy's configuration of mpimg\.json is valid/m);
  });

  it("first boot gave Caddy the droplet's address: a certificate from pebble, HTTPS with it, http redirected", async () => {
    await stored(ADDRESS);
    await pebbleRoot(droplet!);
    const out = await droplet!.sh(`
      cat /etc/caddy/sites/ip.caddy
      curl -fsS --cacert ${PEBBLE_ROOT_FILE} https://${ADDRESS}/
      curl -sS -o /dev/null -w '%{http_code} %{redirect_url}\\n' http://${ADDRESS}/a?b=1
      grep -F 'caddy-site: ${ADDRESS} in /etc/caddy/sites/ip.caddy, validated by Caddy' /var/log/mpimg/${SLUG}/caddy.log
    `);
    expect(out).toBe(
      `${ADDRESS} {\n\ttls {\n\t\tissuer acme\n\t}\n\timport mpimg-app\n}\n${PAGE}308 https://${ADDRESS}/a?b=1\ncaddy-site: ${ADDRESS} in /etc/caddy/sites/ip.caddy, validated by Caddy\n`,
    );
  });

  it('a domain given with the site script gets its certificate; the site answers over HTTPS with it; http redirects', async () => {
    // a hostile name first: refused, nothing changed
    const bad = await droplet!.exec(`${SCRIPT} 'x.e2e.test {'; echo "rc=$?"; ls /etc/caddy/sites`);
    expect(bad.stdout).toBe('rc=2\nip.caddy\n');
    expect(bad.stderr).toContain('caddy-site: not a domain name');
    expect(await droplet!.sh(`${SCRIPT} ${DOMAIN}`)).toBe(
      `caddy-site: ${DOMAIN} in /etc/caddy/sites/domain.caddy, validated by Caddy\ncaddy-site: caddy.service reloaded\n`,
    );
    await stored(DOMAIN);
    const root = await pebbleRoot(droplet!);
    const out = await droplet!.sh(`
      curl -fsS --cacert ${PEBBLE_ROOT_FILE} https://${DOMAIN}/
      curl -sS -o /dev/null -w '%{http_code} %{redirect_url}\\n' http://${DOMAIN}/x
      # no other trust: the system's CAs do not know pebble's root
      curl -sS -o /dev/null https://${DOMAIN}/ 2>&1 || echo "untrusted without --cacert"
      openssl x509 -noout -ext subjectAltName -in ${STORE}/${DOMAIN}/${DOMAIN}.crt | tail -n 1
      openssl verify -CAfile ${PEBBLE_ROOT_FILE} -untrusted ${STORE}/${DOMAIN}/${DOMAIN}.crt ${STORE}/${DOMAIN}/${DOMAIN}.crt
    `);
    expect(root).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const lines = out.split('\n');
    expect(lines[0]).toBe(PAGE.trimEnd());
    expect(lines[1]).toBe(`308 https://${DOMAIN}/x`);
    expect(out).toContain('untrusted without --cacert');
    expect(out).toContain(`    DNS:${DOMAIN}\n`);
    expect(out).toContain(`${STORE}/${DOMAIN}/${DOMAIN}.crt: OK\n`);
  });

  it("the certificates are Caddy's managed ones, under the directory its running config names; renewal is Caddy's", async () => {
    const out = await droplet!.sh(`
      ls ${STORE}/${DOMAIN} ${STORE}/${ADDRESS}
      stat -c '%U' ${STORE}/${DOMAIN}/${DOMAIN}.key
      # the running configuration (Caddy's admin API, loopback only): the issuer asks pebble
      curl -fsS http://localhost:2019/config/apps/tls/automation/policies
      echo
      journalctl -u caddy.service --no-pager -o cat | grep -c 'started background certificate maintenance'
    `);
    expect(out).toContain(`${STORE}/${DOMAIN}:\n${DOMAIN}.crt\n${DOMAIN}.json\n${DOMAIN}.key\n`);
    expect(out).toContain(`${STORE}/${ADDRESS}:\n${ADDRESS}.crt\n${ADDRESS}.json\n${ADDRESS}.key\n`);
    expect(out).toContain('\ncaddy\n');
    const policies = JSON.parse(out.split('\n').find((l) => l.startsWith('['))!) as Array<{ subjects: string[] }>;
    for (const p of policies) p.subjects.sort();
    expect(policies).toEqual([
      {
        subjects: [ADDRESS, DOMAIN].sort(),
        issuers: [
          { module: 'acme', ca: PEBBLE_DIRECTORY, email: 'ops@e2e.test', trusted_roots_pem_files: [PEBBLE_CA_FILE] },
        ],
      },
    ]);
    // certmagic's maintenance, which renews what nears expiry, runs since Caddy started
    expect(Number(out.trim().split('\n').at(-1))).toBeGreaterThan(0);
  });

  it('the image check, as `mpimg verify` runs it on the droplet, finds Caddy valid and running', async () => {
    const check = readFileSync(join(e2eContext().repoRoot, 'templates/droplet/99-img-check.sh'), 'utf8');
    const args = imageCheckArgs(manifest, check);
    expect(args).toContain('--caddy');
    const words = [...args, '--booted', '--json'].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const report = JSON.parse(
      await droplet!.sh(
        `cat > /tmp/mpimg-check.sh <<'MPIMG_CHECK_EOF'\n${check}MPIMG_CHECK_EOF\nbash /tmp/mpimg-check.sh ${words} || true; rm -f /tmp/mpimg-check.sh`,
      ),
    ) as { checks: Array<{ id: string; status: string; message: string }> };
    expect(report.checks.filter((c) => c.id === 'caddy').map((c) => `${c.status}: ${c.message}`)).toEqual([
      "pass: Caddy's configuration of mpimg.json is valid (caddy validate), caddy.service enabled at boot, running",
    ]);
  });
});
