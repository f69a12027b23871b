import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import importCommand from '../../tasks/commands/import.js';
import { MpimgError } from '../../core/errors.js';
import { tempDir } from '../helpers/temp.js';
import { FIXTURES, importFixture, listFiles, mpimg, root, validateAndBundle, type Imported } from './support.js';

/**
 * The hostile fixture, laid out so that its ".." and absolute paths lead to real files outside
 * the folder Packer ran in, plus links and a name with a newline made here (git keeps neither
 * portably): <tmp>/base/app (the template), <tmp>/outside (what must never be read).
 */
function hostileTree(): { tmp: string; app: string } {
  const tmp = tempDir('mpimg-import-hostile-');
  fs.cpSync(path.join(FIXTURES, 'hostile/app'), path.join(tmp, 'base/app'), { recursive: true });
  fs.cpSync(path.join(FIXTURES, 'hostile/outside'), path.join(tmp, 'outside'), { recursive: true });
  const app = path.join(tmp, 'base/app');
  fs.symlinkSync('../../../outside', path.join(app, 'files/linked'));
  fs.symlinkSync('../../../outside/steal.sh', path.join(app, 'scripts/linked.sh'));
  fs.symlinkSync('/etc/shadow', path.join(app, 'files/etc/app/evil-link'));
  fs.writeFileSync(path.join(app, 'files/etc/app/new\nline'), 'x\n');
  return { tmp, app };
}

const pwned = (dir: string) => listFiles(dir).filter((f) => f.includes('pwned'));

describe('hostile input is data: refused or kept as text, never followed or run', () => {
  let t: { tmp: string; app: string };
  let p: Imported;
  beforeAll(() => {
    t = hostileTree();
    p = importFixture(t.app, [], { cwd: t.tmp });
  });

  it('refuses paths with "..", absolute paths outside where Packer ran, and links on the way; reads nothing outside', () => {
    const person = p.report.person.map((n: any) => `${n.where}: ${n.what}`);
    expect(person).toEqual(
      expect.arrayContaining([
        'app/template.json provisioners[0]: refused: the source "../outside/": the path holds ".."',
        `app/template.json provisioners[1]: refused: the source "/etc/passwd": an absolute path outside ${fs.realpathSync(path.join(t.tmp, 'base'))}`,
        'app/template.json provisioners[2]: refused: the destination "/etc/../root/" contains ".."',
        'app/template.json provisioners[4]: refused: the source "app/files/linked/": app/files/linked is a symbolic link (links are not followed)',
        'app/template.json provisioners[5]: refused: the script "../outside/steal.sh": the path holds ".."',
        `app/template.json provisioners[5]: refused: the script "/etc/shadow": an absolute path outside ${fs.realpathSync(path.join(t.tmp, 'base'))}`,
        'app/template.json provisioners[5]: refused: the script "app/scripts/linked.sh": app/scripts/linked.sh is a symbolic link (links are not followed)',
        'app/files/etc/app/evil-link: a symbolic link (to "/etc/shadow") is not followed and not copied: make it in a build script if the image needs it',
        '"app/files/etc/app/new\\nline": refused: the file name holds a control character',
        'app/template.json provisioners[5]: environment entry "BAD NAME=x" is not NAME=value: not carried over',
      ]),
    );
    // Only the one legitimate file came over; nothing of outside/, no link, no /etc/passwd.
    expect(p.files().filter((f) => f.startsWith('files/'))).toEqual(['files/etc/app/app.conf']);
    const all = listFiles(p.dir)
      .map((f) => fs.readFileSync(path.join(p.dir, f), 'utf8'))
      .join('\n');
    expect(all).not.toContain('this must never be read');
    expect(all).not.toContain('secret outside the base');
    expect(all).not.toMatch(/^root:/m);
  });

  it('keeps shell in names, variables and environment as text: nothing ran at import, validate or bundle', () => {
    expect(p.manifest.name).toBe('Evil $(touch pwned-by-name) `touch pwned-by-backquote`');
    expect(p.manifest.variables).toEqual({
      PAYLOAD: "'; touch pwned-by-payload; echo '",
      APT_PACKAGES: 'nginx $(touch pwned-by-packages) ;touch pwned-by-semicolon',
    });
    const inline = p.read('scripts/10-inline.sh');
    // the variables reach the script as parameter expansions (data), never pasted in as code
    expect(inline).toContain(`export RAW='$(touch pwned-by-env)'\n`);
    expect(inline).toContain('apt-get install -y ${APT_PACKAGES}\n');
    expect(inline).toContain(`echo ''"\${PAYLOAD}"'' > /etc/app/payload\n`);
    expect(p.manifest.distributions).toEqual(['ubuntu-24-04-x64']);
    expect(p.manifest.droplet.region).toBe('nyc3');
    expect(p.manifest.snapshot.name).toBe('{slug}-{version}-{timestamp}');
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
    expect(pwned(t.tmp)).toEqual([]);
    expect(pwned(p.dir)).toEqual([]);
  });

  it('never writes a token found in the template: the report says to revoke it', () => {
    const token = 'dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    expect(p.run.stdout).not.toContain(token);
    expect(p.run.stderr).not.toContain(token);
    for (const f of listFiles(p.dir)) expect(fs.readFileSync(path.join(p.dir, f), 'utf8'), f).not.toContain(token);
    expect(p.report.person).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          where: 'builders[0] api_token',
          what: expect.stringMatching(/^an API token is written in the template itself: revoke it/),
        }),
      ]),
    );
  });

  it('refuses a template that is a symbolic link, naming the file it points to as the way out', () => {
    const link = path.join(t.tmp, 'base/link.json');
    fs.symlinkSync(path.join(t.app, 'template.json'), link);
    const r = mpimg(['import', link, path.join(t.tmp, 'x'), '--dry-run']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^error: .*link\.json is a symbolic link: the import reads no file through a link\n {2}where: .*\n {2}fix: name the file it points to/,
    );
  });
});

