import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateManifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { FULL_ANSWERS, removeDir, runIn, tempDir, tree } from './support.js';

const dirs: string[] = [];
function fresh(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) removeDir(dirs.pop()!);
});

const read = (dir: string, rel: string) => readFileSync(join(dir, rel), 'utf8');
const json = (dir: string, rel: string) => JSON.parse(read(dir, rel)) as Record<string, any>;
const modeOf = (dir: string, rel: string) => statSync(join(dir, rel)).mode & 0o777;

const ALL_OPTIONS = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  distro: 'debian-12-x64',
  packages: 'nginx, curl',
  ports: '80/tcp, 443/tcp',
  'first-login': true,
  'login-hold': true,
  motd: 'Hello from {{name}} {{version}}',
  region: 'ams3',
  size: 's-1vcpu-1gb',
};

const EXPECTED_MANIFEST = {
  $schema: './node_modules/generator-mpimg/mpimg.schema.json',
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.0.0',
  distributions: ['debian-12-x64'],
  variables: {},
  // the firewall package of each family: the firewall step sets it up, it does not install it
  build: {
    repositories: [],
    packages: { all: ['nginx', 'curl'], apt: ['ufw'], dnf: ['firewalld'] },
    scriptsDir: 'scripts',
  },
  users: [],
  directories: [],
  files: { dir: 'files' },
  services: [],
  // review rejects images without a firewall: SSH rate-limited, the app's ports open
  firewall: { limit: ['22/tcp'], allow: ['80/tcp', '443/tcp'] },
  firstLogin: { file: 'first-login/first-login.sh' },
  motd: { file: 'motd.txt' },
  loginHold: true,
  cleanup: { zeroFill: false },
  droplet: { region: 'ams3', size: 's-1vcpu-1gb' },
  snapshot: { name: '{slug}-{version}-{timestamp}' },
};

