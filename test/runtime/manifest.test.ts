import { describe, expect, it } from 'vitest';
import { formatProblems, snapshotName, validateManifest } from '../../runtime/manifest.js';

const good = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.0.0',
  distributions: ['ubuntu-24-04-x64'],
};

const paths = (input: unknown) => validateManifest(input).problems.map((p) => p.path);

describe('manifest schema', () => {
  it('accepts a minimal manifest', () => {
    const r = validateManifest(good);
    expect(r.problems).toEqual([]);
    expect(r.manifest?.slug).toBe('acme-wiki');
  });

  it('refuses a non-object', () => {
    expect(paths([])).toEqual(['$']);
    expect(paths('x')).toEqual(['$']);
  });

  it('names unknown keys with a suggestion', () => {
    const r = validateManifest({ ...good, slugg: 'x', build: { pakages: ['a'] } });
    expect(r.manifest).toBeUndefined();
    expect(r.problems.map((p) => p.path)).toEqual(['$.slugg', '$.build.pakages']);
    expect(r.problems[0].hint).toContain('"slug"');
    expect(r.problems[1].hint).toContain('"packages"');
  });

  it('lists missing required keys and wrong types', () => {
    const r = validateManifest({ name: 'X', slug: 5, loginHold: 'yes' });
    expect(r.problems.map((p) => p.path).sort()).toEqual(
      ['$.distributions', '$.loginHold', '$.slug', '$.vendor', '$.version'].sort(),
    );
    expect(r.problems.find((p) => p.path === '$.loginHold')?.message).toBe('must be boolean or object, got string');
  });

  it.each([
    ['Acme', 'upper case'],
    ['a', 'too short'],
    ['acme-', 'trailing dash'],
    ['1acme', 'starts with a digit'],
    ['acme_wiki', 'underscore'],
    ['x'.repeat(41), 'too long'],
  ])('refuses slug %j (%s)', (slug) => {
    const r = validateManifest({ ...good, slug });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0].path).toBe('$.slug');
    expect(r.problems[0].hint).toMatch(/lower-case/);
  });

  it('refuses unsafe vendor folders, including the reserved digitalocean', () => {
    expect(paths({ ...good, vendor: '../etc' })).toEqual(['$.vendor']);
    expect(paths({ ...good, vendor: 'Acme Inc' })).toEqual(['$.vendor']);
    const r = validateManifest({ ...good, vendor: 'digitalocean' });
    expect(r.problems[0].hint).toMatch(/fails the Marketplace check/);
  });

  it('refuses unsafe paths: .. and absolute', () => {
    const r = validateManifest({
      ...good,
      files: { dir: '../outside' },
      motd: { file: '/etc/motd' },
      firstLogin: { file: 'first-login/../../x.sh' },
      cleanup: { script: 'scripts\\x.sh' },
    });
    expect(r.problems.map((p) => p.path)).toEqual([
      '$.firstLogin.file',
      '$.motd.file',
      '$.files.dir',
      '$.cleanup.script',
    ]);
    for (const p of r.problems) expect(p.message).toMatch(/^unsafe path/);
  });

  it('refuses duplicate first-boot order numbers and names, and out-of-range orders', () => {
    const r = validateManifest({
      ...good,
      firstBoot: [
        { order: 10, name: 'a', file: 'first-boot/10-a.sh' },
        { order: 10, name: 'b', file: 'first-boot/10-b.sh' },
        { order: 100, name: 'a', file: 'first-boot/x.sh' },
      ],
    });
    expect(r.problems.map((p) => [p.path, p.message]).sort()).toEqual([
      ['$.firstBoot[1].order', 'duplicate order 10 (also $.firstBoot[0])'],
      ['$.firstBoot[2].name', 'duplicate name "a"'],
      ['$.firstBoot[2].order', 'order 100 is not a whole number from 0 to 99'],
    ]);
  });

  it('checks distributions, packages and droplet settings', () => {
    expect(paths({ ...good, distributions: [] })).toEqual(['$.distributions']);
    expect(paths({ ...good, distributions: ['Ubuntu 24.04'] })).toEqual(['$.distributions[0]']);
    expect(paths({ ...good, build: { packages: ['nginx', 'rm -rf /', ''] } })).toEqual([
      '$.build.packages[1]',
      '$.build.packages[2]',
    ]);
    expect(paths({ ...good, droplet: { image: 'my image', tags: [''] } }).sort()).toEqual([
      '$.droplet.image',
      '$.droplet.tags[0]',
    ]);
    expect(paths({ ...good, cleanup: { zeroFillMaxMiB: 0 } })).toEqual(['$.cleanup.zeroFillMaxMiB']);
  });

  it('lists every problem at once', () => {
    const r = validateManifest({ ...good, slug: 'BAD', vendor: 'digitalocean', extra: 1, files: { dir: '/abs' } });
    expect(r.problems.length).toBe(4);
  });

  it('fills the snapshot name template', () => {
    const m = validateManifest({ ...good, snapshot: { name: '{slug}-{version}-{timestamp}' } }).manifest!;
    expect(snapshotName(m, new Date('2026-11-25T18:30:05Z'))).toBe('acme-wiki-1.0.0-20261125-183005');
  });

  it('refuses "$", "{" and "}" in the snapshot name outside its placeholders (Packer would evaluate `${...}`)', () => {
    for (const name of ['leak-${var.do_access_token}-{slug}', 'x-%{if true}y%{endif}', '{slug}-{date}', 'a}b']) {
      const r = validateManifest({ ...good, snapshot: { name } });
      expect(r.problems.map((p) => p.path)).toEqual(['$.snapshot.name']);
      expect(formatProblems(r.problems)).toContain(
        '"$", "{" and "}" are only allowed in {slug}, {version} and {timestamp}',
      );
    }
    expect(validateManifest({ ...good, snapshot: { name: 'acme_{slug}.{version}@{timestamp}' } }).problems).toEqual([]);
  });
});