describe('the target folder and the options', () => {
  const src = path.join(FIXTURES, 'marketplace-partners');

  it('refuses a target that is not empty (or a file), changing nothing', () => {
    const dir = tempDir('mpimg-import-target-');
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine\n');
    const r = mpimg(['import', src, dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `error: ${dir} is not empty\n  where: ${dir}\n  fix: import into a new folder (or an empty one): nothing in an existing folder is overwritten\n`,
    );
    expect(fs.readdirSync(dir)).toEqual(['keep.txt']);
    const file = path.join(dir, 'keep.txt');
    const f = mpimg(['import', src, file]);
    expect(f.status).toBe(1);
    expect(f.stderr).toContain('exists and is not a folder');
    expect(fs.readFileSync(file, 'utf8')).toBe('mine\n');
  });

  it('imports into an empty folder, and makes a missing one (parents too)', () => {
    const empty = tempDir('mpimg-import-empty-');
    expect(mpimg(['import', src, empty]).status).toBe(0);
    expect(fs.existsSync(path.join(empty, 'mpimg.json'))).toBe(true);
    expect(fs.statSync(empty).mode & 0o777).toBe(0o700); // tempDir's own mode: an existing folder keeps it
    const deep = path.join(tempDir('mpimg-import-deep-'), 'a/b/project');
    expect(mpimg(['import', src, deep]).status).toBe(0);
    expect(fs.statSync(deep).mode & 0o777).toBe(0o755 & ~process.umask());
    // no staging folder left beside it
    expect(fs.readdirSync(path.dirname(deep))).toEqual(['project']);
  });

  it('--dry-run prints the report and writes nothing (the project folder may be left out)', () => {
    const dir = path.join(tempDir('mpimg-import-dry-'), 'project');
    const r = mpimg(['import', src, dir, '--dry-run']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# mpimg import\n/);
    expect(r.stdout).toContain(
      '- scripts/01-acme-notes.sh (build script): 4 shell line(s) absorbed, 3 kept; kept as scripts/10-acme-notes.sh',
    );
    expect(r.stdout).not.toContain('New project:');
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readdirSync(path.dirname(dir))).toEqual([]);
    const alone = mpimg(['import', src, '--dry-run', '--json']);
    expect(alone.status).toBe(0);
    expect(JSON.parse(alone.stdout)).toMatchObject({ written: false, manifest: { name: 'Acme Notes' } });
  });

  it("--name, --slug and --vendor set the project's names; bad ones are refused naming the option, nothing written", () => {
    const p = importFixture(src, ['--name', 'Notes Pro', '--slug', 'notes-pro', '--vendor', 'notesco']);
    expect(p.manifest).toMatchObject({ name: 'Notes Pro', slug: 'notes-pro', vendor: 'notesco' });
    expect(p.read('motd.txt')).toContain('rm -rf /etc/update-motd.d/99-notes-pro');
    const dir = path.join(tempDir('mpimg-import-bad-'), 'project');
    const r = mpimg(['import', src, dir, '--vendor', 'digitalocean']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--vendor: vendor "digitalocean" is reserved/);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('--base names where Packer ran; usage errors exit 2', () => {
    const d1c = path.join(FIXTURES, 'droplet-1-clicks');
    const ok = mpimg([
      'import',
      path.join(d1c, 'acme-wiki-debian-12/template.json'),
      '--dry-run',
      '--json',
      '--base',
      d1c,
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ base: d1c, baseWhy: 'given with --base' });
    // with the app folder as the base, common/ and the app's own paths are not there
    const wrong = mpimg([
      'import',
      path.join(d1c, 'acme-wiki-debian-12'),
      '--dry-run',
      '--json',
      '--base',
      path.join(d1c, 'acme-wiki-debian-12'),
    ]);
    expect(JSON.parse(wrong.stdout).person.map((n: any) => n.what)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^the source common\/files\/var\/ does not exist under /)]),
    );
    expect(mpimg(['import']).status).toBe(2);
    expect(mpimg(['import', src]).stderr).toContain('missing <new project folder>');
    expect(mpimg(['import', src, 'a', 'b']).status).toBe(2);
    expect(mpimg(['import', src, 'x', '--bogus']).status).toBe(2);
  });

  it('says so when there is no template, or no digitalocean builder', () => {
    const empty = tempDir('mpimg-import-none-');
    const r = mpimg(['import', empty, '--dry-run']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: no Packer template in ${empty}`);
    fs.writeFileSync(
      path.join(empty, 'template.json'),
      JSON.stringify({ builders: [{ type: 'amazon-ebs' }], provisioners: [] }),
    );
    const b = mpimg(['import', empty, '--dry-run']);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/^error: the template has no "digitalocean" builder \(it has "amazon-ebs"\)\n/);
    fs.writeFileSync(path.join(empty, 'template.json'), '{"builders": [\n  {"type": "digitalocean",}\n]}');
    const j = mpimg(['import', empty, '--dry-run']);
    expect(j.status).toBe(1);
    expect(j.stderr).toMatch(/^error: not valid JSON: .*\n {2}where: .*template\.json:2\n/);
  });

  it('writes nothing when the imported project would not validate (a kept script the shell cannot parse)', () => {
    const src2 = tempDir('mpimg-import-broken-');
    fs.cpSync(src, src2, { recursive: true });
    fs.writeFileSync(path.join(src2, 'scripts/01-acme-notes.sh'), '#!/bin/sh\nfor x in a b; echo "$x"; done\n', {
      mode: 0o755,
    });
    const parent = tempDir('mpimg-import-out-');
    const dir = path.join(parent, 'project');
    const r = mpimg(['import', src2, dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: the imported project does not validate, so nothing was written:\n/);
    expect(r.stderr).toContain('scripts/10-acme-notes.sh');
    expect(fs.readdirSync(parent)).toEqual([]);
  });
});

describe('interrupted and concurrent imports', () => {
  const src = path.join(FIXTURES, 'marketplace-partners');
  const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

  it('an interrupt (SIGINT/SIGTERM abort the command) leaves nothing behind', async () => {
    const parent = tempDir('mpimg-import-int-');
    const ac = new AbortController();
    ac.abort();
    const err = await importCommand
      .run([src, path.join(parent, 'project')], {
        cwd: root,
        env: process.env,
        stdout: sink(),
        stderr: sink(),
        isTTY: false,
        signal: ac.signal,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpimgError);
    expect((err as MpimgError).message).toBe('interrupted: nothing was written');
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it('an interrupt that comes while the import works (not only before it) stops it: nothing written, the empty target left as it was', async () => {
    const parent = tempDir('mpimg-import-int2-');
    const target = path.join(parent, 'project');
    fs.mkdirSync(target);
    const ac = new AbortController();
    // the signal handler's abort runs when the event loop turns: a timer due at once stands for it
    const pending = importCommand
      .run([src, target], {
        cwd: root,
        env: process.env,
        stdout: sink(),
        stderr: sink(),
        isTTY: false,
        signal: ac.signal,
      })
      .catch((e: unknown) => e);
    setTimeout(() => ac.abort(), 0);
    const err = await pending;
    expect(err).toBeInstanceOf(MpimgError);
    expect((err as MpimgError).message).toBe('interrupted: nothing was written');
    expect(fs.readdirSync(parent)).toEqual(['project']);
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it('two imports into one new folder at once: one project, the other refused, nothing mixed', async () => {
    const parent = tempDir('mpimg-import-two-');
    const dir = path.join(parent, 'project');
    const one = (name: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(root, 'bin/mpimg.js'), 'import', src, dir, '--name', name], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('close', (code) => resolve({ code, stderr }));
      });
    const runs = await Promise.all([one('First Notes'), one('Second Notes')]);
    expect(runs.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(runs.find((r) => r.code === 1)!.stderr).toMatch(/is not empty/);
    const name = JSON.parse(fs.readFileSync(path.join(dir, 'mpimg.json'), 'utf8')).name;
    expect(['First Notes', 'Second Notes']).toContain(name);
    expect(fs.readFileSync(path.join(dir, 'IMPORT.md'), 'utf8')).toContain(`\`name\`: ${name} (from --name)`);
    expect(fs.readdirSync(parent)).toEqual(['project']);
    expect(mpimg(['validate', dir]).status).toBe(0);
  });
});

