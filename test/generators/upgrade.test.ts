/**
 * A project keeps working across releases: `mpimg upgrade` on a project that generator-mpimg 0.1.0
 * generated (test/fixtures/project-0.1.0, made by that release and committed as it was) refreshes
 * what the vendor never edited, removes what a project no longer carries (the copied cleanup and
 * check, the hand-kept Packer template), and keeps and reports what the vendor edited.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, removeDir, tempDir } from './support.js';

const FIXTURE = join(REPO, 'test/fixtures/project-0.1.0');
const parent = tempDir('mpimg-upgrade-');
afterAll(() => removeDir(parent));

const mpimg = (args: string[], cwd: string) =>
  spawnSync('sh', ['-c', 'exec "$0" "$@" 0<&-', process.execPath, join(REPO, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
  });

/** A copy of the 0.1.0 project with this checkout as its generator-mpimg (as `npm update` would). */
function oldProject(name: string): string {
  const dir = join(parent, name);
  cpSync(FIXTURE, dir, { recursive: true });
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync(REPO, join(dir, 'node_modules/generator-mpimg'));
  symlinkSync('../generator-mpimg/bin/mpimg.js', join(dir, 'node_modules/.bin/mpimg'));
  return dir;
}
const read = (dir: string, rel: string) => readFileSync(join(dir, rel), 'utf8');

