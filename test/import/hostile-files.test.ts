/**
 * More of a hostile vendor template: names with shell, markup and line separators; a binary build
 * script and per-instance script; a file over the size limit; a link in a files/ tree leading out;
 * two provisioners laying down one path; one script run three times; HCL with functions where a list
 * or a path is expected. Each is a note for a person (or kept as data), nothing outside the target is
 * written or read, nothing runs, and the project validates and bundles.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { entry, importFixture, listFiles, validateAndBundle, type Imported } from './support.js';

const PI = 'files/var/lib/cloud/scripts/per-instance';
const ELF = Buffer.from('\u007fELF\u0002\u0001\u0001\u0000\u0000\u0000\u0000\u0000binary', 'latin1');

/** <tmp>/base/app (the template, Packer run in base/), <tmp>/outside (never read). */
function tree(): { tmp: string; app: string } {
  const tmp = tempDir('mpimg-import-hostile-files-');
  const app = path.join(tmp, 'base/app');
  const put = (rel: string, data: string | Buffer, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(app, rel)), { recursive: true });
    fs.writeFileSync(path.join(app, rel), data, { mode });
  };
  fs.mkdirSync(path.join(tmp, 'outside'));
  fs.writeFileSync(path.join(tmp, 'outside/secret'), 'secret outside the base\n');
  put('files/etc/app/a&b<c>.conf', 'amp\n');
  put(`files/etc/app/q'uote"s.conf`, 'quotes\n');
  put('files/etc/app/$(touch pwned-file).conf', 'dollar\n');
  put('files/etc/app/u\u2028x.conf', 'separator\n');
  put('files/etc/app/app.conf', 'first\n');
  put('files2/etc/app/app.conf', 'second\n');
  const blob = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
  put('files/etc/app/blob.bin', blob);
  put('files/etc/app/huge.img', '');
  fs.truncateSync(path.join(app, 'files/etc/app/huge.img'), 65 * 1024 * 1024);
  fs.symlinkSync('../../../../outside/secret', path.join(app, 'files/etc/app/up'));
  put(`${PI}/01-$(touch pwned-fb)`, '#!/bin/sh\necho dollar > /etc/app/fb1\n', 0o755);
  put(`${PI}/02-a&b<c>`, '#!/bin/sh\necho amp > /etc/app/fb2\n', 0o755);
  put(`${PI}/03-binary`, ELF, 0o755);
  put('scripts/once.sh', '#!/bin/sh\nuseradd -m once || true\n', 0o755);
  put('scripts/$(touch pwned-script).sh', '#!/bin/sh\ntouch /etc/app/from-dollar\n', 0o755);
  put('scripts/program', ELF, 0o755);
  const tmpl = {
    variables: { application_name: `Hostile <b>&amp;</b> "q" 'x'`, application_version: '1.0' },
    builders: [{ type: 'digitalocean', image: 'ubuntu-24-04-x64', region: 'nyc3', size: 's-1vcpu-1gb' }],
    provisioners: [
      { type: 'file', source: 'app/files/', destination: '/' },
      { type: 'file', source: 'app/files2/', destination: '/' },
      {
        type: 'shell',
        scripts: [
          'app/scripts/once.sh',
          'app/scripts/$(touch pwned-script).sh',
          'app/scripts/once.sh',
          'app/scripts/program',
        ],
      },
      { type: 'shell', scripts: ['app/scripts/once.sh'] },
    ],
  };
  put('template.json', JSON.stringify(tmpl));
  return { tmp, app };
}

const pwned = (dir: string) => listFiles(dir).filter((f) => f.includes('pwned'));
const notes = (p: Imported, k: 'person' | 'info') => p.report[k].map((n: any) => `${n.where}: ${n.what}`);