describe('tokens, values and accounts the rules refuse: a note for a person, never in the project or a crash', () => {
  const token = (c: string) => `dop_v1_${c.repeat(64)}`;
  let p: Imported;
  let tmp: string;
  beforeAll(() => {
    tmp = tempDir('mpimg-import-tokens-');
    const app = path.join(tmp, 'base/app');
    fs.mkdirSync(path.join(app, 'scripts'), { recursive: true });
    fs.mkdirSync(path.join(app, 'files/etc/app'), { recursive: true });
    fs.writeFileSync(path.join(app, 'files/etc/app/app.conf'), `token = ${token('c')}\n`);
    fs.writeFileSync(
      path.join(app, 'files/etc/app/blob.bin'),
      Buffer.concat([Buffer.from([0xff, 0xfe, 0]), Buffer.from(token('d'))]),
    );
    fs.writeFileSync(
      path.join(app, 'scripts/a.sh'),
      [
        '#!/bin/sh',
        'set -eu',
        `curl -H "Authorization: Bearer ${token('e')}" https://api.example.com/`,
        'mkdir -p /usr/local/bin',
        'mkdir -p -m 0777 /etc/cron.d/app',
        'useradd -r -d /root rooty',
        'useradd -r -m -d /opt/acmeapp appuser',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(app, 'template.json'),
      JSON.stringify(
        {
          variables: {
            application_name: 'Acme\u2028Evil',
            application_version: '1.0',
            note: 'one\ntwo',
            sep: 'a\u2028b',
            plain: token('f'),
          },
          builders: [
            {
              type: 'digitalocean',
              image: 'ubuntu-24-04-x64',
              region: 'nyc3',
              size: 's-1vcpu-1gb',
              snapshot_name: 'acme-{{timestamp}}',
            },
          ],
          provisioners: [
            { type: 'file', source: 'app/files/etc/', destination: '/etc/' },
            {
              type: 'shell',
              environment_vars: [
                `T2=${token('a')}`,
                'NOTE={{user `note`}}',
                'SEP={{user `sep`}}',
                'PLAIN={{user `plain`}}',
              ],
              inline: ['echo "$NOTE $SEP $PLAIN" > /etc/app/n'],
              scripts: ['app/scripts/a.sh'],
            },
          ],
        },
        null,
        2,
      ),
    );
    p = importFixture(app, [], { cwd: tmp });
  });

  it('a DigitalOcean token anywhere in the template (environment, variable, script, file) reaches neither the project nor stdout', () => {
    for (const c of 'acdef') {
      expect(p.run.stdout).not.toContain(token(c));
      for (const f of listFiles(p.dir))
        expect(fs.readFileSync(path.join(p.dir, f), 'latin1'), f).not.toContain(token(c));
    }
    const person = p.report.person.map((n: any) => `${n.where}: ${n.what}`);
    expect(person).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^scripts\/10-inline\.sh:\d+: a DigitalOcean API token was written here in the template: revoke it/,
        ),
        expect.stringMatching(/^scripts\/20-a\.sh:\d+: a DigitalOcean API token was written here/),
        expect.stringMatching(/^files\/etc\/app\/app\.conf:1: a DigitalOcean API token was written here/),
        expect.stringMatching(
          /^files\/etc\/app\/blob\.bin: a DigitalOcean API token is written in this file .*left out of the project/,
        ),
        expect.stringMatching(/^mpimg\.json: a DigitalOcean API token was written in the template/),
      ]),
    );
    expect(p.exists('files/etc/app/blob.bin')).toBe(false);
    expect(p.read('files/etc/app/app.conf')).toBe('token = DIGITALOCEAN_TOKEN_REMOVED_BY_MPIMG_IMPORT\n');
    expect(p.read('scripts/10-inline.sh')).toContain("export T2='DIGITALOCEAN_TOKEN_REMOVED_BY_MPIMG_IMPORT'\n");
  });

  it('a variable default with a newline or U+2028 becomes an empty variable with a note, and the project validates', () => {
    expect(p.manifest.variables.NOTE).toBe('');
    expect(p.manifest.variables.SEP).toBe('');
    const person = p.report.person.map((n: any) => n.what);
    expect(person).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^the default of template variable "note" holds a control or line-separator character \(U\+000A\).*NOTE is empty/,
        ),
        expect.stringMatching(
          /^the default of template variable "sep" holds a control or line-separator character \(U\+2028\).*SEP is empty/,
        ),
      ]),
    );
    expect(mpimg(['validate', p.dir]).status).toBe(0);
  });

  it('an application_name with a line separator: the name comes from the folder, and the report says so and why', () => {
    expect(p.manifest.name).toBe('App');
    expect(p.report.fields).toContainEqual(
      expect.objectContaining({ field: 'name', value: 'App', from: 'the folder name' }),
    );
    expect(p.report.person.map((n: any) => n.what)).toContain(
      'no usable application_name variable (its value holds a control or line-separator character, which a name cannot): the name "App" was made from the folder name (--name sets it)',
    );
  });

  it('users and folders the rules refuse stay as script with a note saying why; a plain mkdir of a system folder is only said', () => {
    const person = p.report.person.map((n: any) => `${n.where}: ${n.what}`);
    expect(person).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^app\/scripts\/a\.sh:5: the folder \/etc\/cron\.d\/app \(mode 0777\) is refused by mpimg's rules \(.*lets a group or others write there\): the line stays as script/,
        ),
        expect.stringMatching(
          /^app\/scripts\/a\.sh:6: the user "rooty" \(home \/root\) is refused by mpimg's rules \(\/root is a system folder/,
        ),
      ]),
    );
    expect(p.report.info.map((n: any) => `${n.where}: ${n.what}`)).toContain(
      'app/scripts/a.sh:4: the folder /usr/local/bin: a system folder, not one of $.directories; the line (which changes nothing there) stays as script',
    );
    expect(p.manifest.users).toEqual([expect.objectContaining({ name: 'appuser', home: '/opt/acmeapp' })]);
    expect(p.manifest.directories).toBeUndefined();
    const kept = p.read('scripts/20-a.sh');
    expect(kept).toContain('mkdir -p -m 0777 /etc/cron.d/app\n');
    expect(kept).toContain('useradd -r -d /root rooty\n');
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
  });
});

