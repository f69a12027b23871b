/**
 * `mpimg new` through the built bin (lib/ from the test globalSetup), the way CI and root shells
 * use it: as root, stdin closed, no TTY.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateManifest } from '../../runtime/manifest.js';
import { REPO, removeDir, tempDir, tree } from './support.js';

const parent = tempDir('mpimg-new-');
afterAll(() => removeDir(parent));

/** Runs the bin with stdin closed (`0<&-`), from `parent`. */
function mpimg(args: string[]) {
  return spawnSync('sh', ['-c', 'exec "$0" "$@" 0<&-', process.execPath, join(REPO, 'bin/mpimg.js'), ...args], {
    cwd: parent,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
}

describe('mpimg new', () => {
  it('runs as root with stdin closed: --yes writes a valid project and prints next steps', () => {
    // The CI machine runs tests as root; yo would drop privileges here, mpimg new must not.
    expect(process.getuid?.()).toBe(0);
    const r = mpimg(['new', 'acme-wiki', '--yes', '--packages', 'nginx,curl', '--first-login', '--region', 'fra1']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const dir = join(parent, 'acme-wiki');
    const manifest = JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8'));
    expect(validateManifest(manifest).problems).toEqual([]);
    expect(manifest).toMatchObject({
      name: 'Acme Wiki',
      slug: 'acme-wiki',
      vendor: 'acme',
      distributions: ['ubuntu-24-04-x64'],
      firstLogin: { file: 'first-login/first-login.sh' },
      loginHold: false,
      build: { packages: { all: ['nginx', 'curl'], apt: ['ufw'], dnf: ['firewalld'] } },
      droplet: { region: 'fra1', size: 's-1vcpu-512mb-10gb' },
      firewall: { limit: ['22/tcp'], allow: [] },
    });
    expect(statSync(join(dir, 'first-login/first-login.sh')).mode & 0o777).toBe(0o755);
    expect(
      tree(dir)
        .filter((l) => l.endsWith('.sh'))
        .every((l) => l.startsWith('0755 ')),
    ).toBe(true);
    expect(r.stdout).toContain('Image project "Acme Wiki" is ready in acme-wiki. Next steps:');
    expect(r.stdout).toContain('  cd acme-wiki\n');
    expect(r.stdout).toContain('make bundle');
    // No install from the registry behind the user's back.
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
  });

  it('without --yes and without a terminal it fails naming the missing options, writing nothing', () => {
    const r = mpimg(['new', 'half', '--name', 'Half Done', '--distro', 'debian-12-x64']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'error: no terminal to ask on, and these answers are missing: --slug, --vendor, --packages, --ports',
    );
    expect(r.stderr).toContain('fix: pass --slug');
    expect(r.stderr).toContain('or --yes to take the defaults');
    // the folder it made for the project is gone again
    expect(existsSync(join(parent, 'half'))).toBe(false);
  });

  it('reports invalid options with what, where and how to fix', () => {
    const r = mpimg(['new', 'bad', '--yes', '--slug', 'Bad_Slug', '--distro', 'windows-x64']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--slug: bad slug "Bad_Slug"\n\s+fix: 2-40 characters/);
    expect(r.stderr).toMatch(/--distro: unknown distribution "windows-x64"\n\s+fix: use one of: ubuntu-24-04-x64/);
    expect(r.stderr).toContain('nothing was written');
    expect(existsSync(join(parent, 'bad'))).toBe(false);
    const unknown = mpimg(['new', 'bad', '--colour']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown option --colour\n {2}fix: usage: mpimg new <dir> \[options\]/);
    const noDir = mpimg(['new', '--yes']);
    expect(noDir.status).toBe(2);
    expect(noDir.stderr).toContain('error: missing <dir>');
  });

  it('--help shows every option under its stable name', () => {
    const r = mpimg(['new', '--help']);
    expect(r.status).toBe(0);
    for (const o of [
      '--name',
      '--slug',
      '--vendor',
      '--distro',
      '--packages',
      '--ports',
      '--first-login',
      '--login-hold',
      '--motd',
      '--region',
      '--size',
      '--yes',
      '--force',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^ +(-[a-z], )?${o}\\b`, 'm'));
    }
  });

  it('re-run with no options asks nothing, keeps edits and reports them; --force overwrites', () => {
    const dir = join(parent, 'rerun');
    expect(mpimg(['new', 'rerun', '--yes', '--name', 'Re Run']).status).toBe(0);
    const original = readFileSync(join(dir, 'Makefile'), 'utf8');
    writeFileSync(join(dir, 'Makefile'), `${original}# vendor edit\n`);
    const again = mpimg(['new', 'rerun']);
    expect(again.stderr).not.toMatch(/error/i);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(
      '1 file differs from what the generator would write; kept as it is:\n  Makefile   (review: mpimg upgrade --show Makefile | diff -u Makefile -)\n',
    );
    expect(again.stdout).toContain('run again with --force');
    expect(readFileSync(join(dir, 'Makefile'), 'utf8')).toBe(`${original}# vendor edit\n`);
    const forced = mpimg(['new', 'rerun', '--force']);
    expect(forced.status).toBe(0);
    expect(readFileSync(join(dir, 'Makefile'), 'utf8')).toBe(original);
  });

  it('a failed run leaves none of the parent folders it made for a/b/c, and keeps a parent that was there', () => {
    const r = mpimg(['new', 'deep/er/project', '--yes', '--distro', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('nothing was written');
    expect(existsSync(join(parent, 'deep'))).toBe(false);
    mkdirSync(join(parent, 'there'));
    expect(mpimg(['new', 'there/a/b', '--yes', '--distro', 'nope']).status).toBe(1);
    expect(existsSync(join(parent, 'there'))).toBe(true);
    expect(existsSync(join(parent, 'there/a'))).toBe(false);
  });

  it('a failed run in a folder that was already there leaves the folder', () => {
    const dir = join(parent, 'kept');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    expect(mpimg(['new', 'kept', '--yes', '--slug', 'Bad_Slug']).status).toBe(1);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine\n');
  });
});

describe('mpimg add (the sub-generators without yo, as root, no terminal)', () => {
  const project = () => {
    const name = `add-${Math.random().toString(36).slice(2, 8)}`;
    expect(mpimg(['new', name, '--yes']).status).toBe(0);
    return join(parent, name);
  };
  const inside = (dir: string, args: string[]) =>
    spawnSync('sh', ['-c', 'exec "$0" "$@" 0<&-', process.execPath, join(REPO, 'bin/mpimg.js'), ...args], {
      cwd: dir,
      encoding: 'utf8',
    });

  it('first-boot <name> adds the next numbered script, 0755', () => {
    const dir = project();
    const r = inside(dir, ['add', 'first-boot', 'database']);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(join(dir, 'first-boot/20-database.sh')).mode & 0o777).toBe(0o755);
    expect(inside(dir, ['add', 'first-boot', 'database']).stderr).toContain(
      'a first-boot script named "database" exists already',
    );
    expect(inside(dir, ['add', 'first-boot']).stderr).toContain('needs one <name>');
  });

  it('first-login turns it on in mpimg.json; motd takes --motd', () => {
    const dir = project();
    expect(inside(dir, ['add', 'first-login']).status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'mpimg.json'), 'utf8')).firstLogin).toEqual({
      file: 'first-login/first-login.sh',
    });
    expect(statSync(join(dir, 'first-login/first-login.sh')).mode & 0o777).toBe(0o755);
    expect(inside(dir, ['add', 'motd', '--motd', 'Hi from {{name}}']).status).toBe(0);
    expect(readFileSync(join(dir, 'motd.txt'), 'utf8').split('\n')[0]).toBe('Hi from {{name}}');
    // without a terminal, a missing answer is an error naming the option, never a prompt
    const asked = inside(dir, ['add', 'motd']);
    expect(asked.status).toBe(1);
    expect(asked.stderr).toContain('no terminal to ask for the greeting on');
    expect(asked.stderr).toContain('pass --motd "<greeting>", or --yes');
  });

  it('every piece takes --yes and --force and says what really happened (exit 1 when nothing changed)', () => {
    const dir = project();
    // --yes, as the no-terminal error suggests: the current greeting
    const yes = inside(dir, ['add', 'motd', '--yes']);
    expect(yes.status, yes.stderr).toBe(0);
    expect(yes.stdout).toMatch(/^Nothing to do: motd\.txt already holds exactly this/);
    const before = readFileSync(join(dir, 'motd.txt'), 'utf8');
    // an edited motd.txt is kept and the command says so, with a non-zero exit
    writeFileSync(join(dir, 'motd.txt'), 'my own words\n');
    const kept = inside(dir, ['add', 'motd', '--motd', 'Hello {{name}}']);
    expect(kept.status).toBe(1);
    expect(kept.stdout).toBe('');
    expect(kept.stderr).toContain(
      'motd.txt differs from what this would write (you edited it): kept as it is, nothing changed',
    );
    expect(readFileSync(join(dir, 'motd.txt'), 'utf8')).toBe('my own words\n');
    expect(JSON.parse(readFileSync(join(dir, '.yo-rc.json'), 'utf8'))['generator-mpimg'].motd).not.toBe(
      'Hello {{name}}',
    );
    // --force replaces it, and says that too
    const forced = inside(dir, ['add', 'motd', '--motd', 'Hello {{name}}', '--force', '--yes']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^Replaced your motd\.txt with a new one \(--force\)/);
    expect(readFileSync(join(dir, 'motd.txt'), 'utf8')).toBe(before.replace(/^.*\n/, 'Hello {{name}}\n'));
    for (const piece of [['first-login'], ['first-boot', 'cache']]) {
      const r = inside(dir, ['add', ...piece, '--yes']);
      expect(r.status, `${piece}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^Added /);
    }
    const again = inside(dir, ['add', 'first-login', '--yes']);
    expect(again.stdout).toMatch(/^Nothing to do: first-login\/first-login\.sh already holds exactly this/);
    writeFileSync(join(dir, 'first-boot/20-cache.sh'), '#!/bin/sh\necho mine\n');
    expect(inside(dir, ['add', 'first-boot', 'cache']).stderr).toContain(
      'a first-boot script named "cache" exists already',
    );
    const fb = inside(dir, ['add', 'first-boot', 'cache', '--force']);
    expect(fb.status, fb.stderr).toBe(0);
    expect(fb.stdout).toMatch(/^Replaced your first-boot\/20-cache\.sh/);
    expect(readFileSync(join(dir, 'first-boot/20-cache.sh'), 'utf8')).toContain('. /opt/');
  });

  it('a BOM in mpimg.json or a folder named mpimg.json is named as such; nothing is written', () => {
    const dir = project();
    const file = join(dir, 'mpimg.json');
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(file)]);
    writeFileSync(file, withBom);
    const before = tree(dir);
    for (const args of [['add', 'first-login'], ['new', '.'], ['upgrade'], ['validate']]) {
      const r = inside(dir, args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('mpimg.json starts with a byte order mark (BOM, the bytes EF BB BF)');
      expect(r.stderr).not.toContain('Unexpected token');
    }
    expect(readFileSync(file)).toEqual(withBom);
    expect(tree(dir)).toEqual(before);
    rmSync(file);
    mkdirSync(file);
    for (const args of [['add', 'first-login'], ['upgrade'], ['validate']]) {
      const r = inside(dir, args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('mpimg.json is not a file (it is a folder)');
    }
  });

  it('refuses what it does not know, and runs only inside a project', () => {
    const r = inside(parent, ['add', 'frob']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown piece "frob"');
    const outside = inside(parent, ['add', 'first-login']);
    expect(outside.status).not.toBe(0);
    expect(outside.stderr).toContain('is not an image project (no mpimg.json)');
  });
});
