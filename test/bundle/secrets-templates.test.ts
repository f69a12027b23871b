/**
 * $.secrets and $.files.templates as validate sees them: the schema's `$.path` errors and the
 * templates' placeholders checked with file and line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateManifest } from '../../runtime/manifest.js';
import { alphabetChars, trSet } from '../../runtime/sections/secrets.js';
import { loadProject } from '../../tasks/bundle/project.js';
import type { MpimgError } from '../../core/errors.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import type { Manifest } from '../../runtime/manifest.js';

const good = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.0.0',
  distributions: ['debian-12-x64'],
};
const problems = (extra: Record<string, unknown>) =>
  validateManifest({ ...good, ...extra }).problems.map((p) => `${p.path}: ${p.message}`);

describe('$.secrets', () => {
  it('accepts names, lengths and the named or a written-out alphabet', () => {
    const r = validateManifest({
      ...good,
      secrets: [
        { name: 'DB_PASSWORD' },
        { name: 'SECRET_KEY', length: 50, alphabet: 'base64url' },
        { name: 'PIN', length: 12, alphabet: '0123456789' },
      ],
    });
    expect(r.problems).toEqual([]);
  });

  it('names the entry of a bad name, length or alphabet', () => {
    expect(
      problems({
        secrets: [
          { name: 'db-password' },
          { name: 'A$(id)' },
          { name: 'X', length: 4 },
          { name: 'Y', alphabet: "abcdefghij'" },
          { name: 'Z', alphabet: 'abc' },
          { name: 'W', alphabet: 'abcdefghij klm' },
          { name: 'V', alphabet: 'abcdefghij$' },
          { name: 'U', alphabet: 'abcdefghij\u2028' },
          { name: 'T', size: 3 },
        ],
      }),
    ).toEqual([
      // the manifest's one rule for control characters comes first
      '$.secrets[7].alphabet: holds a control or line-separator character (U+2028)',
      '$.secrets[0].name: bad secret name "db-password"',
      '$.secrets[1].name: bad secret name "A$(id)"',
      '$.secrets[2].length: secret length 4 is not a whole number from 12 to 256',
      `$.secrets[3].alphabet: alphabet "abcdefghij'" holds "'", which breaks the quoting of shell and config files a secret is written into`,
      '$.secrets[4].alphabet: alphabet "abc" has 3 different characters: use at least 10',
      '$.secrets[5].alphabet: alphabet "abcdefghij klm" holds a space: printable ASCII only',
      '$.secrets[6].alphabet: alphabet "abcdefghij$" holds "$", which breaks the quoting of shell and config files a secret is written into',
      '$.secrets[7].alphabet: alphabet "abcdefghij\u2028" holds U+2028: printable ASCII only',
      '$.secrets[8].size: unknown key "size"',
    ]);
  });

  it('refuses a duplicate, a reserved name and one a variable has', () => {
    expect(
      problems({
        variables: { APP_VERSION: '1' },
        secrets: [
          { name: 'DB' },
          { name: 'DB' },
          { name: 'PATH' },
          { name: 'MPIMG_X' },
          { name: 'APP_VERSION' },
          // bash shows an inherited HOSTNAME where the host name is printed; IP is what {{ip}} means
          { name: 'HOSTNAME' },
          { name: 'IP' },
          { name: 'SSH_KEY' },
          { name: 'BASH_ENV' },
          { name: 'HOSTNAME_SALT' },
        ],
      }),
    ).toEqual([
      '$.secrets[1].name: duplicate secret "DB" (also $.secrets[0])',
      '$.secrets[2].name: secret name "PATH" is reserved',
      '$.secrets[3].name: secret name "MPIMG_X" is reserved',
      '$.secrets[4].name: "APP_VERSION" is also a variable of $.variables',
      '$.secrets[5].name: secret name "HOSTNAME" is reserved',
      '$.secrets[6].name: secret name "IP" is reserved',
      '$.secrets[7].name: secret name "SSH_KEY" is reserved',
      '$.secrets[8].name: secret name "BASH_ENV" is reserved',
    ]);
  });

  it('hands tr each character as an octal escape: "-", "[" or "\\" in a set mean nothing to it', () => {
    expect(alphabetChars({ alphabet: 'hex' })).toBe('0123456789abcdef');
    expect(alphabetChars({ alphabet: 'a-z[:]^aa' })).toBe('a-z[:]^');
    expect(trSet('a-[')).toBe('\\141\\055\\133');
  });
});

/** A project whose files/ has `files` and whose manifest adds `extra`; loadProject's problems. */
function loadProblems(files: Record<string, [string, number]>, extra: Partial<Manifest>): string[] {
  const dir = tempDir('mpimg-proj-');
  for (const [rel, [text, mode]] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text, { mode });
  }
  makeProject({ dir, manifest: extra });
  try {
    loadProject(dir);
    return [];
  } catch (e) {
    return ((e as MpimgError).problems ?? []).map((p) => `${p.path}: ${p.message}`);
  }
}

