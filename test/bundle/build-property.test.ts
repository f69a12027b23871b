/**
 * Property: whatever mpimg.json the schema accepts is safe to build. Random manifests (fast-check)
 * with hostile strings, and paths drawn from system folders, where root runs code from, the folders
 * above the runtime home and the app's own, go through the bundler and dist/<slug>-build.sh (users,
 * owners, repositories, variables) on a staged root that has every system folder. After each run:
 * nothing changed outside the paths the manifest names (and the account files), no system folder
 * changed owner or mode, where root runs code from is still root's alone, every value landed
 * verbatim; a refusal is a clear `error:` line. A schema change that opens a hole makes it fail.
 * numRuns is bounded: it runs in the unit suite on 2 cores.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { ancestorsOf, PRIVILEGED_GROUPS, rootRunPaths, SYSTEM_DIRS } from '../../runtime/policy.js';
import { MpimgError } from '../../core/errors.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildRoot, installScript, runBuild, stagedIn } from '../helpers/build-root.js';
import { makeKey, stopAgent, type TestKey } from '../helpers/gpg.js';
import { makeProject } from '../helpers/project-fixture.js';
import { cleanupFixtures } from '../scripts/fixture-root.js';

// MPIMG_PROPERTY_RUNS / MPIMG_PROPERTY_SEED explore further by hand; the suite's run is fixed.
const NUM_RUNS = Number(process.env.MPIMG_PROPERTY_RUNS ?? 24);
const SEED = Number(process.env.MPIMG_PROPERTY_SEED ?? 20261206);
const BASE = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.2.3',
  distributions: ['debian-12-x64'],
};
const HOME = '/opt/acme/acme-wiki';
const ROOT_RUN = rootRunPaths(BASE.vendor, BASE.slug);

// Pieces of hostile strings: quotes, substitutions, printf and echo escapes, globs, markup, non-ASCII.
const PIECES = [
  'a',
  'Z9',
  ' ',
  "'",
  '"',
  '$(id)',
  '`id`',
  '${HOME}',
  '\\n',
  '\\t',
  '\\c',
  '\\\\',
  '%s',
  '%d',
  '&<>',
  ';',
  '|',
  '*',
  '?',
  '[x]',
  '#',
  '~',
  ':',
  'é',
  '=',
  ',',
  '-',
  '.',
];
const hostile = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
const segment = fc.oneof(
  hostile.map((s) => s.replaceAll('/', '')),
  fc.constantFrom('data', 'app', 'x y', '.', '..'),
);
/** Droplet paths from every region the policy knows, and the app's own. */
const dropletPath = fc.oneof(
  fc.constantFrom(...SYSTEM_DIRS),
  fc.constantFrom(...ROOT_RUN, ...ancestorsOf(ROOT_RUN)),
  fc.tuple(fc.constantFrom(...ROOT_RUN), segment).map(([r, s]) => `${r}/${s}`),
  fc
    .tuple(
      fc.constantFrom('/srv', '/var/lib', '/etc', '/opt/acme', '/var/log', '/home', '/tmp', '/var/lib/mpimg'),
      segment,
      fc.option(segment, { nil: undefined }),
    )
    .map(([d, a, b]) => `${d}/${a}${b === undefined ? '' : `/${b}`}`),
);
const account = fc.constantFrom(
  'app',
  'app2',
  'root',
  'nobody',
  'www-data',
  'toor',
  'daemon',
  'shadow',
  'sudo',
  'systemd-app',
  '_app',
);
const mode = fc.constantFrom('0755', '0750', '0700', '0777', '2770', '1777', '0775', '0705');
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const manifestArb = fc.record({
  users: opt(
    fc.array(
      fc.record(
        {
          name: account,
          system: opt(fc.boolean()),
          home: opt(dropletPath),
          shell: opt(fc.oneof(fc.constantFrom('/bin/sh', '/usr/sbin/nologin'), dropletPath)),
          groups: opt(
            fc.uniqueArray(fc.constantFrom('app-data', 'www-data', 'sudo', 'root', 'adm', 'docker', 'shadow'), {
              maxLength: 2,
            }),
          ),
          comment: opt(hostile),
        },
        { requiredKeys: ['name'] },
      ),
      { maxLength: 3 },
    ),
  ),
  directories: opt(
    fc.array(
      fc.record(
        {
          path: dropletPath,
          owner: opt(account),
          group: opt(fc.constantFrom('root', 'app', 'www-data', 'adm')),
          mode: opt(mode),
        },
        { requiredKeys: ['path'] },
      ),
      { maxLength: 3 },
    ),
  ),
  owners: opt(
    fc.array(
      fc.record(
        {
          path: fc.constantFrom('/srv/acme/*', '/srv/acme/plain.conf', '/**/*.conf', '/etc/profile.d/*', '/**'),
          owner: opt(account),
          group: opt(fc.constantFrom('root', 'www-data')),
        },
        { requiredKeys: ['path'] },
      ),
      { maxLength: 2 },
    ),
  ),
  variables: opt(fc.dictionary(fc.constantFrom('APP_VERSION', 'EDITION', 'DB_NAME'), hostile, { maxKeys: 3 })),
  repository: opt(
    fc.record({ name: fc.constantFrom('acme', 'nodesource', 'debian', 'ubuntu', 'epel', 'acme.extra'), uri: hostile }),
  ),
});
type Drawn = typeof manifestArb extends fc.Arbitrary<infer T> ? T : never;