describe('mpimg upgrade of a project made by generator-mpimg 0.1.0', () => {
  it('refreshes the unedited files, removes the retired ones, keeps and reports the edited one', () => {
    const dir = oldProject('p1');
    const editedMakefile = `${read(dir, 'Makefile')}\ndeploy: ## the vendor's own target\n\t@echo deploy\n`;
    writeFileSync(join(dir, 'Makefile'), editedMakefile);
    const oldMpimgfile = read(dir, 'mpimgfile.mjs');
    expect(oldMpimgfile.split('\n').length).toBeGreaterThan(150); // the build logic, copied into the project

    const r = mpimg(['upgrade'], dir);
    expect(r.status, r.stderr).toBe(0);
    // the build logic now lives in the package
    const mpimgfile = read(dir, 'mpimgfile.mjs');
    expect(mpimgfile).toContain("export * from 'generator-mpimg/tasks/standard';");
    expect(mpimgfile.split('\n').length).toBeLessThanOrEqual(40);
    expect(read(dir, 'scripts/10-configure.sh')).toContain('"$MPIMG_VERSION"');
    expect(read(dir, 'README.md')).toContain('make upgrade');
    for (const gone of ['scripts/90-cleanup.sh', 'scripts/99-img-check.sh', 'packer/acme-wiki.pkr.hcl'])
      expect(existsSync(join(dir, gone)), gone).toBe(false);
    const m = JSON.parse(read(dir, 'mpimg.json'));
    expect(m.cleanup).toEqual({ zeroFill: false });
    expect(m.check).toBeUndefined();
    // the vendor's files stay as they are
    expect(read(dir, 'Makefile')).toBe(editedMakefile);
    expect(read(dir, 'first-boot/10-setup.sh')).toBe(readFileSync(join(FIXTURE, 'first-boot/10-setup.sh'), 'utf8'));
    expect(r.stdout).toMatch(/Refreshed \(you had not edited them\):\n(  .*\n)*  mpimgfile\.mjs\n/);
    expect(r.stdout).toMatch(
      /Removed \(no longer part of a project\):\n(  .*\n)*  scripts\/90-cleanup\.sh: the package's cleanup runs now/,
    );
    expect(r.stdout).toContain('  Makefile   (review: mpimg upgrade --show Makefile | diff -u Makefile -)');

    // the review command shows what this release would write
    const show = mpimg(['upgrade', '--show', 'Makefile'], dir);
    expect(show.status).toBe(0);
    expect(show.stdout).toContain('$(MPIMG) upgrade');
    expect(show.stdout).not.toMatch(/^[^#]*npx/m);
    // every generated file is recorded now: a second upgrade refreshes nothing more
    const again = mpimg(['upgrade'], dir);
    expect(again.status).toBe(0);
    expect(again.stdout).not.toContain('Refreshed');
    expect(again.stdout).toContain('  Makefile   (review:');

    // the upgraded project works: bundle (with the Packer template in dist/), validate, tasks
    expect(mpimg(['bundle'], dir).status).toBe(0);
    expect(existsSync(join(dir, 'dist/acme-wiki.pkr.hcl'))).toBe(true);
    const v = mpimg(['validate', '--strict'], dir);
    expect(v.status, v.stderr).toBe(0);
    const tasks = mpimg(['tasks', '--json'], dir);
    expect(tasks.status, tasks.stderr).toBe(0);
    expect(JSON.parse(tasks.stdout).map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['build', 'testbuild', 'files', 'scripts', 'cleanup', 'check']),
    );
  });

  it('keeps an edited copy of the old cleanup (it still wins) and says what it means; --force replaces edited files', () => {
    const dir = oldProject('p2');
    writeFileSync(
      join(dir, 'scripts/90-cleanup.sh'),
      `${read(dir, 'scripts/90-cleanup.sh')}# vendor: also clean /srv/cache\n`,
    );
    const r = mpimg(['upgrade'], dir);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'scripts/90-cleanup.sh'))).toBe(true);
    expect(existsSync(join(dir, 'scripts/99-img-check.sh'))).toBe(false);
    expect(r.stdout).toMatch(
      /Kept, because you edited them \(your copy wins\):\n  scripts\/90-cleanup\.sh: otherwise the package's cleanup runs now/,
    );
    expect(JSON.parse(read(dir, 'mpimg.json')).cleanup.script).toBe('scripts/90-cleanup.sh');
    // validate warns that the package's cleanup has moved on
    const v = mpimg(['validate'], dir);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stderr).toMatch(
      /warning: scripts\/90-cleanup\.sh is your own cleanup: it runs instead of the package's[^\n]*mpimg add cleanup-script --show \| diff -u scripts\/90-cleanup\.sh -/,
    );

    writeFileSync(join(dir, 'README.md'), '# our own readme\n');
    expect(mpimg(['upgrade'], dir).stdout).toContain('  README.md   (review:');
    expect(mpimg(['upgrade', '--force'], dir).status).toBe(0);
    expect(read(dir, 'README.md')).toContain('make upgrade');
  });

  it('keeps the cleanup and check (and their mpimg.json fields) that an edited old mpimgfile.mjs still runs, and says why', () => {
    const dir = oldProject('p4');
    const edited = `${read(dir, 'mpimgfile.mjs')}\n// vendor: our own smoke test\nexport const smoke = task('smoke', 'our smoke test', async (c) => { await c.run('true'); });\n`;
    writeFileSync(join(dir, 'mpimgfile.mjs'), edited);
    const r = mpimg(['upgrade'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(read(dir, 'mpimgfile.mjs')).toBe(edited);
    // what that mpimgfile's cleanup and check tasks read: the scripts, as they were, and the fields naming them
    for (const rel of ['scripts/90-cleanup.sh', 'scripts/99-img-check.sh'])
      expect(read(dir, rel), rel).toBe(readFileSync(join(FIXTURE, rel), 'utf8'));
    const m = JSON.parse(read(dir, 'mpimg.json'));
    expect(m.cleanup).toEqual({ script: 'scripts/90-cleanup.sh', zeroFill: false });
    expect(m.check).toEqual({ script: 'scripts/99-img-check.sh' });
    // the Packer template is nothing the old mpimgfile uses: still retired
    expect(existsSync(join(dir, 'packer/acme-wiki.pkr.hcl'))).toBe(false);
    expect(r.stdout).toMatch(
      /Kept, because your edited mpimgfile\.mjs still uses them:\n  scripts\/90-cleanup\.sh\n  scripts\/99-img-check\.sh\n  Once mpimgfile\.mjs is this release's \(mpimg upgrade --show mpimgfile\.mjs \| diff -u mpimgfile\.mjs -\), `mpimg upgrade` removes them/,
    );
    expect(r.stdout).toContain('  mpimgfile.mjs   (review:');
    expect(r.stdout).toMatch(/Removed \(no longer part of a project\):\n  packer\/acme-wiki\.pkr\.hcl: [^\n]*\nKept/);
    const tasks = mpimg(['tasks', '--json'], dir);
    expect(tasks.status, tasks.stderr).toBe(0);
    expect(JSON.parse(tasks.stdout).map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['smoke', 'cleanup', 'check']),
    );
    expect(mpimg(['validate', '--strict'], dir).status).toBe(0);

    // once the vendor takes this release's mpimgfile, the next upgrade retires them as unedited
    expect(mpimg(['upgrade', '--force'], dir).status).toBe(0);
    for (const gone of ['scripts/90-cleanup.sh', 'scripts/99-img-check.sh'])
      expect(existsSync(join(dir, gone)), gone).toBe(false);
    const after = JSON.parse(read(dir, 'mpimg.json'));
    expect(after.check).toBeUndefined();
    expect(after.cleanup).toEqual({ zeroFill: false });
  });

  it('refuses outside a project and an unknown file to show', () => {
    expect(mpimg(['upgrade'], parent).stderr).toContain('no mpimg.json in this folder');
    const dir = oldProject('p3');
    const r = mpimg(['upgrade', '--show', 'nope.txt'], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('nope.txt is not a file the generator writes');
  });
});

