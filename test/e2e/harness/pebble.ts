import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Droplet } from './droplet.js';

/**
 * A local ACME server for a droplet: Debian's pebble (Let's Encrypt's test server), this machine's
 * binary copied into the droplet and started by systemd before cloud-init's final stage, so it is
 * up for first boot and first login alike. It runs inside the droplet's own network namespace: it
 * reaches the droplet's port 80/443 for http-01 and tls-alpn-01 exactly as a real CA reaches a
 * droplet, and it resolves names through the droplet's /etc/hosts (Go's resolver reads it), which
 * maps the test's names to the droplet's own address.
 *
 * What a test hands the product: PEBBLE_DIRECTORY as the ACME directory and PEBBLE_CA_FILE as the
 * CA of the directory's own HTTPS (acme.caRoot). pebble signs certificates with a root it makes
 * anew at every start: pebbleRoot() fetches it (for `curl --cacert`) into PEBBLE_ROOT_FILE.
 */
export const PEBBLE_UNIT = 'mpimg-e2e-pebble.service';
export const PEBBLE_DIRECTORY = 'https://localhost:14000/dir';
/** The CA of pebble's own HTTPS listener (made by the fixture), in the droplet. */
export const PEBBLE_CA_FILE = '/etc/mpimg-e2e/pebble/ca.pem';
/** Where pebbleRoot() leaves the root pebble issues under, in the droplet. */
export const PEBBLE_ROOT_FILE = '/etc/mpimg-e2e/pebble/issuer-root.pem';
const DIR = '/etc/mpimg-e2e/pebble';
const BINARY = '/usr/local/lib/mpimg-e2e/pebble';
const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const IPV4_RE = /^(\d{1,3}\.){3}\d{1,3}$/;

/** The fixture's own CA and pebble's HTTPS certificate for localhost, made with this machine's openssl. */
function listenerCertificates(): { ca: string; cert: string; key: string } {
  const tmp = mkdtempSync(join(tmpdir(), 'mpimg-pebble-'));
  try {
    const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    ossl(
      'req',
      '-x509',
      ...ec,
      '-days',
      '2',
      '-subj',
      '/CN=mpimg e2e ACME listener CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    );
    ossl('req', ...ec, '-subj', '/CN=localhost', '-keyout', 'key.pem', '-out', 'req.csr');
    writeFileSync(
      join(tmp, 'ext'),
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
    );
    ossl(
      'x509',
      '-req',
      '-in',
      'req.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'ext',
      '-out',
      'cert.pem',
    );
    const read = (f: string) => readFileSync(join(tmp, f), 'utf8');
    return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Lays pebble into droplet `d` before its boot (SystemdDroplet's `prepare`; list PEBBLE_UNIT in its
 * `fixtures`), with `names` resolving to `address` (the droplet's own, without the prefix length).
 */
export function pebble(d: Droplet, opts: { names: string[]; address: string }): void {
  if (!IPV4_RE.test(opts.address))
    throw new Error(`pebble fixture: not an IPv4 address: ${JSON.stringify(opts.address)}`);
  for (const n of opts.names)
    if (!NAME_RE.test(n)) throw new Error(`pebble fixture: not a DNS name: ${JSON.stringify(n)}`);
  mkdirSync(d.path('usr/local/lib/mpimg-e2e'), { recursive: true });
  copyFileSync('/usr/bin/pebble', d.path(BINARY.slice(1)));
  execFileSync('chmod', ['0755', d.path(BINARY.slice(1))]);
  const c = listenerCertificates();
  d.write(`${DIR.slice(1)}/ca.pem`, c.ca);
  d.write(`${DIR.slice(1)}/cert.pem`, c.cert);
  d.write(`${DIR.slice(1)}/key.pem`, c.key, 0o600);
  d.write(
    `${DIR.slice(1)}/config.json`,
    `${JSON.stringify(
      {
        pebble: {
          listenAddress: '127.0.0.1:14000',
          managementListenAddress: '127.0.0.1:15000',
          certificate: `${DIR}/cert.pem`,
          privateKey: `${DIR}/key.pem`,
          httpPort: 80,
          tlsPort: 443,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      },
      null,
      2,
    )}\n`,
  );
  if (opts.names.length) {
    const hosts = d.read('etc/hosts');
    d.write(
      'etc/hosts',
      `${hosts.endsWith('\n') || hosts === '' ? hosts : `${hosts}\n`}${opts.address} ${opts.names.join(' ')}\n`,
    );
  }
  d.write(
    `etc/systemd/system/${PEBBLE_UNIT}`,
    `[Unit]
Description=e2e test bed: a local ACME server (pebble on https://localhost:14000/dir)
After=network.target
Before=cloud-final.service

[Service]
# No random validation sleeps (speed); no deliberately rejected nonces (an ACME client retries one,
# not always two in a row: a flaky test otherwise).
Environment=PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0
ExecStart=${BINARY} -config ${DIR}/config.json
# Up means the directory answers: cloud-final and a first login may ask it at once.
ExecStartPost=/bin/sh -c 'for i in $(seq 1 60); do curl -fsS --cacert ${DIR}/ca.pem -o /dev/null ${PEBBLE_DIRECTORY} && exit 0; sleep 0.5; done; exit 1'

[Install]
WantedBy=multi-user.target
`,
  );
  const wants = d.path('etc/systemd/system/multi-user.target.wants');
  mkdirSync(wants, { recursive: true });
  symlinkSync(`/etc/systemd/system/${PEBBLE_UNIT}`, join(wants, PEBBLE_UNIT));
}

/** Something that runs a script inside a booted droplet and returns its stdout or throws (SystemdDroplet). */
export interface Shell {
  sh(script: string, timeoutMs?: number): Promise<string>;
}

/**
 * The root pebble issues certificates under (new at every pebble start), saved in the droplet at
 * PEBBLE_ROOT_FILE and returned (PEM): `curl --cacert` it to check a site's certificate.
 */
export async function pebbleRoot(s: Shell): Promise<string> {
  return s.sh(
    `curl -fsS --cacert ${DIR}/ca.pem https://localhost:15000/roots/0 -o ${PEBBLE_ROOT_FILE} && cat ${PEBBLE_ROOT_FILE}`,
  );
}