/** Files files/ lays down in the project, with names the shell must not read: their droplet paths. */
const FILES: Record<string, string> = {
  "srv/acme/it's $(x) %s.conf": 'a = 1\n',
  'srv/acme/plain.conf': 'b = 2\n',
  'etc/profile.d/acme-wiki.sh': 'export ACME=1\n',
};

function manifestOf(d: Drawn): Record<string, unknown> {
  const m: Record<string, unknown> = { ...BASE };
  if (d.users) m.users = d.users.map((u) => Object.fromEntries(Object.entries(u).filter(([, v]) => v !== undefined)));
  if (d.directories)
    m.directories = d.directories.map((x) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)));
  if (d.owners)
    m.files = {
      dir: 'files',
      owners: d.owners.map((x) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined))),
    };
  if (d.variables) m.variables = d.variables;
  if (d.repository)
    m.build = {
      repositories: [
        {
          name: d.repository.name,
          uris: `https://apt.acme.example/${d.repository.uri}`,
          suites: ['{codename}'],
          components: ['main'],
          key: { file: 'keys/acme.asc' },
        },
      ],
    };
  return m;
}

interface Entry {
  uid: number;
  gid: number;
  mode: number;
  kind: string;
  data: string;
}
/** The staged root, links not followed: path -> owner, mode, kind, content (files) or target (links). */
function tree(root: string, rel = '', out = new Map<string, Entry>()): Map<string, Entry> {
  for (const name of readdirSync(join(root, rel))) {
    const p = `${rel}/${name}`;
    const s = lstatSync(join(root, p));
    const kind = s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : s.isFile() ? 'f' : 'o';
    const data = kind === 'f' ? readFileSync(join(root, p), 'latin1') : kind === 'l' ? readlinkSync(join(root, p)) : '';
    out.set(p, { uid: s.uid, gid: s.gid, mode: s.mode & 0o7777, kind, data });
    if (kind === 'd') tree(root, p, out);
  }
  return out;
}

const within = (p: string, d: string) => p === d || p.startsWith(`${d}/`);
const ACCOUNT_FILES = /^\/etc\/(\.pwd\.lock|(passwd|group|shadow|gshadow|subuid|subgid)-?)$/;

let key: TestKey;
let root: string;
let n = 0;
const seen = { accepted: 0, refusedAtRun: 0, rejected: 0 };

beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('the property runs the build script in chroots (useradd --root): run as root (CI does)');
  key = makeKey('Acme Repository <repo@acme.example>');
  root = buildRoot();
});
afterAll(() => {
  stopAgent(key);
  cleanupFixtures();
});

/** A staged root with every system folder (standard modes), the runtime home and a few root-run files. */
function freshStaged(): string {
  const name = `s${++n}`;
  const staged = stagedIn(root, name);
  // groups that hand root, as the base images have them
  writeFileSync(
    join(staged, 'etc/group'),
    `${readFileSync(join(staged, 'etc/group'), 'utf8')}shadow:x:42:\nsudo:x:27:\ndocker:x:998:\n`,
  );
  for (const d of SYSTEM_DIRS) {
    mkdirSync(join(staged, d), { recursive: true });
    chmodSync(
      join(staged, d),
      d === '/tmp' || d === '/var/tmp' ? 0o1777 : d === '/root' || d === '/root/.ssh' ? 0o700 : 0o755,
    );
  }
  mkdirSync(join(staged, HOME, 'first-boot'), { recursive: true });
  writeFileSync(join(staged, HOME, 'lib.sh'), '# lib\n');
  writeFileSync(join(staged, 'etc/profile.d/acme-wiki.sh'), FILES['etc/profile.d/acme-wiki.sh']);
  // what the files step laid down (owners needs it)
  for (const [rel, text] of Object.entries(FILES)) {
    mkdirSync(dirname(join(staged, rel)), { recursive: true });
    writeFileSync(join(staged, rel), text);
  }
  return staged;
}

/**
 * The entries the schema refuses taken out (a user, a folder, an owner, the variables, the
 * repository): what is left is a random manifest the schema accepts. With a hole in the schema, a
 * bad entry stays, and the build shows it.
 */
function accepted(m: Record<string, unknown>): Record<string, unknown> | undefined {
  const { problems } = validateManifest(m);
  const drop: Record<string, Set<number>> = { users: new Set(), directories: new Set(), owners: new Set() };
  for (const p of problems) {
    const e = /^\$\.(users|directories|files\.owners)\[(\d+)\]/.exec(p.path);
    if (e) drop[e[1] === 'files.owners' ? 'owners' : e[1]].add(Number(e[2]));
    else if (p.path.startsWith('$.variables')) delete m.variables;
    else if (p.path.startsWith('$.build')) delete m.build;
    else return undefined;
  }
  const keep = <T>(list: T[] | undefined, out: Set<number>) => list?.filter((_, i) => !out.has(i));
  m.users = keep(m.users as unknown[] | undefined, drop.users);
  m.directories = keep(m.directories as unknown[] | undefined, drop.directories);
  const files = m.files as { owners?: unknown[] } | undefined;
  if (files) files.owners = keep(files.owners, drop.owners);
  return validateManifest(m).problems.length === 0 ? m : undefined;
}