describe('customised cleanup and check', () => {
  it("mpimg add cleanup-script copies the package's; that copy wins; validate warns once the package's changes", () => {
    const dir = join(parent, 'custom');
    expect(mpimg(['new', 'custom', '--yes'], parent).status).toBe(0);
    expect(existsSync(join(dir, 'scripts/90-cleanup.sh'))).toBe(false);
    const r = mpimg(['add', 'cleanup-script'], dir);
    expect(r.status, r.stderr).toBe(0);
    const pkg = readFileSync(join(REPO, 'templates/droplet/90-cleanup.sh'), 'utf8');
    expect(read(dir, 'scripts/90-cleanup.sh')).toBe(pkg);
    expect(mpimg(['add', 'cleanup-script'], dir).stderr).toContain('scripts/90-cleanup.sh exists already');
    expect(mpimg(['add', 'check-script', '--show'], dir).stdout).toBe(
      readFileSync(join(REPO, 'templates/droplet/99-img-check.sh'), 'utf8'),
    );
    // fresh copy: no warning
    expect(mpimg(['validate'], dir).stderr).not.toContain('90-cleanup.sh');
    // as if the copy had been made from an older package
    const rc = JSON.parse(read(dir, '.yo-rc.json'));
    rc['generator-mpimg'].customised['scripts/90-cleanup.sh'] = { from: '0.0.9', sha256: '0'.repeat(64) };
    writeFileSync(join(dir, '.yo-rc.json'), JSON.stringify(rc));
    expect(mpimg(['validate'], dir).stderr).toContain(
      "scripts/90-cleanup.sh was copied from generator-mpimg 0.0.9; the package's cleanup changed since",
    );
  });
});

describe('mpimg validate reports generated files that no longer follow mpimg.json', () => {
  it('dist/ from an older bundle, and an unedited README after the name changed; bundle and upgrade fix them', () => {
    const dir = join(parent, 'stale');
    expect(mpimg(['new', 'stale', '--yes', '--name', 'Stale Wiki'], parent).status).toBe(0);
    expect(mpimg(['bundle'], dir).status).toBe(0);
    expect(mpimg(['validate', '--strict'], dir).status).toBe(0);
    const m = JSON.parse(read(dir, 'mpimg.json'));
    m.name = 'Fresh Wiki';
    m.version = '1.1.0';
    writeFileSync(join(dir, 'mpimg.json'), JSON.stringify(m, null, 2));
    const v = mpimg(['validate', '--strict'], dir);
    expect(v.status).toBe(1);
    expect(v.stderr).toMatch(
      /dist\/: \d file\(s\) bundled before the last change to the project \(or to generator-mpimg\): stale-wiki\.cjs, stale-wiki-install\.sh, (stale-wiki-build\.sh, )?stale-wiki\.pkr\.hcl\n {4}fix: run `make bundle`/,
    );
    // upgrade first: the bundle embeds what it refreshes
    expect(v.stderr).toMatch(
      /generated file\(s\) you never edited are from an older mpimg\.json or generator-mpimg: [^\n]*README\.md[^\n]*\n {4}fix: run `make upgrade` \(or `mpimg upgrade`\), then bundle again\n/,
    );
    expect(v.stderr.indexOf('make upgrade')).toBeLessThan(v.stderr.indexOf('make bundle'));
    // without --strict: the same as warnings, exit 0
    const w = mpimg(['validate'], dir);
    expect(w.status, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/^warning: .*README\.md/m);
    // upgrade first: it refreshes files/ examples that name the image too, which the bundle embeds
    expect(mpimg(['upgrade'], dir).status).toBe(0);
    expect(mpimg(['bundle'], dir).status).toBe(0);
    expect(read(dir, 'README.md')).toContain('# Fresh Wiki');
    const ok = mpimg(['validate', '--strict'], dir);
    expect(ok.status, ok.stderr).toBe(0);
  });
});

