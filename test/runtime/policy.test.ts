/**
 * The policy (runtime/policy.ts) as the schema states it: what mpimg.json may not make an image do
 * (root and system accounts, system folders, paths root runs code from, the distribution's own
 * repository names, backslashes in URLs), each refused with its JSON path; and a wrong type at any
 * path of the schema is a `must be ...` problem, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFEST_SCHEMA } from '../../runtime/manifest-schema.js';
import { validateManifest } from '../../runtime/manifest.js';
import type { JsonType, Schema } from '../../runtime/schema.js';
import { ROOT_RUN_PATHS } from '../../runtime/policy.js';
import { packageRoot } from '../../core/paths.js';
import { makeProject } from '../helpers/project-fixture.js';

const good = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.0.0',
  distributions: ['ubuntu-24-04-x64'],
};
const problems = (extra: Record<string, unknown>) =>
  validateManifest({ ...good, ...extra }).problems.map((p) => `${p.path}: ${p.message}`);

describe('an app user never owns where root runs code from (runtime home, the folders above it, profile.d, /usr, ...)', () => {
  it.each([
    [
      'the vendor folder above /opt/acme/acme-wiki',
      { users: [{ name: 'app' }], directories: [{ path: '/opt/acme', owner: 'app' }] },
      '$.directories[0].owner: /opt/acme holds /opt/acme/acme-wiki, where root runs code from: a folder owned by "app" could change what root runs',
    ],
    [
      'the runtime home itself',
      { directories: [{ path: '/opt/acme/acme-wiki', owner: 'www-data' }] },
      '$.directories[0].owner: /opt/acme/acme-wiki is where root runs code from: a folder owned by "www-data" could change what root runs',
    ],
    [
      'a folder inside it, writable by others',
      { directories: [{ path: '/opt/acme/acme-wiki/data', mode: '0777' }] },
      '$.directories[0].mode: /opt/acme/acme-wiki/data is inside /opt/acme/acme-wiki, where root runs code from: mode 0777 lets a group or others write there',
    ],
    [
      'a folder in /etc/profile.d',
      { directories: [{ path: '/etc/profile.d/app', owner: 'www-data' }] },
      '$.directories[0].owner: /etc/profile.d/app is inside /etc/profile.d, where root runs code from: a folder owned by "www-data" could change what root runs',
    ],
    [
      'a home in /usr/local',
      { users: [{ name: 'app', home: '/usr/local/app' }] },
      '$.users[0].home: /usr/local/app is inside /usr, where root runs code from: a home owned by "app" could change what root runs',
    ],
    [
      'a home above the runtime home',
      { users: [{ name: 'app', home: '/opt/acme' }] },
      '$.users[0].home: /opt/acme holds /opt/acme/acme-wiki, where root runs code from: a home owned by "app" could change what root runs',
    ],
    [
      'files/ in /etc/profile.d',
      { files: { dir: 'files', owners: [{ path: '/etc/profile.d/*', owner: 'app' }] } },
      '$.files.owners[0].owner: /etc/profile.d/* is in /etc/profile.d, where root runs code from: owned by "app" it could change what root runs',
    ],
    [
      "the credentials file in the app's folder",
      { users: [{ name: 'app', home: '/var/lib/app' }], credentials: { file: '/var/lib/app/passwords' } },
      '$.credentials.file: /var/lib/app/passwords is inside /var/lib/app, which belongs to "app": it could read the passwords root saves there, or put a link where root writes them',
    ],
    [
      "a folder of dpkg's hooks (dpkg.cfg.d runs commands as root)",
      { directories: [{ path: '/etc/dpkg/dpkg.cfg.d', owner: 'app' }] },
      '$.directories[0].owner: /etc/dpkg/dpkg.cfg.d is inside /etc/dpkg, where root runs code from: a folder owned by "app" could change what root runs',
    ],
    [
      "the kernel's install hooks",
      { directories: [{ path: '/etc/kernel/postinst.d', owner: 'app' }] },
      '$.directories[0].owner: /etc/kernel/postinst.d is inside /etc/kernel, where root runs code from: a folder owned by "app" could change what root runs',
    ],
    [
      "rsyslog's configuration (omprog runs programs as root)",
      { directories: [{ path: '/etc/rsyslog.d', owner: 'app' }] },
      '$.directories[0].owner: /etc/rsyslog.d is where root runs code from: a folder owned by "app" could change what root runs',
    ],
    [
      "the RHEL family's rc.local",
      { files: { dir: 'files', owners: [{ path: '/etc/rc.d/rc.local', owner: 'app' }] } },
      '$.files.owners[0].owner: /etc/rc.d/rc.local is in /etc/rc.d, where root runs code from: owned by "app" it could change what root runs',
    ],
    [
      "a home in /snap (root's PATH has /snap/bin)",
      { users: [{ name: 'app', home: '/snap/app' }] },
      '$.users[0].home: /snap/app is inside /snap, where root runs code from: a home owned by "app" could change what root runs',
    ],
    [
      'files/ in per-instance scripts',
      { files: { dir: 'files', owners: [{ path: '/var/lib/cloud/scripts/per-instance/**', owner: 'app' }] } },
      '$.files.owners[0].owner: /var/lib/cloud/scripts/per-instance/** is in /var/lib/cloud, where root runs code from: owned by "app" it could change what root runs',
    ],
  ])('refuses %s', (_what, extra, problem) => {
    expect(problems(extra)).toEqual([problem]);
  });

  it("takes the app's own folders, and root (or a read-only group) where root runs code from", () => {
    expect(
      problems({
        users: [{ name: 'app', home: '/var/lib/app' }],
        directories: [
          { path: '/opt/acme/app-data', owner: 'app', mode: '0750' },
          { path: '/srv/app', owner: 'app', mode: '0777' },
          { path: '/etc/app', owner: 'root', group: 'app', mode: '0750' },
          { path: '/opt/acme/acme-wiki/cache', owner: 'root', group: 'app', mode: '0750' },
          { path: '/var/log/app', owner: 'app', group: 'adm', mode: '2750' },
        ],
        files: {
          dir: 'files',
          owners: [
            { path: '/etc/app/**', owner: 'app' },
            { path: '/usr/local/bin/*', owner: 'root', group: 'app' },
          ],
        },
      }),
    ).toEqual([]);
  });
});

describe("users and directories: root, the base image's accounts and system folders are not the manifest's", () => {
  it.each([
    [
      'root locked out',
      { users: [{ name: 'root', shell: '/usr/sbin/nologin' }] },
      ['$.users[0].name: "root" is root: $.users never changes it (a shell of nologin locks every customer out)'],
    ],
    [
      'another uid-0 name',
      { users: [{ name: 'toor' }] },
      ['$.users[0].name: "toor" is root: $.users never changes it (a shell of nologin locks every customer out)'],
    ],
    [
      'a system account with a shell and a home',
      { users: [{ name: 'nobody', shell: '/bin/bash', home: '/srv/nobody' }] },
      [
        '$.users[0].home: "nobody" is an account of the base image: its home is not the image\'s to change',
        '$.users[0].shell: "nobody" is an account of the base image: its shell is not the image\'s to change',
      ],
    ],
    [
      'a group that is root',
      { users: [{ name: 'app', groups: ['app-data', 'sudo', 'root'] }] },
      [
        '$.users[0].groups[1]: group "sudo" hands root (or its secrets) to its members',
        '$.users[0].groups[2]: group "root" hands root (or its secrets) to its members',
      ],
    ],
    [
      'a group that starts root containers',
      { users: [{ name: 'app', groups: ['docker', 'lxd', 'staff'] }] },
      [
        '$.users[0].groups[0]: group "docker" hands root (or its secrets) to its members',
        '$.users[0].groups[1]: group "lxd" hands root (or its secrets) to its members',
        '$.users[0].groups[2]: group "staff" hands root (or its secrets) to its members',
      ],
    ],
    [
      'a user named like a group that hands root (its own group)',
      { users: [{ name: 'shadow' }, { name: 'sudo', groups: ['app'] }, { name: 'docker' }] },
      [
        '$.users[0].name: a user "shadow" would have the group "shadow" as its own, which hands root (or its secrets) to its members',
        '$.users[1].name: a user "sudo" would have the group "sudo" as its own, which hands root (or its secrets) to its members',
        '$.users[2].name: a user "docker" would have the group "docker" as its own, which hands root (or its secrets) to its members',
      ],
    ],
    [
      "accounts of the distributions' own prefixes (systemd-*, _*) and other base image accounts",
      {
        users: [
          { name: 'systemd-journal-remote', shell: '/bin/sh' },
          { name: '_laurel', home: '/srv/l' },
          { name: 'dhcpcd', shell: '/bin/sh' },
        ],
      },
      [
        '$.users[0].shell: "systemd-journal-remote" is an account of the base image: its shell is not the image\'s to change',
        '$.users[1].home: "_laurel" is an account of the base image: its home is not the image\'s to change',
        '$.users[2].shell: "dhcpcd" is an account of the base image: its shell is not the image\'s to change',
      ],
    ],
    [
      '/ for everyone, /tmp without its sticky bit',
      {
        directories: [
          { path: '/', owner: 'nobody', mode: '0777' },
          { path: '/tmp', mode: '0755' },
        ],
      },
      [
        '$.directories[0].path: / is a system folder: its owner or mode would change it on every droplet made from the image',
        '$.directories[1].path: /tmp is a system folder: its owner or mode would change it on every droplet made from the image',
      ],
    ],
    [
      '/tmp written another way',
      { directories: [{ path: '/tmp/' }, { path: '//tmp' }, { path: '/./tmp' }] },
      [
        '$.directories[0].path: bad droplet path "/tmp/": ends with "/"',
        '$.directories[1].path: bad droplet path "//tmp": holds "//"',
        '$.directories[2].path: bad droplet path "/./tmp": holds "/./"',
      ],
    ],
    [
      'standard children',
      {
        directories: [
          { path: '/etc/ssh', mode: '0700' },
          { path: '/var/lib' },
          { path: '/usr/local/bin', owner: 'root' },
        ],
      },
      [
        '$.directories[0].path: /etc/ssh is a system folder: its owner or mode would change it on every droplet made from the image',
        '$.directories[1].path: /var/lib is a system folder: its owner or mode would change it on every droplet made from the image',
        '$.directories[2].path: /usr/local/bin is a system folder: its owner or mode would change it on every droplet made from the image',
      ],
    ],
    [
      'a system folder as a home',
      { users: [{ name: 'app', home: '/var/tmp' }] },
      [
        '$.users[0].home: /var/tmp is a system folder: a home owned by the user would change it on every droplet made from the image',
      ],
    ],
    [
      "the tool's own folders",
      { directories: [{ path: '/var/lib/mpimg/acme-wiki', owner: 'root' }] },
      [
        "$.directories[0].path: /var/lib/mpimg/acme-wiki is in /var/lib/mpimg, generator-mpimg's own folder on the droplet",
      ],
    ],
    [
      'a home with ":" (a field of /etc/passwd)',
      { users: [{ name: 'app', home: '/srv/a:b' }] },
      ['$.users[0].home: bad path "/srv/a:b": it goes into /etc/passwd, where ":" separates the fields'],
    ],
  ])('refuses %s', (_what, extra, expected) => {
    expect(problems(extra)).toEqual(expected);
  });

  it('a base image account may still join groups', () => {
    expect(
      problems({
        users: [
          { name: 'www-data', groups: ['app'] },
          { name: 'app', groups: ['www-data'] },
        ],
      }),
    ).toEqual([]);
  });
});

describe("repositories: the distribution's own names and backslashes in URLs", () => {
  const repo = (name: string, over: Record<string, unknown> = {}) => ({
    build: {
      repositories: [{ name, uris: 'https://apt.acme.example', suites: ['stable'], key: { file: 'k.asc' }, ...over }],
    },
  });
  it.each([
    'debian',
    'ubuntu',
    'ubuntu-esm-apps',
    'rocky',
    'rocky-extras',
    'almalinux-appstream',
    'centos',
    'epel',
    'epel-testing',
    'baseos',
    'appstream',
    'crb',
    'droplet-agent',
  ])('refuses "%s"', (name) => {
    expect(problems(repo(name))).toEqual([
      `$.build.repositories[0].name: "${name}" is a name of the distribution's own repositories: its file (e.g. /etc/apt/sources.list.d/ubuntu.sources, /etc/yum.repos.d/rocky.repo) or dnf id would be taken over`,
    ]);
  });
  it("takes the vendor's names", () => {
    for (const name of ['acme', 'acme-ubuntu', 'nodesource', 'docker', 'mariadb.org'])
      expect(problems(repo(name)), name).toEqual([]);
  });
  it('refuses a backslash in uris, baseurl and key.url', () => {
    expect(problems(repo('acme', { uris: 'https://x/apt\\nTrusted:\\tyes' }))).toEqual([
      '$.build.repositories[0].uris: bad URL "https://x/apt\\\\nTrusted:\\\\tyes"',
    ]);
  });
});

/** Every path of the schema: each object key, an array entry, a map entry, each alternative of an anyOf. */
function* schemaPaths(
  s: Schema,
  at: string,
  wrap: (v: unknown) => unknown,
): Generator<{ at: string; types: JsonType[]; wrap: (v: unknown) => unknown }> {
  const types = s.anyOf
    ? s.anyOf.flatMap((a) => (Array.isArray(a.type) ? a.type : a.type ? [a.type] : []))
    : Array.isArray(s.type)
      ? s.type
      : s.type
        ? [s.type]
        : [];
  if (at !== '$') yield { at, types, wrap };
  for (const alt of s.anyOf ?? [s]) {
    for (const [k, sub] of Object.entries(alt.properties ?? {}))
      yield* schemaPaths(sub, `${at}.${k}`, (v) => wrap(at === '$' ? { ...good, [k]: v } : { [k]: v }));
    if (alt.items) yield* schemaPaths(alt.items, `${at}[0]`, (v) => wrap([v]));
    if (alt.additionalProperties && typeof alt.additionalProperties === 'object') {
      const key = ['all', 'APP_VERSION'].find(
        (k) => !alt.propertyNames || new RegExp(alt.propertyNames.pattern, 'u').test(k),
      )!;
      yield* schemaPaths(alt.additionalProperties, `${at}.${key}`, (v) => wrap({ [key]: v }));
    }
  }
}