function check(drawn: Drawn): void {
  const m = accepted(manifestOf(drawn));
  if (!m) {
    seen.rejected++;
    return;
  }
  // what is left of the draw
  const d: Drawn = {
    ...drawn,
    variables: m.variables as Drawn['variables'],
    repository: m.build ? drawn.repository : undefined,
  };
  const dir = makeProject({ manifest: m as Partial<Manifest> });
  rmSync(join(dir, 'files'), { recursive: true });
  for (const [rel, text] of Object.entries(FILES)) {
    mkdirSync(dirname(join(dir, 'files', rel)), { recursive: true });
    writeFileSync(join(dir, 'files', rel), text);
  }
  mkdirSync(join(dir, 'keys'));
  writeFileSync(join(dir, 'keys/acme.asc'), key.armored);
  let script: string;
  try {
    script = writeBundle(loadProject(dir)).build;
  } catch (e) {
    // the bundler may refuse what only files/ tells (a glob matching root's files): with its own words
    expect(e, String((e as Error).stack)).toBeInstanceOf(MpimgError);
    rmSync(dir, { recursive: true, force: true });
    seen.rejected++;
    return;
  }
  seen.accepted++;
  const staged = freshStaged();
  const rel = staged.slice(root.length);
  const before = tree(staged);
  installScript(root, script);
  rmSync(dir, { recursive: true, force: true });
  const r = runBuild(root, ['--root', rel, 'users', 'owners', 'repositories', 'variables'], {
    MPIMG_SKIP_PACKAGES: '1',
  });
  const ctx = `${JSON.stringify(m)}\n${r.stdout}${r.stderr}`;
  if (r.code !== 0) {
    seen.refusedAtRun++;
    expect(r.code, ctx).toBe(1);
    expect(r.stderr, ctx).toMatch(/^error: [a-z]+: .+\nfix: .+\n$/);
  } else expect(r.stderr, ctx).toBe('');
  const after = tree(staged);

  // Nothing changed outside what the manifest names (and the folders made on the way to it).
  const named = [
    ...((m.users as Array<{ name: string; home?: string; system?: boolean }> | undefined) ?? []).map(
      (u) => u.home ?? (u.system === false ? `/home/${u.name}` : undefined),
    ),
    ...((m.directories as Array<{ path: string }> | undefined) ?? []).map((x) => x.path),
    ...Object.keys(FILES).map((f) => `/${f}`),
    ...(d.repository
      ? [`/etc/apt/sources.list.d/${d.repository.name}.sources`, `/etc/apt/keyrings/${d.repository.name}.gpg`]
      : []),
  ].filter((x): x is string => x !== undefined);
  for (const [p, e] of after) {
    const b = before.get(p);
    if (b && JSON.stringify(b) === JSON.stringify(e)) continue;
    const ok = ACCOUNT_FILES.test(p) || named.some((x) => within(p, x)) || (!b && named.some((x) => within(x, p)));
    expect(ok, `${p} changed (${JSON.stringify(b)} -> ${JSON.stringify(e)})\n${ctx}`).toBe(true);
  }
  for (const p of before.keys()) expect(after.has(p), `${p} removed\n${ctx}`).toBe(true);

  // No system folder changed owner or mode; where root runs code from is root's alone.
  for (const s of SYSTEM_DIRS) {
    if (s === '/') {
      const t = lstatSync(staged);
      expect([t.uid, t.gid, (t.mode & 0o7777).toString(8)], `/\n${ctx}`).toEqual([0, 0, '755']);
      continue;
    }
    const b = before.get(s);
    if (!b) continue;
    const a = after.get(s)!;
    expect([a.uid, a.gid, a.mode.toString(8)], `${s}\n${ctx}`).toEqual([b.uid, b.gid, b.mode.toString(8)]);
  }
  for (const p of [...ROOT_RUN, ...ancestorsOf(ROOT_RUN)]) {
    const a = after.get(p);
    if (!a) continue;
    expect(a.uid, `${p} owner\n${ctx}`).toBe(0);
    if (!(a.mode & 0o1000))
      expect(a.mode & (a.gid === 0 ? 0o002 : 0o022), `${p} mode ${a.mode.toString(8)}\n${ctx}`).toBe(0);
  }
  for (const [p, a] of after) {
    if (ROOT_RUN.some((x) => within(p, x)) && a.kind !== 'l') expect(a.uid, `${p} owner\n${ctx}`).toBe(0);
  }
  // No user of the manifest is in a group that hands root, as its own group or an extra one.
  const groups = readFileSync(join(staged, 'etc/group'), 'utf8')
    .split('\n')
    .map((l) => l.split(':'));
  for (const u of (m.users as Array<{ name: string }> | undefined) ?? []) {
    const row = readFileSync(join(staged, 'etc/passwd'), 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((x) => x[0] === u.name);
    if (!row || ['root', 'nobody', 'www-data', 'daemon'].includes(u.name)) continue;
    const own = groups.find((g) => g[2] === row[3]);
    expect(
      own && (own[2] === '0' || PRIVILEGED_GROUPS.includes(own[0])),
      `${u.name}'s own group ${own?.[0]}\n${ctx}`,
    ).toBe(false);
    for (const g of groups) {
      if (g[2] === '0' || PRIVILEGED_GROUPS.includes(g[0]))
        expect((g[3] ?? '').split(','), `${u.name} in ${g[0]}\n${ctx}`).not.toContain(u.name);
    }
  }
  if (r.code !== 0) return;

  // Every value landed verbatim.
  const passwd = readFileSync(join(staged, 'etc/passwd'), 'utf8')
    .split('\n')
    .map((l) => l.split(':'));
  for (const u of (m.users as Array<{ name: string; home?: string; shell?: string; comment?: string }> | undefined) ??
    []) {
    const row = passwd.find((x) => x[0] === u.name)!;
    expect(row, ctx).toBeDefined();
    if (u.comment !== undefined) expect(row[4], ctx).toBe(u.comment);
    if (u.home !== undefined) expect(row[5], ctx).toBe(u.home);
    if (u.shell !== undefined) expect(row[6], ctx).toBe(u.shell);
  }
  const dirs = (m.directories as Array<{ path: string; mode?: string }> | undefined) ?? [];
  dirs.forEach((x, i) => {
    expect(after.get(x.path)?.kind, `${x.path}\n${ctx}`).toBe('d');
    if (x.mode && !dirs.slice(i + 1).some((y) => y.path === x.path && y.mode))
      expect(after.get(x.path)!.mode, ctx).toBe(parseInt(x.mode, 8));
  });
  if (d.repository)
    expect(readFileSync(join(staged, `etc/apt/sources.list.d/${d.repository.name}.sources`), 'utf8'), ctx).toContain(
      `\nURIs: https://apt.acme.example/${d.repository.uri}\n`,
    );
  if (d.variables && Object.keys(d.variables).length) {
    const names = Object.keys(d.variables);
    const vars = r.stdout.slice(r.stdout.indexOf(`${names[0]}=`));
    const back = spawnSync('sh', ['-c', `${vars}\n${names.map((k) => `printf '%s\\n' "$${k}"`).join('\n')}`], {
      encoding: 'utf8',
    });
    expect(back.stdout, ctx).toBe(names.map((k) => `${d.variables![k]}\n`).join(''));
  }
  // the chroot's own accounts and scratch space untouched
  expect(readFileSync(join(root, 'etc/passwd'), 'utf8'), ctx).not.toMatch(/^app/m);
  expect(readdirSync(join(root, 'tmp')), ctx).toEqual([]);
  expect(existsSync(join(root, 'calls.log'))).toBe(false);
}

describe('random manifests the schema accepts, built on staged roots', () => {
  it(`nothing outside what they name, no system folder changed, root's paths root's, values verbatim (${NUM_RUNS} runs)`, () => {
    fc.assert(fc.property(manifestArb, check), { numRuns: NUM_RUNS, seed: SEED });
    // the draw reaches the build script, not only the schema's refusals
    expect(seen.accepted, JSON.stringify(seen)).toBeGreaterThan(NUM_RUNS / 4);
  }, 900_000);

  it('past the schema (a hole it might have), the build script refuses a system folder by itself', () => {
    // What a schema without the policy would let through: / for nobody, /tmp without its sticky bit.
    const staged = freshStaged();
    const dir = makeProject({ manifest: BASE as Partial<Manifest> });
    const script = writeBundle(loadProject(dir)).build;
    const text = readFileSync(script, 'utf8').replace(
      /^directories_list\(\) \{\n  :\n\}$/m,
      "directories_list() {\n  mpimg_directory '/tmp' '' '' '0755'\n}",
    );
    writeFileSync(script, text);
    installScript(root, script);
    const r = runBuild(root, ['--root', staged.slice(root.length), 'users']);
    // the build script refuses it by itself (its own copy of the policy)
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: users: directory \/tmp: \/tmp is a system folder/);
    expect((lstatSync(join(staged, 'tmp')).mode & 0o7777).toString(8)).toBe('1777');
  });
});