describe("what Packer evaluates before the shell reads: HCL's path.root, file contents by expression, values in quoted here-documents", () => {
  let p: Imported;
  let tmp: string;
  beforeAll(() => {
    tmp = tempDir('mpimg-import-pathroot-');
    const app = path.join(tmp, 'app');
    fs.mkdirSync(path.join(app, 'files'), { recursive: true });
    fs.mkdirSync(path.join(app, 'scripts'));
    fs.writeFileSync(path.join(app, 'files/app.conf'), 'port = 8080\n');
    fs.writeFileSync(path.join(app, 'scripts/setup.sh'), '#!/bin/sh\nset -eu\nuseradd -r acmed\n', { mode: 0o755 });
    fs.writeFileSync(
      path.join(app, 'app.pkr.hcl'),
      [
        'variable "application_name" { default = "Acme" }',
        'variable "greeting" { default = "$(touch pwned) $HOME it\'s" }',
        'source "digitalocean" "x" {',
        '  image = "ubuntu-24-04-x64"',
        '  region = "nyc3"',
        '  size = "s-1vcpu-1gb"',
        '  snapshot_name = "acme-${timestamp()}"',
        '}',
        'build {',
        '  sources = ["source.digitalocean.x"]',
        '  provisioner "file" {',
        '    source = "${path.root}/files/app.conf"',
        '    destination = "/etc/acme/"',
        '  }',
        '  provisioner "file" {',
        '    content = file("/etc/shadow")',
        '    destination = "/etc/acme/copied"',
        '  }',
        '  provisioner "shell" {',
        '    inline = [',
        '      "cat > /etc/acme/quoted <<\'EOF\'",',
        '      "hello ${var.greeting}",',
        '      "EOF",',
        '      "cat > /etc/acme/plain <<EOF",',
        '      "hello ${var.greeting}",',
        '      "EOF",',
        '      "cp /etc/acme/quoted /etc/acme/plain /srv/",',
        '    ]',
        '    scripts = ["${path.root}/scripts/setup.sh"]',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    p = importFixture(app, [], { cwd: tmp });
  });

  it("a ${path.root} source is the template's folder: its files and scripts come over", () => {
    expect(p.read('files/etc/acme/app.conf')).toBe('port = 8080\n');
    expect(p.manifest.users).toEqual([expect.objectContaining({ name: 'acmed', system: true })]);
    expect(p.report.person.map((n: any) => n.what).join('\n'), JSON.stringify(p.report.person)).not.toMatch(
      /cannot be evaluated/,
    );
  });

  it('a file content given by an expression is named for a person, never evaluated', () => {
    expect(p.report.person).toContainEqual({
      where: 'app.pkr.hcl:15',
      what: 'the file content for /etc/acme/copied is an expression (file("/etc/shadow")) the import does not evaluate: not carried over',
    });
    expect(p.exists('files/etc/acme/copied')).toBe(false);
  });

  it("a value inside a here-document with a quoted delimiter goes in as its text, as Packer pasted it; elsewhere as a variable's expansion", () => {
    // the fixed here-document became a file of files/, with the text the original wrote
    expect(p.read('files/etc/acme/quoted')).toBe("hello $(touch pwned) $HOME it's\n");
    const kept = p.read('scripts/10-inline.sh');
    expect(kept).toContain('cat > /etc/acme/plain <<EOF\nhello ${GREETING}\nEOF\n');
    expect(p.manifest.variables).toEqual({ GREETING: "$(touch pwned) $HOME it's" });
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
    expect(pwned(tmp)).toEqual([]);
  });
});
