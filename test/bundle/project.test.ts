import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { MpimgError } from '../../core/errors.js';
import { makeProject } from '../helpers/project-fixture.js';
import type { Manifest } from '../../runtime/manifest.js';

function problemsOf(dir: string): string {
  try {
    loadProject(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(MpimgError);
    return (e as MpimgError).message;
  }
  throw new Error('expected loadProject to fail');
}

describe('loading an image project', () => {
  it('finds first-boot/, first-login/, files/ and scripts/ by convention', () => {
    const p = loadProject(makeProject());
    expect(p.firstBoot.map((s) => [s.order, s.name])).toEqual([
      [10, 'password'],
      [20, 'ip'],
    ]);
    expect(p.firstLogin?.rel).toBe('first-login/first-login.sh');
    expect(p.motd?.rel).toBe('motd.txt');
    expect(p.files.map((f) => [f.target, f.mode.toString(8)])).toEqual([
      ['/etc/acme-wiki/secret.conf', '600'],
      ['/etc/acme-wiki/wiki.conf', '644'],
      ['/usr/local/bin/acme-wiki-hello', '755'],
    ]);
    expect(p.buildScripts.map((s) => s.rel)).toEqual(['scripts/10-install.sh']);
    expect(p.cleanupScript.rel).toBe('scripts/90-cleanup.sh');
    expect(p.checkScript.rel).toBe('scripts/99-img-check.sh');
  });

  it('says where the JSON syntax is broken', () => {
    const dir = makeProject();
    fs.writeFileSync(path.join(dir, 'mpimg.json'), '{\n  "name": "x",\n  "slug": "y",\n}\n');
    const msg = (() => {
      try {
        loadProject(dir);
      } catch (e) {
        return (e as MpimgError).format();
      }
      return '';
    })();
    expect(msg).toMatch(/not valid JSON/);
    expect(msg).toMatch(/mpimg\.json:4:/);
  });

  it('lists schema problems with their JSON paths', () => {
    const dir = makeProject({ manifest: { slug: 'Bad Slug' } });
    expect(problemsOf(dir)).toMatch(/\$\.slug: bad slug "Bad Slug"\n\s+fix: /);
  });

  it('reports a missing file, a missing shebang, CR line endings and duplicate numbers together', () => {
    const dir = makeProject();
    fs.writeFileSync(path.join(dir, 'first-boot/20-ip.sh'), 'echo no shebang\r\n');
    fs.writeFileSync(path.join(dir, 'first-boot/10-again.sh'), '#!/bin/sh\n');
    fs.writeFileSync(path.join(dir, 'first-boot/setup.sh'), '#!/bin/sh\n');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'mpimg.json'), 'utf8'));
    m.motd = { file: 'missing-motd.txt' };
    fs.writeFileSync(path.join(dir, 'mpimg.json'), JSON.stringify(m));
    const msg = problemsOf(dir);
    expect(msg).toContain('first-boot/10-password.sh: duplicate order number 10 (also first-boot/10-again.sh)');
    expect(msg).toContain('first-boot/setup.sh: first-boot file name is not NN-name');
    expect(msg).toContain('first-boot/20-ip.sh: script has no shebang line');
    expect(msg).toContain('first-boot/20-ip.sh: file has CR (Windows) line endings');
    expect(msg).toContain('$.motd.file: missing file missing-motd.txt');
    expect(msg).toMatch(/^.*mpimg\.json: 5 problems/);
  });

  it('refuses a link in files/ that climbs out of the image, and a files/ folder that leads outside the project', () => {
    const dir = makeProject();
    fs.symlinkSync('../../../../etc/shadow', path.join(dir, 'files/etc/acme-wiki/shadow'));
    expect(problemsOf(dir)).toContain(
      'files/etc/acme-wiki/shadow: link points outside files/ (../../../../etc/shadow)',
    );
    const other = makeProject();
    const outside = tempDir('mpimg-outside-');
    fs.rmSync(path.join(other, 'files'), { recursive: true });
    fs.symlinkSync(outside, path.join(other, 'files'));
    expect(problemsOf(other)).toMatch(/files: files leads outside the project/);
  });

  it('refuses every project folder (first-boot/, scripts/, first-login/, a MOTD or script folder) that leads outside the project', () => {
    // Each folder moved outside the project and linked back: the bundle would have read the vendor's machine.
    type Case = [folder: string, expected: string, manifest?: Partial<Manifest>, file?: string];
    const cases: Case[] = [
      ['first-boot', 'first-boot: first-boot leads outside the project'],
      ['scripts', 'scripts: scripts leads outside the project'],
      [
        'first-login',
        '$.firstLogin.file: first-login/first-login.sh leads outside the project',
        { firstLogin: { file: 'first-login/first-login.sh' } },
      ],
      ['first-login', 'first-login/first-login.sh: first-login/first-login.sh leads outside the project'],
      [
        'texts',
        '$.motd.file: texts/motd.txt leads outside the project',
        { motd: { file: 'texts/motd.txt' } },
        'motd.txt',
      ],
      [
        'steps',
        '$.firstBoot[0].file: steps/10-a.sh leads outside the project',
        { firstBoot: [{ order: 10, name: 'a', file: 'steps/10-a.sh' }] },
        '10-a.sh',
      ],
      [
        'own',
        '$.check.script: own/check.sh leads outside the project',
        { check: { script: 'own/check.sh' } },
        'check.sh',
      ],
    ];
    for (const [folder, expected, manifest, file] of cases) {
      const dir = makeProject({ manifest });
      const outside = tempDir('mpimg-outside-');
      if (file) fs.writeFileSync(path.join(outside, file), '#!/bin/sh\necho hello\n', { mode: 0o755 });
      if (fs.existsSync(path.join(dir, folder))) fs.cpSync(path.join(dir, folder), outside, { recursive: true });
      fs.rmSync(path.join(dir, folder), { recursive: true, force: true });
      fs.symlinkSync(outside, path.join(dir, folder));
      const msg = problemsOf(dir);
      expect(msg, folder).toContain(`${expected} (${fs.realpathSync(outside)}`);
      expect(msg).toMatch(/fix: keep \S+ inside the project folder \(a link to a place inside it is fine\)/);
      // a link to a folder inside the project is fine
      fs.rmSync(path.join(dir, folder));
      fs.cpSync(outside, path.join(dir, `real-${folder}`), { recursive: true });
      fs.symlinkSync(`real-${folder}`, path.join(dir, folder));
      expect(() => loadProject(dir), folder).not.toThrow();
    }
  });

  it('keeps links in files/ that point within the image, without following them', () => {
    const dir = makeProject();
    fs.mkdirSync(path.join(dir, 'files/etc/nginx/sites-enabled'), { recursive: true });
    fs.symlinkSync('../sites-available/wiki', path.join(dir, 'files/etc/nginx/sites-enabled/wiki'));
    fs.symlinkSync('/usr/share/zoneinfo/UTC', path.join(dir, 'files/etc/localtime'));
    const p = loadProject(dir);
    expect(p.links).toEqual([
      { rel: 'files/etc/localtime', target: '/usr/share/zoneinfo/UTC', path: '/etc/localtime' },
      {
        rel: 'files/etc/nginx/sites-enabled/wiki',
        target: '../sites-available/wiki',
        path: '/etc/nginx/sites-enabled/wiki',
      },
    ]);
    // a files/ folder that is a link to a folder inside the project is fine
    fs.renameSync(path.join(dir, 'files'), path.join(dir, 'image-files'));
    fs.symlinkSync('image-files', path.join(dir, 'files'));
    expect(loadProject(dir).files.length).toBeGreaterThan(0);
  });

  it('refuses file names in files/ with a newline or a line separator', () => {
    for (const bad of ['two\nlines', 'sep\u2028x', 'tab\tx']) {
      const dir = makeProject();
      fs.writeFileSync(path.join(dir, 'files/etc/acme-wiki', bad), 'x\n');
      expect(problemsOf(dir)).toMatch(/file name holds a control or line-separator character \(U\+(000A|2028|0009)\)/);
    }
  });

  it('refuses CR line endings in build scripts, the own cleanup and check copies and the MOTD texts, as in first-boot scripts', () => {
    const dir = makeProject({ manifest: { motd: { file: 'motd.txt', afterFirstLogin: 'motd-after.txt' } } });
    fs.writeFileSync(path.join(dir, 'scripts/20-win.sh'), '#!/bin/sh\r\necho win\r\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'scripts/99-img-check.sh'), '#!/bin/bash\r\nexit 0\r\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'motd.txt'), 'Welcome to {{name}}\r\n');
    fs.writeFileSync(path.join(dir, 'motd-after.txt'), 'Ready\r\n');
    const msg = problemsOf(dir);
    for (const rel of ['scripts/20-win.sh', 'scripts/99-img-check.sh', 'motd.txt', 'motd-after.txt']) {
      expect(msg, rel).toContain(`${rel}: file has CR (Windows) line endings\n    fix: convert it to LF`);
    }
  });

  it('names a file name that is not UTF-8 (in files/, scripts/, first-boot/) with printable escapes and how to rename it; no crash', () => {
    const dir = makeProject();
    fs.mkdirSync(path.join(dir, 'files/etc/x'));
    const bad = (rel: string) =>
      Buffer.concat([Buffer.from(path.join(dir, rel)), Buffer.from([0xff, 0xfe]), Buffer.from('.sh')]);
    fs.writeFileSync(bad('files/etc/x/bad'), 'x\n');
    fs.writeFileSync(bad('scripts/20-'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(bad('first-boot/30-'), '#!/bin/sh\n', { mode: 0o755 });
    const msg = problemsOf(dir);
    expect(msg).toContain(
      "files/etc/x/bad\\xff\\xfe.sh: file name is not UTF-8 text\n    fix: rename it, e.g. mv files/etc/x/$'bad\\xff\\xfe.sh' files/etc/x/NEW-NAME",
    );
    expect(msg).toContain('scripts/20-\\xff\\xfe.sh: file name is not UTF-8 text');
    expect(msg).toContain('first-boot/30-\\xff\\xfe.sh: file name is not UTF-8 text');
    expect(msg).toMatch(/mpimg\.json: 3 problems\n/);
    // the suggested command, run by bash, renames exactly that file
    const mv = spawnSync(
      'bash',
      [
        '-c',
        "mv files/etc/x/$'bad\\xff\\xfe.sh' files/etc/x/good.sh && mv scripts/$'20-\\xff\\xfe.sh' scripts/20-b.sh && mv first-boot/$'30-\\xff\\xfe.sh' first-boot/30-c.sh",
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(mv.stderr).toBe('');
    expect(loadProject(dir).files.map((f) => f.target)).toContain('/etc/x/good.sh');
  });

  it('refuses a build script without a number', () => {
    const dir = makeProject();
    fs.writeFileSync(path.join(dir, 'scripts/install.sh'), '#!/bin/sh\n');
    expect(problemsOf(dir)).toContain('scripts/install.sh: build script name does not start with a two-digit number');
  });

  it('names a byte order mark in mpimg.json and a folder named mpimg.json, with the fix', () => {
    const dir = makeProject();
    const file = path.join(dir, 'mpimg.json');
    const json = fs.readFileSync(file);
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json]));
    const bom = (() => {
      try {
        loadProject(dir);
      } catch (e) {
        return (e as MpimgError).format();
      }
      return '';
    })();
    expect(bom).toContain('error: mpimg.json starts with a byte order mark (BOM, the bytes EF BB BF)');
    expect(bom).toContain(`where: ${file}:1:1`);
    // the fix it gives, run as given, makes the project load
    const sed = /`(sed [^`]+)`/.exec(bom)![1];
    expect(spawnSync('sh', ['-c', sed], { cwd: dir }).status).toBe(0);
    expect(fs.readFileSync(file)).toEqual(json);
    expect(() => loadProject(dir)).not.toThrow();

    fs.rmSync(file);
    fs.mkdirSync(file);
    expect(() => loadProject(dir)).toThrow(/^mpimg\.json is not a file \(it is a folder\)$/);
  });

  it('explains when there is no project at all', () => {
    const dir = tempDir('mpimg-empty-');
    expect(() => loadProject(dir)).toThrow(/no mpimg\.json/);
  });
});
