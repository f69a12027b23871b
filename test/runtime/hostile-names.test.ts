// Names are data, never code: a product name or greeting with quotes, `$()`, backticks, a
// here-document delimiter or `&<>"'` goes through generate → bundle → install → MOTD → first login
// (both executors) and comes out verbatim with nothing executed; names that would break a generated
// file (newlines, U+2028) are refused up front and nothing is written.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';
import { runIn } from '../generators/support.js';

const REPO = path.resolve(__dirname, '../..');
const BIN = path.join(REPO, 'bin/mpimg.js');
const PWNED = tempDir('mpimg-pwned-');
const mark = (n: string) => path.join(PWNED, n);
const NO_METADATA = { MPIMG_METADATA_URL: 'http://127.0.0.1:9/none', MPIMG_IP_TRIES: '1', MPIMG_IP_DELAY: '0' };

const HOSTILE: string[] = [
  'Ben & Jerry\'s <Wiki> "Pro"',
  `$(touch ${mark('dollar')})`,
  `\`touch ${mark('backtick')}\``,
  `'; touch ${mark('quote')}; echo '`,
  'MPIMG_MOTD',
  'MPIMG_B64',
  'EOF',
  '%s %n %% \\x41 \\ -n',
  '<%= x %> *?[a] ~ ^ ; | > /dev/null',
];

function mpimg(args: string[], cwd: string) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

/** Every file of a tree, for "is this text anywhere" checks. */
function allText(dir: string): string {
  let out = '';
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d)) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      if (n === 'node_modules') continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out += fs.readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

describe.each(HOSTILE.map((n, i) => [i, n] as const))('a hostile name #%i', (i, name) => {
  it(`${JSON.stringify(name)} is generated, bundled, installed and shown verbatim, with nothing executed`, async () => {
    const parent = tempDir('mpimg-hostile-');
    const dir = path.join(parent, 'p');
    const greeting = `Hi ${name} at {{ip}}`;
    // the generator in-process (the same code `mpimg new` runs; that path is in the refusals below)
    fs.mkdirSync(dir);
    await runIn('app', dir).withOptions({
      yes: true,
      name,
      slug: `hostile-${i}`,
      vendor: 'acme',
      'first-login': true,
      'login-hold': true,
      motd: greeting,
    });
    // the generated project is well-formed for the tools that read it
    expect(spawnSync(process.execPath, ['--check', path.join(dir, 'mpimgfile.mjs')]).status).toBe(0);
    for (const f of ['first-boot/10-setup.sh', 'first-login/first-login.sh', 'scripts/10-configure.sh']) {
      const r = spawnSync('sh', ['-n', path.join(dir, f)], { encoding: 'utf8' });
      expect(r.status, `${f}: ${r.stderr}`).toBe(0);
    }
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'mpimg.json'), 'utf8')).name).toBe(name);
    // A MOTD line that becomes the name: with a name equal to a here-document delimiter, the line after
    // it would run as root at every login if the text were written into a here-document.
    fs.appendFileSync(path.join(dir, 'motd.txt'), `{{name}}\ntouch ${mark(`heredoc-${i}`)}\n`);
    const bundle = mpimg(['bundle'], dir);
    expect(bundle.status, bundle.stderr).toBe(0);
    const slug = `hostile-${i}`;
    const cjs = path.join(dir, 'dist', `${slug}.cjs`);
    const sh = path.join(dir, 'dist', `${slug}-install.sh`);
    expect(spawnSync('sh', ['-n', sh]).status).toBe(0);

    const a = stagedRoot();
    const c = stagedRoot();
    expect(spawnSync(process.execPath, [cjs, 'install', '--root', a], { encoding: 'utf8' }).status).toBe(0);
    const shRun = spawnSync('sh', [sh, 'install', '--root', c], { encoding: 'utf8' });
    expect(shRun.status, shRun.stderr).toBe(0);
    expect(treeDigest(c)).toEqual(treeDigest(a));
    // the plan text of the sh twin is data too
    expect(spawnSync('sh', [sh, 'plan'], { encoding: 'utf8' }).stdout).toBe(
      spawnSync(process.execPath, [cjs, 'plan'], { encoding: 'utf8' }).stdout,
    );

    // Not HTML: the exact bytes, nowhere an entity.
    const installed = allText(a);
    expect(installed).not.toMatch(/&(amp|lt|gt|quot|#39|#34);/);
    expect(allText(dir)).not.toMatch(/&(amp|lt|gt|quot|#39|#34);/);

    const home = `/opt/acme/${slug}`;
    const motd = runInSandbox(a, `/etc/update-motd.d/99-${slug}`, { env: NO_METADATA });
    expect(motd.status, motd.stderr).toBe(0);
    expect(motd.stdout.split('\n')[0]).toMatch(/^Hi .* at (\d+\.\d+\.\d+\.\d+|this droplet)$/);
    expect(motd.stdout.split('\n')[0].replace(/ at [^ ]+$/, '')).toBe(`Hi ${name}`);
    expect(motd.stdout).toContain(`\n${name}\ntouch ${mark(`heredoc-${i}`)}\n`);
    const wait = runInSandbox(a, `${home}/login-hold wait`);
    expect(wait.stdout).toBe(`${name} is still finishing its first boot. Please log in again in a minute.\n`);
    const login = runInSandbox(a, `printf 'example.com\\n' | ${home}/first-login-run`, { env: NO_METADATA });
    expect(login.stdout).toContain(`Welcome to ${name}. One question to finish the setup.`);
    expect(login.stdout).toContain(`${name} setup is complete.`);
    expect(fs.readdirSync(PWNED)).toEqual([]);
  });
});

describe('names that would break a generated file', () => {
  it.each([
    ['a newline', 'Two\nLines'],
    ['U+2028', 'Line\u2028Sep'],
    ['U+2029', 'Para\u2029Sep'],
    ['a tab', 'Tab\there'],
    ['an escape', 'Esc\u001b[31m'],
  ])('are refused with %s, and nothing is written', (_what, name) => {
    const parent = tempDir('mpimg-hostile-');
    const r = mpimg(['new', 'p', '--yes', '--name', name, '--slug', 'bad-name', '--vendor', 'acme'], parent);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--name: holds a control or line-separator character \(U\+[0-9A-F]{4}\)/);
    const p = path.join(parent, 'p');
    expect(fs.existsSync(p) ? fs.readdirSync(p) : []).toEqual([]);
  });

  it('are refused in mpimg.json, naming the field', () => {
    const project = tempDir('mpimg-hostile-');
    const m = {
      name: 'Ok',
      slug: 'ok-image',
      vendor: 'acme',
      version: '1.0.0',
      distributions: ['debian-12-x64'],
      droplet: { tags: ['a\u2028b'] },
    };
    fs.writeFileSync(path.join(project, 'mpimg.json'), JSON.stringify(m));
    const r = mpimg(['validate'], project);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('$.droplet.tags[0]: holds a control or line-separator character (U+2028)');
  });
});