describe("regeneration over a project's life", () => {
  /** Every file (but dist/ and node_modules/) as "path sha256". */
  const snapshot = (dir: string): Map<string, string> => {
    const out = new Map<string, string>();
    const walk = (rel: string) => {
      for (const n of readdirSync(join(dir, rel))) {
        const r = rel ? `${rel}/${n}` : n;
        if (r === 'dist' || r === 'node_modules') continue;
        if (lstatSync(join(dir, r)).isDirectory()) walk(r);
        else
          out.set(
            r,
            createHash('sha256')
              .update(readFileSync(join(dir, r)))
              .digest('hex'),
          );
      }
    };
    walk('');
    return out;
  };
  const changed = (a: Map<string, string>, b: Map<string, string>) =>
    [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();

  it('scaffold, delete an example, edit mpimg.json, re-run, bundle: the deleted file stays deleted, dist/ follows, nothing else changes', () => {
    const dir = join(parent, 'life');
    expect(mpimg(['new', 'life', '--yes', '--name', 'Life Wiki', '--packages', 'nginx', '--link'], parent).status).toBe(
      0,
    );
    expect(mpimg(['bundle'], dir).status).toBe(0);
    rmSync(join(dir, 'scripts/10-configure.sh'));
    const m = JSON.parse(read(dir, 'mpimg.json'));
    m.build.packages = ['nginx', 'redis-server'];
    m.version = '1.4.0';
    m.firstLogin = { file: 'first-login/first-login.sh' };
    writeFileSync(join(dir, 'mpimg.json'), `${JSON.stringify(m, null, 2)}\n`);
    const before = snapshot(dir);

    const again = mpimg(['new', '.'], dir);
    expect(again.status, again.stderr).toBe(0);
    expect(existsSync(join(dir, 'scripts/10-configure.sh'))).toBe(false);
    // first login turned on in mpimg.json: its script is there, no conflict leaves it unused
    expect(statSync(join(dir, 'first-login/first-login.sh')).mode & 0o777).toBe(0o755);
    expect(again.stdout).not.toContain('differs');
    expect(changed(before, snapshot(dir))).toEqual(['.yo-rc.json', 'first-login/first-login.sh']);
    expect(JSON.parse(read(dir, 'mpimg.json'))).toEqual(m);

    const b = mpimg(['bundle'], dir);
    expect(b.status, b.stderr).toBe(0);
    const packer = read(dir, 'dist/life-wiki.pkr.hcl');
    expect(packer).toContain("install 'nginx' 'redis-server'");
    expect(packer).toContain('"life-wiki-1.4.0-${formatdate(');
    const plan = spawnSync(process.execPath, [join(dir, 'dist/life-wiki.cjs'), 'plan'], { encoding: 'utf8' }).stdout;
    expect(plan).toContain('block      /root/.bashrc [mpimg:life-wiki first-login]');
    expect(
      spawnSync(process.execPath, [join(dir, 'dist/life-wiki.cjs'), '--version'], { encoding: 'utf8' }).stdout,
    ).toMatch(/^Life Wiki 1\.4\.0 \(life-wiki\)/);
    expect(mpimg(['validate', '--strict'], dir).status).toBe(0);
  });

  it('--package puts the given spec in package.json (a tarball, a git URL) and refuses a broken one', () => {
    const dir = join(parent, 'spec');
    expect(mpimg(['new', 'spec', '--yes', '--package', 'file:../generator-mpimg-0.2.0.tgz'], parent).status).toBe(0);
    expect(JSON.parse(read(dir, 'package.json')).devDependencies['generator-mpimg']).toBe(
      'file:../generator-mpimg-0.2.0.tgz',
    );
    expect(
      mpimg(['new', '.', '--package', 'git+https://example.com/acme/generator-mpimg.git#v0.2.0'], dir).status,
    ).toBe(0);
    expect(JSON.parse(read(dir, 'package.json')).devDependencies['generator-mpimg']).toBe(
      'git+https://example.com/acme/generator-mpimg.git#v0.2.0',
    );
    const bad = mpimg(['new', 'bad-spec', '--yes', '--package', 'two words'], parent);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--package: bad --package "two words"');
    expect(existsSync(join(parent, 'bad-spec'))).toBe(false);
  });
});
