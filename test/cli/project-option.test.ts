// One repository, several image projects: every command takes the project as --project DIR (validate
// also as its DIR argument), from the repository's top, and refuses a --project that is no project.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../tasks/cli.js';
import { captureContext } from '../do/support.js';
import { tempDir } from '../helpers/temp.js';
import { makeProject } from '../helpers/project-fixture.js';
import { withoutOldPacker } from '../helpers/old-packer.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let home: string;

function mpimg(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [path.join(root, 'bin/mpimg.js'), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
    // No token anywhere (HOME has no doctl config): the DigitalOcean commands stop at the token.
    env: { PATH: process.env.PATH, HOME: home, ...env },
  });
}

/** main() in this process (no token: HOME without doctl config) with its own stdout and stderr. */
async function cli(args: string[], cwd: string) {
  const cap = captureContext({ cwd, env: { PATH: process.env.PATH, HOME: home } });
  const code = await main(args, cap.ctx);
  return { code, out: cap.out(), err: cap.err() };
}

/** Every file under `dir` (but node_modules), as relative paths. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(path.join(dir, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      if (n === 'node_modules') continue;
      if (fs.lstatSync(path.join(dir, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

let repo: string;

beforeAll(() => {
  home = tempDir('mpimg-home-');
  repo = tempDir('mpimg-repo-');
  fs.mkdirSync(path.join(repo, 'images'));
  for (const [dir, name] of [
    ['images/web', 'Acme Web'],
    ['images/db', 'Acme DB'],
  ]) {
    const r = mpimg(['new', dir, '--yes', '--name', name, '--link'], repo);
    expect(r.status, r.stderr).toBe(0);
  }
}, 180_000);

describe('--project DIR from the top of a repository with two image projects', () => {
  it('validate, bundle, tasks, upgrade and add work on the project named, and only there', () => {
    const before = tree(path.join(repo, 'images/db'));
    const v = mpimg(['validate', '--project', 'images/web'], repo);
    expect(v.status, v.stderr).toBe(0);
    const { text: others, count } = withoutOldPacker(v.stderr);
    expect(others).toBe('');
    expect(v.stdout).toBe(
      `${path.join(repo, 'images/web/mpimg.json')}: ok (1 first-boot script(s), 1 file(s), ${/(\d+) install/.exec(v.stdout)?.[1]} install operations)${count ? `; ${count} warning(s)` : ''}\n`,
    );
    expect(mpimg(['validate', 'images/web'], repo).stdout).toBe(v.stdout);

    const b = mpimg(['bundle', '--project', 'images/web'], repo);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toContain('wrote images/web/dist/acme-web.cjs');
    expect(fs.existsSync(path.join(repo, 'images/web/dist/acme-web.pkr.hcl'))).toBe(true);
    expect(fs.existsSync(path.join(repo, 'dist'))).toBe(false);

    const t = mpimg(['tasks', '--project', 'images/web', '--json'], repo);
    expect(t.status, t.stderr).toBe(0);
    expect((JSON.parse(t.stdout) as Array<{ name: string }>).map((x) => x.name)).toContain('build');

    const u = mpimg(['upgrade', '--project', 'images/web'], repo);
    expect(u.status, u.stderr).toBe(0);
    expect(u.stdout).toContain('Nothing to upgrade');
    const show = mpimg(['upgrade', '--project', 'images/web', '--show', 'README.md'], repo);
    expect(show.stdout).toBe(fs.readFileSync(path.join(repo, 'images/web/README.md'), 'utf8'));

    const a = mpimg(['add', 'first-boot', 'cache', '--project', 'images/web'], repo);
    expect(a.status, a.stderr).toBe(0);
    expect(fs.readdirSync(path.join(repo, 'images/web/first-boot')).some((n) => /^\d\d-cache\.sh$/.test(n))).toBe(true);
    const c = mpimg(['add', 'cleanup-script', '--project', 'images/web'], repo);
    expect(c.status, c.stderr).toBe(0);
    expect(fs.existsSync(path.join(repo, 'images/web/scripts/90-cleanup.sh'))).toBe(true);

    // the other project and the repository's top are untouched
    expect(tree(path.join(repo, 'images/db'))).toEqual(before);
    expect(fs.readdirSync(repo)).toEqual(['images']);
  });

  it('run loads the tasks of the project named and keeps its log there', () => {
    // Nothing listens on port 1: the task fails at the SSH wait, after the project was loaded.
    const r = mpimg(
      ['run', 'build', '--project', 'images/db', '--host', '127.0.0.1', '--port', '1', '--wait-attempts', '1'],
      repo,
    );
    expect(r.status).toBe(1);
    const logs = fs.readdirSync(path.join(repo, 'images/db/dist/logs'));
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^build-\d{8}-\d{6}\.log$/);
    expect(r.stderr).toContain(`log: images/db/dist/logs/${logs[0]}\n`);
    expect(fs.existsSync(path.join(repo, 'images/web/dist/logs'))).toBe(false);
    const none = mpimg(['run', 'nope', '--project', 'images/db', '--host', '127.0.0.1'], repo);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no task "nope" in mpimgfile.mjs');
  });

  it('snapshot, image, verify and release read the mpimg.json of the project named', () => {
    const broken = path.join(repo, 'images/broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'mpimg.json'), '{"name": "x",}');
    const runs: Array<[string, string[]]> = [
      ['snapshot', ['--droplet', '123']],
      ['image', []],
      ['verify', ['--image', '123']],
      ['release', ['--image', '123', '--reason', 'test']],
    ];
    for (const [cmd, args] of runs) {
      const bad = mpimg([cmd, ...args, '--project', 'images/broken'], repo);
      expect(bad.status, cmd).toBe(1);
      expect(bad.stderr, cmd).toContain(`error: mpimg.json is not valid JSON`);
      expect(bad.stderr, cmd).toContain(`where: ${path.join(broken, 'mpimg.json')}:1:`);
      // the right project: past mpimg.json, up to the token this machine does not have
      const good = mpimg([cmd, ...args, '--project', 'images/web'], repo);
      expect(good.status, `${cmd}: ${good.stderr}`).toBe(1);
      // (release checks the listing of mpimg.json first: this project has none)
      expect(good.stderr, cmd).toMatch(
        cmd === 'release'
          ? /^error: mpimg\.json names no Marketplace listing/m
          : /^error: no DigitalOcean API token found/m,
      );
      // without --project, at the top of the repository: no project there
      const top = mpimg([cmd, ...args], repo);
      expect(top.stderr, cmd).toContain('no mpimg.json in this folder');
    }
    // release --if-listed: the project has no listing, which needs no token to say
    const r = mpimg(['release', '--image', '123', '--reason', 'test', '--if-listed', '--project', 'images/web'], repo);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('mpimg.json has no $.listing.appId: nothing to release');
  });
});

describe('a --project that is no project: exit 2, what it is, nothing written', () => {
  it('a file, a missing folder, a link to nothing, a folder without mpimg.json, an empty value', async () => {
    const top = tempDir('mpimg-hostile-');
    const project = makeProject({ dir: path.join(top, 'real') });
    fs.writeFileSync(path.join(top, 'notes.txt'), 'hello\n');
    fs.symlinkSync(path.join(top, 'gone'), path.join(top, 'dangling'));
    fs.mkdirSync(path.join(top, 'empty'));
    const cases: Array<[string, RegExp]> = [
      ['notes.txt', /^error: --project "notes\.txt" is a file, not a folder\n/],
      [
        path.join('real', 'mpimg.json'),
        /^error: --project "real\/mpimg\.json" is a file, not a folder\n {2}where: .*\n {2}fix: give the folder that holds mpimg\.json \("real"\)\n$/,
      ],
      ['missing', /^error: --project "missing": no such folder\n/],
      ['dangling', /^error: --project "dangling": a link to ".*\/gone", which does not exist\n/],
      ['empty', /^error: --project "empty" is not an image project: it has no mpimg\.json\n/],
      ['', /^error: --project is empty\n/],
    ];
    const before = tree(top);
    for (const cmd of [
      'validate',
      'bundle',
      'tasks',
      'upgrade',
      'snapshot',
      'image',
      'verify',
      'release',
      'images',
      'run',
      'add',
    ]) {
      for (const [given, expected] of cases) {
        const extra = cmd === 'run' ? ['build', '--host', '127.0.0.1'] : cmd === 'add' ? ['motd'] : [];
        const r = await cli([cmd, ...extra, '--project', given], top);
        expect(r.code, `${cmd} --project ${given}: ${r.err}`).toBe(2);
        expect(r.out).toBe('');
        expect(r.err, `${cmd} --project ${given}`).toMatch(expected);
      }
    }
    // the same through the real command, exit code and streams
    const real = mpimg(['bundle', '--project', 'notes.txt'], top);
    expect(real.status).toBe(2);
    expect(real.stdout).toBe('');
    expect(real.stderr).toMatch(cases[0][1]);
    expect((await cli(['validate', 'notes.txt'], top)).err).toMatch(/^error: DIR "notes\.txt" is a file, not a folder/);
    const both = await cli(['validate', 'real', '--project', 'real'], top);
    expect(both.code).toBe(2);
    expect(both.err).toContain('give the project as DIR or as --project DIR, not both');
    expect(tree(top)).toEqual(before);
    expect(fs.existsSync(path.join(project, 'dist'))).toBe(false);
  });

  it('a link to a project works; a name with spaces, quotes, `$()` and a leading dash is only a name', async () => {
    const top = tempDir('mpimg-names-');
    const odd = `-web "x" $(touch pwned) 'y'`;
    const made = mpimg(['new', `./${odd}`, '--yes', '--name', 'Acme Wiki', '--link'], top);
    expect(made.status, made.stderr).toBe(0);
    fs.symlinkSync(odd, path.join(top, 'current'));
    for (const args of [
      [`--project=${odd}`],
      ['--project', `./${odd}`],
      ['--project', path.join(top, odd)],
      ['--project', 'current'],
      ['--', odd],
    ]) {
      const r = await cli(['validate', ...args], top);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
      expect(r.out).toContain('mpimg.json: ok (');
    }
    // a value that starts with "-" as the next word reads as an option: the message says how to give it
    const dash = await cli(['validate', '--project', odd], top);
    expect(dash.code).toBe(2);
    expect(dash.err).toContain(`a value that starts with "-" goes as --project=${odd}`);
    const b = mpimg(['bundle', '--project', 'current'], top);
    expect(b.status, b.stderr).toBe(0);
    expect(fs.existsSync(path.join(top, odd, 'dist/acme-wiki.cjs'))).toBe(true);
    // the project's make runs there too
    const m = spawnSync('make', ['-C', odd, 'validate'], {
      cwd: top,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: home },
    });
    expect(m.status, m.stderr).toBe(0);
    expect(fs.existsSync(path.join(top, 'pwned'))).toBe(false);
    expect(fs.existsSync(path.join(top, odd, 'pwned'))).toBe(false);
  });
});