describe('hostile files and names: notes, data, nothing followed or run', () => {
  let t: { tmp: string; app: string };
  let p: Imported;
  beforeAll(() => {
    t = tree();
    p = importFixture(t.app, [], { cwd: t.tmp });
  });

  it('a link out of a files/ tree, a file over 64 MiB, a name with U+2028, a binary build script: named, not carried over', () => {
    expect(notes(p, 'person')).toEqual(
      expect.arrayContaining([
        'app/files/etc/app/up: a symbolic link (to "../../../../outside/secret") is not followed and not copied: make it in a build script if the image needs it',
        '"app/files/etc/app/u\u2028x.conf": refused: the file name holds a control character',
        'app/files/etc/app/huge.img: refused: larger than 64 MiB',
        'app/scripts/program: refused: a binary file, not a shell script: not carried over; put the program into files/ and run it from a build script',
      ]),
    );
    const all = listFiles(p.dir).map((f) => fs.readFileSync(path.join(p.dir, f)).toString('latin1'));
    expect(all.join('\n')).not.toContain('secret outside the base');
    expect(p.files().filter((f) => f.startsWith('files/'))).toEqual(
      [
        'files/etc/app/$(touch pwned-file).conf',
        'files/etc/app/q\'uote"s.conf',
        'files/etc/app/a&b<c>.conf',
        'files/etc/app/app.conf',
        'files/etc/app/blob.bin',
        'files/var/lib/cloud/scripts/per-instance/03-binary',
      ].sort(),
    );
  });

  it('binary files come over byte for byte; a binary per-instance script stays in files/ with a note', () => {
    expect(fs.readFileSync(path.join(p.dir, 'files/etc/app/blob.bin'))).toEqual(
      Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256)),
    );
    expect(fs.readFileSync(path.join(p.dir, 'files/var/lib/cloud/scripts/per-instance/03-binary'))).toEqual(ELF);
    expect(notes(p, 'info')).toContain(
      'app/template.json provisioners[0]: /var/lib/cloud/scripts/per-instance/03-binary is not text: it stays in files/ as it was (cloud-init runs it on a new droplet), not a first-boot step',
    );
  });

  it('names with shell, quotes and markup are data: first-boot steps get safe names, the project name stays text', () => {
    expect(p.manifest.name).toBe(`Hostile <b>&amp;</b> "q" 'x'`);
    expect(p.files().filter((f) => f.startsWith('first-boot/'))).toEqual([
      'first-boot/10-touch-pwned-fb.sh',
      'first-boot/20-a-b-c.sh',
    ]);
    expect(p.read('first-boot/10-touch-pwned-fb.sh')).toContain('echo dollar > /etc/app/fb1\n');
    expect(entry(p.report, 'app/scripts/$(touch pwned-script).sh')).toBeDefined();
  });

  it('two provisioners laying down one path: the later wins, as in the image, and the report says so; a script run three times is kept three times', () => {
    expect(p.read('files/etc/app/app.conf')).toBe('second\n');
    expect(notes(p, 'info')).toContain(
      'app/template.json provisioners[1]: /etc/app/app.conf is laid down by app/template.json provisioners[0] too: files/ has this one, the later, as the image had',
    );
    expect(p.report.files.filter((f: any) => f.origin === 'app/scripts/once.sh')).toHaveLength(3);
  });

  it('validates and bundles, and nothing ran at import, validate or bundle', () => {
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
    expect(pwned(t.tmp).filter((f) => !f.startsWith('base/app/') && !f.includes('/files/'))).toEqual([]);
    expect(listFiles(t.tmp).filter((f) => f.startsWith('base/') && !f.startsWith('base/app/'))).toEqual([]);
  });
});

describe('HCL functions where a list, a path or a content is expected', () => {
  it('fileset(), abspath() and file() are named for a person, never evaluated; nothing outside is read', () => {
    const tmp = tempDir('mpimg-import-hcl-fn-');
    fs.mkdirSync(path.join(tmp, 'app/scripts'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'outside'));
    fs.writeFileSync(path.join(tmp, 'outside/s'), 'secret outside the base\n');
    fs.writeFileSync(path.join(tmp, 'app/scripts/a.sh'), '#!/bin/sh\ntouch /etc/a\n');
    fs.writeFileSync(
      path.join(tmp, 'app/app.pkr.hcl'),
      [
        'variable "application_name" {',
        '  default = "hcl-fn"',
        '}',
        'source "digitalocean" "app" {',
        '  image  = "ubuntu-24-04-x64"',
        '  region = "nyc3"',
        '  size   = "s-1vcpu-1gb"',
        '}',
        'build {',
        '  sources = ["source.digitalocean.app"]',
        '  provisioner "file" {',
        '    content     = file("../outside/s")',
        '    destination = "/etc/app/stolen"',
        '  }',
        '  provisioner "file" {',
        '    source      = abspath("../outside/s")',
        '    destination = "/etc/app/stolen2"',
        '  }',
        '  provisioner "shell" {',
        '    scripts = fileset(path.root, "scripts/*.sh")',
        '  }',
        '  provisioner "shell" {',
        '    inline           = ["touch /etc/b"]',
        '    environment_vars = concat(["A=1"], ["B=$(touch pwned-env)"])',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const p = importFixture(path.join(tmp, 'app'), [], { cwd: tmp });
    expect(notes(p, 'person')).toEqual(
      expect.arrayContaining([
        'app.pkr.hcl:11: the file content for /etc/app/stolen is an expression (file("../outside/s")) the import does not evaluate: not carried over',
        'app.pkr.hcl:15: the source "abspath("../outside/s")" cannot be evaluated: not carried over',
        'app.pkr.hcl:19: "scripts" is an expression (fileset(path.root, "scripts/*.sh")) the import does not evaluate: what it names is not carried over; write it out in the template and import again, or add it to the project by hand',
        'app.pkr.hcl:22: "environment_vars" is an expression (concat(["A=1"], ["B=$(touch pwned-env)"])) the import does not evaluate: that environment is not carried over; write it out in the template and import again, or add it to the project by hand',
      ]),
    );
    const all = listFiles(p.dir).map((f) => fs.readFileSync(path.join(p.dir, f), 'utf8'));
    expect(all.join('\n')).not.toContain('secret outside the base');
    const { validate, bundle } = validateAndBundle(p.dir);
    expect(validate.status, validate.stderr).toBe(0);
    expect(bundle.status, bundle.stderr).toBe(0);
    expect(pwned(tmp)).toEqual([]);
  });
});