const SAMPLES: Record<JsonType, unknown> = {
  string: '80/tcp',
  number: 1.5,
  integer: 7,
  boolean: true,
  array: ['x'],
  object: { allow: 'x' },
  null: null,
};
const fitsType = (t: JsonType, types: JsonType[]) => types.includes(t) || (t === 'integer' && types.includes('number'));

describe('a wrong type anywhere is a "must be" problem at its path, never a stack trace', () => {
  const paths = [...schemaPaths(MANIFEST_SCHEMA, '$', (v) => v)];

  it('walks the whole schema (every section is in it)', () => {
    const at = new Set(paths.map((p) => p.at));
    expect(at.size).toBeGreaterThan(100);
    for (const p of [
      '$.firewall.allow',
      '$.firewall.limit[0]',
      '$.listing.software',
      '$.build.repositories.all[0].key.url',
      '$.variables.APP_VERSION',
      '$.users[0].groups[0]',
      '$.services[0]',
      '$.verify.commands',
    ])
      expect(at, p).toContain(p);
  });

  it('for every path and every type it does not take', () => {
    let n = 0;
    for (const p of paths) {
      for (const t of Object.keys(SAMPLES) as JsonType[]) {
        if (fitsType(t, p.types)) continue;
        const m = p.wrap(SAMPLES[t]);
        let result: ReturnType<typeof validateManifest>;
        expect(() => {
          result = validateManifest(m);
        }, `${p.at} as ${t}`).not.toThrow();
        const mine = result!.problems.filter((x) => x.path === p.at);
        expect(
          mine.map((x) => x.message),
          `${p.at} as ${t}: ${JSON.stringify(m)}`,
        ).toContainEqual(expect.stringMatching(/^must be .+, got /));
        n++;
      }
    }
    expect(n).toBeGreaterThan(500);
  });

  it("the issue's cases, through `mpimg validate`: the path and what it must be, no stack trace", () => {
    for (const [key, value, expected] of [
      ['firewall', { allow: '80/tcp' }, '$.firewall.allow: must be array, got string'],
      ['firewall', { limit: '22/tcp' }, '$.firewall.limit: must be array, got string'],
      ['listing', { software: { name: 'x' } }, '$.listing.software: must be array, got object'],
    ] as const) {
      const dir = makeProject();
      const file = path.join(dir, 'mpimg.json');
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), [key]: value }));
      const r = spawnSync(process.execPath, [path.join(packageRoot(), 'bin/mpimg.js'), 'validate'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(r.status).toBe(1);
      expect(r.stdout + r.stderr).toContain(expected);
      expect(r.stdout + r.stderr).not.toMatch(/TypeError|is not a function|\n\s+at /);
    }
  });
});

describe("one list: the image check's folders root runs code from are the policy's", () => {
  it('templates/droplet/99-img-check.sh holds ROOT_RUN_PATHS as they are', () => {
    const check = fs.readFileSync(path.join(packageRoot(), 'templates/droplet/99-img-check.sh'), 'utf8');
    const m = /^ROOT_RUN_PATHS=\(([^)]*)\)$/m.exec(check);
    expect(m, 'ROOT_RUN_PATHS=(...) in the check').not.toBeNull();
    expect(m![1].split(/\s+/).filter(Boolean), 'copy runtime/policy.ts ROOT_RUN_PATHS into 99-img-check.sh').toEqual([
      ...ROOT_RUN_PATHS,
    ]);
  });
});
