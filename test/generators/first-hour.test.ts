/**
 * A vendor's first hour with a generated project (issue "install, scaffold, edit, validate, build,
 * with no surprises"): the firewall is there, newer distributions and odd regions warn instead of
 * failing, a misspelt MOTD placeholder is named with what was meant, the Makefile keeps quiet and
 * takes the vendor's own targets, and one edited file can be refreshed on purpose.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withoutOldPacker } from '../helpers/old-packer.js';
import { REPO, removeDir, tempDir } from './support.js';

const parent = tempDir('mpimg-hour-');
afterAll(() => removeDir(parent));

const mpimg = (args: string[], cwd = parent) =>
  spawnSync('sh', ['-c', 'exec "$0" "$@" 0<&-', process.execPath, join(REPO, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
  });
const make = (args: string[], cwd: string) =>
  spawnSync('make', ['--no-print-directory', `MPIMG=${process.execPath} ${join(REPO, 'bin/mpimg.js')}`, ...args], {
    cwd,
    encoding: 'utf8',
  });
const read = (dir: string, rel: string) => readFileSync(join(dir, rel), 'utf8');

describe('scaffolding and editing', () => {
  it('the scaffold has a firewall (SSH limited, --ports allowed, ufw/firewalld per family); validate warns when a project has none', () => {
    const r = mpimg(['new', 'fw', '--yes', '--ports', '80/tcp,443/tcp']);
    expect(r.status, r.stderr).toBe(0);
    const dir = join(parent, 'fw');
    const m = JSON.parse(read(dir, 'mpimg.json'));
    expect(m.firewall).toEqual({ limit: ['22/tcp'], allow: ['80/tcp', '443/tcp'] });
    expect(m.build.packages).toMatchObject({ apt: ['ufw'], dnf: ['firewalld'] });
    const ok = mpimg(['validate'], dir);
    expect(ok.status, ok.stderr).toBe(0);
    // this machine's packer is older than the template's minimum: that warning is tested on its own
    expect(withoutOldPacker(ok.stderr).text).toBe('');
    delete m.firewall;
    writeFileSync(join(dir, 'mpimg.json'), JSON.stringify(m, null, 2));
    const none = mpimg(['validate'], dir);
    expect(none.status).toBe(0);
    expect(none.stderr).toContain(
      "warning: mpimg.json has no $.firewall: DigitalOcean's review rejects images without an active firewall",
    );
    // a firewall without its package (Debian's images lack ufw; Ubuntu's have it)
    m.firewall = { limit: ['22/tcp'] };
    m.distributions = ['debian-12-x64'];
    m.build.packages = ['nginx'];
    writeFileSync(join(dir, 'mpimg.json'), JSON.stringify(m, null, 2));
    expect(mpimg(['validate'], dir).stderr).toContain(
      'debian-12-x64: the firewall step needs ufw, which build.packages does not install for it',
    );
  });

  it('a newer distribution release is taken with a warning, by --distro and in mpimg.json alike; an unknown region or size warns', () => {
    const r = mpimg(['new', 'newer', '--yes', '--distro', 'ubuntu-26-04-x64', '--region', 'mars1', '--size', 'huge']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'warning: distribution "ubuntu-26-04-x64" is newer than the ones this generator-mpimg knows',
    );
    expect(r.stderr).toContain('warning: region "mars1" is not one DigitalOcean takes new droplets in');
    expect(r.stderr).toContain('warning: droplet size "huge" does not look like a DigitalOcean size slug');
    const dir = join(parent, 'newer');
    expect(JSON.parse(read(dir, 'mpimg.json')).distributions).toEqual(['ubuntu-26-04-x64']);
    const v = mpimg(['validate'], dir);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stderr).toContain('warning: $.distributions: distribution "ubuntu-26-04-x64" is newer');
    expect(v.stderr).toContain('warning: $.droplet.region: region "mars1"');
    const bad = mpimg(['new', 'unknown-os', '--yes', '--distro', 'windows-2022-x64']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--distro: unknown distribution "windows-2022-x64"');
  });

  it('a misspelt MOTD placeholder gets a did-you-mean, in --motd and in motd.txt', () => {
    const asked = mpimg(['new', 'motd-typo', '--yes', '--motd', 'Welcome to {{nmae}} on {{ip}}']);
    expect(asked.status).toBe(1);
    expect(asked.stderr).toContain('--motd: unknown placeholder {{nmae}}');
    expect(asked.stderr).toContain('did you mean {{name}}?');
    expect(
      mpimg(['new', 'motd-ok', '--yes', '--motd', 'Welcome to {{name}} {{APP_VERSION}}, see {{credentials}}']).status,
    ).toBe(0);
    const dir = join(parent, 'motd-ok');
    writeFileSync(join(dir, 'motd.txt'), 'Hello {{credential}}\n');
    const v = mpimg(['validate'], dir);
    expect(v.status).toBe(1);
    expect(v.stderr).toContain('unknown placeholder {{credential}}');
    expect(v.stderr).toContain('did you mean {{credentials}}?');
    // mpimg add motd: the fix is the did-you-mean, not a generic one; motd.txt stays as it was
    const added = mpimg(['add', 'motd', '--motd', 'Hi {{nmae}}', '--force'], dir);
    expect(added.status).toBe(1);
    expect(added.stderr).toContain('error: bad --motd: unknown placeholder {{nmae}}');
    expect(added.stderr).toMatch(/fix: did you mean \{\{name\}\}\?/);
    expect(readFileSync(join(dir, 'motd.txt'), 'utf8')).toBe('Hello {{credential}}\n');
  });
});

describe('output', () => {
  it("mpimg new, add and upgrade print their own summary, none of Yeoman's chatter, and each kept file once", () => {
    const r = mpimg(['new', 'quiet', '--yes']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/^\s*(force|create|conflict|identical|skip)\s/m);
    expect(r.stdout).not.toMatch(/package manager|package\.json was detected|\.yo-rc\.json/);
    expect(r.stdout.trimStart()).toMatch(/^Image project "Quiet" is ready in quiet\. Next steps:/);
    const dir = join(parent, 'quiet');
    writeFileSync(join(dir, 'motd.txt'), 'mine\n');
    const up = mpimg(['upgrade'], dir);
    expect(up.stdout.split('\n').filter((l) => l.includes('motd.txt'))).toEqual([
      '  motd.txt   (review: mpimg upgrade --show motd.txt | diff -u motd.txt -)',
    ]);
    expect(up.stdout).not.toMatch(/^\s*conflict /m);
    const add = mpimg(['add', 'first-boot', 'db'], dir);
    expect(add.stdout).toBe(
      'Added first-boot/20-db.sh: it runs once at the first boot of every droplet, after the lower numbers.\n',
    );
  });
});

describe('the generated Makefile', () => {
  it("does not echo its recipes, reads local.mk for the vendor's own targets, and refreshes one edited file with FILE=", () => {
    expect(mpimg(['new', 'mk', '--yes']).status).toBe(0);
    const dir = join(parent, 'mk');
    const v = make(['validate'], dir);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).not.toContain('bin/mpimg.js');
    expect(v.stdout).toMatch(/mpimg\.json: ok/);
    writeFileSync(join(dir, 'local.mk'), 'deploy: ## push the image somewhere of ours\n\t@echo deployed\n');
    expect(make(['deploy'], dir).stdout).toBe('deployed\n');
    expect(make(['help'], dir).stdout).toMatch(/ {2}deploy {5}push the image somewhere of ours/);
    // local.mk is the vendor's: upgrade neither writes nor reports it
    const up = mpimg(['upgrade'], dir);
    expect(up.stdout).not.toContain('local.mk');
    // an edited Makefile is kept by upgrade, and refreshed on purpose with FILE= (only that one)
    const original = read(dir, 'Makefile');
    writeFileSync(join(dir, 'Makefile'), `${original}# mine\n`);
    writeFileSync(join(dir, 'README.md'), '# mine\n');
    expect(mpimg(['upgrade'], dir).stdout).toContain('  Makefile   (review:');
    const one = make(['upgrade', 'FILE=./Makefile'], dir);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toContain(
      "Replaced with this release's version (--force; your edits there are gone):\n  Makefile\n",
    );
    expect(read(dir, 'Makefile')).toBe(original);
    expect(read(dir, 'README.md')).toBe('# mine\n');
    const wrong = mpimg(['upgrade', '--force', 'notes.txt'], dir);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('notes.txt is not a file the generator writes');
  });
});
