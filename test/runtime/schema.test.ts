// mpimg.schema.json is the published form of the ONE rule source: a standard JSON Schema validator
// (ajv) and validateManifest agree on every example, valid and invalid. The few rules only code can
// state (an x-check: duplicates, reserved names, unsafe paths, SSH in the firewall) are told in the
// schema's descriptions instead, and listed here so none goes unnoticed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { schemaDocument } from '../../runtime/manifest-schema.js';
import { validateManifest } from '../../runtime/manifest.js';
import { publishedSchema } from '../../runtime/schema.js';
import { packageRoot } from '../../core/paths.js';

const published = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'mpimg.schema.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
const ajvValid = ajv.compile(published);

const good = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.0.0',
  distributions: ['ubuntu-24-04-x64'],
};

/** Every mpimg.json of the repository: the examples, the 0.1.0 fixture. */
function repoManifests(): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const examples = path.join(packageRoot(), 'examples');
  if (fs.existsSync(examples)) {
    for (const d of fs.readdirSync(examples)) {
      const f = path.join(examples, d, 'mpimg.json');
      if (fs.existsSync(f)) out.push([`examples/${d}`, JSON.parse(fs.readFileSync(f, 'utf8'))]);
    }
  }
  out.push([
    'test/fixtures/project-0.1.0',
    JSON.parse(fs.readFileSync(path.join(packageRoot(), 'test/fixtures/project-0.1.0/mpimg.json'), 'utf8')),
  ]);
  return out;
}

const VALID: Array<[string, unknown]> = [
  ['minimal', good],
  [
    'the catalog sections',
    {
      ...good,
      $schema: './node_modules/generator-mpimg/mpimg.schema.json',
      distributions: ['ubuntu-24-04-x64', 'rockylinux-9-x64'],
      variables: { APP_VERSION: '2.4.1', NODE_MAJOR: { default: '20', description: 'Node.js major' } },
      users: [{ name: 'webapp', home: '/var/lib/webapp', groups: ['www-data'] }],
      directories: [{ path: '/var/lib/webapp/data', owner: 'webapp', group: 'webapp', mode: '0750' }],
      files: { dir: 'files', managed: ['/usr/local/bin/**'], owners: [{ path: '/etc/webapp/**', owner: 'webapp' }] },
      seeded: ['/etc/update-motd.d/*'],
      services: {
        all: ['webapp.service'],
        apt: [{ name: 'nginx.service', firstBoot: 'start' }],
        'rockylinux-9-x64': ['httpd.service'],
      },
      firewall: { limit: ['22/tcp'], allow: ['80/tcp', '443/tcp', '6000:6010/tcp', '53/udp'] },
      credentials: { file: '/root/.digitalocean_passwords' },
      motd: { file: 'motd.txt', afterFirstLogin: 'motd-ready.txt' },
      loginHold: { message: 'Please wait.' },
      firstBootTimeoutMinutes: 20,
      build: {
        packages: { all: ['nginx'], dnf: ['epel-release'] },
        repositories: [
          {
            name: 'nodesource',
            uris: 'https://deb.nodesource.com/node_20.x',
            suites: ['nodistro'],
            components: ['main'],
            key: {
              url: 'https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key',
              fingerprint: '6F71F525282841EEDAF851B42F59B5F99B1BE0B4',
            },
          },
          { name: 'php', ppa: 'ondrej/php' },
        ],
      },
    },
  ],
  [
    'verify and listing',
    {
      ...good,
      distributions: ['ubuntu-24-04-x64', 'debian-12-x64'],
      variables: { NGINX_VERSION: '1.24.0' },
      verify: { commands: ['curl -fsS http://localhost/', 'systemctl is-active nginx'], commandTimeoutSeconds: 60 },
      listing: {
        appId: '5f8c0a1b2c3d4e5f6a7b8c9d',
        distribution: 'debian-12-x64',
        osVersion: 'Debian 12',
        software: [
          {
            name: 'Nginx',
            version: '{{NGINX_VERSION}}',
            releaseNotes: 'https://nginx.org/en/CHANGES',
            website: 'https://nginx.org/',
            licenseType: 'BSD-2-Clause',
            licenseLink: 'https://nginx.org/LICENSE',
          },
          { name: 'Acme Wiki', version: '1.0.0' },
        ],
      },
    },
  ],
];