describe('yo mpimg (app generator)', () => {
  it('takes every answer from options and asks nothing', async () => {
    const dir = fresh();
    const result = await runIn('app', dir).withOptions(ALL_OPTIONS);
    expect(result.askedQuestions).toEqual([]);
    const manifest = json(dir, 'mpimg.json');
    expect(manifest).toEqual(EXPECTED_MANIFEST);
    expect(validateManifest(manifest).problems).toEqual([]);
    const { generated, ...stored } = json(dir, '.yo-rc.json')['generator-mpimg'];
    expect(stored).toEqual({ ...FULL_ANSWERS, packages: ['nginx', 'curl'], ports: ['80/tcp', '443/tcp'] });
    // every file the generator wrote, with the sha256 of what it wrote (to tell edits from refreshes later)
    // (not the package's copy in vendor/: that is package.json's, like mpimg.json)
    expect(Object.keys(generated).sort()).toEqual(
      tree(dir)
        .map((l) => l.slice(5))
        .filter((p) => !['.yo-rc.json', 'mpimg.json', 'package.json'].includes(p) && !p.startsWith('vendor/'))
        .sort(),
    );
    expect(generated['Makefile']).toBe(
      createHash('sha256')
        .update(readFileSync(join(dir, 'Makefile')))
        .digest('hex'),
    );
    expect(read(dir, 'motd.txt').split('\n')[0]).toBe('Hello from {{name}} {{version}}');
    expect(existsSync(join(dir, 'first-login/first-login.sh'))).toBe(true);
  });

  it('asks every question when no option is given, and uses the answers', async () => {
    const dir = fresh();
    const result = await runIn('app', dir).withAnswers(FULL_ANSWERS);
    expect(result.askedQuestions.map((q) => q.name)).toEqual([
      'name',
      'slug',
      'vendor',
      'distro',
      'packages',
      'ports',
      'firstLogin',
      'loginHold',
      'motd',
      'region',
      'size',
    ]);
    expect(json(dir, 'mpimg.json')).toEqual(EXPECTED_MANIFEST);
  });

  it('offers derived defaults in the prompts: slug from name, vendor from slug, smallest size', async () => {
    const dir = fresh();
    const result = await runIn('app', dir).withAnswers({ name: 'Zeta Board 2' }, { throwOnMissingAnswer: false });
    const defaults = Object.fromEntries(result.askedQuestions.map((q) => [q.name, q.answer]));
    expect(defaults).toMatchObject({
      slug: 'zeta-board-2',
      vendor: 'zeta',
      distro: 'ubuntu-24-04-x64',
      packages: '',
      ports: '',
      firstLogin: false,
      loginHold: false,
      region: 'nyc3',
      size: 's-1vcpu-512mb-10gb',
    });
    expect(json(dir, 'mpimg.json')).toMatchObject({
      slug: 'zeta-board-2',
      vendor: 'zeta',
      firstLogin: null,
      loginHold: false,
    });
  });

  it('--yes takes the defaults for what options do not give: no first-login, no login hold', async () => {
    const dir = fresh();
    const result = await runIn('app', dir).withOptions({ yes: true, name: 'Acme Wiki' });
    expect(result.askedQuestions).toEqual([]);
    expect(json(dir, 'mpimg.json')).toEqual({
      ...EXPECTED_MANIFEST,
      distributions: ['ubuntu-24-04-x64'],
      firstLogin: null,
      loginHold: false,
      build: { repositories: [], packages: { all: [], apt: ['ufw'], dnf: ['firewalld'] }, scriptsDir: 'scripts' },
      firewall: { limit: ['22/tcp'], allow: [] },
      droplet: { region: 'nyc3', size: 's-1vcpu-512mb-10gb' },
    });
    expect(read(dir, 'motd.txt').split('\n')[0]).toBe('Welcome to {{name}} {{version}}!');
    expect(existsSync(join(dir, 'first-login'))).toBe(false);
  });

  it('--yes with no name derives everything from the folder name', async () => {
    const parent = fresh();
    const dir = join(parent, 'zeta-board');
    mkdirSync(dir);
    const result = await runIn('app', dir).withOptions({ yes: true });
    expect(result.askedQuestions).toEqual([]);
    expect(json(dir, 'mpimg.json')).toMatchObject({ name: 'Zeta Board', slug: 'zeta-board', vendor: 'zeta' });
  });

  it('rejects invalid answers naming each option and the fix, and writes nothing', async () => {
    const dir = fresh();
    const run = runIn('app', dir).withOptions({
      yes: true,
      name: 'Acme',
      slug: 'Bad_Slug',
      vendor: 'digitalocean',
      distro: 'windows-x64',
      packages: 'ok,bad pkg',
      region: 'NYC 3',
      ports: '80/tcp,http',
    });
    const err = await run.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const text = `${err!.message}\n${(err as any).hint ?? ''}`;
    expect(text).toMatch(/--slug: bad slug "Bad_Slug"\n\s+fix: .*lower-case letters/);
    expect(text).toMatch(/--vendor: vendor "digitalocean" is reserved\n\s+fix: .*company name/);
    expect(text).toMatch(
      /--distro: unknown distribution "windows-x64"\n\s+fix: use one of: ubuntu-24-04-x64, .*debian-12-x64.* \(or a newer release of one of them\)/,
    );
    expect(text).toMatch(/--ports: bad rule "http"/);
    expect(text).toMatch(/--packages: bad package entry "bad pkg"/);
    expect(text).toMatch(/--region: bad region "NYC 3"/);
    expect(text).toMatch(/nothing was written/);
    expect(existsSync(join(dir, 'mpimg.json'))).toBe(false);
    expect(existsSync(join(dir, '.yo-rc.json'))).toBe(false);
  });

  it('rejects a bad answer given at the prompt the same way', async () => {
    const dir = fresh();
    const err = await runIn('app', dir)
      .withAnswers({ ...FULL_ANSWERS, vendor: '../etc' })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toMatch(/--vendor: bad vendor folder name "..\/etc"/);
  });

  it('without a terminal (non-interactive) and without --yes it fails naming the missing options', async () => {
    const dir = fresh();
    const err = await runIn('app', dir)
      .withOptions({ 'non-interactive': true, name: 'Acme Wiki', distro: 'debian-12-x64' })
      .then(
        () => undefined,
        (e: Error & { hint?: string }) => e,
      );
    expect(err?.message).toContain(
      'missing: --slug, --vendor, --packages, --ports, --first-login, --login-hold, --motd, --region, --size',
    );
    expect((err as { hint?: string }).hint).toMatch(/or --yes/);
    expect(existsSync(join(dir, 'mpimg.json'))).toBe(false);
  });

  it('writes a project the bundler reads as it is: every part mpimg.json names, scripts executable, the rest 0644', async () => {
    const dir = fresh();
    await runIn('app', dir).withOptions(ALL_OPTIONS);
    expect(tree(dir)).toMatchInlineSnapshot(`
      [
        "0644 .editorconfig",
        "0644 .gitattributes",
        "0644 .github/workflows/image.yml",
        "0644 .gitignore",
        "0644 .yo-rc.json",
        "0644 Makefile",
        "0644 README.md",
        "0644 files/etc/acme-wiki/README",
        "0755 first-boot/10-setup.sh",
        "0755 first-login/first-login.sh",
        "0644 motd.txt",
        "0644 mpimg.json",
        "0644 mpimgfile.mjs",
        "0644 package.json",
        "0755 scripts/10-configure.sh",
        "0644 vendor/generator-mpimg-0.1.0.tgz",
      ]
    `);
    // ... and what a vendor relies on in it
    const p = loadProject(dir);
    expect(p.firstBoot.map((s) => `${s.order}-${s.name}`)).toEqual(['10-setup']);
    expect(p.firstLogin?.rel).toBe('first-login/first-login.sh');
    expect(p.motd?.rel).toBe('motd.txt');
    expect(p.buildScripts.map((s) => s.rel)).toEqual(['scripts/10-configure.sh']);
    for (const f of p.files) expect(f.target).toBe(f.rel.slice('files'.length));
    for (const f of ['Makefile', 'mpimgfile.mjs', 'package.json', '.gitignore', '.gitattributes', 'README.md'])
      expect(existsSync(join(dir, f)), f).toBe(true);
    const runs = new Set(p.scripts.map((s) => s.rel));
    for (const line of tree(dir)) {
      const [mode, rel] = line.split(' ');
      expect(mode, rel).toBe(runs.has(rel) ? '0755' : '0644');
    }
  });

  it('writes LF-only files and executable shell scripts', async () => {
    const dir = fresh();
    await runIn('app', dir).withOptions(ALL_OPTIONS);
    for (const line of tree(dir, ['node_modules', 'vendor'])) {
      const [mode, rel] = line.split(' ');
      expect(readFileSync(join(dir, rel)).includes(13), `${rel} has a CR`).toBe(false);
      if (rel.endsWith('.sh')) expect(mode, rel).toBe('0755');
    }
    expect(read(dir, '.gitattributes')).toContain('eol=lf');
    expect(json(dir, 'package.json')).toMatchObject({
      private: true,
      // a copy of this package in vendor/ while it is not on the npm registry (lib/package-source.ts)
      devDependencies: { 'generator-mpimg': 'file:vendor/generator-mpimg-0.1.0.tgz' },
      scripts: { bundle: 'mpimg bundle', build: 'mpimg run build' },
    });
  });

  describe('re-run on an existing project', () => {
    it('asks nothing already answered, keeps edited files and reports them', async () => {
      const dir = fresh();
      await runIn('app', dir).withOptions(ALL_OPTIONS);
      const edited = `${read(dir, 'Makefile')}\nextra: ## vendor target\n\techo hi\n`;
      writeFileSync(join(dir, 'Makefile'), edited);
      writeFileSync(join(dir, 'first-boot/10-setup.sh'), '#!/bin/sh\necho vendor\n');
      chmodSync(join(dir, 'first-boot/10-setup.sh'), 0o755);
      const before = statSync(join(dir, 'README.md')).mtimeMs;

      const again = await runIn('app', dir);
      expect(again.askedQuestions).toEqual([]);
      expect(read(dir, 'Makefile')).toBe(edited);
      expect(read(dir, 'first-boot/10-setup.sh')).toBe('#!/bin/sh\necho vendor\n');
      expect(statSync(join(dir, 'README.md')).mtimeMs).toBe(before);
      const gen = again.generator as unknown as { writer: { conflicts: string[] } };
      expect(gen.writer.conflicts.sort()).toEqual(['Makefile', 'first-boot/10-setup.sh']);
      expect(json(dir, 'mpimg.json')).toEqual(EXPECTED_MANIFEST);
    });

    it('never re-creates a file the vendor deleted; --force brings it back', async () => {
      const dir = fresh();
      await runIn('app', dir).withOptions(ALL_OPTIONS);
      removeDir(join(dir, 'scripts/10-configure.sh'));
      removeDir(join(dir, 'first-boot'));
      const again = await runIn('app', dir);
      expect(again.askedQuestions).toEqual([]);
      expect(existsSync(join(dir, 'scripts/10-configure.sh'))).toBe(false);
      expect(existsSync(join(dir, 'first-boot/10-setup.sh'))).toBe(false);
      expect((again.generator as any).writer.conflicts).toEqual([]);
      await runIn('app', dir).withOptions({ force: true });
      expect(modeOf(dir, 'scripts/10-configure.sh')).toBe(0o755);
    });

    it('a deleted first-login script comes back when --first-login is asked for again', async () => {
      const dir = fresh();
      await runIn('app', dir).withOptions(ALL_OPTIONS);
      removeDir(join(dir, 'first-login'));
      await runIn('app', dir);
      expect(existsSync(join(dir, 'first-login/first-login.sh'))).toBe(false);
      await runIn('app', dir).withOptions({ 'first-login': true });
      expect(modeOf(dir, 'first-login/first-login.sh')).toBe(0o755);
    });

    it("new answers merge into mpimg.json, keeping the vendor's own keys; unedited generated files follow them", async () => {
      const dir = fresh();
      await runIn('app', dir).withOptions({ ...ALL_OPTIONS, 'first-login': false });
      const m = json(dir, 'mpimg.json');
      m.version = '2.3.4';
      m.droplet.tags = ['team-a'];
      writeFileSync(join(dir, 'mpimg.json'), `${JSON.stringify(m, null, 2)}\n`);
      const again = await runIn('app', dir).withOptions({ packages: 'nginx,curl,git', 'first-login': true });
      expect((again.generator as any).writer.conflicts).toEqual([]);
      const after = json(dir, 'mpimg.json');
      expect(after.build.packages).toEqual({ all: ['nginx', 'curl', 'git'], apt: ['ufw'], dnf: ['firewalld'] });
      expect(after.firstLogin).toEqual({ file: 'first-login/first-login.sh' });
      expect(after.version).toBe('2.3.4');
      expect(after.droplet).toEqual({ region: 'ams3', size: 's-1vcpu-1gb', tags: ['team-a'] });
      expect(existsSync(join(dir, 'first-login/first-login.sh'))).toBe(true);
      expect(json(dir, '.yo-rc.json')['generator-mpimg'].packages).toEqual(['nginx', 'curl', 'git']);
    });

    it('mpimg.json edited by hand is the source on a re-run (not the answers stored in .yo-rc.json)', async () => {
      const dir = fresh();
      await runIn('app', dir).withOptions(ALL_OPTIONS);
      const m = json(dir, 'mpimg.json');
      m.name = 'Acme Wiki Pro';
      m.build.packages = ['apache2'];
      writeFileSync(join(dir, 'mpimg.json'), `${JSON.stringify(m, null, 2)}\n`);
      await runIn('app', dir);
      expect(json(dir, 'mpimg.json')).toMatchObject({ name: 'Acme Wiki Pro', build: { packages: ['apache2'] } });
      expect(json(dir, '.yo-rc.json')['generator-mpimg']).toMatchObject({
        name: 'Acme Wiki Pro',
        packages: ['apache2'],
      });
    });

    it('--force overwrites edited files with the generated ones', async () => {
      const dir = fresh();
      await runIn('app', dir).withOptions(ALL_OPTIONS);
      const original = read(dir, 'Makefile');
      writeFileSync(join(dir, 'Makefile'), 'edited\n');
      writeFileSync(join(dir, 'scripts/10-configure.sh'), '#!/bin/sh\n');
      chmodSync(join(dir, 'scripts/10-configure.sh'), 0o644);
      const again = await runIn('app', dir).withOptions({ force: true });
      expect(again.askedQuestions).toEqual([]);
      expect(read(dir, 'Makefile')).toBe(original);
      expect(modeOf(dir, 'scripts/10-configure.sh')).toBe(0o755);
      expect((again.generator as any).writer.conflicts).toEqual([]);
    });
  });
});