describe('$.files.templates', () => {
  const manifest: Partial<Manifest> = {
    variables: { APP_TITLE: 'Wiki' },
    secrets: [{ name: 'DB_PASSWORD' }],
    files: { dir: 'files', templates: ['/etc/app/app.conf'] },
  };

  it('accepts the known placeholders and foreign {{ }} of Jinja, Go and Mustache', () => {
    const text =
      'a={{ip}} b={{hostname}} c={{APP_TITLE}} d={{secret.DB_PASSWORD}}\n{{ ip }} {{.Values.x}} {{name}} {{#x}}{{/x}} {% x %}\n';
    expect(loadProblems({ 'files/etc/app/app.conf': [text, 0o640] }, manifest)).toEqual([]);
  });

  it('names the file and line of an unknown placeholder of its form', () => {
    const text = 'ok={{ip}}\n\nx={{secret.DB_PASWORD}} y={{APP_TITEL}} z={{secret.x}}\n';
    const out = loadProblems({ 'files/etc/app/app.conf': [text, 0o640] }, manifest);
    expect(out).toEqual([
      'files/etc/app/app.conf:3: unknown placeholder {{secret.DB_PASWORD}}',
      'files/etc/app/app.conf:3: unknown placeholder {{APP_TITEL}}',
      'files/etc/app/app.conf:3: unknown placeholder {{secret.x}}',
    ]);
  });

  it('a secret in a 0644 file (as git checks it out) is fine inside a folder of $.directories others may not enter', () => {
    const file = { 'files/etc/app/app.conf': ['p={{secret.DB_PASSWORD}}\n', 0o644] as [string, number] };
    const closed = { path: '/etc/app', owner: 'root', group: 'www-data' };
    expect(loadProblems(file, { ...manifest, directories: [{ ...closed, mode: '0750' }] })).toEqual([]);
    expect(loadProblems(file, { ...manifest, directories: [{ ...closed, mode: '0751' }] })).toEqual([
      'files/etc/app/app.conf:1: {{secret.DB_PASSWORD}} would be readable by every user: the file is mode 0644',
    ]);
    // a closed folder elsewhere, or one without a mode (made 0755), shields nothing
    for (const directories of [[{ ...closed, path: '/etc/other', mode: '0700' }], [closed]])
      expect(loadProblems(file, { ...manifest, directories })).toEqual([
        'files/etc/app/app.conf:1: {{secret.DB_PASSWORD}} would be readable by every user: the file is mode 0644',
      ]);
  });

  it('refuses a template that is not in files/, a secret in a file everyone may read, and a folder another user owns', () => {
    expect(loadProblems({}, { ...manifest, files: { dir: 'files', templates: ['/etc/app/none.conf'] } })).toEqual([
      '$.files.templates[0]: /etc/app/none.conf is not a regular file of files/',
    ]);
    expect(loadProblems({ 'files/etc/app/app.conf': ['p={{secret.DB_PASSWORD}}\n', 0o644] }, manifest)).toEqual([
      'files/etc/app/app.conf:1: {{secret.DB_PASSWORD}} would be readable by every user: the file is mode 0644',
    ]);
    expect(
      loadProblems(
        { 'files/srv/app/app.conf': ['h={{hostname}}\n', 0o644] },
        {
          ...manifest,
          directories: [{ path: '/srv/app', owner: 'app' }],
          users: [{ name: 'app' }],
          files: { dir: 'files', templates: ['/srv/app/app.conf'] },
        },
      ),
    ).toEqual([
      '$.files.templates[0]: /srv/app/app.conf is inside /srv/app, which belongs to "app": root fills it in at first boot, and that user could put a link in its place',
    ]);
    expect(problems({ files: { dir: 'files', templates: ['/etc/a', 'etc/b', '/etc/a'] } })).toEqual([
      '$.files.templates[1]: bad droplet path "etc/b": is not absolute',
      '$.files.templates[2]: /etc/a is listed twice (also $.files.templates[0])',
    ]);
  });
});