const INVALID: Array<[string, unknown]> = [
  ['a non-object', []],
  ['no slug', { ...good, slug: undefined }],
  ['a bad slug', { ...good, slug: 'Acme Wiki' }],
  ['an unknown key', { ...good, slugg: 'x' }],
  ['a wrong type', { ...good, loginHold: 'yes' }],
  ['no distribution', { ...good, distributions: [] }],
  ['a bad package', { ...good, build: { packages: ['rm -rf /'] } }],
  ['a bad variable name', { ...good, variables: { 'app-version': '1' } }],
  ['a bad firewall rule', { ...good, firewall: { allow: ['http'] } }],
  [
    'a backslash in a repository URL',
    {
      ...good,
      build: {
        repositories: [
          { name: 'x', uris: 'https://x.example/apt\\nTrusted:\\tyes', suites: ['a'], key: { file: 'k' } },
        ],
      },
    },
  ],
  [
    'a bad fingerprint',
    {
      ...good,
      build: {
        repositories: [
          {
            name: 'x',
            uris: 'https://x.example',
            suites: ['a'],
            key: { url: 'https://x.example/k', fingerprint: 'ABCD' },
          },
        ],
      },
    },
  ],
  ['a bad user name', { ...good, users: [{ name: 'Web App' }] }],
  ['a bad service unit', { ...good, services: ['nginx'] }],
  ['a bad mode', { ...good, directories: [{ path: '/srv/x', mode: '777x' }] }],
  ['a per-distribution key that is no distribution', { ...good, services: { windows: ['x.service'] } }],
  ['a timeout out of range', { ...good, firstBootTimeoutMinutes: 0 }],
  ['a first-boot order out of range', { ...good, firstBoot: [{ order: 100, name: 'a', file: 'first-boot/a.sh' }] }],
  ['an empty verify command', { ...good, verify: { commands: [' '] } }],
  ['a verify timeout out of range', { ...good, verify: { commandTimeoutSeconds: 0 } }],
  ['an unknown verify key', { ...good, verify: { command: ['true'] } }],
  ['a bad app id', { ...good, listing: { appId: 'apps/123' } }],
  [
    'a software website that is no URL',
    { ...good, listing: { software: [{ name: 'Nginx', version: '1', website: 'nginx.org' }] } },
  ],
  ['an unknown listing key', { ...good, listing: { appid: 'x' } }],
];

/** Rules only code states: the published schema accepts these, validateManifest does not. */
const CODE_ONLY: Array<[string, unknown, RegExp]> = [
  [
    'software without a version or a package',
    { ...good, listing: { software: [{ name: 'Nginx' }] } },
    /no version and no package/,
  ],
  ['a reserved vendor', { ...good, vendor: 'digitalocean' }, /"digitalocean" is reserved/],
  ['an unsafe project path', { ...good, motd: { file: '../x' } }, /\.\. ".*"|without "\.\."/],
  ['a droplet path with ..', { ...good, credentials: { file: '/root/../etc/x' } }, /without|\.\./],
  ['a firewall without SSH', { ...good, firewall: { allow: ['80/tcp'] } }, /SSH \(22\/tcp\)/],
  [
    'duplicate first-boot orders',
    {
      ...good,
      firstBoot: [
        { order: 10, name: 'a', file: 'a.sh' },
        { order: 10, name: 'b', file: 'b.sh' },
      ],
    },
    /duplicate order/,
  ],
  [
    'a repository without a key',
    { ...good, build: { repositories: [{ name: 'x', uris: 'https://x.example', suites: ['a'] }] } },
    /no signing key/,
  ],
  ['a control character', { ...good, name: 'a\u2028b' }, /line-separator/],
  [
    'a listing placeholder that is no variable',
    { ...good, listing: { software: [{ name: 'Nginx', version: '{{NGINX_VERSION}}' }] } },
    /\{\{NGINX_VERSION\}\} is not a variable of \$\.variables/,
  ],
  [
    'a listing distribution that is not built',
    { ...good, listing: { distribution: 'debian-12-x64' } },
    /not one of \$\.distributions/,
  ],
  ['root in users', { ...good, users: [{ name: 'root', shell: '/usr/sbin/nologin' }] }, /"root" is root/],
  ['a system folder', { ...good, directories: [{ path: '/tmp', mode: '0755' }] }, /\/tmp is a system folder/],
  [
    'the vendor folder owned by an app user',
    { ...good, directories: [{ path: '/opt/acme', owner: 'app' }] },
    /where root runs code from/,
  ],
  [
    "a repository named like the distribution's",
    {
      ...good,
      build: { repositories: [{ name: 'ubuntu', uris: 'https://x.example', suites: ['a'], key: { file: 'k' } }] },
    },
    /distribution's own repositories/,
  ],
];

describe('mpimg.schema.json', () => {
  it('is exactly the rule source, published (what `npm run build` writes)', () => {
    expect(published).toEqual(publishedSchema(schemaDocument()));
    expect(published.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(JSON.stringify(published)).not.toMatch(/"x-/);
  });

  it.each([...VALID, ...repoManifests()])('agrees that %s is valid', (_n, m) => {
    expect(validateManifest(m).problems).toEqual([]);
    expect(ajvValid(m), JSON.stringify(ajvValid.errors)).toBe(true);
  });

  it.each(INVALID)('agrees that %s is invalid', (_n, m) => {
    expect(validateManifest(m).problems.length).toBeGreaterThan(0);
    expect(ajvValid(m)).toBe(false);
  });

  it.each(CODE_ONLY)("%s: refused by the code, and said in the schema's words", (_n, m, why) => {
    const problems = validateManifest(m).problems;
    expect(problems.map((p) => `${p.message} ${p.hint}`).join('\n')).toMatch(why);
    expect(ajvValid(m)).toBe(true);
  });

  it('tells the code-only rules in its descriptions', () => {
    const text = JSON.stringify(published);
    for (const words of [
      '\\"digitalocean\\" is reserved',
      'SSH (22/tcp) must be among them',
      'relative to the project folder, without',
      'absolute path on the droplet, without',
      'each with its own order and name',
      'needs its signing key',
      'must be a variable of $.variables',
      'not root (nor another uid-0 name)',
      'not a system folder',
      'where root runs code from',
      "Not a name of the distribution's own",
    ]) {
      expect(text, words).toContain(words);
    }
  });
});
